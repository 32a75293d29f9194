"""rollout_core.stats against scipy (a dev dependency only), on a few hundred generated cases each.

Agreement is asked to REL (relative) or ABS (absolute, for p-values near 0), whichever is looser:
both sides compute the same formulas in double precision, so anything beyond rounding is a bug.
"""

from __future__ import annotations

import ast
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rollout_core import stats

CASES = 400
REL = 1e-9
ABS = 1e-12
CORE = Path(__file__).resolve().parents[2] / "layers" / "rollout_core" / "rollout_core"


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=REL, abs_tol=ABS)


def counts(rng: random.Random, small: bool) -> tuple[int, int, int, int]:
    top = 40 if small else 20_000
    n1, n2 = rng.randint(1, top), rng.randint(1, top)
    r1, r2 = rng.choice([0.0, 0.001, 0.01, 0.05, 0.3, 0.9, 1.0]), rng.choice([0.0, 0.001, 0.01, 0.05, 0.3])
    x1 = min(n1, sum(rng.random() < r1 for _ in range(n1)) if small else round(n1 * r1 * rng.uniform(0.5, 1.5)))
    x2 = min(n2, sum(rng.random() < r2 for _ in range(n2)) if small else round(n2 * r2 * rng.uniform(0.5, 1.5)))
    return x1, n1, x2, n2


def test_normal_tail_matches_scipy():
    rng = random.Random(1)
    for _ in range(CASES):
        z = rng.uniform(-9, 9)
        assert close(stats.normal_sf(z), float(scipy_stats.norm.sf(z))), z


def test_fisher_exact_matches_scipy():
    rng = random.Random(2)
    checked = 0
    for i in range(CASES):
        x1, n1, x2, n2 = counts(rng, small=i % 2 == 0)
        if n1 + n2 > 4000:  # scipy's own hypergeometric is slow beyond that; ours is not the issue
            n1, n2 = n1 % 2000 + 1, n2 % 2000 + 1
            x1, x2 = min(x1, n1), min(x2, n2)
        ours = stats.fisher_greater(x1, n1, x2, n2)
        theirs = scipy_stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="greater")
        assert close(ours.p_value, float(theirs.pvalue)), (x1, n1, x2, n2, ours, theirs)
        if math.isfinite(float(theirs.statistic)):
            assert close(ours.statistic, float(theirs.statistic))
        checked += 1
    assert checked == CASES


def test_z_test_matches_scipys_chi_square_halved_in_the_right_direction():
    """The pooled z-test squared is Pearson's chi-square without continuity correction."""
    rng = random.Random(3)
    checked = 0
    while checked < CASES:
        x1, n1, x2, n2 = counts(rng, small=False)
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        if 0 in (x1 + x2, n1 + n2 - x1 - x2):
            continue  # a zero column: chi-square undefined (ours says z = 0, p = 0.5)
        ours = stats.z_test_greater(x1, n1, x2, n2)
        chi2, two_sided, _, _ = scipy_stats.chi2_contingency(table, correction=False)
        one_sided = two_sided / 2 if x1 / n1 >= x2 / n2 else 1 - two_sided / 2
        assert close(ours.statistic**2, float(chi2)), (table, ours)
        assert close(ours.p_value, float(one_sided)), (table, ours, one_sided)
        checked += 1


def test_the_exact_test_is_chosen_for_small_expected_counts():
    assert stats.proportion_greater(1, 10, 0, 10).method == "fisher-exact"
    assert stats.proportion_greater(3, 2000, 1, 2000).method == "fisher-exact"  # 2 expected errors per row
    assert stats.proportion_greater(60, 2000, 30, 2000).method == "z-test"
    with pytest.raises(ValueError, match="counts out of range"):
        stats.proportion_greater(5, 4, 0, 10)


def samples(rng: random.Random, ties: bool, top: int) -> tuple[list[float], list[float]]:
    n1, n2 = rng.randint(1, top), rng.randint(1, top)
    shift = rng.choice([0.0, 0.5, 2.0])
    if ties:
        x = [float(rng.randint(0, 6)) + round(shift) for _ in range(n1)]
        y = [float(rng.randint(0, 6)) for _ in range(n2)]
    else:
        x = [rng.gauss(shift, 1) for _ in range(n1)]
        y = [rng.gauss(0, 1) for _ in range(n2)]
    return x, y


def test_mann_whitney_exact_matches_scipy():
    rng = random.Random(4)
    for _ in range(CASES):
        x, y = samples(rng, ties=False, top=12)
        ours = stats.mann_whitney_greater(x, y, method="exact")
        theirs = scipy_stats.mannwhitneyu(x, y, alternative="greater", method="exact")
        assert ours.statistic == float(theirs.statistic)
        assert close(ours.p_value, float(theirs.pvalue)), (x, y, ours, theirs)


def test_mann_whitney_normal_approximation_matches_scipy_with_ties():
    rng = random.Random(5)
    for i in range(CASES):
        x, y = samples(rng, ties=i % 2 == 0, top=60)
        if len(set(x + y)) == 1:
            continue  # all equal: scipy's p is nan (0/0); ours says 1.0 (no evidence)
        ours = stats.mann_whitney_greater(x, y, method="asymptotic")
        theirs = scipy_stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
        assert ours.statistic == float(theirs.statistic)
        assert close(ours.p_value, float(theirs.pvalue)), (x, y, ours, theirs)


def test_mann_whitney_auto_chooses_as_scipy_does():
    rng = random.Random(6)
    methods = set()
    for i in range(CASES):
        x, y = samples(rng, ties=i % 3 == 0, top=14)
        if len(set(x + y)) == 1:
            continue
        ours = stats.mann_whitney_greater(x, y)
        theirs = scipy_stats.mannwhitneyu(x, y, alternative="greater")
        methods.add(ours.method)
        assert close(ours.p_value, float(theirs.pvalue)), (x, y, ours, theirs)
    assert methods == {"mann-whitney-exact", "mann-whitney-normal"}


def test_a_shift_is_detected_and_equal_samples_are_not():
    base = [100.0 + i for i in range(10)]
    assert stats.mann_whitney_greater([v * 1.4 for v in base], base).p_value < 0.01
    assert stats.mann_whitney_greater(base, base).p_value > 0.4
    assert stats.mann_whitney_greater([1.0] * 5, [1.0] * 5).p_value == 1.0


def test_nearest_rank_percentile_matches_numpys_inverted_cdf():
    rng = random.Random(7)
    for _ in range(CASES):
        values = [rng.lognormvariate(4, 0.5) for _ in range(rng.randint(1, 300))]
        p = rng.choice([50, 90, 95, 99, 99.9, 100, rng.uniform(0.1, 100)])
        assert stats.percentile(values, p) == float(np.percentile(values, p, method="inverted_cdf")), p


def test_the_statistics_need_nothing_outside_the_standard_library():
    """The layer ships no scipy or numpy: the judging modules import the standard library only."""
    for name in ("stats.py", "analysis.py", "smoke.py", "canary_models.py"):
        tree = ast.parse((CORE / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # within rollout_core
                    continue
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top == "pydantic", f"{name} imports {module}"
