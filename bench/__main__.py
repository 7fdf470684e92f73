"""`python -m bench` (`make bench`): run every benchmark, print the table, write results.json."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import policy, preview
from bench.lambda_runtime import runtime_benchmarks
from bench.report import Result, document, machine_info, table, utc_now, write_json

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
# The stacks whose preview is measured; prod is skipped (and said so) while its file is missing.
STACKS = ("dev", "prod")
PARTS = ("preview", "policy", "lambda")

# Repetitions. The defaults keep `make bench` near four minutes on a quiet 2-core machine;
# --quick checks the harness end to end in about a minute and a half.
FULL = {
    "preview_pairs": 3,
    "scaling_rounds": 3,
    "analyze_rounds": 5,
    "analyze_stack_rounds": 2,
    "warm_pairs": 2000,
    "naive_pairs": 200,
    "cold_starts": 5,
}
QUICK = {
    "preview_pairs": 1,
    "scaling_rounds": 1,
    "analyze_rounds": 1,
    "analyze_stack_rounds": 1,
    "warm_pairs": 200,
    "naive_pairs": 20,
    "cold_starts": 1,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions: checks the harness")
    parser.add_argument(
        "--only", choices=PARTS, action="append", help="run only this part (repeatable)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"results file (default {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    repeats = QUICK if args.quick else FULL

    started = time.perf_counter()
    machine = machine_info()
    date = utc_now()
    notes: list[str] = []
    results: list[Result] = []
    stacks = preview.existing_stacks(STACKS)
    for missing in sorted(set(STACKS) - set(stacks)):
        notes.append(f"stack '{missing}' skipped: Pulumi.{missing}.yaml does not exist yet")
    # Analyze runs over the recorded resources of the largest stack there is.
    recorded_stack = "prod" if "prod" in stacks else "dev"

    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        work_dir = Path(directory)
        recorded: dict[str, Path] = {}
        if "preview" in parts:
            for stack in stacks:
                _progress(
                    f"preview {stack}: with and without the pack, {repeats['preview_pairs']}x"
                )
                stack_results, json_path = preview.enforcement_cost(
                    stack, repeats["preview_pairs"], work_dir
                )
                results += stack_results
                results += preview.preview_phases(stack)
                recorded[stack] = json_path
            _progress(f"preview scaling {preview.TIER_COUNTS} tiers, {repeats['scaling_rounds']}x")
            scaling_results, scaling_notes = preview.scaling(
                preview.TIER_COUNTS, repeats["scaling_rounds"], work_dir
            )
            results += scaling_results
            notes += scaling_notes

        if "policy" in parts:
            json_path = recorded.get(recorded_stack) or _record(recorded_stack, work_dir)
            loaded = policy.resources_from_preview_json(json_path)
            analyzed = [resource for resource, analyze in loaded if analyze]
            everything = [resource for resource, _ in loaded]
            _progress(f"policy: Analyze over {recorded_stack}, AnalyzeStack over 5,000 resources")
            with policy.started_packs(recorded_stack) as packs:
                results += policy.analyze_rate(
                    packs, analyzed, repeats["analyze_rounds"], recorded_stack
                )
                results += policy.analyze_stack_time(
                    packs, policy.synthetic_stack(everything), repeats["analyze_stack_rounds"]
                )

        if "lambda" in parts:
            _progress("lambda runtime: PostgreSQL over TLS, moto, warm/naive/cold")
            results += runtime_benchmarks(
                work_dir,
                warm_pairs=repeats["warm_pairs"],
                naive_pairs=repeats["naive_pairs"],
                cold_starts=repeats["cold_starts"],
            )

    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    parameters = {
        **repeats,
        "parts": parts,
        "quick": args.quick,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    sys.stdout.write(table(results))
    for note in notes:
        print(f"note: {note}")
    print(
        f"machine: {machine['cpu_count']} x {machine['cpu_model']}, Python {machine['python']}, "
        f"load {machine['load_average_1m_at_start']} -> {machine['load_average_1m_at_end']}"
    )
    print(f"{parameters['wall_seconds']} s; results in {args.output}")
    write_json(
        args.output,
        document(results, machine=machine, date=date, parameters=parameters, notes=notes),
    )
    return 0


def _record(stack: str, work_dir: Path) -> Path:
    """One enforced preview of `stack`, untimed, for its recorded resources."""
    json_path = work_dir / f"{stack}-recorded.json"
    preview.run_preview(preview.preview_argv(stack, policy=True, json_path=json_path), json_path)
    return json_path


def _progress(message: str) -> None:
    print(f"-- {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
