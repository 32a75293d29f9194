"""The rollout API's service: list and show rollouts, steer them, start one by hand."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from . import guards, naming, versions
from .aws.alarms import AlarmGateway, AlarmReadings
from .aws.clients import error_code
from .aws.sagemaker import SageMakerGateway
from .commands import CommandRefused
from .models import Observations, Phase, Rollout
from .service import RolloutService


class OperationError(Exception):
    """A request the rollout API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def summary(rollout: Rollout) -> dict[str, Any]:
    return {
        "rollout_id": rollout.rollout_id,
        "endpoint": rollout.endpoint_name,
        "model_package_arn": rollout.model_package_arn,
        "phase": rollout.phase.value,
        "step_percent": rollout.current_step_percent,
        "steps": rollout.target.plan.steps,
        "paused": rollout.paused,
        "reason": rollout.reason,
        "needs_attention": rollout.needs_attention,
        "baseline_variant": rollout.baseline.variant_name if rollout.baseline else None,
        "candidate_variant": rollout.candidate.variant_name,
        "created_at": rollout.created_at.isoformat(),
        "updated_at": rollout.updated_at.isoformat(),
        # issue 11: how it started, whether it is a first deployment, what a WAITING one waits for.
        "trigger": rollout.trigger,
        "first_deployment": rollout.first_deployment and rollout.phase not in (Phase.PENDING, Phase.WAITING),
        "waiting": versions.waiting(rollout),
    }


def _token_out(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _token_in(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise OperationError(400, "next_token is not a token this API gave out") from exc
    if not isinstance(key, dict) or set(key) != {"pk", "sk"}:
        raise OperationError(400, "next_token is not a token this API gave out")
    return key


@dataclass
class Operations:
    service: RolloutService
    sagemaker: SageMakerGateway
    alarms: AlarmGateway
    environment: str = ""  # this stack's (ENVIRONMENT)

    def list(
        self, endpoint: str | None, phase: str | None, live: bool, limit: int, token: str | None
    ) -> dict[str, Any]:
        if live:
            rollouts = [r for r in self.service.store.live() if r.live]
            rollouts = [r for r in rollouts if endpoint is None or r.endpoint_name == endpoint]
            rollouts = [r for r in rollouts if phase is None or r.phase.value == phase]
            return {"rollouts": [summary(r) for r in rollouts], "next_token": None}
        items, key = self.service.store.page(limit, _token_in(token), endpoint, phase)
        items.sort(key=lambda r: r.created_at, reverse=True)
        return {"rollouts": [summary(r) for r in items], "next_token": _token_out(key)}

    def get(self, rollout_id: str) -> Rollout:
        rollout = self.service.store.get(rollout_id)
        if rollout is None:
            raise OperationError(404, f"no rollout {rollout_id}")
        return rollout

    def view(self, rollout_id: str) -> dict[str, Any]:
        """The rollout with its full history, and a live look at the endpoint and alarms."""
        rollout = self.get(rollout_id)
        endpoint = self.sagemaker.observe(rollout.endpoint_name)
        names = rollout.guard_alarm_names
        readings = self.alarms.read(names) if names else AlarmReadings()
        states, reasons = readings.states, readings.reasons
        observed = Observations(endpoint=None, alarms=states, alarm_since=readings.since)
        stale = set(guards.stale(rollout, observed)) if rollout.live else set()
        next_step_at = None
        if rollout.phase is Phase.BAKING and rollout.step_started_at and not rollout.paused:
            next_step_at = rollout.step_started_at + timedelta(seconds=rollout.target.plan.bake_seconds)
        shadow_plan = rollout.target.plan.shadow
        started = rollout.shadow.started_at if rollout.shadow else None
        if (
            rollout.phase is Phase.SHADOWING
            and shadow_plan
            and started
            and rollout.step_started_at
            and not rollout.paused
        ):
            next_step_at = rollout.step_started_at + timedelta(seconds=shadow_plan.duration_seconds)
        return {
            **summary(rollout),
            "live": {
                "endpoint_status": endpoint.status if endpoint else None,
                "weights": endpoint.percentages if endpoint else {},
                "shadows": endpoint.shadows if endpoint else {},  # shadow variant -> instances (issue 13)
                "alarms": {
                    name: {
                        "state": states[name].value if name in states else "MISSING",
                        "reason": reasons.get(name, ""),
                        # In ALARM since before the rollout started: ignored until it changes state.
                        "stale": name in stale,
                    }
                    for name in names
                },
                "next_step_at": next_step_at.isoformat() if next_step_at else None,
                "seconds_to_next_step": (
                    max(0, int((next_step_at - self.service.now()).total_seconds())) if next_step_at else None
                ),
            },
            # Judging the candidate (issue 12): the smoke test and the latest canary analysis
            "smoke_test": rollout.smoke_test.model_dump(mode="json") if rollout.smoke_test else None,
            "analysis": rollout.analysis.model_dump(mode="json") if rollout.analysis else None,
            # The shadow phase (issue 13): its plan, its variant, how it went and its latest analysis
            # (None: no shadow plan, or a rollout past PENDING that had no shadow phase: a first deployment)
            "shadow": None
            if shadow_plan is None or (rollout.shadow is None and rollout.phase is not Phase.PENDING)
            else {
                **shadow_plan.model_dump(mode="json", exclude={"checks"}),
                "variant": naming.shadow_variant_name(rollout.rollout_id),
                **(rollout.shadow.model_dump(mode="json", exclude={"sampling_percent"}) if rollout.shadow else {}),
            },
            "history": [h.model_dump(mode="json") for h in rollout.history],
        }

    def versions(self, group: str) -> dict[str, Any]:
        """Where each version of ``group`` stands in this environment (GET /v1/versions)."""
        target = self.service.targets.get(group)
        if target is None:
            raise OperationError(404, f"no target for model package group {group}")
        store = self.service.store
        rollouts = store.of_endpoint(target.endpoint_name)
        serving = store.serving_rollout(target.endpoint_name)
        return {
            "group": group,
            "environment": self.environment,
            "endpoint": target.endpoint_name,
            "source": target.source,
            "versions": versions.table(rollouts, serving),
        }

    def command(self, rollout_id: str, action: str, who: str) -> Rollout:
        self.get(rollout_id)
        try:
            return self.service.command(rollout_id, action, who)
        except CommandRefused as exc:
            raise OperationError(409, str(exc)) from exc

    def start(self, model_package_arn: str, group: str | None, who: str) -> Rollout:
        """Roll out an approved package by hand (a redeploy, or back to an earlier version)."""
        try:
            package = self.sagemaker.describe_package(model_package_arn)
        except ClientError as exc:
            code, message = error_code(exc)
            raise OperationError(404, f"no model package {model_package_arn}: {message or code}") from exc
        status = package.get("ModelApprovalStatus")
        if status != "Approved":
            raise OperationError(409, f"model package {model_package_arn} is {status}; approve it first")
        group = group or package.get("ModelPackageGroupName")
        if group != package.get("ModelPackageGroupName"):
            raise OperationError(409, f"model package {model_package_arn} does not belong to group {group}")
        target = self.service.targets.get(str(group))
        if target is None:
            raise OperationError(404, f"no target for model package group {group}")
        now = self.service.now()
        rollout = self.service.start(
            target, model_package_arn, salt=f"manual-{now.isoformat()}", reason=f"started by {who}", trigger="manual"
        )
        assert rollout is not None
        return rollout
