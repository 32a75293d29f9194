"""Promotion carries autoscaling to the new variant; old models and configs are pruned."""

from __future__ import annotations

from typing import Any

from rollout_core.aws.autoscaling import DIMENSION, resource_id
from rollout_core.models import Phase
from sandbox.stack import TARGETS_PREFIX, Sandbox
from tests.conftest import SAMPLE_TARGET
from tests.faults.scenarios import SCALING_POLICY

from .helpers import register, rollout_for, serving


def scaling(stack: Sandbox, variant: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    aas = stack.client("application-autoscaling")
    rid = resource_id("churn-endpoint", variant)
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
    return targets, policies


def test_promoted_variant_gets_the_baseline_autoscaling(stack: Sandbox):
    first, second = register(stack, 2)
    stack.set_approval(first, "Approved")
    stack.advance(180)
    base = rollout_for(first).candidate.variant_name
    aas = stack.client("application-autoscaling")
    rid = resource_id("churn-endpoint", base)
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION, MinCapacity=2, MaxCapacity=6
    )
    aas.put_scaling_policy(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION, **SCALING_POLICY)

    stack.set_approval(second, "Approved")
    stack.advance(3600)

    promoted = rollout_for(second)
    assert promoted.phase is Phase.SUCCEEDED
    assert promoted.autoscaling is not None and promoted.autoscaling.max_capacity == 6
    targets, policies = scaling(stack, promoted.candidate.variant_name)
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(2, 6)]
    assert [p["PolicyName"] for p in policies] == ["invocations-per-instance"]
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0
    assert scaling(stack, base) == ([], []), "the removed variant must be deregistered first"


def test_rolled_back_baseline_keeps_its_autoscaling(stack: Sandbox):
    first, second = register(stack, 2)
    stack.set_approval(first, "Approved")
    stack.advance(180)
    base = rollout_for(first).candidate.variant_name
    aas = stack.client("application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id("churn-endpoint", base),
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=3,
    )
    stack.set_approval(second, "Approved")
    stack.advance(600)
    stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM")
    stack.advance(600)
    assert rollout_for(second).phase is Phase.ROLLED_BACK
    targets, _ = scaling(stack, base)
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 3)]


def test_old_models_and_configs_beyond_retention_are_deleted(stack: Sandbox):
    target = SAMPLE_TARGET.model_copy(update={"retain_models": 1})
    stack.client("ssm").put_parameter(
        Name=f"{TARGETS_PREFIX}/churn-model", Value=target.model_dump_json(), Type="String", Overwrite=True
    )
    arns = register(stack, 3)
    for arn in arns:
        stack.set_approval(arn, "Approved")
        stack.advance(3600)
        assert rollout_for(arn).phase is Phase.SUCCEEDED
    sm = stack.client("sagemaker")
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    latest = rollout_for(arns[2])
    assert models == {latest.candidate.model_name}
    configs = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert configs == {sm.describe_endpoint(EndpointName="churn-endpoint")["EndpointConfigName"]}
    assert serving(stack) == {latest.candidate.variant_name: 100}
