"""Canary analysis: each bake compares the candidate with the baseline on the same minutes (pure).

SageMaker publishes per-variant metrics (AWS/SageMaker, EndpointName + VariantName). During a
bake the shell reads the step's whole minutes in one GetMetricData call (``request``) and hands
them to ``decide`` as ``Observations.metrics``; ``judge`` turns them into a report:

- errors: candidate vs baseline Invocation5XXErrors / Invocations, a one-sided test
  (stats.proportion_greater); Fail when the candidate's rate is higher with the configured
  confidence *and* by more than the tolerance (percentage points);
- latency: the per-minute ModelLatency percentile of each variant, one-sided Mann-Whitney U;
  Fail when the candidate is slower with the configured confidence *and* its median minute is
  slower by more than the tolerance (relative);
- custom metrics: the same comparison on any metric (``{endpoint}``/``{variant}`` in its
  dimensions), in the direction that is worse;
- too few invocations or minutes: Inconclusive.

A critical check that fails rolls back at once (``review``, every decision of the bake). At the
end of the bake (``verdict``) the non-critical checks combine into a weighted score with a pass
threshold (as Kayenta does); Inconclusive holds the step until there is enough data, or until
the rollout's max duration ends it: "not enough traffic to judge" (``overdue_reason``).

At 100 % the baseline takes no traffic: there is nothing to compare, the guard alarms judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from . import metric_queries, stats
from .canary_models import (
    AnalysisPlan,
    AnalysisReport,
    CheckResult,
    ErrorsCheck,
    LatencyCheck,
    MetricCheck,
    MetricData,
    MetricQuery,
    MetricRequest,
    Verdict,
)
from .history import record
from .models import Observations, Phase, Rollout

MICROSECONDS_PER_MS = 1000.0  # ModelLatency and OverheadLatency are in microseconds


def applies(r: Rollout) -> bool:
    """A bake with both variants taking traffic and something to check."""
    plan = r.target.plan.analysis
    return (
        plan.enabled
        and r.phase is Phase.BAKING
        and r.baseline is not None
        and 0 < r.current_step_percent < 100
        and bool(_checks(plan))
    )


def request(r: Rollout, now: datetime) -> MetricRequest | None:
    """The GetMetricData the shell makes for this decision (None: nothing to read yet)."""
    if not applies(r) or r.step_started_at is None:
        return None
    return metric_queries.window_request(r.step_started_at, now, queries(r))


def queries(r: Rollout) -> list[MetricQuery]:
    """Every metric the plan checks, for the baseline (``_b``) and the candidate (``_c``)."""
    assert r.baseline is not None
    return metric_queries.variant_queries(
        r.endpoint_name, r.target.plan.analysis, r.baseline.variant_name, r.candidate.variant_name
    )


# --- judging ---------------------------------------------------------------------------------


def judge(r: Rollout, data: MetricData, now: datetime) -> AnalysisReport:
    return judge_plan(r.target.plan.analysis, data, now, r.step_index, r.current_step_percent)


def judge_plan(plan: AnalysisPlan, data: MetricData, now: datetime, step: int, step_percent: int) -> AnalysisReport:
    """``plan``'s checks on the window's data (``_b`` the baseline's series, ``_c`` the candidate's)."""
    results: list[CheckResult] = []
    if plan.errors.enabled:
        results.append(_errors(plan.errors, data))
    if plan.latency.enabled:
        results.append(_latency(plan.latency, data))
    for n, check in enumerate(plan.metrics):
        if check.enabled:
            results.append(_metric(check, n, data))
    score = _score(plan, results)
    return AnalysisReport(
        at=now,
        step=step,
        step_percent=step_percent,
        window_start=data.start,
        window_end=data.end,
        verdict=_overall(plan, results, score),
        score=score,
        pass_score=plan.pass_score,
        checks=results,
    )


def _total(data: MetricData, key: str) -> float:
    return sum(v for _, v in data.series.get(key, []))


def _values(data: MetricData, key: str) -> list[float]:
    return [v for _, v in data.series.get(key, []) if math.isfinite(v)]


def _errors(check: ErrorsCheck, data: MetricData) -> CheckResult:
    counts = {}
    for side in ("b", "c"):
        n = round(_total(data, f"inv_{side}"))
        x = round(_total(data, f"e5_{side}") + (_total(data, f"e4_{side}") if check.include_4xx else 0))
        counts[side] = (min(x, n), n)
    (xb, nb), (xc, nc) = counts["b"], counts["c"]
    what = "5XX" + (" and 4XX" if check.include_4xx else "")
    result = CheckResult(
        name="errors", verdict=Verdict.INCONCLUSIVE, critical=check.critical, data=f"{nb} vs {nc} invocations"
    )
    if nb < check.min_invocations or nc < check.min_invocations:
        detail = (
            f"not enough traffic: {nb} baseline and {nc} candidate invocations (at least {check.min_invocations} each)"
        )
        return result.model_copy(update={"detail": detail})
    rb, rc = xb / nb, xc / nc
    test = stats.proportion_greater(xc, nc, xb, nb)
    worse = rc - rb
    failed = test.p_value < 1 - check.confidence and worse > check.tolerance
    detail = (
        f"{what} error rate: candidate {_pct(rc)} ({xc}/{nc}) vs baseline {_pct(rb)} ({xb}/{nb}), "
        f"{worse * 100:+.2f} points, p={_p(test.p_value)} ({test.method}); "
        f"fails above +{check.tolerance * 100:.2f} points with {check.confidence:.0%} confidence"
    )
    return _judged(result, failed, rb * 100, rc * 100, worse * 100, test.p_value, detail)


def _latency(check: LatencyCheck, data: MetricData) -> CheckResult:
    base = [v / MICROSECONDS_PER_MS for v in _values(data, "lat_b")]
    cand = [v / MICROSECONDS_PER_MS for v in _values(data, "lat_c")]
    return _compare("latency", check, f"ModelLatency {check.statistic}", base, cand, "higher", " ms")


def _metric(check: MetricCheck, n: int, data: MetricData) -> CheckResult:
    label = f"{check.namespace} {check.metric_name} {check.statistic}"
    return _compare(check.name, check, label, _values(data, f"m{n}_b"), _values(data, f"m{n}_c"), check.direction, "")


def _compare(
    name: str,
    check: LatencyCheck | MetricCheck,
    label: str,
    base: list[float],
    cand: list[float],
    worse_when: str,
    unit: str,
) -> CheckResult:
    """Per-minute values of the two variants: Mann-Whitney U in the bad direction, plus the
    relative change of the median minute against the tolerance."""
    result = CheckResult(
        name=name, verdict=Verdict.INCONCLUSIVE, critical=check.critical, data=f"{len(base)} vs {len(cand)} minutes"
    )
    if len(base) < check.min_datapoints or len(cand) < check.min_datapoints:
        detail = (
            f"not enough data: {len(base)} baseline and {len(cand)} candidate minutes of {label} "
            f"(at least {check.min_datapoints} each)"
        )
        return result.model_copy(update={"detail": detail})
    mb, mc = median(base), median(cand)
    if worse_when == "higher":
        test = stats.mann_whitney_greater(cand, base)
        change = _relative(mc - mb, mb)
    else:
        test = stats.mann_whitney_greater(base, cand)
        change = _relative(mb - mc, mb)
    failed = test.p_value < 1 - check.confidence and change > check.tolerance
    moved = _relative(mc - mb, mb)
    detail = (
        f"{label} per minute: candidate {_num(mc)}{unit} vs baseline {_num(mb)}{unit} (medians, "
        f"{_signed_pct(moved)}), p={_p(test.p_value)} over {len(base)} vs {len(cand)} minutes; "
        f"fails when {worse_when} by more than {check.tolerance:.0%} with {check.confidence:.0%} confidence"
    )
    difference = moved * 100 if math.isfinite(moved) else None
    return _judged(result, failed, mb, mc, difference, test.p_value, detail)


def _judged(
    result: CheckResult,
    failed: bool,
    baseline: float,
    candidate: float,
    difference: float | None,
    p_value: float,
    detail: str,
) -> CheckResult:
    """A check's verdict with its numbers (rounded to 4 places, as the API shows them)."""
    return result.model_copy(
        update={
            "verdict": Verdict.FAIL if failed else Verdict.PASS,
            "baseline": round(baseline, 4),
            "candidate": round(candidate, 4),
            "difference": None if difference is None else round(difference, 4),
            "p_value": p_value,
            "detail": detail,
        }
    )


