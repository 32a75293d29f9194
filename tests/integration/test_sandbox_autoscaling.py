"""The sandbox's Application Auto Scaling answers as AWS documents (sandbox/autoscaling_ext.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from rollout_core.aws.autoscaling import DIMENSION, NAMESPACE, resource_id
from sandbox.stack import Sandbox
from tests.faults.scenarios import SCALING_POLICY as POLICY

TARGET = {"ServiceNamespace": NAMESPACE, "ScalableDimension": DIMENSION, "ResourceId": resource_id("e", "v")}


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_deregistering_a_missing_target_is_object_not_found(stack: Sandbox):
    aas = stack.client("application-autoscaling")
    with pytest.raises(ClientError) as exc:
        aas.deregister_scalable_target(**TARGET)
    assert code(exc) == "ObjectNotFoundException"
    assert exc.type is aas.exceptions.ObjectNotFoundException


def test_deleting_a_missing_policy_is_object_not_found(stack: Sandbox):
    aas = stack.client("application-autoscaling")
    aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=2)
    with pytest.raises(ClientError) as exc:
        aas.delete_scaling_policy(**TARGET, PolicyName="nope")
    assert code(exc) == "ObjectNotFoundException"


def test_a_policy_needs_a_registered_target(stack: Sandbox):
    aas = stack.client("application-autoscaling")
    with pytest.raises(ClientError) as exc:
        aas.put_scaling_policy(**TARGET, **POLICY)
    assert code(exc) == "ObjectNotFoundException"


def test_deregistering_a_target_deletes_its_policies(stack: Sandbox):
    aas = stack.client("application-autoscaling")
    aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=2)
    aas.put_scaling_policy(**TARGET, **POLICY)
    aas.deregister_scalable_target(**TARGET)
    assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"] == []
    with pytest.raises(ClientError) as exc:
        aas.deregister_scalable_target(**TARGET)
    assert code(exc) == "ObjectNotFoundException"
