"""Application Auto Scaling: carry a variant's scaling target and policies to another variant.

AWS requires a variant under autoscaling to be deregistered before an UpdateEndpoint removes
it (or changes its instance type); the promoted variant is registered afterwards.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..models import ApplyAutoscaling, AutoscalingSnapshot, SuspendAutoscaling
from .clients import error_code

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
_POLICY_KEYS = (
    "PolicyName",
    "PolicyType",
    "TargetTrackingScalingPolicyConfiguration",
    "StepScalingPolicyConfiguration",
)


def resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


class AutoscalingGateway:
    def __init__(self, client: Any) -> None:
        self._aas = client

    def snapshot(self, endpoint_name: str, variant_name: str) -> AutoscalingSnapshot | None:
        rid = resource_id(endpoint_name, variant_name)
        targets = self._aas.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[rid], ScalableDimension=DIMENSION
        )["ScalableTargets"]
        if not targets:
            return None
        policies = self._aas.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
        return AutoscalingSnapshot(
            min_capacity=targets[0]["MinCapacity"],
            max_capacity=targets[0]["MaxCapacity"],
            policies=[{k: p[k] for k in _POLICY_KEYS if k in p} for p in policies],
        )

    def execute(self, action: SuspendAutoscaling | ApplyAutoscaling) -> None:
        rid = resource_id(action.endpoint_name, action.variant_name)
        if isinstance(action, SuspendAutoscaling):
            self._suspend(rid)
        else:
            self._apply(rid, action.snapshot)

    def _suspend(self, rid: str) -> None:
        policies = self._aas.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
        for policy in policies:
            self._aas.delete_scaling_policy(
                PolicyName=policy["PolicyName"], ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
            )
        try:
            self._aas.deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
            )
        except ClientError as exc:
            if error_code(exc)[0] != "ObjectNotFoundException":
                raise

    def _apply(self, rid: str, snapshot: AutoscalingSnapshot) -> None:
        self._aas.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
            MinCapacity=snapshot.min_capacity,
            MaxCapacity=snapshot.max_capacity,
        )
        for policy in snapshot.policies:
            self._aas.put_scaling_policy(
                ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION, **policy
            )
