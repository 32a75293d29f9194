"""What moto's Application Auto Scaling gets wrong, corrected as AWS documents it (sandbox and tests only).

Application Auto Scaling API reference:

- DeregisterScalableTarget and DeleteScalingPolicy of something that does not exist, and
  PutScalingPolicy on a target that is not registered, fail with ObjectNotFoundException
  ("For any operation that depends on the existence of a scalable target, this exception is
  thrown if the scalable target ... does not exist. For any operation that deletes or
  deregisters a resource, this exception is thrown if the resource cannot be found."). moto
  answers ValidationException to the first two and accepts the third.
- DeregisterScalableTarget "deletes the scaling policies and the scheduled actions that are
  associated with it"; moto keeps the policies.

``AutoscalingFixes.install()`` patches moto's backend for as long as it is installed.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.core.exceptions import JsonRESTError


class ObjectNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


def _target_missing(backend: ApplicationAutoscalingBackend, resource_id: str, dimension: str) -> bool:
    return resource_id not in backend.targets.get(dimension, {})


class AutoscalingFixes:
    def __init__(self) -> None:
        self._saved: dict[str, Any] = {}

    def install(self) -> AutoscalingFixes:
        fixes = self
        patches: dict[str, Any] = {
            "deregister_scalable_target": lambda backend, namespace, r_id, dimension: fixes._deregister(
                backend, namespace, r_id, dimension
            ),
            "delete_scaling_policy": lambda backend, **kw: fixes._delete_policy(backend, **kw),
            "put_scaling_policy": lambda backend, **kw: fixes._put_policy(backend, **kw),
        }
        for name, patch in patches.items():
            self._saved[name] = getattr(ApplicationAutoscalingBackend, name)
            setattr(ApplicationAutoscalingBackend, name, patch)
        return self

    def uninstall(self) -> None:
        for name, original in self._saved.items():
            setattr(ApplicationAutoscalingBackend, name, original)
        self._saved.clear()

    def _deregister(self, backend: ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str) -> None:
        if _target_missing(backend, r_id, dimension):
            raise ObjectNotFoundException(
                f"No scalable target found for service namespace: {namespace}, resource ID: {r_id}, "
                f"scalable dimension: {dimension}"
            )
        for key, policy in list(backend.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                namespace,
                r_id,
                dimension,
            ):
                policy.delete_alarms(backend.account_id, backend.region_name)
                del backend.policies[key]
        self._saved["deregister_scalable_target"](backend, namespace, r_id, dimension)

    def _delete_policy(self, backend: ApplicationAutoscalingBackend, **kwargs: Any) -> None:
        keys = (kwargs["service_namespace"], kwargs["resource_id"], kwargs["scalable_dimension"])
        found = any(
            (p.service_namespace, p.resource_id, p.scalable_dimension, p.policy_name) == (*keys, kwargs["policy_name"])
            for p in backend.policies.values()
        )
        if not found:
            raise ObjectNotFoundException(
                f"No scaling policy found for service namespace: {keys[0]}, resource ID: {keys[1]}, "
                f"scalable dimension: {keys[2]}, policy name: {kwargs['policy_name']}"
            )
        self._saved["delete_scaling_policy"](backend, **kwargs)

    def _put_policy(self, backend: ApplicationAutoscalingBackend, **kwargs: Any) -> Any:
        if _target_missing(backend, kwargs["resource_id"], kwargs["scalable_dimension"]):
            raise ObjectNotFoundException(
                f"No scalable target registered for service namespace: {kwargs['service_namespace']}, "
                f"resource ID: {kwargs['resource_id']}, scalable dimension: {kwargs['scalable_dimension']}"
            )
        return self._saved["put_scaling_policy"](backend, **kwargs)
