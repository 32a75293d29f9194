"""What the world looks like for a rollout's next decision: one read of the endpoint, and of what
the decision in its phase needs (the baseline's config, autoscaling and quotas before it starts;
the guard alarms and, after a failed change, the container's log while it runs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from . import fallbacks, preflight
from .aws.alarms import AlarmGateway, AlarmReadings
from .aws.autoscaling import AutoscalingGateway
from .aws.logs import ContainerLogs
from .aws.quotas import QuotaGateway, QuotaReadings
from .aws.sagemaker import SageMakerGateway
from .models import EndpointView, Observations, Phase, Rollout, VariantSpec

logger = Logger(child=True)


@dataclass(frozen=True)
class Observer:
    sagemaker: SageMakerGateway
    alarms: AlarmGateway
    autoscaling: AutoscalingGateway
    quotas: QuotaGateway | None = None  # the quota pre-flight (preflight.py); None: skipped
    logs: ContainerLogs | None = None  # the candidate container's log, read when a change failed

    def observe(self, rollout: Rollout, now: datetime, readings: AlarmReadings | None = None) -> Observations:
        """The endpoint; for a PENDING rollout its baseline, autoscaling and quotas; otherwise the
        guard alarms (``readings``: already read for the whole tick) and, after a failed change,
        the candidate container's log."""
        described = self.sagemaker.describe_endpoint(rollout.endpoint_name)
        endpoint = None if described is None else self.sagemaker.view(described)
        if rollout.phase is Phase.PENDING:
            if described is None:
                quotas = self._quotas(rollout, None)
                return Observations(endpoint=None, quotas=quotas.quotas, quota_warnings=quotas.warnings)
            if endpoint is None or endpoint.status != "InService":
                return Observations(endpoint=endpoint)
            baseline = self.sagemaker.baseline(described)
            autoscaling = None
            if baseline.variant is not None:
                autoscaling = self.autoscaling.snapshot(rollout.endpoint_name, baseline.variant.variant_name)
            quotas = self._quotas(rollout, baseline.variant) if baseline.variant is not None else QuotaReadings()
            return Observations(
                endpoint=endpoint,
                serving_variant=baseline.variant,
                baseline_config=baseline.config,
                unsupported=baseline.unsupported,
                autoscaling=autoscaling,
                quotas=quotas.quotas,
                quota_warnings=quotas.warnings,
            )
        names: Iterable[str] = rollout.guard_alarm_names
        if readings is None:
            readings = self.alarms.read(names) if rollout.guard_alarm_names else AlarmReadings()
        alarms = {n: readings.states[n] for n in names if n in readings.states}
        return Observations(
            endpoint=endpoint,
            container_log=self._container_log(rollout, endpoint, now),
            alarms=alarms,
            alarm_reasons={n: readings.reasons.get(n, "") for n in alarms},
            alarm_since={n: readings.since[n] for n in alarms if n in readings.since},
        )

    def _container_log(self, rollout: Rollout, endpoint: EndpointView | None, now: datetime) -> list[str]:
        """When the candidate's endpoint change visibly failed: its container's last relevant lines."""
        if self.logs is None or endpoint is None or rollout.phase not in (Phase.PROVISIONING, Phase.PROMOTING):
            return []
        failed = endpoint.status in ("Failed", "UpdateRollbackFailed") or (
            endpoint.failure_reason is not None and endpoint.failure_reason != rollout.failure_seen
        )
        if not failed:
            return []
        since = (rollout.requested_at or rollout.updated_at) - timedelta(minutes=1)
        return self.logs.recent(rollout.endpoint_name, rollout.candidate.variant_name, since, now)

    def _quotas(self, rollout: Rollout, baseline: VariantSpec | None) -> QuotaReadings:
        """The quotas of every instance type the rollout's peak needs (preflight.py)."""
        if self.quotas is None:
            return QuotaReadings()
        count = baseline.instance_count if baseline is not None else 0
        target = rollout.target
        wanted = {
            t
            for tried in fallbacks.types(target)
            for t in preflight.peak_need(target.model_copy(update={"instance_type": tried}), baseline, count)
        }
        readings = self.quotas.read(wanted)  # the fallback types' too (fallbacks.py)
        for warning in readings.warnings:
            logger.warning(
                "quota pre-flight incomplete",
                extra={"rollout_id": rollout.rollout_id, "endpoint": rollout.endpoint_name, "warning": warning},
            )
        return readings
