"""The stack's program under the test suite's plain Pulumi mocks, with no preview machinery and
no pack: `python -m bench.plain_mocks STACK`. Exits 1 with the program's message on failure."""

import sys
from pathlib import Path

from tests.support.pulumi_mocks import run_program, stack_config_values

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(stack: str) -> int:
    run = run_program(
        REPO_ROOT / "__main__.py",
        config=stack_config_values(REPO_ROOT, stack),
        stack=stack,
        preview=True,
    )
    if run.error is not None:
        print(run.user_message, file=sys.stderr)
        return 1
    if not run.resources:
        print(f"stack '{stack}' registered no resources under the mocks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
