"""Rank statistics: Kendall tau-b, Spearman rho, top-fraction overlap."""

from __future__ import annotations

import itertools
import math

import pytest

from nas_env.ranking import kendall_tau, ranks, spearman, top_overlap


def test_identical_and_reversed_orders() -> None:
    x = [3.0, 1.0, 2.0, 5.0, 4.0]
    assert kendall_tau(x, x) == pytest.approx(1.0)
    assert spearman(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, [-v for v in x]) == pytest.approx(-1.0)
    assert spearman(x, [-v for v in x]) == pytest.approx(-1.0)


def test_kendall_tau_counts_pairs() -> None:
    # one discordant pair (b, c) of the three: tau = (2 - 1) / 3
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)


def test_kendall_tau_b_with_ties_matches_the_definition() -> None:
    x = [1, 2, 2, 3, 4, 4]
    y = [2, 1, 3, 3, 5, 4]
    concordant = discordant = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tx += 1
        elif dy == 0:
            ty += 1
        elif dx * dy > 0:
            concordant += 1
        else:
            discordant += 1
    expected = (concordant - discordant) / math.sqrt(
        (concordant + discordant + tx) * (concordant + discordant + ty)
    )
    assert kendall_tau(x, y) == pytest.approx(expected)
    assert expected != pytest.approx(1.0)


def test_spearman_uses_mean_ranks_for_ties() -> None:
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    # rho of x and a monotone transform is 1 even with ties
    x = [1.0, 2.0, 2.0, 5.0]
    assert spearman(x, [math.exp(v) for v in x]) == pytest.approx(1.0)
    # a textbook case: d^2 = 0+1+1+0+... -> rho = 1 - 6 * sum(d^2) / (n (n^2 - 1))
    a, b = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    assert spearman(a, b) == pytest.approx(1 - 6 * 4 / (5 * 24))


def test_constant_input_gives_nan() -> None:
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_top_overlap() -> None:
    loss = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert top_overlap(loss, loss, 0.2) == (2, 2)
    assert top_overlap(loss, list(reversed(loss)), 0.2) == (0, 2)
    accuracy = [0.9, 0.8, 0.1]
    assert top_overlap(accuracy, [0.7, 0.9, 0.2], 0.5, lower_is_better=False) == (2, 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda: kendall_tau([1, 2], [1]),
        lambda: spearman([1], [1]),
        lambda: top_overlap([1, 2], [1, 2], 0.0),
    ],
)
def test_bad_input_is_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()