def _relative(delta: float, reference: float) -> float:
    if reference == 0:
        return 0.0 if delta == 0 else math.copysign(math.inf, delta)
    return delta / abs(reference)


def _score(plan: AnalysisPlan, results: list[CheckResult]) -> float | None:
    """Kayenta-style: the weighted share of conclusive non-critical checks that passed, 0-100."""
    weights = {"errors": plan.errors.weight, "latency": plan.latency.weight} | {m.name: m.weight for m in plan.metrics}
    judged = [c for c in results if not c.critical and c.verdict is not Verdict.INCONCLUSIVE]
    total = sum(weights[c.name] for c in judged)
    if total == 0:
        return None
    return round(100 * sum(weights[c.name] for c in judged if c.verdict is Verdict.PASS) / total, 2)


def _overall(plan: AnalysisPlan, results: list[CheckResult], score: float | None) -> Verdict:
    if any(c.critical and c.verdict is Verdict.FAIL for c in results):
        return Verdict.FAIL
    if any(c.verdict is Verdict.INCONCLUSIVE for c in results):
        return Verdict.INCONCLUSIVE
    if score is not None and score < plan.pass_score:
        return Verdict.FAIL
    return Verdict.PASS


# --- in the state machine ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdicts:
    """What the end of a bake does: go on (``note`` for the reason), hold, or roll back (``failed``)."""

    go: bool
    note: str = ""
    failed: str | None = None


