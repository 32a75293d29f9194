"""template.yaml and samconfig.toml agree with the code: each environment's target validates."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from rollout_core import judging
from rollout_core.aws import clients
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


def test_dashboard_body_is_valid_and_names_sagemakers_metrics():
    props = TEMPLATE["Resources"]["RolloutDashboard"]["Properties"]
    body_template, variables = props["DashboardBody"]["Fn::Sub"]
    values = {"Environment": "dev", "EndpointName": "churn-endpoint-dev", "AWS::Region": "us-east-1", **variables}
    body = json.loads(re.sub(r"\$\{([\w:]+)\}", lambda m: values[m.group(1)], body_template))
    widgets = body["widgets"]
    assert widgets
    searched: dict[str, str] = {}
    for widget in widgets:
        assert widget["type"] in ("metric", "text")
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24
        assert widget["height"] > 0
        if widget["type"] == "text":
            assert widget["properties"]["markdown"]
            continue
        properties = widget["properties"]
        assert properties["region"] == "us-east-1"
        assert properties["view"] in ("timeSeries", "singleValue")
        for metric in properties["metrics"]:
            if isinstance(metric[0], dict):  # a SEARCH expression over the endpoint's variants
                expression = metric[0]["expression"]
                match = re.match(
                    r"SEARCH\('\{AWS/SageMaker,EndpointName,VariantName\} "
                    r'EndpointName="churn-endpoint-dev" MetricName="(\w+)"\', \'(\w+)\', 60\)$',
                    expression,
                )
                assert match, expression
                searched[match.group(1)] = match.group(2)
            else:
                namespace, name, *dimensions = metric
                if dimensions and isinstance(dimensions[-1], dict):  # rendering options (a label)
                    assert set(dimensions.pop()) <= {"label"}
                assert namespace == "SageMakerRollout"
                assert dimensions[:2] == ["service", "sagemaker-rollout"]
                if name.startswith(("Canary", "Shadow")):  # judging.py: per endpoint (and per check), as emitted
                    pairs = dict(zip(dimensions[2::2], dimensions[3::2], strict=True))
                    assert pairs.pop("endpoint") == "churn-endpoint-dev"
                    assert pairs in ({}, {"check": "errors"}, {"check": "latency"}), pairs
                    assert bool(pairs) == (name not in ("CanaryScore", "ShadowScore"))
                else:
                    assert dimensions == ["service", "sagemaker-rollout"]
                assert name
    assert searched == {
        "Invocations": "Sum",
        "Invocation5XXErrors": "Sum",
        "Invocation4XXErrors": "Sum",
        "ModelLatency": "p90",
    }


def test_every_metric_the_dashboard_shows_is_one_the_code_emits():
    emitted = set()
    for path in (ROOT / "layers" / "rollout_core" / "rollout_core").glob("*.py"):
        emitted |= set(re.findall(r'\b(?:count|seconds)\("(\w+)"', path.read_text()))
        emitted |= set(re.findall(r'"(Rollouts\w+)"', path.read_text()))
        emitted |= set(re.findall(r'add_metric\(name="(\w+)"', path.read_text()))
    emitted |= {name for names in judging.ANALYSIS_METRICS.values() for name in names}  # the analyses' EMF
    body = TEMPLATE["Resources"]["RolloutDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    shown = set(re.findall(r'"\$\{Namespace\}", "(\w+)"', body))
    assert shown
    assert shown <= emitted, shown - emitted


def test_one_environment_per_account_and_region_owns_the_api_gateway_account_setting():
    """API Gateway's CloudWatch role is one setting per account and region: exactly one stack
    sets it (ManageApiGatewayAccount=true), the others pass false."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    owners: dict[tuple[str, str], list[str]] = {}
    for env in ("dev", "staging", "prod"):
        parameters = environment_parameters(env)
        assert parameters["ManageApiGatewayAccount"] in ("true", "false"), env
        account = parameters["SageMakerExecutionRoleArn"].split(":")[4]
        region = config[env]["deploy"]["parameters"]["region"]
        owners.setdefault((account, region), [])
        if parameters["ManageApiGatewayAccount"] == "true":
            owners[(account, region)].append(env)
    assert owners
    for place, envs in owners.items():
        assert len(envs) == 1, f"{place}: owned by {envs or 'no environment'}"


# --- the target parameter fits SSM's Standard tier ------------------------------------------------

# "Standard parameters have a value limit of 4 KB" (SSM PutParameter API reference); SSM refuses
# more with "Standard tier parameters support a maximum parameter value of 4096 characters".
# Counted in bytes here, which is stricter for anything but ASCII.
STANDARD_TIER_BYTES = 4096


def target_placeholders() -> list[str]:
    value = TEMPLATE["Resources"]["TargetParameter"]["Properties"]["Value"]["Fn::Sub"]
    return re.findall(r"\$\{(\w+)\}", value)


def longest_value_bytes(name: str) -> int:
    """The most bytes a template parameter can put into the target document."""
    spec = TEMPLATE["Parameters"][name]
    if "AllowedValues" in spec:
        return max(len(str(v).encode()) for v in spec["AllowedValues"])
    if spec["Type"] == "Number":
        assert "MaxValue" in spec and spec.get("MinValue", 0) >= 0, f"{name}: unbounded number"
        return len(str(spec["MaxValue"]))
    assert "MaxLength" in spec, f"{name}: a string of any length goes into the target document"
    # Printable ASCII only (no control characters, which would also break the JSON): one byte each.
    assert not re.fullmatch(spec.get("AllowedPattern", ".*"), "\u00e9"), f"{name}: admits non-ASCII"
    assert not re.fullmatch(spec.get("AllowedPattern", ".*"), "\n"), f"{name}: admits control characters"
    return int(spec["MaxLength"])


