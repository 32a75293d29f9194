"""doctor's facts read from a sandbox endpoint (issue 17 item 5, data access): a variant with a
long ScaleInCooldown and a step policy no alarm invokes is reported, with the target's quota
and guard alarm; read through the real clients, on moto and the sandbox's gaps."""

from __future__ import annotations

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
