"""What moto's Application Auto Scaling lacks for SageMaker variants, added as AWS documents it.

- Target tracking: "Application Auto Scaling creates and manages the CloudWatch alarms that
  trigger the scaling policy" (Target tracking scaling policies for Application Auto
  Scaling), named TargetTracking-<resource id>-AlarmHigh-<uuid> / -AlarmLow-<uuid>, and
  deletes them with the policy. moto does this for DynamoDB and ECS only.
- Step scaling acts through CloudWatch alarms whose actions name the policy's ARN;
  DescribeScalingPolicies lists them as the policy's Alarms. DeleteScalingPolicy "deletes the
  underlying alarm action, but does not delete the CloudWatch alarm" (API reference).
- DeregisterScalableTarget: "Deregistering a scalable target deletes the scaling policies and
  the scheduled actions that are associated with it" (API reference).
- DescribeScalingPolicies(ResourceId=...) matches the resource id exactly (moto matches any
  id the given one contains, so variant v-1 also returned the policies of v-12).
- DeregisterScalableTarget and DeleteScalingPolicy of something that does not exist, and
  PutScalingPolicy on a target that is not registered, fail with ObjectNotFoundException
  ("For any operation that depends on the existence of a scalable target, this exception is
  thrown if the scalable target ... does not exist. For any operation that deletes or
  deregisters a resource, this exception is thrown if the resource cannot be found."). moto
  answers ValidationException to the first two and accepts the third.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.applicationautoscaling import responses as aas_responses
from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeApplicationAutoscalingPolicy
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.exceptions import JsonRESTError

NAMESPACE = "sagemaker"


class ObjectNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


def _target_missing(backend: ApplicationAutoscalingBackend, resource_id: str, dimension: str) -> bool:
    return resource_id not in backend.targets.get(dimension, {})


def _cloudwatch(policy: FakeApplicationAutoscalingPolicy) -> Any:
    return cloudwatch_backends[policy.account_id][policy.region_name]


def _tracking_alarms(policy: FakeApplicationAutoscalingPolicy) -> list[Any]:
    """The alarm pair AWS creates for a target tracking policy on a SageMaker variant."""
    config = policy.target_tracking_scaling_policy_configuration or {}
    custom = config.get("CustomizedMetricSpecification")
    _, endpoint, _, variant = policy.resource_id.split("/")
    if custom:
        namespace, metric, statistic = custom["Namespace"], custom["MetricName"], custom.get("Statistic", "Average")
        dimensions = [{"Name": d["Name"], "Value": d["Value"]} for d in custom.get("Dimensions", [])]
    else:  # SageMakerVariantInvocationsPerInstance
        namespace, metric, statistic = "AWS/SageMaker", "InvocationsPerInstance", "Sum"
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    target = float(config.get("TargetValue", 0))
    action = f"{policy.policy_arn}:createdBy/{uuid.uuid4()}"
    alarms = []
    for suffix, operator, periods, threshold in (
        ("AlarmHigh", "GreaterThanThreshold", 3, target),
        ("AlarmLow", "LessThanThreshold", 15, target * 0.9),
    ):
        alarms.append(
            _cloudwatch(policy).put_metric_alarm(
                name=f"TargetTracking-{policy.resource_id}-{suffix}-{uuid.uuid4()}",
                namespace=namespace,
                metric_name=metric,
                comparison_operator=operator,
                evaluation_periods=periods,
                period=60,
                threshold=threshold,
                statistic=statistic,
                description=f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {action}",
                dimensions=dimensions,
                alarm_actions=[action],
            )
        )
    return alarms


def _step_alarms(policy: FakeApplicationAutoscalingPolicy) -> list[Any]:
    """The CloudWatch alarms whose actions name a step scaling policy's ARN."""
    alarms = _cloudwatch(policy).alarms.values()
    return [a for a in alarms if policy.policy_arn in (a.alarm_actions or [])]


