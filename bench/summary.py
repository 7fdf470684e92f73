"""Render bench/results.json as the Markdown table of the README's Benchmarks section:
`python -m bench.summary [RESULTS.json]`."""

import json
import sys
from pathlib import Path

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results.json"


def markdown(document: dict) -> str:
    machine = document["machine"]
    lines = [
        f"Measured {document['date']} on {machine['cpu_count']} x {machine['cpu_model']}, "
        f"Python {machine['python']}, {machine['platform']}, {machine['postgresql']}; load "
        f"average {machine['load_average_1m_at_start']} at the start, "
        f"{machine['load_average_1m_at_end']} at the end; {document['parameters']['wall_seconds']}"
        " s in all.",
        "",
        "| benchmark | value | unit | target | met |",
        "|---|---:|---|---|---|",
    ]
    for row in document["results"]:
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        target = row["target"] or ""
        lines.append(f"| `{row['name']}` | {row['value']:g} | {row['unit']} | {target} | {met} |")
    for note in document.get("notes", []):
        lines += ["", f"Note: {note}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RESULTS
    sys.stdout.write(markdown(json.loads(path.read_text(encoding="utf-8"))))
