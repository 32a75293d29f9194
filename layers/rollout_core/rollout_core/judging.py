"""The judging shell (the rollout controller's): reads a bake's metrics, runs the smoke test.

RolloutService calls it at three points: ``observe`` before a decision (the metrics
analysis.request asks for, in one GetMetricData call: metric_queries.py), ``run_smoke_test`` for a RunSmokeTest
action, then ``fold_smoke_test`` (the result folded into the rollout and saved), and ``published`` after a decision
(the latest analysis as EMF metrics, for the dashboard's baseline-vs-candidate widgets).
Only the controller is given one: the other functions' decisions wait for it (smoke.py,
analysis.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from . import analysis, shadow, smoke
from .aws.metrics import MetricsGateway
from .aws.samples import SmokeRunner
from .aws.store import ConflictError, RolloutStore
from .canary_models import RunSmokeTest, SmokeResult
from .models import Observations, Rollout

SAVE_TRIES = 3
# EMF metric names of an analysis: (baseline's value, candidate's value, score). The shadow
# phase's analysis (issue 13) compares the shadow with production.
ANALYSIS_METRICS = {
    "canary": ("CanaryBaseline", "CanaryCandidate", "CanaryScore"),
    "shadow": ("ShadowProduction", "ShadowCandidate", "ShadowScore"),
}


@dataclass
class Judges:
    metrics: MetricsGateway
    runner: SmokeRunner

    def observe(self, rollout: Rollout, obs: Observations, now: datetime) -> Observations:
        """The observations, with the metrics of a bake's window when the analysis needs them."""
        wanted = analysis.request(rollout, now) or shadow.request_metrics(rollout, now)
        metrics = self.metrics.read(wanted) if wanted is not None else None
        return obs.model_copy(update={"judging": True, "metrics": metrics})

    def run_smoke_test(self, action: RunSmokeTest) -> SmokeResult:
        """Run the smoke test the decision asked for (its AWS errors are the action's errors)."""
        return self.runner.run(action)

    @staticmethod
    def fold_smoke_test(store: RolloutStore, saved: Rollout, result: SmokeResult, now: datetime) -> Rollout:
        """Fold what the smoke test found into the rollout and save it. A store error is not the
        smoke test's: it goes up like any other failed save (the tick tries again), never into
        errors.on_action_error, which would end the rollout with its candidate still attached."""
        current = saved
        for _ in range(SAVE_TRIES):
            folded = smoke.finished(current, result, now)
            if folded == current:
                return current  # no longer the smoke test under way (stopped meanwhile)
            try:
                return store.save(folded)
            except ConflictError:  # an operator command in between: fold into what it wrote
                current = store.get(saved.rollout_id) or current
        return current  # not folded: the smoke test is asked for again after smoke.RETRY_SECONDS

    @staticmethod
    def published(rollout: Rollout, now: datetime) -> None:
        """EMF, per check: the baseline's and the candidate's value (errors: %, latency: ms), and
        the score; dimensions service, endpoint, check (the dashboard's canary widgets); names
        from ANALYSIS_METRICS. Only an analysis made by this decision (``at == now``).
        EphemeralMetrics: its own dimensions, not the handler's shared metric set."""
        shadowed = rollout.shadow.analysis if rollout.shadow is not None else None
        for report, (baseline, candidate, score) in (
            (rollout.analysis, ANALYSIS_METRICS["canary"]),
            (shadowed, ANALYSIS_METRICS["shadow"]),
        ):
            if report is None or report.at != now:
                continue
            for check in report.checks:
                if check.baseline is not None and check.candidate is not None:
                    metrics = _check_metrics(rollout, check.name)
                    metrics.add_metric(name=baseline, unit=MetricUnit.NoUnit, value=check.baseline)
                    metrics.add_metric(name=candidate, unit=MetricUnit.NoUnit, value=check.candidate)
                    metrics.flush_metrics()
            if report.score is not None:
                metrics = _check_metrics(rollout, None)
                metrics.add_metric(name=score, unit=MetricUnit.NoUnit, value=report.score)
                metrics.flush_metrics()


def _check_metrics(rollout: Rollout, check: str | None) -> EphemeralMetrics:
    metrics = EphemeralMetrics()
    metrics.add_dimension(name="endpoint", value=rollout.endpoint_name)
    if check is not None:
        metrics.add_dimension(name="check", value=check)
    return metrics
