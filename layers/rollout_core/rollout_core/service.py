"""The imperative shell: gather observations, decide, save, act. Handlers call this."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from . import clock, machine, naming
from .aws.alarms import AlarmGateway
from .aws.autoscaling import AutoscalingGateway
from .aws.clients import error_code
from .aws.sagemaker import RetryLater, SageMakerGateway
from .aws.store import ConflictError, RolloutStore
from .aws.targets import TargetRepository
from .models import AlarmState, ApplyAutoscaling, Observations, Phase, Rollout, SuspendAutoscaling

logger = Logger(child=True)

CREATE_RETRIES = 3


@dataclass
class RolloutService:
    store: RolloutStore
    sagemaker: SageMakerGateway
    alarms: AlarmGateway
    autoscaling: AutoscalingGateway
    targets: TargetRepository

    @staticmethod
    def now() -> datetime:
        return clock.now()

    # --- approvals ----------------------------------------------------------------------

    def approve(self, model_package_group: str, model_package_arn: str) -> Rollout | None:
        """Start a rollout of an approved package (superseding the endpoint's live one)."""
        target = self.targets.get(model_package_group)
        if target is None:
            logger.info("no target for model package group; ignored", extra={"group": model_package_group})
            return None
        for _ in range(CREATE_RETRIES):
            now = self.now()
            candidate = machine.new_rollout(target, model_package_arn, now)
            existing = self.store.get(candidate.rollout_id)
            if existing is not None:
                logger.info("approval already recorded", extra={"rollout_id": existing.rollout_id})
                return self.advance(existing.rollout_id)
            owner_id = self.store.lock_owner(target.endpoint_name)
            owner = self.store.get(owner_id) if owner_id else None
            superseded = None
            if owner is not None and owner.live:
                superseded = machine.stop(owner, Phase.SUPERSEDED, f"superseded by {model_package_arn}", now)
                candidate = machine.new_rollout(target, model_package_arn, now, predecessor_id=owner.rollout_id)
            try:
                created = self.store.create(
                    candidate,
                    stale_owner=owner_id,
                    superseded=superseded if superseded is not owner else None,
                )
            except ConflictError:
                logger.info("lost a race for the endpoint; reading again", extra={"endpoint": target.endpoint_name})
                continue
            self._count("RolloutsStarted")
            logger.info("rollout recorded", extra=self._keys(created))
            if owner is not None and owner.live:
                self.advance(owner.rollout_id)
            return self.advance(created.rollout_id)
        raise ConflictError(f"could not record a rollout for {model_package_arn} after {CREATE_RETRIES} tries")

    def reject(self, model_package_arn: str) -> Rollout | None:
        """Abort the live rollout whose candidate is ``model_package_arn``, if any."""
        rollout = self.store.get(naming.rollout_id(model_package_arn))
        if rollout is None or not rollout.live:
            logger.info("rejected package has no live rollout", extra={"package": model_package_arn})
            return rollout
        return self.stop(rollout.rollout_id, Phase.ABORTED, f"model package rejected: {model_package_arn}")

    def stop(self, rollout_id: str, outcome: Phase, reason: str) -> Rollout | None:
        for _ in range(CREATE_RETRIES):
            rollout = self.store.get(rollout_id)
            if rollout is None:
                return None
            stopped = machine.stop(rollout, outcome, reason, self.now())
            if stopped is rollout:
                return rollout
            try:
                self.store.save(stopped)
            except ConflictError:
                continue
            return self.advance(rollout_id)
        raise ConflictError(f"could not stop rollout {rollout_id}")

    # --- advancing ----------------------------------------------------------------------

    def advance_live(
        self,
        endpoint_name: str | None = None,
        alarm_name: str | None = None,
        fired: dict[str, datetime] | None = None,
    ) -> list[Rollout]:
        """One decision for every live rollout (of one endpoint / guarded by one alarm).

        ``fired`` maps alarm names to the time an ALARM event said they fired: a rollout
        that started before that time rolls back even if the alarm is OK again by now.
        """
        rollouts = [
            r for r in (self.store.get(rid) for rid in self.store.live_ids()) if r is not None and not r.settled
        ]
        if endpoint_name is not None:
            rollouts = [r for r in rollouts if r.endpoint_name == endpoint_name]
        if alarm_name is not None:
            rollouts = [r for r in rollouts if alarm_name in r.target.guard_alarms]
        alarm_states = self.alarms.states({name for r in rollouts for name in r.target.guard_alarms})
        results = []
        for rollout in rollouts:
            states = dict(alarm_states)
            for name, at in (fired or {}).items():
                if at >= rollout.created_at:
                    states[name] = AlarmState.ALARM
            results.append(self._advance_loaded(rollout, states))
        return results

    def advance(self, rollout_id: str) -> Rollout | None:
        rollout = self.store.get(rollout_id)
        if rollout is None:
            return None
        return self._advance_loaded(rollout, None)

    def _advance_loaded(self, rollout: Rollout, alarm_states: dict[str, AlarmState] | None) -> Rollout:
        if rollout.settled:
            return rollout
        if rollout.phase is Phase.PENDING and rollout.predecessor_id:
            predecessor = self.store.get(rollout.predecessor_id)
            if predecessor is not None and predecessor.live:
                return rollout  # its turn comes when the predecessor finishes
        obs = self.observe(rollout, alarm_states)
        decided, actions = machine.decide(rollout, obs, self.now())
        if decided == rollout and not actions:
            return rollout
        saved = rollout
        if decided != rollout:
            try:
                saved = self.store.save(decided)  # before acting: a concurrent decision loses here
            except ConflictError:
                logger.info("another decision won; nothing done", extra=self._keys(rollout))
                return self.store.get(rollout.rollout_id) or rollout
            logger.info(
                "decided",
                extra={**self._keys(saved), "phase": saved.phase.value, "actions": [a.kind for a in actions]},
            )
        for action in actions:
            try:
                if isinstance(action, SuspendAutoscaling | ApplyAutoscaling):
                    self.autoscaling.execute(action)
                else:
                    self.sagemaker.execute(action, saved.rollout_id)
            except (ClientError, RetryLater) as exc:
                code, message = error_code(exc) if isinstance(exc, ClientError) else (RetryLater.code, str(exc))
                logger.warning("action failed", extra={**self._keys(saved), "action": action.kind, "code": code})
                saved = self.store.save(machine.on_action_error(saved, action, code, message, self.now()))
                break
        else:
            if saved.finishing:
                saved = self.store.save(machine.finished(saved, self.now()))
        if saved.phase != rollout.phase:
            self._on_phase_change(rollout, saved)
        return saved

    def _on_phase_change(self, before: Rollout, after: Rollout) -> None:
        metric = {
            Phase.SUCCEEDED: "RolloutsSucceeded",
            Phase.ROLLED_BACK: "RolloutsRolledBack",
            Phase.FAILED: "RolloutsFailed",
            Phase.ABORTED: "RolloutsAborted",
            Phase.SUPERSEDED: "RolloutsSuperseded",
        }.get(after.phase)
        if metric:
            self._count(metric)
        if after.phase is Phase.SUCCEEDED:
            self.store.set_serving_model(after)
        logger.info(
            "phase changed",
            extra={**self._keys(after), "from": before.phase.value, "to": after.phase.value, "reason": after.reason},
        )
        if after.phase.terminal:
            # The endpoint may now belong to a successor waiting for this one.
            owner = self.store.lock_owner(after.endpoint_name)
            if owner and owner != after.rollout_id:
                self.advance(owner)

    def observe(self, rollout: Rollout, alarm_states: dict[str, AlarmState] | None = None) -> Observations:
        described = self.sagemaker.describe_endpoint(rollout.endpoint_name)
        endpoint = None if described is None else self.sagemaker.view(described)
        if rollout.phase is Phase.PENDING:
            serving = autoscaling = None
            if described is not None and endpoint is not None and endpoint.status == "InService":
                serving = self.sagemaker.serving_variant(described)
                if serving is not None:
                    autoscaling = self.autoscaling.snapshot(rollout.endpoint_name, serving.variant_name)
            return Observations(endpoint=endpoint, serving_variant=serving, autoscaling=autoscaling)
        names: Iterable[str] = rollout.target.guard_alarms
        if alarm_states is None:
            alarm_states = self.alarms.states(names) if rollout.target.guard_alarms else {}
        alarms = {n: alarm_states[n] for n in names if n in alarm_states}
        return Observations(endpoint=endpoint, alarms=alarms)

    @staticmethod
    def _keys(rollout: Rollout) -> dict[str, str]:
        return {"rollout_id": rollout.rollout_id, "endpoint": rollout.endpoint_name}

    @staticmethod
    def _count(name: str) -> None:
        # Metrics() shares one metric set per process (flushed by the handler's log_metrics);
        # made here, not at import, so it reads POWERTOOLS_METRICS_NAMESPACE as set now.
        Metrics().add_metric(name=name, unit=MetricUnit.Count, value=1)
