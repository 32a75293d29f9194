"""template.yaml and samconfig.toml agree with the code: each environment's target validates."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from rollout_core.aws.store import LIVE_INDEX
from rollout_core.models import Target
from sandbox.template import load_template, parameter_defaults

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()


def environment_parameters(env: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config[env]["deploy"]["parameters"]["parameter_overrides"]
    pairs = (item.split("=", 1) for item in overrides)
    return {**parameter_defaults(TEMPLATE), **{k: v.strip('"') for k, v in pairs}}


def target_json(parameters: dict[str, str]) -> str:
    value = TEMPLATE["Resources"]["TargetParameter"]["Properties"]["Value"]["Fn::Sub"]
    return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)], value)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_target_validates(env: str):
    parameters = environment_parameters(env)
    target = Target.model_validate_json(target_json(parameters))
    assert target.endpoint_name == parameters["EndpointName"]
    assert target.plan.steps[-1] == 100
    assert target.guard_alarms, "every environment names its guard alarms"
    assert all(a.startswith(parameters["AlarmNamePrefix"]) for a in target.guard_alarms)


def test_environments_differ_in_instances_steps_and_bake():
    seen = {env: environment_parameters(env) for env in ("dev", "staging", "prod")}
    for key in ("InstanceType", "RolloutSteps", "BakeSeconds"):
        assert len({p[key] for p in seen.values()}) == 3, key


def test_table_matches_what_the_store_uses():
    props = TEMPLATE["Resources"]["RolloutTable"]["Properties"]
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["pk", "sk"]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LIVE_INDEX
    assert "rollout_id" in index["Projection"]["NonKeyAttributes"]
    assert props["TimeToLiveSpecification"]["AttributeName"] == "expiration"


def test_functions_get_the_environment_the_wiring_reads():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for name in ("TABLE_NAME", "TARGETS_PREFIX", "SAGEMAKER_EXECUTION_ROLE_ARN"):
        assert name in variables
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.13"
    assert TEMPLATE["Globals"]["Function"]["Architectures"] == ["arm64"]