def review(r: Rollout, obs: Observations, now: datetime) -> tuple[Rollout, str | None]:
    """Every decision of a bake: judge the metrics the shell read, keep the report, and say
    why to roll back when a critical check fails. A verdict that changes is recorded."""
    if not applies(r) or obs.metrics is None:
        return r, None
    report = judge(r, obs.metrics, now)
    previous = r.analysis if r.analysis is not None and r.analysis.step == r.step_index else None
    baked = r.step_started_at is not None and (now - r.step_started_at).total_seconds() >= r.target.plan.bake_seconds
    if report.verdict is Verdict.INCONCLUSIVE and baked:
        report = report.model_copy(update={"holding_since": (previous.holding_since if previous else None) or now})
    kept = r.model_copy(update={"analysis": report})
    critical = [c for c in report.checks if c.critical and c.verdict is Verdict.FAIL]
    if critical:
        return _recorded(kept, obs, now, "analysis", summary(report), report), failure_reason(report)
    if previous is None or _key(previous) != _key(report):
        event = "holding" if report.holding_since == now else "analysis"
        text = summary(report)
        if event == "holding":
            text = "not enough traffic to judge: the bake extends until there is. " + text
        kept = _recorded(kept, obs, now, event, text, report)
    return kept, None


def verdict(r: Rollout, now: datetime) -> Verdicts:
    """At the end of a bake: the step goes on only on this decision's PASS."""
    plan = r.target.plan.analysis
    if not applies(r):
        if plan.enabled and r.current_step_percent == 100 and r.baseline is not None:
            return Verdicts(go=True, note="; no canary analysis at 100 % (the baseline takes no traffic)")
        return Verdicts(go=True)
    report = r.analysis
    if report is None or report.at != now or report.step != r.step_index:
        return Verdicts(go=False)  # this decision read no metrics: a judging shell decides
    if report.verdict is Verdict.INCONCLUSIVE:
        return Verdicts(go=False)
    if report.verdict is Verdict.FAIL:
        return Verdicts(go=False, failed=failure_reason(report))
    score = "" if report.score is None else f", score {report.score:g} >= {report.pass_score:g}"
    return Verdicts(go=True, note=f"; canary analysis PASS{score}")


def overdue_reason(r: Rollout, reason: str) -> str:
    """The max duration's reason, naming what could not be judged when a step was holding."""
    report = r.analysis
    if r.phase is not Phase.BAKING or report is None or report.step != r.step_index:
        return reason
    if report.verdict is not Verdict.INCONCLUSIVE:
        return reason
    waiting = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if c.verdict is Verdict.INCONCLUSIVE)
    return f"not enough traffic to judge at {report.step_percent}% ({waiting}); {reason}"


def failure_reason(report: AnalysisReport, what: str | None = None) -> str:
    """Why the analysis failed; ``what`` names it (default: the canary analysis at its step)."""
    what = what or f"canary analysis failed at {report.step_percent}%"
    failed = [c for c in report.checks if c.verdict is Verdict.FAIL]
    critical = [c for c in failed if c.critical]
    shown = critical or failed
    head = f"{what}: critical check " if critical else f"{what} (score {report.score:g} < {report.pass_score:g}): "
    return head + "; ".join(f"{c.name} {c.detail}" for c in shown)


def summary(report: AnalysisReport, what: str | None = None) -> str:
    what = what or f"canary analysis at {report.step_percent}%"
    score = "" if report.score is None else f", score {report.score:g} (pass {report.pass_score:g})"
    checks = "; ".join(f"{c.name} {c.verdict.value}: {c.detail}" for c in report.checks)
    return f"{what}: {report.verdict.value}{score}. {checks}"


def changed(previous: AnalysisReport | None, report: AnalysisReport) -> bool:
    """A verdict (overall, holding, or of a check) that differs from the previous report's."""
    return previous is None or _key(previous) != _key(report)


def recorded(r: Rollout, obs: Observations, now: datetime, event: str, reason: str, report: AnalysisReport) -> Rollout:
    """A history entry whose observations carry the report's numbers."""
    return _recorded(r, obs, now, event, reason, report)


def _key(report: AnalysisReport) -> tuple[object, ...]:
    return (report.verdict, report.holding_since is not None, tuple((c.name, c.verdict) for c in report.checks))


def _recorded(r: Rollout, obs: Observations, now: datetime, event: str, reason: str, report: AnalysisReport) -> Rollout:
    """A history entry whose observations carry the report's numbers."""
    noted = record(r, now, event, reason, obs, [])
    last = noted.history[-1]
    entry = last.model_copy(update={"observations": {**last.observations, "analysis": report.model_dump(mode="json")}})
    return noted.model_copy(update={"history": [*noted.history[:-1], entry]})


def checks(plan: AnalysisPlan) -> list[object]:
    """The checks of ``plan`` that are enabled."""
    return _checks(plan)


def _checks(plan: AnalysisPlan) -> list[object]:
    return [c for c in (plan.errors, plan.latency, *plan.metrics) if c.enabled]


# --- formatting ----------------------------------------------------------------------------------


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f} %"


def _signed_pct(change: float) -> str:
    return f"{change * 100:+.1f} %" if math.isfinite(change) else "from 0"


def _num(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.0001 else "<0.0001"
