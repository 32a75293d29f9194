"""The first real rollout, on a sandbox that behaves as SageMaker documents (issue 10, items 4-10).

Each test drives the real handlers on moto through the sandbox's simulated SageMaker and
Application Auto Scaling, and fails on the code before the fix (the commit says how).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from rollout_core import naming
from rollout_core.aws.autoscaling import DIMENSION, resource_id
from rollout_core.models import Phase
from sandbox.calls import BaseListener, Call, error_response, hooks
from sandbox.sagemaker_ext import Failure
from sandbox.stack import TABLE, Sandbox
from tests.conftest import SAMPLE_TARGET, load_event

from .helpers import register, rollout_for, rollouts, serving

ENDPOINT = "churn-endpoint"


def _deploy_first(stack: Sandbox) -> tuple[str, str]:
    """v1 serving alone; returns (v1 ARN, v1 variant)."""
    (v1,) = register(stack, 1)
    stack.set_approval(v1, "Approved")
    stack.advance(300)
    assert rollout_for(v1).phase is Phase.SUCCEEDED
    return v1, rollout_for(v1).candidate.variant_name


def _instances(stack: Sandbox) -> dict[str, int]:
    described = stack.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return {v["VariantName"]: v["CurrentInstanceCount"] for v in described["ProductionVariants"]}


# --- item 4: eventual consistency after a create -----------------------------------------------


def test_a_config_sagemaker_does_not_see_yet_is_waited_for():
    with Sandbox(lookup_seconds=90, parameters={"EndpointName": ENDPOINT}) as stack:
        stack.put_target(SAMPLE_TARGET.model_dump_json(), "churn-model")
        stack.create_alarm("sagemaker-rollout-churn-5xx")
        (v1,) = register(stack, 1)
        stack.set_approval(v1, "Approved")
        first = rollout_for(v1)
        assert first.phase is Phase.PROVISIONING
        assert any("just created" in h.reason for h in first.history), [h.reason for h in first.history]
        stack.advance(600)
        assert rollout_for(v1).phase is Phase.SUCCEEDED
        v2 = stack.register_package("churn-model")
        stack.set_approval(v2, "Approved")
        stack.advance(3600)
        assert rollout_for(v2).phase is Phase.SUCCEEDED
        assert serving(stack) == {rollout_for(v2).candidate.variant_name: 100}


def test_a_config_that_never_appears_fails_after_the_window_with_that_reason():
    with Sandbox(lookup_seconds=3600, parameters={"EndpointName": ENDPOINT}) as stack:
        stack.put_target(SAMPLE_TARGET.model_dump_json(), "churn-model")
        (v1,) = register(stack, 1)
        stack.set_approval(v1, "Approved")
        stack.advance(900)
        failed = rollout_for(v1)
        assert failed.phase is Phase.FAILED
        assert "Could not find" in failed.reason and "still not found after" in failed.reason


# --- item 5: right-sized candidate ------------------------------------------------------------


def test_candidate_is_sized_from_the_autoscaled_baseline_and_promoted_at_its_size(stack: Sandbox):
    _, base = _deploy_first(stack)
    stack.autoscale(ENDPOINT, 4)  # traffic grew: Application Auto Scaling runs 4 instances
    stack.advance(180)
    assert _instances(stack) == {base: 4}
    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    cand = rollout_for(v2).candidate.variant_name
    seen: list[dict[str, int]] = []
    for _ in range(40):
        stack.advance(60)
        if stack.endpoint_status(ENDPOINT) == "InService" and (not seen or seen[-1] != _instances(stack)):
            seen.append(_instances(stack))
        if rollout_for(v2).phase.terminal:
            break
    assert rollout_for(v2).phase is Phase.SUCCEEDED
    # Steps 10/50/100: 1 instance at 10 %, 2 before 50 %, 4 before 100 %; then promoted with 4.
    counts = [s[cand] for s in seen if cand in s]
    assert counts[:1] == [1] and 2 in counts and 4 in counts
    assert counts == sorted(counts), "capacity only grows during a rollout"
    assert seen[-1] == {cand: 4}
    calls = [c for c in stack.simulator.calls if c[0] == "weights"]
    assert len(calls) >= 5, "capacity and weights are separate requests"


# --- item 6: autoscaling carried faithfully ------------------------------------------------------


def _register(stack: Sandbox, variant: str, policy: dict[str, Any]) -> str:
    aas = stack.client("application-autoscaling")
    rid = resource_id(ENDPOINT, variant)
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=4
    )
    arn: str = aas.put_scaling_policy(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION, **policy
    )["PolicyARN"]
    return arn


def _policies(stack: Sandbox, variant: str) -> list[dict[str, Any]]:
    policies: list[dict[str, Any]] = stack.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=resource_id(ENDPOINT, variant)
    )["ScalingPolicies"]
    return policies


def test_step_scaling_alarms_are_recreated_on_the_promoted_variant(stack: Sandbox):
    _, base = _deploy_first(stack)
    policy_arn = _register(
        stack,
        base,
        {
            "PolicyName": "scale-out-on-latency",
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {
                "AdjustmentType": "ChangeInCapacity",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
                "Cooldown": 120,
            },
        },
    )
    cw = stack.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="churn-latency-high",
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": base}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=3,
        Threshold=250000.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[policy_arn],
    )
    assert [a["AlarmName"] for a in _policies(stack, base)[0]["Alarms"]] == ["churn-latency-high"]

    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    stack.advance(3600)
    promoted = rollout_for(v2)
    assert promoted.phase is Phase.SUCCEEDED
    (policy,) = _policies(stack, promoted.candidate.variant_name)
    (alarm_ref,) = policy["Alarms"]
    assert alarm_ref["AlarmName"] == naming.scaling_alarm(
        ENDPOINT, promoted.candidate.variant_name, "scale-out-on-latency", 0
    )
    (alarm,) = cw.describe_alarms(AlarmNames=[alarm_ref["AlarmName"]])["MetricAlarms"]
    assert alarm["AlarmActions"] == [policy["PolicyARN"]], "the alarm drives the new policy"
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dims == {"EndpointName": ENDPOINT, "VariantName": promoted.candidate.variant_name}
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["MetricName"]) == (250000.0, 3, "ModelLatency")
    (old,) = cw.describe_alarms(AlarmNames=["churn-latency-high"])["MetricAlarms"]
    assert old["AlarmActions"] == [], "the user's alarm is left, without the deleted policy's action"

    # A second promotion carries the tool's own alarm again and deletes the previous one.
    v3 = stack.register_package("churn-model")
    stack.set_approval(v3, "Approved")
    stack.advance(3600)
    third = rollout_for(v3)
    assert third.phase is Phase.SUCCEEDED
    ours = [
        a["AlarmName"]
        for a in cw.describe_alarms(AlarmNamePrefix=naming.scaling_alarm_prefix(ENDPOINT))["MetricAlarms"]
    ]
    assert ours == [naming.scaling_alarm(ENDPOINT, third.candidate.variant_name, "scale-out-on-latency", 0)]


def test_custom_metric_target_tracking_follows_the_new_variant_name(stack: Sandbox):
    _, base = _deploy_first(stack)
    _register(
        stack,
        base,
        {
            "PolicyName": "cpu",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 60.0,
                "CustomizedMetricSpecification": {
                    "MetricName": "CPUUtilization",
                    "Namespace": "/aws/sagemaker/Endpoints",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": ENDPOINT},
                        {"Name": "VariantName", "Value": base},
                    ],
                    "Statistic": "Average",
                },
            },
        },
    )
    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    stack.advance(3600)
    promoted = rollout_for(v2)
    assert promoted.phase is Phase.SUCCEEDED
    (policy,) = _policies(stack, promoted.candidate.variant_name)
    dims = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]["Dimensions"]
    assert {d["Name"]: d["Value"] for d in dims} == {
        "EndpointName": ENDPOINT,
        "VariantName": promoted.candidate.variant_name,
    }
    tracking = [a["AlarmName"] for a in policy["Alarms"]]
    assert tracking and all(
        a.startswith(f"TargetTracking-{resource_id(ENDPOINT, promoted.candidate.variant_name)}") for a in tracking
    )


# --- item 7: the baseline config is carried whole ------------------------------------------------


BASELINE_CONFIG: dict[str, Any] = {
    "DataCaptureConfig": {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://captures-123456789012/churn",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    },
    "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
    "EnableNetworkIsolation": True,
}
BASELINE_VARIANT: dict[str, Any] = {
    "VolumeSizeInGB": 64,
    "ModelDataDownloadTimeoutInSeconds": 1200,
    "ContainerStartupHealthCheckTimeoutInSeconds": 900,
    "EnableSSMAccess": True,
    "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
}


def _user_endpoint(stack: Sandbox, variants: list[dict[str, Any]], **config: Any) -> None:
    """An endpoint its owner made before this tool (any config name), InService."""
    sm = stack.client("sagemaker")
    arn = stack.register_package("churn-model")
    sm.create_model(
        ModelName="churn-hand-made", ExecutionRoleArn=stack.role_arn, PrimaryContainer={"ModelPackageName": arn}
    )
    sm.create_endpoint_config(
        EndpointConfigName="churn-by-hand",
        ProductionVariants=variants,
        Tags=[{"Key": "team", "Value": "ml-platform"}],
        **config,
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="churn-by-hand")
    stack.advance(180)
    assert stack.endpoint_status(ENDPOINT) == "InService"


def test_every_field_of_the_baseline_config_survives_rollout_rollback_and_promotion(stack: Sandbox):
    base_variant = {
        "VariantName": "AllTraffic",
        "ModelName": "churn-hand-made",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
        **BASELINE_VARIANT,
    }
    _user_endpoint(stack, [base_variant], **BASELINE_CONFIG)
    sm = stack.client("sagemaker")
    v2, v3 = register(stack, 2)

    stack.set_approval(v2, "Approved")
    stack.advance(600)
    rolling = rollout_for(v2)
    config = sm.describe_endpoint_config(EndpointConfigName=naming.rollout_config(ENDPOINT, rolling.rollout_id))
    for key, value in BASELINE_CONFIG.items():
        assert config[key] == value, key
    by_name = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert {k: by_name["AllTraffic"][k] for k in BASELINE_VARIANT} == BASELINE_VARIANT
    candidate = by_name[rolling.candidate.variant_name]
    assert {k: candidate.get(k) for k in BASELINE_VARIANT} == BASELINE_VARIANT, "same instance type: inherited"
    tags = sm.list_tags(ResourceArn=config["EndpointConfigArn"])["Tags"]
    assert {"Key": "team", "Value": "ml-platform"} in tags

    stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM")
    stack.advance(600)
    assert rollout_for(v2).phase is Phase.ROLLED_BACK
    back = sm.describe_endpoint_config(EndpointConfigName=naming.rollback_config(ENDPOINT, rolling.rollout_id))
    for key, value in BASELINE_CONFIG.items():
        assert back[key] == value, key
    assert back["ProductionVariants"][0] == {**base_variant, "InitialVariantWeight": 100.0}

    stack.set_alarm("sagemaker-rollout-churn-5xx", "OK")
    stack.set_approval(v3, "Approved")
    stack.advance(3600)
    promoted = rollout_for(v3)
    assert promoted.phase is Phase.SUCCEEDED
    final = sm.describe_endpoint_config(EndpointConfigName=naming.final_config(ENDPOINT, promoted.rollout_id))
    for key, value in BASELINE_CONFIG.items():
        assert final[key] == value, key


@pytest.mark.parametrize(
    ("variants", "config", "reason"),
    [
        (
            [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "churn-hand-made",
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
                }
            ],
            {},
            "serverless",
        ),
        (
            [
                {
                    "VariantName": "a",
                    "ModelName": "churn-hand-made",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                },
                {
                    "VariantName": "b",
                    "ModelName": "churn-hand-made",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                },
            ],
            {},
            "2 production variants",
        ),
        (
            [
                {
                    "VariantName": "a",
                    "ModelName": "churn-hand-made",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            {
                "ShadowProductionVariants": [
                    {
                        "VariantName": "s",
                        "ModelName": "churn-hand-made",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ]
            },
            "shadow variant",
        ),
    ],
    ids=["serverless", "two-variants", "shadow"],
)
def test_an_endpoint_this_tool_cannot_roll_out_ends_failed_at_once(
    stack: Sandbox, variants: list[dict[str, Any]], config: dict[str, Any], reason: str
):
    _user_endpoint(stack, variants, **config)
    v2 = stack.register_package("churn-model")
    before = list(stack.simulator.calls)
    stack.set_approval(v2, "Approved")
    failed = rollout_for(v2)
    assert failed.phase is Phase.FAILED
    assert reason in failed.reason
    assert stack.simulator.calls == before, "nothing was sent to the endpoint"


# --- item 8: failure evidence ----------------------------------------------------------------------


def test_autoscaling_racing_the_rollouts_update_is_not_taken_for_a_failure(stack: Sandbox):
    _deploy_first(stack)
    v2 = stack.register_package("churn-model")
    stack.simulator.autoscale_before_next[ENDPOINT] = 2  # AAS starts scaling as UpdateEndpoint arrives
    stack.set_approval(v2, "Approved")
    refused = rollout_for(v2)
    assert refused.phase is Phase.PROVISIONING and refused.requested_at is None
    assert "in-progress" in refused.history[-1].reason
    stack.advance(3600)
    assert rollout_for(v2).phase is Phase.SUCCEEDED, rollout_for(v2).reason


def test_a_rollback_onto_an_endpoint_in_update_rollback_failed_ends_failed_with_what_to_do(stack: Sandbox):
    _deploy_first(stack)
    v2 = stack.register_package("churn-model")
    stack.simulator.fail_next[ENDPOINT] = Failure("the new instances failed their health check", "UpdateRollbackFailed")
    stack.set_approval(v2, "Approved")
    stack.advance(600)
    assert rollout_for(v2).phase is Phase.ROLLING_BACK
    assert stack.endpoint_status(ENDPOINT) == "UpdateRollbackFailed"
    stack.advance(1800 + 600)
    failed = rollout_for(v2)
    assert failed.phase is Phase.FAILED
    assert "restore it by hand" in failed.reason and "health check" in failed.reason
    _, events = stack.notifications()
    assert any(e["detail-type"] == "Rollout Failed" for e in events)


# --- item 9: one bad rollout must not stop the tick ---------------------------------------------


class _DenyDescribe(BaseListener):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.operation == "DescribeEndpoint" and call.params.get("EndpointName") == self.endpoint:
            return error_response(call, 400, "AccessDeniedException", "not authorized")
        return None


def test_an_error_on_one_endpoint_does_not_hold_back_a_rollback_on_another(stack: Sandbox):
    other = SAMPLE_TARGET.model_copy(
        update={"model_package_group": "fraud-model", "endpoint_name": "churn-endpoint-fraud"}
    )
    stack.put_target(other.model_dump_json(), "fraud-model")
    _deploy_first(stack)
    fraud_v1 = stack.register_package("fraud-model")
    stack.set_approval(fraud_v1, "Approved")
    stack.advance(300)
    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    stack.advance(360)
    assert rollout_for(v2).phase is Phase.BAKING
    fraud_v2 = stack.register_package("fraud-model")
    stack.set_approval(fraud_v2, "Approved")
    hooks.install()
    denied = hooks.subscribe(_DenyDescribe("churn-endpoint-fraud"))
    try:
        stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM")
        stack.tick()
        assert rollout_for(v2).phase is Phase.ROLLING_BACK, "the other endpoint's error did not stop this one"
        errors = [d for d in stack.deliveries if d.error]
        assert errors == [], errors
    finally:
        hooks.unsubscribe(denied)
    stack.advance(600)
    assert rollout_for(v2).phase is Phase.ROLLED_BACK


# --- item 10: approvals that are not approvals --------------------------------------------------


def test_an_edit_of_an_old_approved_version_never_rolls_it_out_again(stack: Sandbox):
    v1, _ = _deploy_first(stack)
    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    stack.advance(3600)
    assert rollout_for(v2).phase is Phase.SUCCEEDED
    edit = load_event("model_package_approved.json")
    edit["detail"] = {
        **edit["detail"],
        "ModelPackageArn": v1,
        "UpdatedModelPackageFields": ["ApprovalDescription"],
        "LastModifiedTime": stack.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    before = len(rollouts())
    deliveries = stack.deliver(edit)
    assert deliveries[0].error is None and deliveries[0].result == {"rollouts": []}
    assert len(rollouts()) == before


def test_approved_rejected_then_approved_again_rolls_out_again(stack: Sandbox):
    _deploy_first(stack)
    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    stack.advance(600)
    stack.set_approval(v2, "Rejected")
    stack.advance(600)
    assert [r.phase for r in rollouts() if r.model_package_arn == v2] == [Phase.ABORTED]
    stack.set_approval(v2, "Approved")
    again = [r for r in rollouts() if r.model_package_arn == v2]
    assert len(again) == 2 and again[-1].live
    # A duplicate of the second approval is the same rollout.
    duplicate = stack.captured(lambda: stack.set_approval(v2, "Approved"))[0]
    duplicate["detail"]["LastModifiedTime"] = again[-1].approved_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
    stack.deliver(duplicate)
    assert len([r for r in rollouts() if r.model_package_arn == v2]) == 2
    stack.advance(3600)
    assert [r.phase for r in rollouts() if r.model_package_arn == v2] == [Phase.ABORTED, Phase.SUCCEEDED]


def test_a_late_rejection_of_a_package_approved_again_is_ignored(stack: Sandbox):
    _deploy_first(stack)
    v2 = stack.register_package("churn-model")
    stack.set_approval(v2, "Approved")
    rejection = stack.captured(lambda: stack.set_approval(v2, "Rejected"))[0]
    stack.set_approval(v2, "Approved")  # approved again before the rejection was delivered
    stack.deliver(rejection)
    mine = [r for r in rollouts() if r.model_package_arn == v2]
    assert mine and all(r.live and r.phase is not Phase.ROLLING_BACK for r in mine), [r.phase for r in mine]


def test_a_rejection_aborts_manual_starts_of_the_package_too(stack: Sandbox):
    _deploy_first(stack)
    v2 = stack.register_package("churn-model")
    stack.client("sagemaker").update_model_package(ModelPackageArn=v2, ModelApprovalStatus="Approved")
    response = stack.api(
        "POST", "/v1/rollouts", json.dumps({"model_package_arn": v2}), {"Content-Type": "application/json"}
    )
    assert response["statusCode"] == 201, response["body"]
    manual = json.loads(response["body"])["rollout_id"]
    assert manual != naming.rollout_id(v2)
    stack.set_approval(v2, "Rejected")
    (aborted,) = [r for r in rollouts() if r.rollout_id == manual]
    assert aborted.phase in (Phase.ROLLING_BACK, Phase.ABORTED)
    stack.advance(600)
    assert [r.phase for r in rollouts() if r.rollout_id == manual] == [Phase.ABORTED]


# --- item 15: the rollout API can free the lock it holds -----------------------------------------


def test_aborting_a_pending_rollout_through_the_api_frees_the_endpoint(stack: Sandbox):
    _deploy_first(stack)
    v2, v3 = register(stack, 2)
    stack.set_approval(v2, "Approved")
    stack.advance(300)
    stack.set_approval(v3, "Approved")
    pending = rollout_for(v3)
    assert pending.phase is Phase.PENDING
    response = stack.api("POST", f"/v1/rollouts/{pending.rollout_id}/abort")
    assert response["statusCode"] == 200, response["body"]
    assert rollout_for(v3).phase is Phase.ABORTED
    stack.advance(600)
    assert [r for r in rollouts() if r.live] == []
    ddb = stack.client("dynamodb")
    lock = ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"ENDPOINT#{ENDPOINT}"}, "sk": {"S": "LOCK"}})
    assert "Item" not in lock