class AutoscalingSimulator:
    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> AutoscalingSimulator:
        original_create = FakeApplicationAutoscalingPolicy.create_alarms
        original_delete_policy = ApplicationAutoscalingBackend.delete_scaling_policy
        original_deregister = ApplicationAutoscalingBackend.deregister_scalable_target
        original_describe = ApplicationAutoscalingBackend.describe_scaling_policies
        original_put_policy = ApplicationAutoscalingBackend.put_scaling_policy
        original_build = aas_responses._build_alarms

        def create_alarms(policy: FakeApplicationAutoscalingPolicy) -> None:
            if policy.service_namespace == NAMESPACE and policy.policy_type == "TargetTrackingScaling":
                policy.alarms.extend(_tracking_alarms(policy))
            else:
                original_create(policy)

        def build_alarms(policy: FakeApplicationAutoscalingPolicy) -> list[dict[str, str]]:
            if policy.policy_type == "StepScaling":
                return [{"AlarmARN": a.alarm_arn, "AlarmName": a.name} for a in _step_alarms(policy)]
            return list(original_build(policy))

        def delete_scaling_policy(backend: ApplicationAutoscalingBackend, **kwargs: Any) -> None:
            key = FakeApplicationAutoscalingPolicy.formulate_key(
                kwargs["service_namespace"], kwargs["resource_id"], kwargs["scalable_dimension"], kwargs["policy_name"]
            )
            policy = backend.policies.get(key)
            if policy is None:
                raise ObjectNotFoundException(
                    f"No scaling policy found for service namespace: {kwargs['service_namespace']}, "
                    f"resource ID: {kwargs['resource_id']}, scalable dimension: {kwargs['scalable_dimension']}, "
                    f"policy name: {kwargs['policy_name']}"
                )
            if policy.policy_type == "StepScaling":
                for alarm in _step_alarms(policy):
                    alarm.alarm_actions = [a for a in alarm.alarm_actions if a != policy.policy_arn]
            original_delete_policy(backend, **kwargs)

        def put_scaling_policy(backend: ApplicationAutoscalingBackend, **kwargs: Any) -> Any:
            if _target_missing(backend, kwargs["resource_id"], kwargs["scalable_dimension"]):
                raise ObjectNotFoundException(
                    f"No scalable target registered for service namespace: {kwargs['service_namespace']}, "
                    f"resource ID: {kwargs['resource_id']}, scalable dimension: {kwargs['scalable_dimension']}"
                )
            return original_put_policy(backend, **kwargs)

        def deregister(backend: ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str) -> None:
            if _target_missing(backend, r_id, dimension):
                raise ObjectNotFoundException(
                    f"No scalable target found for service namespace: {namespace}, resource ID: {r_id}, "
                    f"scalable dimension: {dimension}"
                )
            original_deregister(backend, namespace, r_id, dimension)
            for policy in list(backend.policies.values()):
                if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                    namespace,
                    r_id,
                    dimension,
                ):
                    delete_scaling_policy(
                        backend,
                        policy_name=policy.policy_name,
                        service_namespace=namespace,
                        resource_id=r_id,
                        scalable_dimension=dimension,
                    )

        def describe_scaling_policies(backend: ApplicationAutoscalingBackend, **kwargs: Any) -> Any:
            token, page = original_describe(backend, **kwargs)
            rid = kwargs.get("resource_id")
            return token, [p for p in page if not rid or p.resource_id == rid]

        for owner, name, fn in (
            (FakeApplicationAutoscalingPolicy, "create_alarms", create_alarms),
            (aas_responses, "_build_alarms", build_alarms),
            (ApplicationAutoscalingBackend, "delete_scaling_policy", delete_scaling_policy),
            (ApplicationAutoscalingBackend, "put_scaling_policy", put_scaling_policy),
            (ApplicationAutoscalingBackend, "deregister_scalable_target", deregister),
            (ApplicationAutoscalingBackend, "describe_scaling_policies", describe_scaling_policies),
        ):
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, fn)
        return self

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()
