"""Model approval handler on moto, driven by the sample events in events/."""

from __future__ import annotations

import uuid

import pytest

from rollout_core.models import Phase
from sandbox.stack import TARGETS_PREFIX, Sandbox
from tests.conftest import load_event, unexpected_handler_errors

from .helpers import approved_event, register, rollout_for, rollouts, serving


def test_sample_approval_creates_the_endpoint_on_first_deployment(stack: Sandbox):
    arns = register(stack, 3)
    event = load_event("model_package_approved.json")
    assert event["detail"]["ModelPackageArn"] == arns[2]
    stack.client("sagemaker").update_model_package(ModelPackageArn=arns[2], ModelApprovalStatus="Approved")

    deliveries = stack.deliver(event)

    assert deliveries[0].function == "ModelApprovalFunction"
    assert deliveries[0].error is None
    rollout = rollout_for(arns[2])
    assert rollout.phase is Phase.PROVISIONING and rollout.first_deployment
    assert stack.endpoint_status("churn-endpoint") == "Creating"
    stack.advance(180)
    assert rollout_for(arns[2]).phase is Phase.SUCCEEDED
    assert serving(stack) == {rollout.candidate.variant_name: 100}
    model = stack.client("sagemaker").describe_model(ModelName=rollout.candidate.model_name)
    assert model["PrimaryContainer"]["ModelPackageName"] == arns[2]


def test_duplicate_approval_events_start_one_rollout(stack: Sandbox):
    arns = register(stack, 3)
    event = load_event("model_package_approved.json")
    first = stack.deliver(event)
    version = rollout_for(arns[2]).version
    # SageMaker may send the same change again under another event id.
    again = stack.deliver({**event, "id": str(uuid.uuid4())})
    assert first[0].result == again[0].result
    assert len(rollouts()) == 1
    assert [c for c in stack.simulator.calls if c[0] == "create"] == [("create", "churn-endpoint")]
    # The duplicate wrote nothing: the stored rollout is the one the first delivery left.
    assert rollout_for(arns[2]).version == version


def test_sample_rejection_aborts_the_live_rollout(stack: Sandbox):
    arns = register(stack, 3)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.deliver(approved_event(arns[2], load_event("model_package_approved.json")))
    stack.advance(360)
    assert rollout_for(arns[2]).phase is Phase.BAKING
    # The registry changes first; SageMaker then announces it.
    stack.client("sagemaker").update_model_package(ModelPackageArn=arns[2], ModelApprovalStatus="Rejected")

    deliveries = stack.deliver(load_event("model_package_rejected.json"))

    assert deliveries[0].function == "ModelApprovalFunction" and deliveries[0].error is None
    assert rollout_for(arns[2]).phase is Phase.ROLLING_BACK
    stack.advance(360)
    aborted = rollout_for(arns[2])
    assert aborted.phase is Phase.ABORTED
    assert "rejected" in aborted.reason
    baseline = rollout_for(arns[0]).candidate.variant_name
    assert serving(stack) == {baseline: 100}


def test_rejection_of_a_package_with_no_live_rollout_changes_nothing(stack: Sandbox):
    register(stack, 3)
    deliveries = stack.deliver(load_event("model_package_rejected.json"))
    assert deliveries[0].error is None
    assert deliveries[0].result == {"rollouts": []}
    assert rollouts() == []


def test_group_without_a_target_is_ignored(stack: Sandbox):
    event = load_event("model_package_approved.json")
    event["detail"] = {**event["detail"], "ModelPackageGroupName": "fraud-model"}
    deliveries = stack.deliver(event)
    assert deliveries[0].error is None
    assert deliveries[0].result == {"rollouts": []}
    assert rollouts() == []
    assert stack.endpoint_status("churn-endpoint") is None


@pytest.mark.handler_errors
def test_invalid_target_is_refused_with_a_clear_error(stack: Sandbox):
    register(stack, 3)
    bad = (
        '{"model_package_group": "churn-model", "endpoint_name": "churn-endpoint", '
        '"instance_type": "ml.m5.large", "plan": {"steps": [10, 50]}}'
    )
    stack.client("ssm").put_parameter(Name=f"{TARGETS_PREFIX}/churn-model", Value=bad, Type="String", Overwrite=True)
    deliveries = stack.deliver(load_event("model_package_approved.json"))
    assert deliveries[0].error is not None
    assert "the last step must be 100" in deliveries[0].error
    assert rollouts() == []
    # Without the marker, the stack fixture fails the test on this error (tests/conftest.py).
    assert unexpected_handler_errors(stack) == [f"ModelApprovalFunction at 09:00: {deliveries[0].error}"]


def test_pending_manual_approval_never_reaches_the_function(stack: Sandbox):
    event = load_event("model_package_approved.json")
    event["detail"] = {**event["detail"], "ModelApprovalStatus": "PendingManualApproval"}
    assert stack.deliver(event) == []  # filtered by the rule's pattern in template.yaml


def test_newer_approval_supersedes_and_starts_from_the_baseline(stack: Sandbox):
    arns = register(stack, 3)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.set_approval(arns[1], "Approved")
    stack.advance(360)
    stack.set_approval(arns[2], "Approved")
    assert rollout_for(arns[1]).phase is Phase.ROLLING_BACK
    newer = rollout_for(arns[2])
    assert newer.phase is Phase.PENDING and newer.predecessor_id == rollout_for(arns[1]).rollout_id
    assert len([r for r in rollouts() if r.live]) == 2  # one winding down, one waiting: one owns the endpoint
    stack.advance(3600)
    assert rollout_for(arns[1]).phase is Phase.SUPERSEDED
    done = rollout_for(arns[2])
    assert done.phase is Phase.SUCCEEDED
    assert done.baseline == rollout_for(arns[0]).candidate
    assert serving(stack) == {done.candidate.variant_name: 100}
