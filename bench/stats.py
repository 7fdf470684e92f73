"""Order statistics, paired ratios and a least-squares line for the benchmarks' samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LineFit:
    """y = intercept + slope * x over the points given, with its coefficient of determination."""

    slope: float
    intercept: float
    r_squared: float


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("median of no samples; run the measurement at least once")
    return statistics.median(samples)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The sample at `fraction` (0-1) of the sorted samples, interpolating between neighbours.

    Linear interpolation between closest ranks, as numpy's default; with 1,000 samples p99
    lies between the 990th and 991st smallest.
    """
    if not samples:
        raise ValueError("percentile of no samples; run the measurement at least once")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0 and 1, got {fraction}")
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> LineFit:
    """Ordinary least squares; needs at least two distinct x values."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"a line needs two or more (x, y) pairs, got {len(xs)} x and {len(ys)} y")
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("a line needs at least two distinct x values")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    r_squared = 1.0 - residual / total if total else 1.0
    return LineFit(slope=slope, intercept=intercept, r_squared=r_squared)


def interleaved(
    rounds: int, variants: Sequence[tuple[str, Callable[[], float]]]
) -> dict[str, list[float]]:
    """Run each variant once per round, rotating which goes first; collect what each returns.

    A variant returns its own measurement (seconds, say), so setup it does outside the timed
    part stays out. Rotating the order spreads drifts of the machine (another process starting,
    caches warming) evenly over the variants instead of charging them to whichever runs first.
    """
    samples: dict[str, list[float]] = {name: [] for name, _ in variants}
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for name, measure in [*variants[shift:], *variants[:shift]]:
            samples[name].append(measure())
    return samples
