"""Quota pre-flight (issue 17) against moto: Service Quotas and the instances in use, read
through real clients; SageMaker's own refusal past a quota, as the sandbox simulates it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from rollout_core.aws.clients import client
from rollout_core.aws.quotas import QuotaGateway
from sandbox.calls import BaseListener, Call, error_response, hooks
from sandbox.quotas_ext import quota_code
from sandbox.stack import Sandbox

from .helpers import rollout_for


class Refuse(BaseListener):
    """Every call of ``operation`` answers ``code`` (all retries included)."""

    def __init__(self, operation: str, code: str, status: int = 400) -> None:
        self.operation, self.code, self.status = operation, code, status

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.operation == self.operation:
            return error_response(call, self.status, self.code, "refused by the test")
        return None


def gateway() -> QuotaGateway:
    return QuotaGateway(client("service-quotas"), client("sagemaker"))


def test_finds_a_quota_on_a_later_page(stack: Sandbox):
    stack.quotas.of(stack.account).update({f"ml.r5.{n}xlarge": 10 for n in range(2, 250)})  # more than one page of 100
    readings = gateway().read(["ml.r5.249xlarge"])
    assert readings.quotas["ml.r5.249xlarge"].quota == 10 and readings.quotas["ml.r5.249xlarge"].in_use == 0


@pytest.mark.parametrize(
    ("operation", "code"), [("ListServiceQuotas", "AccessDeniedException"), ("ListEndpoints", "ThrottlingException")]
)
def test_a_read_that_fails_is_a_warning(stack: Sandbox, operation: str, code: str, monkeypatch: Any):
    monkeypatch.setattr("time.sleep", lambda _s: None)  # botocore's retry backoff
    listener = hooks.subscribe(Refuse(operation, code))
    try:
        readings = gateway().read(["ml.m5.large"])
    finally:
        hooks.unsubscribe(listener)
    assert readings.quotas == {}
    assert len(readings.warnings) == 1 and code in readings.warnings[0]


def test_sagemaker_refuses_an_update_past_the_quota_with_its_own_message(serving_stack: Sandbox):
    """The sandbox's SageMaker: what the pre-flight prevents (a new fleet while the old one runs)."""
    sm = serving_stack.client("sagemaker")
    serving_stack.quotas.of(serving_stack.account)["ml.m5.large"] = 3  # 2 in use; a new fleet of 2 would make 4
    described = sm.describe_endpoint(EndpointName="churn-endpoint")
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    sm.create_endpoint_config(
        EndpointConfigName="churn-endpoint-c-bigger",
        ProductionVariants=[{**variant, "InitialInstanceCount": 2}],
    )
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName="churn-endpoint", EndpointConfigName="churn-endpoint-c-bigger")
    assert refused.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert refused.value.response["Error"]["Message"].startswith(
        "The account-level service limit 'ml.m5.large for endpoint usage' is 3 Instances, with current "
        "utilization of 2 Instances and a request delta of 2 Instances."
    )
    with pytest.raises(ClientError, match="ResourceLimitExceeded"):
        sm.update_endpoint_weights_and_capacities(
            EndpointName="churn-endpoint",
            DesiredWeightsAndCapacities=[{"VariantName": variant["VariantName"], "DesiredInstanceCount": 3}],
        )
    assert sm.describe_endpoint(EndpointName="churn-endpoint")["EndpointStatus"] == "InService"


def test_reads_the_quotas_and_a_rollout_that_does_not_fit_fails_before_it_touches_the_endpoint(
    serving_stack: Sandbox,
):
    # serving_stack runs churn-endpoint and its async twin, one ml.m5.large each.
    readings = gateway().read(["ml.m5.large", "ml.c5.large"])
    quota = readings.quotas["ml.m5.large"]
    assert (quota.quota, quota.in_use, quota.quota_code) == (20, 2, quota_code("ml.m5.large"))
    assert "ml.c5.large" not in readings.quotas
    assert readings.warnings == ["Service Quotas lists no applied value for 'ml.c5.large for endpoint usage'"]

    serving_stack.quotas.of(serving_stack.account)["ml.m5.large"] = 3  # 2 in use; the next rollout needs 2 more
    changes = len(serving_stack.simulator.calls)
    models = serving_stack.client("sagemaker").list_models()["Models"]
    arn = serving_stack.register_package("churn-model")
    serving_stack.set_approval(arn, "Approved")
    rollout = rollout_for(arn)
    assert rollout.phase.value == "FAILED"
    assert rollout.reason.startswith("quota pre-flight: ml.m5.large: the rollout needs 2 more at its peak, 2 in use")
    assert len(serving_stack.simulator.calls) == changes  # no endpoint was asked to change
    assert serving_stack.client("sagemaker").list_models()["Models"] == models  # nor a model created


def test_a_shadow_variants_instances_are_in_use_and_count_against_the_quota(serving_stack: Sandbox):
    """ShadowProductionVariants run on instances of their own (issue 13): the gateway counts them
    in use, and the sandbox's SageMaker counts them in a new fleet."""
    sm = serving_stack.client("sagemaker")
    described = sm.describe_endpoint(EndpointName="churn-endpoint")
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    shadow = {**variant, "VariantName": "shadow", "InitialInstanceCount": 2}
    sm.create_endpoint_config(
        EndpointConfigName="churn-endpoint-c-shadowed", ProductionVariants=[variant], ShadowProductionVariants=[shadow]
    )
    serving_stack.quotas.of(serving_stack.account)["ml.m5.large"] = 4  # 2 in use; the new fleet's 1 + 2 would make 5
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName="churn-endpoint", EndpointConfigName="churn-endpoint-c-shadowed")
    assert "request delta of 3 Instances" in refused.value.response["Error"]["Message"]
    serving_stack.quotas.of(serving_stack.account)["ml.m5.large"] = 5
    sm.update_endpoint(EndpointName="churn-endpoint", EndpointConfigName="churn-endpoint-c-shadowed")
    serving_stack.advance(600)
    assert (
        sm.describe_endpoint(EndpointName="churn-endpoint")["ShadowProductionVariants"][0]["CurrentInstanceCount"] == 2
    )
    # churn-endpoint: 1 production + 2 shadow; its async twin: 1
    assert gateway().read(["ml.m5.large"]).quotas["ml.m5.large"].in_use == 4
