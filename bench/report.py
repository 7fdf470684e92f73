"""Benchmark results: one row per number, the machine they were taken on, the table and JSON."""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# How a target reads in the table and JSON: "<= 1.5", "< 3", ">= 5".
_TARGET = re.compile(r"^(<=|<|>=|>)\s*([0-9.]+)$")


@dataclass(frozen=True)
class Result:
    """One measured number. `target` is None for numbers shown for context only."""

    name: str
    value: float
    unit: str
    target: str | None = None

    @property
    def met(self) -> bool | None:
        return target_met(self.value, self.target)


def target_met(value: float, target: str | None) -> bool | None:
    """Whether `value` meets `target` ("<= 1.5", "< 3", ">= 5", "> 0"); None without one."""
    if target is None:
        return None
    match = _TARGET.match(target)
    if match is None:
        raise ValueError(
            f"target {target!r} must read '<op> <number>' with <op> one of <=, <, >=, >"
        )
    operator, bound = match.group(1), float(match.group(2))
    return {
        "<=": value <= bound,
        "<": value < bound,
        ">=": value >= bound,
        ">": value > bound,
    }[operator]


def machine_info() -> dict[str, Any]:
    """CPU count and model, Python, platform, and the load when the benchmarks started."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "cpu model")):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": model or "unknown",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "postgresql": _postgres_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _postgres_version() -> str:
    # Imported here: the test helper looks for the server binaries when it is asked to.
    from tests.lambda_runtime.pg_server import find_bin_dir

    try:
        completed = subprocess.run(
            [str(find_bin_dir() / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (RuntimeError, OSError, subprocess.CalledProcessError):
        return "not found"
    return completed.stdout.strip()


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def table(results: Sequence[Result]) -> str:
    """The results as a fixed-width text table."""
    rows = [("benchmark", "value", "unit", "target", "met")]
    for result in results:
        met = {True: "yes", False: "NO", None: ""}[result.met]
        rows.append((result.name, _number(result.value), result.unit, result.target or "", met))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(width) if column == 1 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n"


def document(
    results: Sequence[Result],
    *,
    machine: dict[str, Any],
    date: str,
    parameters: dict[str, Any],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The bench/results.json document."""
    return {
        "machine": machine,
        "date": date,
        "parameters": parameters,
        "notes": list(notes),
        "results": [
            {**asdict(result), "value": _rounded(result.value), "met": result.met}
            for result in results
        ],
    }


def write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _rounded(value: float) -> float:
    # Four significant digits: more than the noise of any of these numbers allows.
    return float(f"{value:.4g}")


def _number(value: float) -> str:
    return f"{_rounded(value):g}"