def test_the_target_document_cannot_outgrow_the_standard_tier():
    """Every parameter at its longest: the rendered JSON still fits 4 KB (a larger one would
    fail the deploy halfway, at the SSM parameter)."""
    value = TEMPLATE["Resources"]["TargetParameter"]["Properties"]["Value"]["Fn::Sub"]
    fixed = len(re.sub(r"\$\{\w+\}", "", value).encode())
    longest = fixed + sum(longest_value_bytes(name) for name in target_placeholders())
    assert TEMPLATE["Resources"]["TargetParameter"]["Properties"]["Tier"] == "Standard"
    assert longest <= STANDARD_TIER_BYTES, f"up to {longest} bytes"


def largest_parameters() -> dict[str, str]:
    """Valid values at their longest: what a deploy can really send."""
    guard_limit = int(TEMPLATE["Parameters"]["GuardAlarmNames"]["MaxLength"])
    name = "sagemaker-rollout-" + "a" * 200  # 218 chars (CloudWatch allows 255)
    alarms: list[str] = []
    while len(",".join([*alarms, name])) <= guard_limit:
        alarms.append(name)
    rest = guard_limit - len(",".join(alarms)) - 1
    if rest > 0:
        alarms.append("b" * rest)
    values = {
        "ModelPackageGroupName": "g" * 63,
        "EndpointName": "e" * 40,
        "InstanceType": "ml." + "p" * 12 + "." + "x" * 16,
        "InstanceCount": "100",
        "RolloutSteps": ",".join(str(s) for s in range(1, 101)),
        "BakeSeconds": "604800",
        "InsufficientData": "HOLD",
        "MaxDurationSeconds": str(TEMPLATE["Parameters"]["MaxDurationSeconds"]["MaxValue"]),
        "GuardAlarmNames": ",".join(alarms),
        "RetainModels": "50",
        "CanaryAnalysis": "false",
        "AsyncEndpointName": "a" * 40,
        "AsyncInstanceType": "ml." + "g" * 12 + "." + "x" * 16,
        "TransformInstanceType": "ml." + "c" * 12 + "." + "x" * 16,
        "TransformInstanceCount": "100",
        "MaxPayloadMB": "100",
        "JobTimeoutSeconds": "604800",
        "RolloutSource": "after:staging",
        "SoakSeconds": str(TEMPLATE["Parameters"]["SoakSeconds"]["MaxValue"]),
        "PromotionGate": "manual",
    }
    for key, text in values.items():
        spec = TEMPLATE["Parameters"][key]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], text), key
        if "MaxLength" in spec:
            assert len(text) <= int(spec["MaxLength"]), key
    assert len(values["GuardAlarmNames"]) == guard_limit
    return values


def test_the_largest_valid_target_renders_validates_and_fits():
    rendered = target_json(largest_parameters())
    assert len(rendered.encode()) <= STANDARD_TIER_BYTES, len(rendered.encode())
    target = Target.model_validate_json(rendered)
    assert len(target.plan.steps) == 100
    assert len(target.guard_alarms) >= 10


def test_a_target_too_large_for_the_standard_tier_is_refused_with_the_reason():
    """Targets added by hand (further groups) get the same bound from the schema."""
    base = json.loads(target_json(environment_parameters("dev")))
    base["guard_alarms"] = [f"sagemaker-rollout-{i:03d}-" + "x" * 200 for i in range(20)]
    with pytest.raises(ValueError, match="4096"):
        Target.model_validate(base)


# --- timeouts that agree --------------------------------------------------------------------------


def test_the_inference_api_gives_up_before_api_gateway_does():
    """API Gateway answers 504 after 29 s; InvokeEndpoint must time out first, once, and the
    function must have the time to say so, but never work on after the gateway gave up."""
    config = clients.REALTIME_RUNTIME_CONFIG
    assert getattr(config, "retries", None) == {"mode": "standard", "total_max_attempts": 1}
    waited = clients.REALTIME_CONNECT_TIMEOUT_SECONDS + clients.REALTIME_READ_TIMEOUT_SECONDS
    assert (getattr(config, "connect_timeout", None), getattr(config, "read_timeout", None)) == (
        clients.REALTIME_CONNECT_TIMEOUT_SECONDS,
        clients.REALTIME_READ_TIMEOUT_SECONDS,
    )
    assert waited < clients.API_GATEWAY_TIMEOUT_SECONDS
    timeout = TEMPLATE["Resources"]["InferenceApiFunction"]["Properties"]["Timeout"]
    assert waited + 1 <= timeout <= clients.API_GATEWAY_TIMEOUT_SECONDS
    responses = TEMPLATE["Resources"]["InferenceApi"]["Properties"]["GatewayResponses"]
    answer = json.loads(responses["INTEGRATION_TIMEOUT"]["ResponseTemplates"]["application/json"])
    assert responses["INTEGRATION_TIMEOUT"]["StatusCode"] == "504"
    assert answer["jobs_route"] == "/v1/jobs"
