"""Rank statistics for comparing how two measurements order the same genomes.

Kendall's tau-b and Spearman's rho (both handle ties), and the overlap of the top
fraction: what a fidelity-ranking or reward-ordering claim needs, without SciPy.
Lower-is-better measurements (a loss) are compared as they are: both correlations only
look at the order, so two losses that agree give +1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _check(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"rank statistics need paired values, got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError(f"rank statistics need at least 2 pairs, got {len(x)}")


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of the pairs ``(x[i], y[i])`` (ties in either variable allowed).

    Returns:
        A value in [-1, 1]; NaN when one variable is constant.

    Raises:
        ValueError: Different lengths or fewer than 2 pairs.
    """
    _check(x, y)
    concordant = discordant = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else math.nan


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of ``values`` in ascending order; ties get their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            result[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the (tie-averaged) ranks.

    Returns:
        A value in [-1, 1]; NaN when one variable is constant.

    Raises:
        ValueError: Different lengths or fewer than 2 pairs.
    """
    _check(x, y)
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx and vy else math.nan


def top_overlap(
    x: Sequence[float], y: Sequence[float], fraction: float, lower_is_better: bool = True
) -> tuple[int, int]:
    """How many of the best ``ceil(fraction * n)`` items by ``x`` are also best by ``y``.

    Returns:
        ``(shared, k)``: the size of the intersection and of each top set.

    Raises:
        ValueError: Different lengths, fewer than 2 pairs, or ``fraction`` outside (0, 1].
    """
    _check(x, y)
    if not 0 < fraction <= 1:
        raise ValueError(f"top_overlap: fraction must be in (0, 1], got {fraction}")
    k = max(1, math.ceil(fraction * len(x)))
    sign = 1.0 if lower_is_better else -1.0
    best_x = set(sorted(range(len(x)), key=lambda i: sign * x[i])[:k])
    best_y = set(sorted(range(len(y)), key=lambda i: sign * y[i])[:k])
    return len(best_x & best_y), k
