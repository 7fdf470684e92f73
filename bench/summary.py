"""Render bench/results.json as the README's Benchmarks table: `python -m bench.summary
[RESULTS.json]` (`--all` lists every row instead of the grouped summary)."""

import json
import sys
import textwrap
from pathlib import Path

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results.json"

# One README line per comparison: a label and the rows it shows side by side. The target and
# whether it was met come from the first of those rows that has a target.
SUMMARY_LINES = (
    (
        "Preview dev, whole command: with pack / without / program alone under test mocks",
        (
            "preview.dev.with_policy_pack",
            "preview.dev.without_policy_pack",
            "preview.dev.program_under_test_mocks",
        ),
    ),
    (
        "Preview dev, one run: CLI imports / program / pack start / pack calls",
        (
            "preview.dev.phase.cli_imports",
            "preview.dev.phase.program",
            "preview.dev.phase.pack_start",
            "preview.dev.phase.pack_calls",
        ),
    ),
    ("Preview dev: cost of enforcement (with / without pack)", ("preview.dev.enforcement_ratio",)),
    (
        "Preview prod, whole command: with pack / without / program alone under test mocks",
        (
            "preview.prod.with_policy_pack",
            "preview.prod.without_policy_pack",
            "preview.prod.program_under_test_mocks",
        ),
    ),
    (
        "Preview prod, one run: CLI imports / program / pack start / pack calls",
        (
            "preview.prod.phase.cli_imports",
            "preview.prod.phase.program",
            "preview.prod.phase.pack_start",
            "preview.prod.phase.pack_calls",
        ),
    ),
    (
        "Preview prod: cost of enforcement (with / without pack)",
        ("preview.prod.enforcement_ratio",),
    ),
    (
        "Scaling: resources at 1 / 4 / 16 / 64 tiers",
        (
            "preview.tiers_1.resources",
            "preview.tiers_4.resources",
            "preview.tiers_16.resources",
            "preview.tiers_64.resources",
        ),
    ),
    (
        "Scaling: preview with pack at 1 / 4 / 16 / 64 tiers",
        (
            "preview.tiers_1.with_policy_pack",
            "preview.tiers_4.with_policy_pack",
            "preview.tiers_16.with_policy_pack",
            "preview.tiers_64.with_policy_pack",
        ),
    ),
    (
        "Scaling: line fit R² / slope / intercept",
        (
            "preview.scaling.r_squared",
            "preview.scaling.slope_per_resource",
            "preview.scaling.intercept",
        ),
    ),
    (
        "Scaling: time per added resource, 64 vs 16 tiers / 64 vs 4 tiers",
        (
            "preview.scaling.per_resource_ratio_64_vs_16_tiers",
            "preview.scaling.per_resource_ratio_64_vs_4_tiers",
        ),
    ),
    (
        "Analyze over prod's resources: ours / no-op pack",
        ("policy.analyze.prod.rate", "policy.analyze.prod.rate_noop_pack"),
    ),
    (
        "Analyze time: ours vs no-op pack shaped like ours / vs 1-policy no-op pack",
        ("policy.analyze.prod.time_vs_noop_shaped", "policy.analyze.prod.time_vs_noop"),
    ),
    (
        "AnalyzeStack over 5,000 resources: ours / no-op shaped like ours / 1-policy no-op",
        (
            "policy.analyze_stack_5000.time",
            "policy.analyze_stack_5000.time_noop_shaped",
            "policy.analyze_stack_5000.time_noop",
        ),
    ),
    (
        "Warm reader invocation p50: ours / raw query / raw query in a writer-style transaction",
        (
            "lambda.warm.ours_p50",
            "lambda.warm.raw_query_p50",
            "lambda.warm.raw_query_in_transaction_p50",
        ),
    ),
    (
        "Warm p50 ratio: ours vs raw / vs raw in transaction",
        ("lambda.warm.p50_ratio_ours_vs_raw", "lambda.warm.p50_ratio_ours_vs_raw_in_transaction"),
    ),
    (
        "Warm p99: ours / raw query (ratio)",
        ("lambda.warm.ours_p99", "lambda.warm.raw_query_p99", "lambda.warm.p99_ratio_ours_vs_raw"),
    ),
    (
        "Connect per invocation / ours, p50 (ratio)",
        (
            "lambda.naive.connect_per_invocation_p50",
            "lambda.naive.ours_p50",
            "lambda.naive.ratio_naive_vs_ours",
        ),
    ),
    (
        "Connections opened: ours for 1,000 invocations / naive per invocation",
        ("lambda.connections_for_1000_invocations", "lambda.naive.connections_per_invocation"),
    ),
    (
        "Cold start: process / imports / first invocation / of which secret read, TLS connect",
        (
            "lambda.cold.process_ms",
            "lambda.cold.imports_ms",
            "lambda.cold.first_invocation_ms",
            "lambda.cold.secret_read_ms",
            "lambda.cold.tls_connect_ms",
        ),
    ),
    (
        "Cold start: bare Python start / IAM token signing (first) / second invocation",
        (
            "lambda.cold.python_startup_ms",
            "lambda.cold.iam_token_ms",
            "lambda.cold.second_invocation_ms",
        ),
    ),
)


def markdown(document: dict, *, every_row: bool = False) -> str:
    machine = document["machine"]
    measured = (
        f"Measured {document['date']} on {machine['cpu_count']} x {machine['cpu_model']}, "
        f"Python {machine['python']}, {machine['platform']}, {machine['postgresql']}; load "
        f"average {machine['load_average_1m_at_start']} at the start, "
        f"{machine['load_average_1m_at_end']} at the end; "
        f"{document['parameters']['wall_seconds']} s in all."
    )
    lines = [*textwrap.wrap(measured, width=100, break_on_hyphens=False), ""]
    rows = {row["name"]: row for row in document["results"]}
    if every_row:
        lines += ["| benchmark | value | unit | target | met |", "|---|---:|---|---|---|"]
        for row in document["results"]:
            lines.append(
                f"| `{row['name']}` | {row['value']:g} | {row['unit']} | {row['target'] or ''} "
                f"| {_met(row['met'])} |"
            )
    else:
        lines += ["| measurement | value | target | met |", "|---|---|---|---|"]
        for label, names in SUMMARY_LINES:
            present = [rows[name] for name in names if name in rows]
            if not present:
                continue
            values = " / ".join(_value(row) for row in present)
            judged = next((row for row in present if row["target"]), None)
            target = judged["target"] if judged else ""
            met = _met(judged["met"]) if judged else ""
            lines.append(f"| {label} | {values} | {target} | {met} |")
    for note in document.get("notes", []):
        lines += ["", f"Note: {note}."]
    return "\n".join(lines) + "\n"


def _value(row: dict) -> str:
    unit = row["unit"]
    if unit in ("", "resources", "calls", "invocations", "processes", "diagnostics"):
        return f"{row['value']:g}"
    if unit == "x":
        return f"{row['value']:g}x"
    return f"{row['value']:g} {unit}"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: ""}[met]


if __name__ == "__main__":
    arguments = sys.argv[1:]
    every = "--all" in arguments
    paths = [argument for argument in arguments if argument != "--all"]
    path = Path(paths[0]) if paths else DEFAULT_RESULTS
    sys.stdout.write(markdown(json.loads(path.read_text(encoding="utf-8")), every_row=every))
