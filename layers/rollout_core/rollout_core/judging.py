"""The judging shell (the rollout controller's): reads a bake's metrics, runs the smoke test.

RolloutService calls it at three points: ``observe`` before a decision (the metrics
analysis.request asks for, in one GetMetricData call), ``run_smoke_test`` for a RunSmokeTest
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
        the score; dimensions service, endpoint, check (the dashboard's canary widgets). The shadow
        phase's analysis (issue 13) as ShadowProduction / ShadowCandidate / ShadowScore.
        EphemeralMetrics: its own dimensions, not the handler's shared metric set."""
        report = rollout.analysis
        if report is not None and report.at == now:
            for check in report.checks:
                if check.baseline is not None and check.candidate is not None:
                    metrics = _check_metrics(rollout, check.name)
                    metrics.add_metric(name="CanaryBaseline", unit=MetricUnit.NoUnit, value=check.baseline)
                    metrics.add_metric(name="CanaryCandidate", unit=MetricUnit.NoUnit, value=check.candidate)
                    metrics.flush_metrics()
            if report.score is not None:
                metrics = _check_metrics(rollout, None)
                metrics.add_metric(name="CanaryScore", unit=MetricUnit.NoUnit, value=report.score)
                metrics.flush_metrics()
        shadowed = rollout.shadow.analysis if rollout.shadow is not None else None
        if shadowed is not None and shadowed.at == now:
            for check in shadowed.checks:
                if check.baseline is not None and check.candidate is not None:
                    metrics = _check_metrics(rollout, check.name)
                    metrics.add_metric(name="ShadowProduction", unit=MetricUnit.NoUnit, value=check.baseline)
                    metrics.add_metric(name="ShadowCandidate", unit=MetricUnit.NoUnit, value=check.candidate)
                    metrics.flush_metrics()
            if shadowed.score is not None:
                metrics = _check_metrics(rollout, None)
                metrics.add_metric(name="ShadowScore", unit=MetricUnit.NoUnit, value=shadowed.score)
                metrics.flush_metrics()


def _check_metrics(rollout: Rollout, check: str | None) -> EphemeralMetrics:
    metrics = EphemeralMetrics()
    metrics.add_dimension(name="endpoint", value=rollout.endpoint_name)
    if check is not None:
        metrics.add_dimension(name="check", value=check)
    return metrics
