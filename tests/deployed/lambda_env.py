"""The environment Lambda gives each function: template.yaml's variables (Globals, then the
function's own) resolved for the dev stack of samconfig.toml, and the variables the runtime sets
itself. Nothing here calls AWS; resources get the names and ARNs CloudFormation would give them
in shape, not in value."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from sandbox.template import load_template, parameter_defaults, resolve

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"


def stack_parameters(env: str = "dev") -> tuple[str, dict[str, str]]:
    """(stack name, parameters) of one samconfig.toml environment, over the template's defaults."""
    deploy = tomllib.loads((ROOT / "samconfig.toml").read_text())[env]["deploy"]["parameters"]
    pairs = (item.split("=", 1) for item in deploy["parameter_overrides"])
    return deploy["stack_name"], {**parameter_defaults(load_template()), **{k: v.strip('"') for k, v in pairs}}


# The property that names a resource when the template sets it (else CloudFormation generates one).
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
}


def _ref_value(logical_id: str, resource: dict[str, Any], template: dict[str, Any], parameters: dict[str, str]) -> str:
    """What Ref returns for a resource (CloudFormation template reference, each resource type's
    "Return values"): a name for tables, buckets and log groups, an ARN for topics, a URL for
    queues. A generated name has CloudFormation's stack-logicalid-suffix shape."""
    kind = resource.get("Type", "")
    named = resource.get("Properties", {}).get(NAME_PROPERTY.get(kind, ""))
    name = (
        _resolved(named, template, parameters, logical_id)
        if named is not None
        else f"{parameters['AWS::StackName']}-{logical_id}-1A2B3C4D5E6F"
    )
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
    if kind == "AWS::S3::Bucket":
        return name.lower()
    return name


def _parameters(template: dict[str, Any]) -> tuple[str, dict[str, str]]:
    stack, values = stack_parameters()
    values |= {
        "AWS::StackName": stack,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    refs = {
        logical_id: _ref_value(logical_id, resource, template, values)
        for logical_id, resource in template["Resources"].items()
    }
    return stack, values | refs


def _resolved(value: Any, template: dict[str, Any], parameters: dict[str, str], what: str) -> str:
    resolved = resolve(value, template, parameters)
    if not isinstance(resolved, str | int | float) or "${" in str(resolved):
        raise ValueError(f"{what}: cannot resolve {value!r} offline")
    return str(resolved)


def function_environments(template: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """functions/<name> -> the environment its Lambda function starts with."""
    template = template or load_template()
    stack, parameters = _parameters(template)
    globals_ = template.get("Globals", {}).get("Function", {})
    environments = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        variables = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        env = {k: _resolved(v, template, parameters, f"{logical_id} {k}") for k, v in variables.items()}
        name = _resolved(props.get("FunctionName", f"{stack}-{logical_id}"), template, parameters, logical_id)
        log_group = props.get("LoggingConfig", {}).get("LogGroup")
        runtime = props.get("Runtime", globals_.get("Runtime"))
        tracing = props.get("Tracing", globals_.get("Tracing"))
        # "Defined runtime environment variables" (Lambda Developer Guide, Working with Lambda
        # environment variables): reserved ones the runtime sets, credentials from the role.
        env |= {
            "_HANDLER": props["Handler"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", globals_.get("MemorySize", 128))),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": (
                _resolved(log_group, template, parameters, logical_id) if log_group else f"/aws/lambda/{name}"
            ),
            "AWS_ACCESS_KEY_ID": "ASIAPLACEHOLDER",
            "AWS_SECRET_ACCESS_KEY": "placeholder",
            "AWS_SESSION_TOKEN": "placeholder",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
        }
        if tracing == "Active":
            env |= {"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}
        code = Path(props["CodeUri"]).name
        environments[code] = env
    return environments


def isolated(env: dict[str, str], code: Path, layer_python: Path) -> dict[str, str]:
    """``env`` for a process that sees the function's code, the layer and the standard library
    only, as on Lambda (run it as ``python -S``: no site-packages). PYTHONSAFEPATH keeps the
    script's own directory off the path; no AWS file of this machine is read (Lambda has none)."""
    return env | {
        "PYTHONPATH": os.pathsep.join([str(code), str(layer_python)]),
        "PYTHONSAFEPATH": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
