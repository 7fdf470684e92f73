"""Offline preview: whole-command time with and without the policy pack, and growth with tiers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.report import Result
from bench.stats import fit_line, interleaved, median
from tools.analyzer import PolicyPackProcess, load_policy_config
from tools.preview.answers import Answers
from tools.preview.engine import run_program
from tools.preview.policy import enforce_packs, pack_python
from tools.preview.project import load_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT = "lambda-private-db"
# Stacks whose policy config makes advisory policies mandatory, as deployed from the README.
POLICY_CONFIG_BY_STACK = {"prod": REPO_ROOT / "policies" / "prod-config.json"}
# The preview exits 1 when a mandatory policy fails; the preview still ran to the end then.
COMPLETED_EXIT_CODES = (0, 1)

TIER_COUNTS = (1, 4, 16, 64)
# Synthetic stacks: a /16 of their own, and tiers that each reserve two concurrent functions
# (the least an SQS-triggered tier may reserve, since its queue scales to two), so 64 tiers
# need 128 proxy connections: db.t4g.medium's proxy budget at 90 % is 405.
SYNTHETIC_VPC_CIDR = "10.64.0.0/16"
SYNTHETIC_INSTANCE_CLASS = "db.t4g.medium"
SYNTHETIC_RESERVED_CONCURRENCY = 2

# Targets from the issue: enforcement at most 1.5 times the same preview without a pack; the
# prod preview under 3 s as a whole command on two cores.
ENFORCEMENT_RATIO_TARGET = "<= 1.5"
PROD_PREVIEW_TARGET_SECONDS = "< 3"
# The issue asks for linear growth; the bench calls growth linear when a straight line explains
# 98 % of the variance of the medians and a resource the tiers add costs at most 1.5 times as
# much at 64 tiers as at 16 (both measured above the 1-tier stack).
LINEARITY_R_SQUARED_TARGET = ">= 0.98"
PER_RESOURCE_RATIO_TARGET = "<= 1.5"


class BenchError(RuntimeError):
    """A benchmarked command failed; the message quotes its output."""


@dataclass(frozen=True)
class PreviewRun:
    seconds: float
    resources: int
    json_path: Path


def preview_argv(
    stack: str,
    *,
    policy: bool,
    json_path: Path,
    project: Path = REPO_ROOT,
) -> list[str]:
    """`python -m tools.preview` for `stack`, with the pack (and its config for prod) or none."""
    argv = [sys.executable, "-m", "tools.preview", "--project", str(project), "--stack", stack]
    if policy:
        config = POLICY_CONFIG_BY_STACK.get(stack)
        if config is not None:
            argv += ["--policy-pack-config", str(config)]
    else:
        argv.append("--no-policy")
    return [*argv, "--json", str(json_path)]


def run_preview(argv: Sequence[str], json_path: Path) -> PreviewRun:
    """Run one whole preview command; its wall time from spawn to exit."""
    started = time.perf_counter()
    completed = subprocess.run(
        list(argv), cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode not in COMPLETED_EXIT_CODES:
        raise BenchError(
            f"`{' '.join(argv[1:])}` exited {completed.returncode}:\n"
            f"{(completed.stdout + completed.stderr).strip()[-3000:]}"
        )
    summary = json.loads(json_path.read_text(encoding="utf-8"))["summary"]
    return PreviewRun(seconds=seconds, resources=int(summary["create"]), json_path=json_path)


def existing_stacks(stacks: Sequence[str]) -> list[str]:
    return [stack for stack in stacks if (REPO_ROOT / f"Pulumi.{stack}.yaml").is_file()]


def enforcement_cost(stack: str, pairs: int, work_dir: Path) -> tuple[list[Result], Path]:
    """Preview `stack` with the pack and without, and run its program under the test suite's
    plain mocks, interleaved `pairs` times.

    Returns the results and the --json file of an enforced run (its recorded resources).
    """
    runs: dict[str, PreviewRun] = {}

    def measure(mode: str) -> float:
        json_path = work_dir / f"{stack}-{mode}.json"
        argv = preview_argv(stack, policy=mode == "policy", json_path=json_path)
        runs[mode] = run_preview(argv, json_path)
        return runs[mode].seconds

    samples = interleaved(
        pairs,
        [
            ("policy", lambda: measure("policy")),
            ("no-policy", lambda: measure("none")),
            ("test-mocks", lambda: run_under_test_mocks(stack)),
        ],
    )
    with_pack, without_pack = median(samples["policy"]), median(samples["no-policy"])
    ratios = [a / b for a, b in zip(samples["policy"], samples["no-policy"], strict=True)]
    whole_ratios = [a / b for a, b in zip(samples["policy"], samples["test-mocks"], strict=True)]
    results = [
        Result(f"preview.{stack}.resources", runs["policy"].resources, "resources"),
        Result(
            f"preview.{stack}.with_policy_pack",
            with_pack,
            "s",
            PROD_PREVIEW_TARGET_SECONDS if stack == "prod" else None,
        ),
        Result(f"preview.{stack}.without_policy_pack", without_pack, "s"),
        Result(
            f"preview.{stack}.enforcement_ratio",
            median(ratios),
            "x",
            ENFORCEMENT_RATIO_TARGET,
        ),
        Result(f"preview.{stack}.program_under_test_mocks", median(samples["test-mocks"]), "s"),
        Result(f"preview.{stack}.preview_vs_test_mocks", median(whole_ratios), "x"),
    ]
    return results, runs["policy"].json_path


def run_under_test_mocks(stack: str) -> float:
    """Wall time of the program alone under the test suite's mocks, in a fresh process.

    What any preview of this program costs at least: Python, the Pulumi SDK and pulumi-aws,
    and the program registering its resources. No preview host, computed values or pack.
    """
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.plain_mocks", stack],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchError(
            f"stack '{stack}' failed under the test mocks:\n{completed.stderr.strip()[-3000:]}"
        )
    return seconds


def preview_phases(stack: str) -> list[Result]:
    """Where one preview of `stack` spends its time, measured once, for context.

    The same steps as `python -m tools.preview`, through its own functions: the CLI's imports
    (a fresh interpreter importing the CLI module), the program's process, starting the pack
    alone, and enforcing the pack (start, configure, Analyze each resource, AnalyzeStack).
    """
    cli_imports = _subprocess_seconds([sys.executable, "-c", "import tools.preview.cli"])
    loaded = load_stack(REPO_ROOT, stack)
    config_path = POLICY_CONFIG_BY_STACK.get(stack)
    user_config = load_policy_config(config_path) if config_path else {}

    started = time.perf_counter()
    run = run_program(loaded, new_stack=False, answers=Answers())
    program = time.perf_counter() - started

    pack_dir = REPO_ROOT / "policies"
    started = time.perf_counter()
    with PolicyPackProcess(
        pack_dir, project=loaded.project, stack=stack, dry_run=True, python=pack_python(pack_dir)
    ) as pack:
        pack.info  # noqa: B018 - the first call, so the pack is up and answering
    pack_start = time.perf_counter() - started

    started = time.perf_counter()
    enforce_packs(loaded, run, [pack_dir], user_config)
    enforcement = time.perf_counter() - started
    return [
        Result(f"preview.{stack}.phase.cli_imports", cli_imports, "s"),
        Result(f"preview.{stack}.phase.program", program, "s"),
        Result(f"preview.{stack}.phase.pack_start", pack_start, "s"),
        Result(f"preview.{stack}.phase.pack_calls", enforcement - pack_start, "s"),
    ]


def _subprocess_seconds(argv: Sequence[str]) -> float:
    started = time.perf_counter()
    subprocess.run(list(argv), cwd=REPO_ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def synthetic_tiers(count: int) -> list[dict[str, Any]]:
    """`count` tiers alternating an SQS writer and an HTTP reader, named t01, t02, ..."""
    return [
        {
            "name": f"t{index + 1:02d}",
            "handler": "writer" if index % 2 == 0 else "reader",
            "reservedConcurrency": SYNTHETIC_RESERVED_CONCURRENCY,
        }
        for index in range(count)
    ]


def synthetic_stack_config(tier_count: int) -> dict[str, Any]:
    """The config of a stack with `tier_count` tiers, as a Pulumi.<stack>.yaml holds it."""
    return {
        "config": {
            "aws:region": "us-east-1",
            f"{PROJECT}:vpcCidr": SYNTHETIC_VPC_CIDR,
            f"{PROJECT}:azCount": 2,
            f"{PROJECT}:natStrategy": "single",
            f"{PROJECT}:dbInstanceClass": SYNTHETIC_INSTANCE_CLASS,
            f"{PROJECT}:tiers": synthetic_tiers(tier_count),
        }
    }


def synthetic_stack_name(tier_count: int) -> str:
    return f"bench-tiers-{tier_count}"


def project_copy(work_dir: Path, tier_counts: Sequence[int]) -> Path:
    """A copy of the project (links to its files) whose only stacks are the synthetic ones.

    The repository stays untouched: the stack files live in the temporary copy only.
    """
    copy = work_dir / "project"
    copy.mkdir()
    for entry in REPO_ROOT.iterdir():
        is_stack_file = entry.name.startswith("Pulumi.") and entry.name != "Pulumi.yaml"
        if not is_stack_file and entry.name != ".git":
            (copy / entry.name).symlink_to(entry)
    for count in tier_counts:
        (copy / f"Pulumi.{synthetic_stack_name(count)}.yaml").write_text(
            yaml.safe_dump(synthetic_stack_config(count), sort_keys=False), encoding="utf-8"
        )
    return copy


def scaling(
    tier_counts: Sequence[int], rounds: int, work_dir: Path
) -> tuple[list[Result], list[str]]:
    """Preview synthetic stacks of each tier count, interleaved; fit seconds against resources.

    Returns the results and notes on ratios the run could not compute.
    """
    project = project_copy(work_dir, tier_counts)
    notes: list[str] = []
    resources: dict[int, int] = {}

    def measure(count: int) -> float:
        json_path = work_dir / f"tiers-{count}.json"
        argv = preview_argv(
            synthetic_stack_name(count), policy=True, json_path=json_path, project=project
        )
        run = run_preview(argv, json_path)
        resources[count] = run.resources
        return run.seconds

    samples = interleaved(
        rounds, [(str(count), lambda count=count: measure(count)) for count in tier_counts]
    )
    seconds = {count: median(samples[str(count)]) for count in tier_counts}
    results: list[Result] = []
    for count in tier_counts:
        results.append(Result(f"preview.tiers_{count}.resources", resources[count], "resources"))
        results.append(Result(f"preview.tiers_{count}.with_policy_pack", seconds[count], "s"))

    fit = fit_line([resources[c] for c in tier_counts], [seconds[c] for c in tier_counts])
    results += [
        Result("preview.scaling.slope_per_resource", fit.slope * 1000, "ms"),
        Result("preview.scaling.intercept", fit.intercept, "s"),
        Result("preview.scaling.r_squared", fit.r_squared, "", LINEARITY_R_SQUARED_TARGET),
    ]
    # Time per resource the tiers add above the 1-tier stack, at 64 tiers against fewer: about
    # 1 when growth is linear, growing with the stack when it is not. 16 tiers is the target's
    # comparison point: at 4 tiers the added time (56 resources) is within the noise of a busy
    # machine, so that ratio is shown for context only.
    smallest, largest = min(tier_counts), max(tier_counts)
    for compared, target in ((16, PER_RESOURCE_RATIO_TARGET), (4, None)):
        if compared not in tier_counts or compared in (smallest, largest):
            continue
        name = f"preview.scaling.per_resource_ratio_{largest}_vs_{compared}_tiers"
        base_cost = _added_cost(seconds, resources, smallest, compared)
        if base_cost <= 0:
            notes.append(
                f"{name} not computable: the {compared}-tier stack previewed no slower than the "
                f"{smallest}-tier one ({seconds[compared]:.2f} s against "
                f"{seconds[smallest]:.2f} s), so the machine's noise exceeded what its tiers add"
            )
            continue
        ratio = _added_cost(seconds, resources, smallest, largest) / base_cost
        results.append(Result(name, ratio, "x", target))
    return results, notes


def _added_cost(
    seconds: dict[int, float], resources: dict[int, int], base: int, count: int
) -> float:
    """Seconds per resource that `count` tiers add over the `base`-tier stack.

    Measured above the smallest stack so that the fixed cost (starting Python, the program's
    imports, starting the pack) does not make large stacks look cheaper per resource.
    """
    added = resources[count] - resources[base]
    if added <= 0:
        raise BenchError(
            f"the {count}-tier stack has {resources[count]} resources, no more than the "
            f"{base}-tier stack's {resources[base]}; the tiers did not add resources"
        )
    return (seconds[count] - seconds[base]) / added
