"""The statistics of the canary analysis: pure functions, standard library only.

No scipy in the Lambda layer (its size is the functions' cold start); tests/unit/test_stats.py
checks every function here against scipy on a few hundred generated cases each.

- ``proportion_greater``: is the candidate's error rate higher than the baseline's? Fisher's
  exact test when a count is small, else the pooled two-proportion z-test (both one-sided).
- ``mann_whitney_greater``: are the candidate's values (per-minute latencies) stochastically
  greater than the baseline's? Mann-Whitney U, exact or normal approximation as scipy's
  ``mannwhitneyu(alternative="greater", method="auto")`` chooses.
- ``percentile``: nearest-rank percentile (the smallest value with at least p % of the data at
  or below it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

# Below this expected count in any cell of the 2x2 table the normal approximation is not
# trusted (the usual rule for the chi-square / z test), and Fisher's exact test is used.
MIN_EXPECTED_COUNT = 5.0
# scipy's "auto": the exact U distribution when one sample has at most this many values and
# there are no ties; the normal approximation (tie-corrected, with continuity) otherwise.
EXACT_U_MAX_SIZE = 8


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    method: str  # "fisher-exact", "z-test", "mann-whitney-exact", "mann-whitney-normal"


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


# --- proportions ------------------------------------------------------------------------------


def z_test_greater(x1: int, n1: int, x2: int, n2: int) -> TestResult:
    """One-sided pooled two-proportion z-test of H1: x1/n1 > x2/n2.

    Equal pooled rates of 0 or 1 carry no evidence either way: z = 0 (p = 0.5), as the limit of
    the test statistic; the caller uses Fisher's test for such small counts anyway.
    """
    _check_counts(x1, n1, x2, n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return TestResult(0.0, 0.5, "z-test")
    z = (x1 / n1 - x2 / n2) / se
    return TestResult(z, normal_sf(z), "z-test")


def fisher_greater(x1: int, n1: int, x2: int, n2: int) -> TestResult:
    """One-sided Fisher's exact test of H1: x1/n1 > x2/n2 (scipy: alternative="greater").

    The p-value is P(X >= x1) for X hypergeometric: n1 draws from n1 + n2 items, x1 + x2 of
    them successes. The statistic is the table's sample odds ratio.
    """
    _check_counts(x1, n1, x2, n2)
    total, successes = n1 + n2, x1 + x2
    high = min(n1, successes)
    log_denominator = _log_comb(total, n1)
    p = 0.0
    for k in range(x1, high + 1):
        p += math.exp(_log_comb(successes, k) + _log_comb(total - successes, n1 - k) - log_denominator)
    odds = _odds_ratio(x1, n1 - x1, x2, n2 - x2)
    return TestResult(odds, min(1.0, p), "fisher-exact")


def proportion_greater(x1: int, n1: int, x2: int, n2: int) -> TestResult:
    """Fisher's exact test when any expected cell count is under MIN_EXPECTED_COUNT, else the z-test."""
    _check_counts(x1, n1, x2, n2)
    total, successes = n1 + n2, x1 + x2
    expected = [
        n * k / total for n in (n1, n2) for k in (successes, total - successes)
    ]  # row total x column total / grand total
    if min(expected) < MIN_EXPECTED_COUNT:
        return fisher_greater(x1, n1, x2, n2)
    return z_test_greater(x1, n1, x2, n2)


def _check_counts(x1: int, n1: int, x2: int, n2: int) -> None:
    if n1 <= 0 or n2 <= 0 or not 0 <= x1 <= n1 or not 0 <= x2 <= n2:
        raise ValueError(f"counts out of range: {x1}/{n1} vs {x2}/{n2}")


def _log_comb(n: int, k: int) -> float:
    if k < 0 or k > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _odds_ratio(a: int, b: int, c: int, d: int) -> float:
    if b * c == 0:
        return math.inf if a * d > 0 else math.nan
    return (a * d) / (b * c)


# --- Mann-Whitney U ---------------------------------------------------------------------------


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = mean_rank
        i = j + 1
    return out


def mann_whitney_greater(x: Sequence[float], y: Sequence[float], method: str = "auto") -> TestResult:
    """One-sided Mann-Whitney U test of H1: values of ``x`` tend to be greater than ``y``'s.

    ``method``: "exact" (the exact null distribution of U, no tie correction), "asymptotic"
    (normal approximation with tie correction and continuity correction), or "auto" (exact
    when one sample has at most EXACT_U_MAX_SIZE values and there are no ties), as
    scipy.stats.mannwhitneyu. The statistic is U of ``x``.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    combined = [*x, *y]
    r = ranks(combined)
    u = sum(r[:n1]) - n1 * (n1 + 1) / 2
    ties = len(set(combined)) < len(combined)
    if method == "auto":
        method = "exact" if min(n1, n2) <= EXACT_U_MAX_SIZE and not ties else "asymptotic"
    if method == "exact":
        return TestResult(u, _exact_u_sf(u, n1, n2), "mann-whitney-exact")
    if method != "asymptotic":
        raise ValueError(f"unknown method {method!r}")
    n = n1 + n2
    tie_term = sum(t**3 - t for t in _tie_sizes(combined)) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return TestResult(u, 1.0, "mann-whitney-normal")  # every value equal: no evidence
    z = (u - n1 * n2 / 2 - 0.5) / sigma
    return TestResult(u, normal_sf(z), "mann-whitney-normal")


def _tie_sizes(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [c for c in counts.values() if c > 1]


def _exact_u_sf(u: float, n1: int, n2: int) -> float:
    """P(U >= u) under H0, for U of the first sample (sizes n1, n2, no ties)."""
    frequencies = _u_frequencies(n1, n2)
    threshold = math.ceil(u - 1e-9)
    tail = sum(frequencies[threshold:]) if threshold < len(frequencies) else 0
    return min(1.0, tail / math.comb(n1 + n2, n1))


@cache
def _u_frequencies(n1: int, n2: int) -> tuple[int, ...]:
    """How many arrangements of n1 + n2 distinct values give U = 0, 1, ..., n1 * n2.

    f(m, n) = f(m - 1, n) shifted by n (the largest value is in the first sample: it beats the
    n others) + f(m, n - 1) (it is in the second sample).
    """
    if n1 == 0 or n2 == 0:
        return (1,)
    with_largest_first = _u_frequencies(n1 - 1, n2)
    with_largest_second = _u_frequencies(n1, n2 - 1)
    out = [0] * (n1 * n2 + 1)
    for value, count in enumerate(with_largest_first):
        out[value + n2] += count
    for value, count in enumerate(with_largest_second):
        out[value] += count
    return tuple(out)


# --- summaries --------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the values at or below it."""
    if not values:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} outside (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(round(p / 100 * len(ordered), 9))
    return ordered[max(rank, 1) - 1]
