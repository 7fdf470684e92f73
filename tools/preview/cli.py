"""Command line of the offline preview: options, the run, the report and the exit status."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.analyzer import PolicyConfigError, PolicyPackError, load_policy_config
from tools.preview.answers import AnswerError, Answers, load_answers
from tools.preview.engine import ProgramError, run_program
from tools.preview.policy import analyze_with, started_packs
from tools.preview.project import DeclaredTypeError, ProjectError, load_stack
from tools.preview.report import dot_graph, json_report, summary, text_report

REPO_ROOT = Path(__file__).resolve().parents[2]

EXIT_OK = 0
EXIT_MANDATORY = 1
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.preview",
        description="Preview a Pulumi Python stack offline, under the SDK's mocks, with policy "
        "packs enforced over their Analyzer protocol. Exit 0: no mandatory violation; "
        "1: a mandatory violation; 2: a program, configuration or policy config error.",
    )
    parser.add_argument("--stack", default="dev", help="stack to preview (default: dev)")
    parser.add_argument(
        "--project",
        type=Path,
        default=REPO_ROOT,
        help="directory holding Pulumi.yaml (default: this repository)",
    )
    parser.add_argument(
        "--new-stack",
        action="store_true",
        help="first-preview semantics: every computed output is unknown",
    )
    parser.add_argument(
        "--policy-pack",
        dest="policy_packs",
        type=Path,
        action="append",
        metavar="DIR",
        help="policy pack directory, repeatable (default: this repository's policies/)",
    )
    parser.add_argument("--no-policy", action="store_true", help="preview without any policy pack")
    parser.add_argument(
        "--policy-pack-config",
        type=Path,
        metavar="FILE",
        help="policy config, as for `pulumi preview --policy-pack-config`",
    )
    parser.add_argument(
        "--invokes",
        type=Path,
        metavar="FILE",
        help="YAML/JSON answers: {invokes: {token: result}, stackReferences: "
        "{name: {outputs: {...}}}}, over the built-in table",
    )
    parser.add_argument(
        "--json",
        dest="json_path",
        type=Path,
        metavar="FILE",
        help="write resources, diagnostics and summary as JSON",
    )
    parser.add_argument(
        "--graph",
        dest="graph_path",
        type=Path,
        metavar="FILE",
        help="write the dependency and parent graph in DOT",
    )
    return parser


class OutputFileError(Exception):
    """A --json or --graph file cannot be written."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _preview(args)
    except (
        ProjectError,
        AnswerError,
        ProgramError,
        PolicyConfigError,
        PolicyPackError,
        OutputFileError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _preview(args: argparse.Namespace) -> int:
    # Checked first, so that a typo in a path does not cost a whole run.
    for option, path in (("--json", args.json_path), ("--graph", args.graph_path)):
        if path is not None and not path.resolve().parent.is_dir():
            raise OutputFileError(
                f"{option} '{path}' cannot be written: its directory does not exist; create it "
                "or pass a path in an existing directory."
            )
    answers = load_answers(args.invokes) if args.invokes else Answers()
    try:
        stack = load_stack(args.project.resolve(), args.stack)
    except DeclaredTypeError as exc:
        raise ProjectError(_with_program_problems(exc, args, answers)) from exc
    user_config = load_policy_config(args.policy_pack_config) if args.policy_pack_config else {}
    if args.no_policy:
        pack_dirs: list[Path] = []
    else:
        pack_dirs = [p.resolve() for p in (args.policy_packs or [REPO_ROOT / "policies"])]

    # The program and the packs' start-up are independent and each takes the better part of a
    # second or more, so the packs start (and take their config) while the program runs.
    with ThreadPoolExecutor(max_workers=1) as background:
        program = background.submit(run_program, stack, new_stack=args.new_stack, answers=answers)
        with started_packs(stack, pack_dirs, user_config) as started:
            run = program.result()
            packs = analyze_with(started, run)

    sys.stdout.write(text_report(run, packs, stack, new_stack=args.new_stack))
    if args.json_path:
        _write(args.json_path, "--json", json_report(run, packs, stack, new_stack=args.new_stack))
    if args.graph_path:
        _write(args.graph_path, "--graph", dot_graph(run))
    totals = summary(run, packs, new_stack=args.new_stack, stack=stack)
    return EXIT_MANDATORY if totals["mandatory"] else EXIT_OK


def _with_program_problems(
    exc: DeclaredTypeError, args: argparse.Namespace, answers: Answers
) -> str:
    """The type problems, and what the program's own checks find in the rest of the config.

    The program runs with the declared defaults in place of the mistyped values, so that one
    run reports every problem: a stack file with a mistyped key and a bad tier entry, say.
    """
    assert exc.stack is not None
    try:
        run_program(exc.stack, new_stack=args.new_stack, answers=answers)
    except ProgramError as program_error:
        which = "that value" if len(exc.problems) == 1 else "those values"
        return (
            f"{exc}\nThe program, run with the declared defaults in place of {which}, also "
            f"stopped:\n{program_error}"
        )
    return str(exc)


def _write(path: Path, option: str, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputFileError(
            f"{option} '{path}' cannot be written ({exc.strerror}); pass a writable path."
        ) from exc
