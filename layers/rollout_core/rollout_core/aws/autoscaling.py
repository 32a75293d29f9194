"""Application Auto Scaling: carry a variant's scaling target and policies to another variant.

AWS requires a variant under autoscaling to be deregistered before an UpdateEndpoint removes
it (or changes its instance type); the promoted variant is registered afterwards, with:

- every policy as it was, with the old variant's name replaced by the new one wherever a
  custom metric names it (a ``VariantName`` dimension);
- for step scaling, the CloudWatch alarms that drive it: step scaling acts only through alarms
  whose actions name the policy's ARN, and a policy put again has a new ARN
  (DeleteScalingPolicy "deletes the underlying alarm action, but does not delete the
  CloudWatch alarm"). This tool puts them as alarms of its own, ``naming.scaling_alarm``, on
  the new variant's dimensions, and deletes its own alarms of the old variant. Alarms the user
  made are left in place, without their action, for the user to delete.
- Target tracking policies bring their own alarms: Application Auto Scaling makes them.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .. import naming
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


def renamed(value: Any, old: str, new: str) -> Any:
    """``value`` with every {"Name": "VariantName", "Value": old} dimension naming ``new`` instead."""
    if isinstance(value, dict):
        if value.get("Name") == "VariantName" and value.get("Value") == old:
            return {**value, "Value": new}
        return {k: renamed(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v, old, new) for v in value]
    return value


class AutoscalingGateway:
    def __init__(self, client: Any, cloudwatch: Any) -> None:
        self._aas = client
        self._cw = cloudwatch
        # What PutMetricAlarm takes, from the client's own service model: an alarm is put again
        # with every setting it had.
        self._alarm_fields = frozenset(
            cloudwatch.meta.service_model.operation_model("PutMetricAlarm").input_shape.members
        )

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
        alarms: dict[str, list[dict[str, Any]]] = {}
        for policy in policies:
            names = [a["AlarmName"] for a in policy.get("Alarms", [])]
            if policy["PolicyType"] == "StepScaling" and names:
                described = self._cw.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])["MetricAlarms"]
                alarms[policy["PolicyName"]] = [
                    {k: v for k, v in alarm.items() if k in self._alarm_fields} for alarm in described
                ]
        return AutoscalingSnapshot(
            variant_name=variant_name,
            min_capacity=targets[0]["MinCapacity"],
            max_capacity=targets[0]["MaxCapacity"],
            policies=[{k: p[k] for k in _POLICY_KEYS if k in p} for p in policies],
            alarms=alarms,
        )

    def execute(self, action: SuspendAutoscaling | ApplyAutoscaling) -> None:
        rid = resource_id(action.endpoint_name, action.variant_name)
        if isinstance(action, SuspendAutoscaling):
            self._suspend(rid)
        else:
            self._apply(action, rid)

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

    def _apply(self, action: ApplyAutoscaling, rid: str) -> None:
        snapshot, new = action.snapshot, action.variant_name
        old = snapshot.variant_name or new
        self._aas.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
            MinCapacity=snapshot.min_capacity,
            MaxCapacity=snapshot.max_capacity,
        )
        ours = naming.scaling_alarm_prefix(action.endpoint_name)
        put: set[str] = set()
        for policy in snapshot.policies:
            arn = self._aas.put_scaling_policy(
                ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION, **renamed(policy, old, new)
            )["PolicyARN"]
            for index, alarm in enumerate(snapshot.alarms.get(policy["PolicyName"], [])):
                name = naming.scaling_alarm(action.endpoint_name, new, policy["PolicyName"], index)
                actions = [a for a in alarm.get("AlarmActions", []) if not _policy_arn_of(a, policy["PolicyName"])]
                self._cw.put_metric_alarm(
                    **{**renamed(alarm, old, new), "AlarmName": name, "AlarmActions": [*actions, arn]}
                )
                put.add(name)
        stale = [
            a["AlarmName"]
            for alarms in snapshot.alarms.values()
            for a in alarms
            if a["AlarmName"].startswith(ours) and a["AlarmName"] not in put
        ]
        if stale:
            self._cw.delete_alarms(AlarmNames=stale)


def _policy_arn_of(action: str, policy_name: str) -> bool:
    """Is this alarm action the ARN of the scaling policy ``policy_name`` (on any variant)?"""
    return ":scalingPolicy:" in action and action.endswith(f":policyName/{policy_name}")
