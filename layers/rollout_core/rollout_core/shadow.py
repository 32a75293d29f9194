"""SHADOWING (issue 13): the candidate sees real requests before it serves anyone (pure).

With ``plan.shadow``, a rollout that has a baseline starts by asking for a config that keeps the
baseline serving exactly as it is and adds the candidate as its *shadow variant*
(``ShadowProductionVariants`` of CreateEndpointConfig). SageMaker, as documented:

- "If you use this field, you can only specify one variant for ProductionVariants and one
  variant for ShadowProductionVariants" (API reference, CreateEndpointConfig); "SageMaker AI
  supports a maximum of one shadow variant per endpoint" (developer guide, "Create a shadow test");
- the shadow "receives a percentage of the incoming requests, replicated from the production
  variant, but does not return any responses" (same page): no user ever gets its answer;
- how a config expresses that percentage is not in the API reference. The guide's own example
  ("Testing models with shadow variants", Deploy shadow variants) gives both variants
  InitialVariantWeight 1 (every request copied): the shadow's weight is read relative to the
  production variant's. We write the production variant at 100 and the shadow at
  ``sampling_percent`` (1..100), so the ratio is the percentage and never above 1 (the sandbox
  refuses a shadow weight above the production's: the stricter reading);
- the shadow's metrics are published per variant like any other (AWS/SageMaker, EndpointName and
  VariantName; "Monitor a shadow test" compares Invocations, ModelLatency, Invocation4XX/5XXErrors
  of the two variants), so the canary analysis (analysis.py) compares shadow vs production;
- UpdateEndpoint to a config without ShadowProductionVariants removes the shadow.

The shadow is sized like a canary step of ``sampling_percent`` % (changes.shadow_variant). After
``duration_seconds`` in service with the guard alarms OK and the analysis PASS, the candidate
joins as a production variant at weight 0 (PROVISIONING: the smoke test, then the canary steps);
``Rollout Shadow Passed``. A failed analysis, an alarm, a rejection or an abort take the rollout
to ROLLING_BACK, which puts the baseline's own config back (the shadow leaves with it). An operator's
promote ends the shadow phase early (the canary steps still run); pause holds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import analysis, candidate_alarms, changes, guards, metric_queries, naming
from .canary_models import AnalysisPlan, AnalysisReport, MetricRequest, ShadowRecord, Verdict
from .decisions import (
    BUSY_STATUSES,
    MAX_ATTEMPTS,
    Decision,
    finish,
    record_decision,
    request,
    request_outcome,
    settled_on,
    update_failed,
)
from .history import notify
from .models import EndpointView, Observations, Phase, Rollout
from .rollback import start_rollback


def applies(r: Rollout) -> bool:
    """The plan has a shadow phase. Asked only once a baseline was found (PENDING, on an endpoint
    in service): a first deployment has nothing to mirror and no shadow phase."""
    return r.target.plan.shadow is not None


def start(r: Rollout, update: dict[str, Any], obs: Observations, now: datetime, note: str = "") -> Decision:
    """From PENDING (``update``: the baseline it found): the candidate joins as the shadow.
    ``note``: what the quota pre-flight said (a fallback type, an incomplete read)."""
    plan = r.target.plan.shadow
    assert plan is not None
    base = update["baseline"].variant_name
    update = {
        **update,
        "phase": Phase.SHADOWING,
        "desired_config": naming.shadow_config(r.endpoint_name, r.rollout_id, r.type_attempt),
        "desired_weights": {base: 100},
        "shadow": ShadowRecord(sampling_percent=plan.sampling_percent, type_attempt=r.type_attempt),
    }
    reason = f"candidate joins baseline {base} as its shadow variant ({plan.sampling_percent}% of requests copied)"
    reason += note
    return request(r.model_copy(update=update), obs, now, "shadowing", reason)


def shadowing(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None:
        return finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in BUSY_STATUSES:
        return r, []
    assert r.shadow is not None and r.target.plan.shadow is not None
    if r.shadow.started_at is None:
        return _joining(r, obs, now, ep)
    if ep.config_name != r.desired_config:
        return finish(
            r,
            obs,
            now,
            Phase.FAILED,
            f"endpoint changed outside the rollout (now on config {ep.config_name}); left alone",
            [],
        )
    if r.fast_forward and not r.paused:  # a pause after the promote holds the shadow
        return _leave(r, obs, now, "skipped", "operator promoted: the rest of the shadow phase skipped")
    r, critical = review(r, obs, now)
    if critical is not None:
        return start_rollback(r, obs, now, Phase.ROLLED_BACK, critical)
    started = r.step_started_at or now
    if (now - started).total_seconds() < _duration(r):
        return r, []
    if r.paused or guards.holding(r, obs):
        return r, []
    go, note, failed = verdict(r, now)
    if failed is not None:
        return start_rollback(r, obs, now, Phase.ROLLED_BACK, failed)
    if not go:
        return r, []
    return _leave(r, obs, now, "passed", "shadow baked with guard alarms OK" + note)


def _joining(r: Rollout, obs: Observations, now: datetime, ep: EndpointView) -> Decision:
    """The shadow config asked for: in service, failed (nothing of it serves), or asked again."""
    assert r.shadow is not None
    seen = request_outcome(r, ep)
    if seen == "done":
        plan = r.target.plan.shadow
        assert plan is not None
        joined = r.model_copy(
            update={"step_started_at": now, "shadow": r.shadow.model_copy(update={"started_at": now})}
        )
        text = (
            f"candidate in service as the shadow variant {naming.shadow_variant_name(r.rollout_id)}: "
            f"{plan.sampling_percent}% of requests copied to it, its answers discarded, for {plan.duration_seconds}s"
        )
        return record_decision(notify(joined, "shadow_started", text), obs, now, "shadow started", text, [])
    if ep.status == "UpdateRollbackFailed":
        return start_rollback(r, obs, now, Phase.FAILED, update_failed(ep))
    if seen == "failed":
        return finish(r, obs, now, Phase.FAILED, update_failed(ep), changes.discard_candidate(r))
    if seen == "changed":
        if r.attempts + 1 >= MAX_ATTEMPTS:
            reason = f"endpoint update did not take effect after {r.attempts + 1} requests ({settled_on(ep, r)})"
            return finish(r, obs, now, Phase.FAILED, reason, changes.discard_candidate(r))
        return request(r, obs, now, "retrying", settled_on(ep, r), count=True)
    return request(r, obs, now, "retrying", "shadow config not applied yet")


def _leave(r: Rollout, obs: Observations, now: datetime, outcome: str, reason: str) -> Decision:
    """The shadow phase is over: the candidate joins as a production variant at weight 0."""
    assert r.baseline is not None and r.shadow is not None
    update = {
        "phase": Phase.PROVISIONING,
        "shadow": r.shadow.model_copy(update={"outcome": outcome, "reason": reason, "finished_at": now}),
        "fast_forward": False,  # promote ended the shadow phase; the canary steps run as planned
        "step_started_at": None,
        "attempts": 0,
        "desired_config": naming.rollout_config(r.endpoint_name, r.rollout_id, r.type_attempt),
        "desired_weights": {r.baseline.variant_name: 100, r.candidate.variant_name: 0},
    }
    left = r.model_copy(update=update)
    if outcome == "passed":
        left = notify(left, "shadow_passed", reason)
    joined, actions = request(left, obs, now, "provisioning", f"{reason}; candidate joins baseline at weight 0")
    # issue 17: the candidate's own alarms watch it from the moment it joins as a production variant
    return joined, candidate_alarms.put(joined) + actions


# --- the analysis of the shadow vs production (analysis.py's checks) ------------------------------


def _duration(r: Rollout) -> int:
    plan = r.target.plan.shadow
    assert plan is not None
    return plan.duration_seconds


def checks_plan(r: Rollout) -> AnalysisPlan:
    plan = r.target.plan.shadow
    return plan.checks if plan is not None and plan.checks is not None else r.target.plan.analysis


def _judged(r: Rollout) -> bool:
    plan = checks_plan(r)
    return (
        r.phase is Phase.SHADOWING
        and r.shadow is not None
        and r.shadow.started_at is not None
        and r.baseline is not None
        and plan.enabled
        and bool(analysis.checks(plan))
    )


def request_metrics(r: Rollout, now: datetime) -> MetricRequest | None:
    """The GetMetricData of this decision: the production variant (``_b``) and the shadow (``_c``)."""
    if not _judged(r) or r.step_started_at is None:
        return None
    assert r.baseline is not None
    wanted = metric_queries.variant_queries(
        r.endpoint_name, checks_plan(r), r.baseline.variant_name, naming.shadow_variant_name(r.rollout_id)
    )
    return metric_queries.window_request(r.step_started_at, now, wanted)


def _what(r: Rollout, failed: bool = False) -> str:
    assert r.shadow is not None
    return f"shadow analysis{' failed' if failed else ''} ({r.shadow.sampling_percent}% of requests copied)"


def review(r: Rollout, obs: Observations, now: datetime) -> tuple[Rollout, str | None]:
    """Every decision of the shadow phase: judge the metrics read, keep the report, and say why
    to roll back when a critical check fails. A verdict that changes is recorded."""
    if not _judged(r) or obs.metrics is None:
        return r, None
    assert r.shadow is not None
    report = analysis.judge_plan(checks_plan(r), obs.metrics, now, -1, r.shadow.sampling_percent)
    previous = r.shadow.analysis
    started = r.step_started_at or now
    baked = (now - started).total_seconds() >= _duration(r)
    if report.verdict is Verdict.INCONCLUSIVE and baked:
        report = report.model_copy(update={"holding_since": (previous.holding_since if previous else None) or now})
    kept = r.model_copy(update={"shadow": r.shadow.model_copy(update={"analysis": report})})
    if any(c.critical and c.verdict is Verdict.FAIL for c in report.checks):
        text = analysis.summary(report, _what(r))
        return analysis.recorded(kept, obs, now, "shadow analysis", text, report), _failure(r, report)
    if analysis.changed(previous, report):
        text = analysis.summary(report, _what(r))
        if report.holding_since == now:
            text = "not enough traffic to judge the shadow: the phase extends until there is. " + text
        kept = analysis.recorded(kept, obs, now, "shadow analysis", text, report)
    return kept, None


def verdict(r: Rollout, now: datetime) -> tuple[bool, str, str | None]:
    """At the end of the shadow phase: (go on, note for the reason, why it failed)."""
    if not _judged(r):
        return True, "; no shadow analysis (disabled)", None
    assert r.shadow is not None
    report = r.shadow.analysis
    if report is None or report.at != now:
        return False, "", None  # this decision read no metrics: a judging shell decides
    if report.verdict is Verdict.INCONCLUSIVE:
        return False, "", None
    if report.verdict is Verdict.FAIL:
        return False, "", _failure(r, report)
    score = "" if report.score is None else f", score {report.score:g} >= {report.pass_score:g}"
    return True, f"; shadow analysis PASS{score}", None


def _failure(r: Rollout, report: AnalysisReport) -> str:
    return analysis.failure_reason(report, _what(r, failed=True)) + "; no user was served by the candidate"


def overdue_reason(r: Rollout, reason: str) -> str:
    """The max duration's reason, naming what could not be judged when the shadow was holding."""
    report = r.shadow.analysis if r.shadow is not None else None
    if r.phase is not Phase.SHADOWING or report is None or report.verdict is not Verdict.INCONCLUSIVE:
        return reason
    waiting = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if c.verdict is Verdict.INCONCLUSIVE)
    return f"not enough traffic to judge the shadow ({waiting}); {reason}"
