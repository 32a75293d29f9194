"""Uninstalling: ``python -m rollout_client cleanup --stack NAME`` (issue 19, item 8)."""

from __future__ import annotations

import json

import pytest

from rollout_client import cleanup
from rollout_client.cli import main
from sandbox.stack import Sandbox

from .helpers import register, rollout_for

STACK_TEMPLATE = {
    "Parameters": {"EndpointName": {"Type": "String"}, "ManagedEndpointPrefix": {"Type": "String", "Default": ""}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
}


@pytest.fixture
def deployed(stack: Sandbox) -> Sandbox:
    """Three versions rolled out (the tool keeps 3 models/configs), a user's own model beside them,
    and the stack as CloudFormation knows it."""
    for arn in register(stack, 3):
        stack.set_approval(arn, "Approved")
        stack.advance(3600)
        assert rollout_for(arn).phase.value == "SUCCEEDED"
    sm = stack.client("sagemaker")
    sm.create_model(
        ModelName="churn-endpoint-hand-made", ExecutionRoleArn=stack.role_arn, PrimaryContainer={"Image": "x"}
    )
    stack.client("cloudformation").create_stack(
        StackName="sagemaker-rollout-dev",
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[{"ParameterKey": "EndpointName", "ParameterValue": "churn-endpoint"}],
    )
    return stack


def _names(stack: Sandbox) -> tuple[set[str], set[str], set[str]]:
    sm = stack.client("sagemaker")
    return (
        {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]},
        {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]},
        {m["ModelName"] for m in sm.list_models()["Models"]},
    )


def test_a_dry_run_lists_what_the_tool_made_and_deletes_nothing(deployed: Sandbox, capsys: pytest.CaptureFixture[str]):
    before = _names(deployed)
    assert main(["cleanup", "--stack", "sagemaker-rollout-dev", "--region", "us-east-1"]) == 0
    printed = capsys.readouterr().out
    assert _names(deployed) == before
    assert "dry run" in printed and "managed prefix: churn-endpoint" in printed
    assert "keep   endpoint churn-endpoint" in printed
    assert "churn-endpoint-hand-made" not in printed, "only what the tool created (its tag)"


def test_yes_deletes_the_models_and_configs_no_endpoint_uses(deployed: Sandbox):
    endpoints, configs, models = _names(deployed)
    assert main(["cleanup", "--stack", "sagemaker-rollout-dev", "--yes"]) == 0
    after_endpoints, after_configs, after_models = _names(deployed)
    assert after_endpoints == endpoints, "endpoints only with --endpoints"
    serving = deployed.client("sagemaker").describe_endpoint(EndpointName="churn-endpoint")["EndpointConfigName"]
    assert after_configs == {serving}
    assert after_models == {rollout_for_last(deployed), "churn-endpoint-hand-made"}
    assert len(configs) > 1 and len(models) > 2


def rollout_for_last(stack: Sandbox) -> str:
    described = stack.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=stack.client("sagemaker").describe_endpoint(EndpointName="churn-endpoint")[
            "EndpointConfigName"
        ]
    )
    return str(described["ProductionVariants"][0]["ModelName"])


def test_with_endpoints_everything_the_tool_made_goes(deployed: Sandbox):
    sm, cw = deployed.client("sagemaker"), deployed.client("cloudwatch")
    found = cleanup.plan(sm, cw, cleanup.stack_prefix(deployed.client("cloudformation"), "sagemaker-rollout-dev"))
    assert found.endpoints == ["churn-endpoint"]
    said: list[str] = []
    cleanup.apply(sm, cw, found, True, lambda name: deployed.advance(180), said.append)
    assert _names(deployed) == (set(), set(), {"churn-endpoint-hand-made"})
    assert said[0] == "deleting endpoint churn-endpoint"
