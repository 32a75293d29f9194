"""The security baseline of the stack, checked on the template as SAM expands it (every resource type,
whoever adds the resource): encryption, TLS-only, no public buckets, point-in-time recovery,
failure destinations for asynchronous triggers, retry policies and dead-letter queues on rules,
reserved concurrency that fits the account, IAM-authenticated APIs with access logs (and the
account's CloudWatch role behind them) and throttling, log retention.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import cfn, summary

Template = dict[str, Any]


def of_type(template: Template, *types: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] in types}


def _refs(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, ${X} in Sub)."""
    import re

    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= _refs(inner)
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def _denies_insecure_transport(template: Template, policy_type: str, target_key: str, logical: str) -> bool:
    for policy in of_type(template, policy_type).values():
        props = policy["Properties"]
        if logical not in _refs(props.get(target_key)):
            continue
        for st in props["PolicyDocument"]["Statement"]:
            secure = st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
            if st["Effect"] == "Deny" and str(secure).lower() == "false":
                return True
    return False


def test_tables_have_point_in_time_recovery_and_encryption(translated: Template):
    tables = of_type(translated, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        props = table["Properties"]
        assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, name
        assert props.get("SSESpecification", {}).get("SSEEnabled") is True, name


def test_buckets_are_encrypted_private_and_tls_only(translated: Template):
    for name, bucket in of_type(translated, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration"), name
        block = props.get("PublicAccessBlockConfiguration", {})
        for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            assert block.get(key) is True, f"{name}: {key}"
        assert _denies_insecure_transport(translated, "AWS::S3::BucketPolicy", "Bucket", name), f"{name}: not TLS-only"


def test_topics_are_encrypted(translated: Template):
    for name, topic in of_type(translated, "AWS::SNS::Topic").items():
        assert topic["Properties"].get("KmsMasterKeyId"), f"{name}: not encrypted with KMS"


def test_queues_are_encrypted_and_tls_only(translated: Template):
    queues = of_type(translated, "AWS::SQS::Queue")
    assert queues
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), name
        assert _denies_insecure_transport(translated, "AWS::SQS::QueuePolicy", "Queues", name), f"{name}: not TLS-only"


def _async_targets(template: Template) -> set[str]:
    """Functions invoked asynchronously: EventBridge rule targets, S3 notifications, SNS subscriptions."""
    found: set[str] = set()
    for rule in of_type(template, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            found |= _refs(target.get("Arn"))
    for sub in of_type(template, "AWS::SNS::Subscription").values():
        if sub["Properties"].get("Protocol") == "lambda":
            found |= _refs(sub["Properties"].get("Endpoint"))
    for bucket in of_type(template, "AWS::S3::Bucket").values():
        for conf in bucket["Properties"].get("NotificationConfiguration", {}).get("LambdaConfigurations", []):
            found |= _refs(conf.get("Function"))
    return found & set(of_type(template, "AWS::Lambda::Function"))


def test_asynchronously_invoked_functions_keep_their_failures(translated: Template):
    targets = _async_targets(translated)
    assert targets
    configs = of_type(translated, "AWS::Lambda::EventInvokeConfig")
    for fn in targets:
        on_failure = [
            c
            for c in configs.values()
            if fn in _refs(c["Properties"].get("FunctionName"))
            and c["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        ]
        dlq = translated["Resources"][fn]["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        assert on_failure or dlq, f"{fn}: an async trigger without an on-failure destination or DLQ"


def test_rule_targets_have_a_retry_policy_and_a_dead_letter_queue(translated: Template):
    rules = of_type(translated, "AWS::Events::Rule")
    assert rules
    for name, rule in rules.items():
        for target in rule["Properties"].get("Targets", []):
            assert "RetryPolicy" in target, f"{name}: target {target.get('Id')} has no RetryPolicy"
            assert target.get("DeadLetterConfig", {}).get("Arn"), f"{name}: target {target.get('Id')} has no DLQ"


def test_functions_have_tracing_and_log_retention(translated: Template):
    functions = of_type(translated, "AWS::Lambda::Function")
    groups = of_type(translated, "AWS::Logs::LogGroup")
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props.get("TracingConfig", {}).get("Mode") == "Active", name
        group = _refs(props.get("LoggingConfig", {}).get("LogGroup"))
        assert group and group <= set(groups), f"{name}: logs go to a log group the stack does not manage"
    for name, log_group in groups.items():
        assert log_group["Properties"].get("RetentionInDays"), f"{name}: kept forever"


@pytest.mark.parametrize("kind", ["AWS::ApiGateway::Method"])
def test_api_methods_require_iam_auth(translated: Template, kind: str):
    for name, method in of_type(translated, kind).items():
        props = method["Properties"]
        if props.get("HttpMethod") == "OPTIONS":
            continue
        assert props.get("AuthorizationType") == "AWS_IAM", f"{name}: {props.get('AuthorizationType')}"


def test_api_stages_log_access_and_throttle(translated: Template):
    for name, stage in of_type(translated, "AWS::ApiGateway::Stage").items():
        props = stage["Properties"]
        assert props.get("AccessLogSetting", {}).get("DestinationArn"), f"{name}: no access logs"
        throttled = [
            s for s in props.get("MethodSettings", []) if "ThrottlingRateLimit" in s and "ThrottlingBurstLimit" in s
        ]
        assert throttled, f"{name}: no throttling limits"
    for name, api in of_type(translated, "AWS::ApiGatewayV2::Stage").items():
        props = api["Properties"]
        assert props.get("AccessLogSettings", {}).get("DestinationArn"), f"{name}: no access logs"
        assert props.get("DefaultRouteSettings", {}).get("ThrottlingRateLimit"), f"{name}: no throttling limits"


# --- API Gateway's account-level CloudWatch Logs role (access logs) ----------------------------


def test_the_stack_can_own_api_gateways_cloudwatch_role(translated: Template):
    """A stage with AccessLogSetting is refused where API Gateway's account-level CloudWatch
    role was never set (AWS::ApiGateway::Account). With ManageApiGatewayAccount=true the stack
    sets it, with a role holding AmazonAPIGatewayPushToCloudWatchLogs, both retained on stack
    deletion, and every logging stage waits for it."""
    resources = cfn.deployed(translated, cfn.parameter_values(translated, {"ManageApiGatewayAccount": "true"}))
    (account,) = [k for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Account"]
    (role,) = cfn.refs(resources[account]["Properties"]["CloudWatchRoleArn"])
    role_props = resources[role]["Properties"]
    assert role_props["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]
    (trust,) = role_props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    for logical_id in (account, role):
        # Deleting the Account resource leaves the setting in place; the role must outlive the
        # stack, or every other API's logging in the region breaks.
        assert resources[logical_id].get("DeletionPolicy") == "Retain", logical_id
        assert resources[logical_id].get("UpdateReplacePolicy") == "Retain", logical_id
    stages = [k for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Stage"]
    logging = [k for k in stages if resources[k]["Properties"].get("AccessLogSetting")]
    assert logging
    for stage in logging:
        assert account in cfn.dependencies(resources, stage), f"{stage} may be created before the account role"
    assert not cfn.dangling(translated, resources)


def test_a_stack_that_does_not_own_it_leaves_the_account_alone(translated: Template):
    resources = cfn.deployed(translated, cfn.parameter_values(translated, {"ManageApiGatewayAccount": "false"}))
    kinds = {v["Type"] for v in resources.values()}
    assert "AWS::ApiGateway::Account" not in kinds
    assert not [k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role" and "ApiGateway" in k]
    assert [k for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Stage"], "the API is still deployed"
    assert not cfn.dangling(translated, resources), "a resource still names the account setting"


# --- reserved concurrency: fits the account, caps the inference API on request ----------------

# "You can reserve up to the Unreserved account concurrency value that is shown, minus 100 for
# functions that don't have reserved concurrency" (Lambda developer guide, "Configuring reserved
# concurrency for a function"). The default quota is 1,000; new accounts can have far less.
ACCOUNT_QUOTA = 1000
UNRESERVED_FLOOR = 100
STACKS_PER_ACCOUNT = 3  # dev, staging and prod in one account (samconfig.toml)
INFERENCE_API = "InferenceApiFunction"


def reserved(template: Template, overrides: dict[str, str]) -> dict[str, int]:
    """Function -> reserved concurrency, for the functions that reserve any, with these parameters."""
    resources = cfn.deployed(template, cfn.parameter_values(template, overrides))
    found = {}
    for name, fn in resources.items():
        if fn["Type"] != "AWS::Lambda::Function" or "ReservedConcurrentExecutions" not in fn["Properties"]:
            continue
        value = fn["Properties"]["ReservedConcurrentExecutions"]
        if isinstance(value, dict):  # a parameter
            (param,) = cfn.refs(value)
            value = cfn.parameter_values(template, overrides)[param]
        found[name] = int(value)
    return found


def environment_overrides(env: str) -> dict[str, str]:
    import tomllib

    from .conftest import ROOT

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    pairs = (item.split("=", 1) for item in config[env]["deploy"]["parameters"]["parameter_overrides"])
    return {k: v.strip('"') for k, v in pairs}


def test_by_default_no_function_reserves_concurrency(translated: Template):
    """Reserving fails the deploy where the quota is too low for it (new accounts), and three
    environments in one account reserve three times as much: the default reserves nothing."""
    assert reserved(translated, {}) == {}


def test_the_environments_together_leave_the_unreserved_floor(translated: Template):
    envs = {env: reserved(translated, environment_overrides(env)) for env in ("dev", "staging", "prod")}
    assert len(envs) == STACKS_PER_ACCOUNT
    total = sum(sum(r.values()) for r in envs.values())
    assert total <= ACCOUNT_QUOTA - UNRESERVED_FLOOR, f"{total} reserved by {envs}"
    summary.lines.append(f"reserved concurrency: 0 per stack by default, {total} for the three environments")


@pytest.mark.parametrize("value", ["1", "50", "900"])
def test_the_inference_api_can_be_capped_on_its_own(translated: Template, value: str):
    """The runaway protection: a reservation also caps the API, whatever the other functions do."""
    assert reserved(translated, {"InferenceApiReservedConcurrency": value}) == {INFERENCE_API: int(value)}


def test_capping_the_other_functions_never_disables_one(translated: Template):
    """Reserved concurrency 0 stops a function: a cap is a positive number, or no property at all."""
    functions = set(of_type(translated, "AWS::Lambda::Function"))
    # In an environment that follows another one, so that every function exists (the promotion one too).
    overrides = {"ReservedConcurrency": "capped", "InferenceApiReservedConcurrency": "0", "RolloutSource": "after:dev"}
    capped = reserved(translated, overrides)
    assert set(capped) == functions - {INFERENCE_API}
    assert all(value > 0 for value in capped.values()), capped
    assert STACKS_PER_ACCOUNT * sum(capped.values()) <= ACCOUNT_QUOTA - UNRESERVED_FLOOR
