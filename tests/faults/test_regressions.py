"""The product bugs the fault and delivery tests found, pinned down one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollout_core import decisions, errors, machine, naming
from rollout_core.models import (
    CreateEndpointConfig,
    DeleteEndpointConfig,
    DeleteModel,
    EndpointView,
    Observations,
    Phase,
    UpdateEndpoint,
    VariantSpec,
)
from sandbox.stack import Sandbox
from tests.integration.helpers import rollouts

from .scenarios import TARGET

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/1"
BASE = VariantSpec(variant_name="v-base", model_name="base-model", instance_type="ml.m5.large", instance_count=1)


def _provisioning(first: bool) -> Any:
    """A rollout that has just requested its endpoint update (a first deployment, or beside a baseline)."""
    now = START
    rollout = machine.new_rollout(TARGET, PACKAGE, now)
    config = (naming.final_config if first else naming.rollout_config)(TARGET.endpoint_name, rollout.rollout_id)
    return rollout.model_copy(
        update={
            "phase": Phase.PROVISIONING,
            "baseline": None if first else BASE,
            "desired_config": config,
            "requested_at": now,
            "attempts": 1,
        }
    )


def test_a_failed_request_deletes_what_it_created_for_the_candidate():
    """ResourceLimitExceeded on CreateEndpointConfig/UpdateEndpoint left the model (and config) behind."""
    for first in (False, True):
        rollout = _provisioning(first)
        action = CreateEndpointConfig(config_name=rollout.desired_config, variants=[])
        failed = errors.on_action_error(rollout, action, "ResourceLimitExceeded", "limit", START)
        assert failed.phase is Phase.FAILED
        kinds = {(type(a), getattr(a, "model_name", getattr(a, "config_name", None))) for a in failed.finishing}
        assert (DeleteModel, rollout.candidate.model_name) in kinds
        assert (DeleteEndpointConfig, naming.rollout_config(TARGET.endpoint_name, rollout.rollout_id)) in kinds
        assert not failed.settled  # the next tick carries the deletions out, then it settles


def test_an_endpoint_changed_at_the_instant_of_the_request_is_not_the_request_failing():
    """The predecessor's last change completing in the same instant as the request (the sandbox's
    minute clock; clock skew in AWS) made a retried request count as a failed update."""
    rollout = _provisioning(first=False)
    assert rollout.requested_at is not None
    view = EndpointView(
        status="InService",
        config_name="the-predecessors-rollback-config",
        weights={BASE.variant_name: 1.0},
        last_modified=rollout.requested_at,
    )
    assert decisions.request_outcome(rollout, view) == "not-sent"
    later = view.model_copy(update={"last_modified": rollout.requested_at + timedelta(seconds=1)})
    # Settled elsewhere after the request with no FailureReason: not evidence of a failure (an
    # autoscaling change may have moved LastModifiedTime); asked again, counted.
    assert decisions.request_outcome(rollout, later) == "changed"
    failed = later.model_copy(update={"failure_reason": "Image could not be pulled"})
    assert decisions.request_outcome(rollout, failed) == "failed"
    decided, actions = machine.decide(rollout, Observations(endpoint=view), START + timedelta(minutes=1))
    assert decided.phase is Phase.PROVISIONING
    assert any(isinstance(a, UpdateEndpoint) for a in actions)


def test_an_approval_that_arrives_after_the_rejection_rolls_nothing_out():
    params = {"EndpointName": TARGET.endpoint_name, "ModelPackageGroupName": TARGET.model_package_group}
    with Sandbox(parameters=params) as sandbox:
        sandbox.put_target(TARGET.model_dump_json(), TARGET.model_package_group)
        package = sandbox.register_package(TARGET.model_package_group)

        def approve_then_reject() -> None:
            sandbox.set_approval(package, "Approved")
            sandbox.set_approval(package, "Rejected")

        approved, rejected = sandbox.captured(approve_then_reject)
        sandbox.deliver(rejected)  # overtakes the approval
        (delivery,) = sandbox.deliver(approved)
        assert delivery.error is None
        assert delivery.result == {"rollouts": []}
        assert rollouts() == []
        assert sandbox.endpoint_status(TARGET.endpoint_name) is None
