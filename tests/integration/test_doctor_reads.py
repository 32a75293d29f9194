"""doctor's facts read from a sandbox endpoint (issue 17 item 5, data access): a variant with a
long ScaleInCooldown and a step policy no alarm invokes is reported, with the target's quota
and guard alarm; read through the real clients, on moto and the sandbox's gaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rollout_core import doctor
from rollout_core.aws.autoscaling import DIMENSION, resource_id
from rollout_core.doctor_reads import read_facts
from rollout_core.models import AlarmState
from rollout_core.wiring import rollout_service
from sandbox.stack import Sandbox

from .helpers import register, rollout_for


def test_doctor_reports_a_bad_autoscaling_policy_on_a_sandbox_endpoint(stack: Sandbox):
    (first,) = register(stack, 1)
    stack.set_approval(first, "Approved")
    stack.advance(180)
    variant = rollout_for(first).candidate.variant_name
    rid = resource_id("churn-endpoint", variant)
    aas = stack.client("application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=4
    )
    aas.put_scaling_policy(
        PolicyName="slow-scale-in",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 3600,
        },
    )
    aas.put_scaling_policy(
        PolicyName="orphan-steps",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=DIMENSION,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )

    facts = read_facts(rollout_service(), "churn-endpoint", datetime.now(UTC))

    assert facts is not None
    assert facts.need == {"ml.m5.large": 2} and "ml.m5.large" in facts.quotas
    assert facts.guard_alarms == {"sagemaker-rollout-churn-5xx": AlarmState.OK}
    messages = [f.message for f in doctor.diagnose(facts)]
    assert f"variant {variant}: policy slow-scale-in waits 3600s between scale-ins: it hardly scales in" in messages
    assert f"variant {variant}: step scaling policy orphan-steps has no alarm: it never runs" in messages
    assert read_facts(rollout_service(), "no-such-endpoint", datetime.now(UTC)) is None


def test_the_doctor_route_reports_and_flags_a_missing_guard_alarm(stack: Sandbox):
    """GET /v1/endpoints/{endpoint}/doctor (the rollout API, read only): the findings, the most
    severe first, and ``high`` when one is HIGH (a guard alarm that does not exist); 404 for an
    endpoint that does not exist."""
    (first,) = register(stack, 1)
    stack.set_approval(first, "Approved")
    stack.advance(180)
    answer = stack.api("GET", "/v1/endpoints/churn-endpoint/doctor")
    assert answer["statusCode"] == 200, answer["body"]
    report = json.loads(answer["body"])
    assert report["high"] is False and report["endpoint"] == "churn-endpoint"
    assert [f["check"] for f in report["findings"]] == ["autoscaling"]  # the variant has none
    stack.client("cloudwatch").delete_alarms(AlarmNames=["sagemaker-rollout-churn-5xx"])
    report = json.loads(stack.api("GET", "/v1/endpoints/churn-endpoint/doctor")["body"])
    assert report["high"] is True
    assert report["findings"][0] == {
        "severity": "HIGH",
        "check": "guard_alarms",
        "message": "guard alarm sagemaker-rollout-churn-5xx does not exist",
        "fix": "create it, or remove it from the target's guard_alarms",
    }
    assert stack.api("GET", "/v1/endpoints/no-such-endpoint/doctor")["statusCode"] == 404


def test_doctor_reports_oversized_requests_from_the_inference_apis_own_metrics(stack: Sandbox):
    """The invocations route publishes each request's size and each 413 as EMF (namespace
    SageMakerRollout, dimensions service and endpoint); the sandbox's CloudWatch extracts them
    (sandbox/emf_ext.py) and doctor reads them back in one GetMetricData."""
    (first,) = register(stack, 1)
    stack.set_approval(first, "Approved")
    stack.advance(180)
    route = "/v1/endpoints/churn-endpoint/invocations"
    csv = {"Content-Type": "text/csv"}
    assert stack.api("POST", route, b"1,2,3", csv)["statusCode"] == 200
    before = json.loads(stack.api("GET", "/v1/endpoints/churn-endpoint/doctor")["body"])
    assert "payloads" not in [f["check"] for f in before["findings"]]
    near = b"1" * 4_000_000  # accepted: 89 % of the API's 4.5 MB real-time limit
    over = b"1" * 4_600_000  # the route's own 413 (its base64 still fits Lambda's 6 MB payload)
    assert stack.api("POST", route, near, csv)["statusCode"] == 200
    for _ in range(2):
        assert stack.api("POST", route, over, csv)["statusCode"] == 413
    stack.advance(60)

    report = json.loads(stack.api("GET", "/v1/endpoints/churn-endpoint/doctor")["body"])

    payloads = [f["message"] for f in report["findings"] if f["check"] == "payloads"]
    assert payloads == [
        "the largest request in the last day was 4.0 MB, near the real-time limit of 4.5 MB",
        "2 requests got 413 (too large) in the last day",
    ]
    reads = [r for r in stack.metrics.reads if r["queries"][0]["Id"] == "largest"]
    assert len(reads) == 2 and [q["MetricStat"]["Stat"] for q in reads[-1]["queries"]] == ["Maximum", "Sum"]
    assert reads[-1]["queries"][0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "endpoint", "Value": "churn-endpoint"},
        {"Name": "service", "Value": "sagemaker-rollout"},
    ]
