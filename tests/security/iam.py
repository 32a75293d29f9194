"""IAM, offline: which action on which resource each recorded AWS call needs, and whether a policy allows it.

``accesses(call)`` maps one botocore call (sandbox/calls.py) to the IAM authorisations it needs:
the action (service prefix + operation; sagemaker-runtime InvokeEndpoint is
sagemaker:InvokeEndpoint, a DynamoDB transaction needs the action of each item, ...), the
resource ARN, the request's condition keys, and the authorisation-only actions a call implies
(iam:PassRole for CreateModel's ExecutionRoleArn, sagemaker:AddTags for Tags on a Create*).
An operation with no mapping here raises ``Unmapped``, so a new call cannot slip by unchecked.

``Evaluator`` resolves a translated template's policies (intrinsics resolved against the
sandbox's parameters and the physical names the functions' environment carries). The policy
evaluation itself, ``allows(statements, access)`` with IAM's own rules for the features used
(wildcards; String, Arn, Bool and Null condition operators with their negated and IfExists
forms; an absent key as IAM treats it: ``condition_holds``), lives in sandbox/iam_policy.py
(the sandbox's API Gateway evaluates caller policies with it) and is re-exported here.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlparse

from sandbox.calls import Call
from sandbox.iam_policy import (  # the evaluation itself lives in the sandbox (its API Gateway uses it)
    Access,
    Statement,
    action_matches,
    allows,
    condition_holds,
    conditions_hold,
    resource_matches,
    statements_of,
)

__all__ = [
    "Access",
    "Evaluator",
    "Statement",
    "Unmapped",
    "accesses",
    "action_matches",
    "allows",
    "condition_holds",
    "conditions_hold",
    "environment_names",
    "resource_matches",
]

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the sandbox's default account (one stack, or a chain in one account)
PARTITION = "aws"
# The account of the stack whose function made the call being mapped (a chain across accounts:
# sandbox/chain.py): names in a call become ARNs of that account.
_CALLER_ACCOUNT: ContextVar[str] = ContextVar("iam_caller_account", default=ACCOUNT)


_NO_VALUE = object()  # Ref AWS::NoValue: the property (or list item) is left out


class Unmapped(Exception):
    """A call this module does not know the IAM authorisation of."""


def _arn(service: str, resource: str, region: str = REGION, account: str | None = None) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account or _CALLER_ACCOUNT.get()}:{resource}"


def _sagemaker(kind: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return _arn("sagemaker", f"{kind}/{name.lower()}")  # SageMaker ARNs carry lower-cased names


def _table(name: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", f"table/{name}")


def accesses(call: Call, account: str = ACCOUNT) -> list[Access]:
    """The IAM authorisations ``call`` needs, made by a function in ``account`` (raises Unmapped
    for an unknown operation)."""
    fn = _MAPPERS.get(call.iam_prefix) if call.service != "sagemaker-runtime" else _runtime
    if fn is None:
        raise Unmapped(f"{call.service}:{call.operation}")
    token = _CALLER_ACCOUNT.set(account)
    try:
        return fn(call, call.params)
    finally:
        _CALLER_ACCOUNT.reset(token)


# --- per service ------------------------------------------------------------------------------

_SAGEMAKER_RESOURCE = {
    # operation -> (resource type, parameter naming it)
    "DescribeEndpoint": ("endpoint", "EndpointName"),
    "CreateEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpointWeightsAndCapacities": ("endpoint", "EndpointName"),
    "DeleteEndpoint": ("endpoint", "EndpointName"),
    "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DeleteEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DescribeModel": ("model", "ModelName"),
    "CreateModel": ("model", "ModelName"),
    "DeleteModel": ("model", "ModelName"),
    "CreateTransformJob": ("transform-job", "TransformJobName"),
    "DescribeTransformJob": ("transform-job", "TransformJobName"),
    "StopTransformJob": ("transform-job", "TransformJobName"),
    "DescribeModelPackage": ("model-package", "ModelPackageName"),
    "UpdateModelPackage": ("model-package", "ModelPackageArn"),
}
# The Service Authorization Reference lists endpoint-config as a required resource type of
# these two as well: IAM authorises them on the endpoint and on the config they name.
_ALSO_ON_CONFIG = frozenset({"CreateEndpoint", "UpdateEndpoint"})
_NO_RESOURCE_TYPES = {
    # Operations IAM authorises on "*" only (Service Authorization Reference: no resource types).
    ("sagemaker", "ListModels"),
    ("sagemaker", "ListEndpointConfigs"),
    ("sagemaker", "ListEndpoints"),
    ("sagemaker", "ListTransformJobs"),
    ("application-autoscaling", "DescribeScalableTargets"),
    ("application-autoscaling", "DescribeScalingPolicies"),
    ("application-autoscaling", "DescribeScalingActivities"),
    ("cloudwatch", "PutMetricData"),
    ("cloudwatch", "GetMetricData"),
    ("servicequotas", "ListServiceQuotas"),  # issue 17: the quota pre-flight
}


def _sagemaker_call(call: Call, p: dict[str, Any]) -> list[Access]:
    if ("sagemaker", call.operation) in _NO_RESOURCE_TYPES:
        return [Access(call.action, "*")]
    if call.operation in ("ListTags", "AddTags", "DeleteTags"):
        return [Access(call.action, str(p["ResourceArn"]))]
    if call.operation not in _SAGEMAKER_RESOURCE:
        raise Unmapped(call.action)
    kind, param = _SAGEMAKER_RESOURCE[call.operation]
    resource = _sagemaker(kind, str(p[param]))
    out = [Access(call.action, resource)]
    if call.operation in _ALSO_ON_CONFIG:
        out.append(Access(call.action, _sagemaker("endpoint-config", str(p["EndpointConfigName"]))))
    if call.operation.startswith("Create") and p.get("Tags"):
        out.append(Access("sagemaker:AddTags", resource, implied=True))
    role = p.get("ExecutionRoleArn") or p.get("RoleArn")
    if role:
        out.append(Access("iam:PassRole", str(role), (("iam:PassedToService", "sagemaker.amazonaws.com"),), True))
    return out


def _runtime(call: Call, p: dict[str, Any]) -> list[Access]:
    if call.operation not in ("InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"):
        raise Unmapped(f"sagemaker-runtime:{call.operation}")
    return [Access(f"sagemaker:{call.operation}", _sagemaker("endpoint", str(p["EndpointName"])))]


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _dynamodb(call: Call, p: dict[str, Any]) -> list[Access]:
    op = call.operation
    if op == "TransactWriteItems":
        # IAM authorises each item's own action (there is no dynamodb:TransactWriteItems).
        return [
            Access(f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"]))
            for item in p["TransactItems"]
            for kind, body in item.items()
        ]
    if op == "TransactGetItems":
        return [Access("dynamodb:GetItem", _table(i["Get"]["TableName"])) for i in p["TransactItems"]]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Access(call.action, _table(name)) for name in p["RequestItems"]]
    if "TableName" not in p:
        raise Unmapped(call.action)
    table = _table(p["TableName"])
    if op in ("Query", "Scan") and p.get("IndexName"):
        return [Access(call.action, f"{table}/index/{p['IndexName']}")]
    return [Access(call.action, table)]


def _ssm(call: Call, p: dict[str, Any]) -> list[Access]:
    names = p.get("Names") or [p.get("Name") or p.get("Path")]
    if not names or names == [None]:
        raise Unmapped(call.action)
    return [Access(call.action, _arn("ssm", f"parameter/{str(n).lstrip('/')}")) for n in names]


def _cloudwatch(call: Call, p: dict[str, Any]) -> list[Access]:
    if ("cloudwatch", call.operation) in _NO_RESOURCE_TYPES:
        return [Access(call.action, "*")]
    if call.operation in ("DescribeAlarms", "DeleteAlarms"):
        names = p.get("AlarmNames") or []
        if not names:
            return [Access(call.action, _arn("cloudwatch", "alarm:*"))]
        return [Access(call.action, _arn("cloudwatch", f"alarm:{n}")) for n in names]
    if call.operation == "PutMetricAlarm":
        return [Access(call.action, _arn("cloudwatch", f"alarm:{p['AlarmName']}"))]
    raise Unmapped(call.action)


def _autoscaling(call: Call, p: dict[str, Any]) -> list[Access]:
    if ("application-autoscaling", call.operation) in _NO_RESOURCE_TYPES:
        return [Access(call.action, "*")]
    if call.operation in (
        "RegisterScalableTarget",
        "DeregisterScalableTarget",
        "PutScalingPolicy",
        "DeleteScalingPolicy",
    ):
        # Scalable-target ARNs end in an id AWS assigns; the request names the target by
        # namespace, resource id and dimension, which IAM sees as condition keys.
        conditions = (
            ("application-autoscaling:service-namespace", str(p["ServiceNamespace"])),
            ("application-autoscaling:scalable-dimension", str(p["ScalableDimension"])),
        )
        out = [Access(call.action, _arn("application-autoscaling", "scalable-target/assigned-by-aws"), conditions)]
        tracking = call.operation == "DeleteScalingPolicy" or (
            call.operation == "PutScalingPolicy" and p.get("PolicyType") == "TargetTrackingScaling"
        )
        if tracking:
            # "Permissions required for API actions on target services and CloudWatch" (Application
            # Auto Scaling user guide): a target tracking policy's alarms are created and deleted
            # with the caller's permissions (a DeleteScalingPolicy may name one: assumed it does).
            alarm = _arn("cloudwatch", f"alarm:TargetTracking-{p['ResourceId']}-AlarmHigh-assigned-by-aws")
            verbs = ("PutMetricAlarm", "DescribeAlarms") if call.operation == "PutScalingPolicy" else ("DeleteAlarms",)
            out += [Access(f"cloudwatch:{verb}", alarm, implied=True) for verb in verbs]
        return out
    raise Unmapped(call.action)


def _s3(call: Call, p: dict[str, Any]) -> list[Access]:
    op, bucket = call.operation, p.get("Bucket", "")
    if op in ("ListObjectsV2", "ListObjects"):
        conditions = (("s3:prefix", str(p.get("Prefix", ""))),)
        return [Access("s3:ListBucket", f"arn:{PARTITION}:s3:::{bucket}", conditions)]
    object_actions = {"GetObject": "GetObject", "HeadObject": "GetObject", "PutObject": "PutObject"}
    object_actions |= {"DeleteObject": "DeleteObject", "CopyObject": "PutObject"}
    if op not in object_actions:
        raise Unmapped(call.action)
    return [Access(f"s3:{object_actions[op]}", f"arn:{PARTITION}:s3:::{bucket}/{p.get('Key', '')}")]


def _sns(call: Call, p: dict[str, Any]) -> list[Access]:
    if call.operation != "Publish" or "TopicArn" not in p:
        raise Unmapped(call.action)
    return [Access(call.action, str(p["TopicArn"]))]


def _events(call: Call, p: dict[str, Any]) -> list[Access]:
    if call.operation != "PutEvents":
        raise Unmapped(call.action)
    found = []
    for entry in p.get("Entries", []):
        bus = str(entry.get("EventBusName") or "default")
        conditions = (
            ("events:source", str(entry.get("Source", ""))),
            ("events:detail-type", str(entry.get("DetailType", ""))),
        )
        found.append(
            Access(call.action, bus if bus.startswith("arn:") else _arn("events", f"event-bus/{bus}"), conditions)
        )
    return found


def _sqs(call: Call, p: dict[str, Any]) -> list[Access]:
    if "QueueUrl" not in p:
        raise Unmapped(call.action)
    name = urlparse(str(p["QueueUrl"])).path.rstrip("/").rsplit("/", 1)[-1]
    return [Access(call.action, _arn("sqs", name))]


def _logs(call: Call, p: dict[str, Any]) -> list[Access]:
    # Service Authorization Reference (CloudWatch Logs): FilterLogEvents on the log-group, whose
    # ARN ends in ":*" (issue 17: the endpoint containers' log group).
    if call.operation != "FilterLogEvents":
        raise Unmapped(call.action)
    return [Access(call.action, _arn("logs", f"log-group:{p['logGroupName']}:*"))]


def _servicequotas(call: Call, p: dict[str, Any]) -> list[Access]:
    if ("servicequotas", call.operation) not in _NO_RESOURCE_TYPES:
        raise Unmapped(call.action)
    return [Access(call.action, "*")]


_MAPPERS = {
    "sagemaker": _sagemaker_call,
    "dynamodb": _dynamodb,
    "ssm": _ssm,
    "cloudwatch": _cloudwatch,
    "application-autoscaling": _autoscaling,
    "s3": _s3,
    "sns": _sns,
    "events": _events,
    "sqs": _sqs,
    "servicequotas": _servicequotas,
    "logs": _logs,
}


# --- the translated template, resolved for one deployment -------------------------------------------


class Evaluator:
    """Policies of the functions in a translated template, for one set of parameter values.

    ``names`` maps logical ids to physical names (a table's name, a topic's ARN, ...), learnt
    from the environment the functions were given: the template says TABLE_NAME is
    ``!Ref RolloutTable``, the sandbox says TABLE_NAME is ``sagemaker-rollout-sandbox``.
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, str], names: dict[str, str]) -> None:
        self.template = template
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.parameters = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "sagemaker-rollout-sandbox",
            "AWS::NoValue": "",
            **parameters,
        }
        self.names = names
        self.account = str(self.parameters["AWS::AccountId"])  # the deployment's (a chain: its stack's)

    # intrinsic functions
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):  # a list item that is AWS::NoValue is left out
            return [r for r in (self.resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if len(value) != 1:
            return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._attribute(logical, attribute)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub_var(m.group(1), variables)), text)
        if fn == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no)
        if fn == "Fn::Join":
            sep, parts = arg
            return sep.join(str(p) for p in self.resolve(parts))
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if fn == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        return {fn: self.resolve(arg)}

    def condition(self, name_or_expr: Any) -> bool:
        expr = self.template.get("Conditions", {})[name_or_expr] if isinstance(name_or_expr, str) else name_or_expr
        ((fn, args),) = expr.items()
        if fn == "Condition":
            return self.condition(args)
        if fn == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.condition(args[0])
        if fn == "Fn::And":
            return all(self.condition(a) for a in args)
        if fn == "Fn::Or":
            return any(self.condition(a) for a in args)
        raise ValueError(f"condition function {fn}")

    def _sub_var(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name and not name.startswith("AWS::"):
            logical, attribute = name.split(".", 1)
            return self._attribute(logical, attribute)
        return self._ref(name)

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.names:
            return self.names[name]
        if name in self.template.get("Parameters", {}):
            default = self.template["Parameters"][name].get("Default")
            if default is not None:
                return str(default)
            raise KeyError(f"no value for parameter {name}")
        resource = self.resources.get(name, {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{self.account}:policy/{name}"
        return f"{{{name}}}"  # a resource the functions are not told about: matches nothing real

    def _attribute(self, logical: str, attribute: str) -> str:
        if attribute != "Arn":
            return f"{{{logical}.{attribute}}}"
        if f"{logical}.Arn" in self.names:
            return self.names[f"{logical}.Arn"]
        kind = self.resources.get(logical, {}).get("Type", "")
        name = self._ref(logical)
        account = self.account
        arns = {
            "AWS::DynamoDB::Table": lambda: _arn("dynamodb", f"table/{name}", account=account),
            "AWS::SQS::Queue": lambda: _arn("sqs", str(name).rsplit("/", 1)[-1], account=account),
            "AWS::SNS::Topic": lambda: str(name),
            "AWS::S3::Bucket": lambda: f"arn:{PARTITION}:s3:::{name}",
            "AWS::Lambda::Function": lambda: _arn("lambda", f"function:{name}", account=account),
            "AWS::IAM::Role": lambda: f"arn:{PARTITION}:iam::{account}:role/{name}",
            "AWS::Events::EventBus": lambda: _arn("events", f"event-bus/{name}", account=account),
        }
        return arns.get(kind, lambda: f"{{{logical}.Arn}}")()

    # policies
    def statements(self, function: str) -> tuple[list[Statement], list[str]]:
        """The statements of ``function``'s role, and the AWS managed policy ARNs attached to it."""
        props = self.resources[function]["Properties"]
        role_ref = props.get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise ValueError(f"{function}: its role is not a role of this template ({role_ref})")
        role = role_ref["Fn::GetAtt"][0]
        role_props = self.resources[role]["Properties"]
        statements: list[Statement] = []
        aws_managed: list[str] = []
        for policy in role_props.get("Policies", []):
            statements += self._document(f"{role}/{policy['PolicyName']}", policy["PolicyDocument"])
        for ref in role_props.get("ManagedPolicyArns", []):
            if isinstance(ref, dict) and "Ref" in ref and ref["Ref"] in self.resources:
                managed = self.resources[ref["Ref"]]
                statements += self._document(ref["Ref"], managed["Properties"]["PolicyDocument"])
            else:
                aws_managed.append(str(self.resolve(ref)))
        return statements, aws_managed

    def managed_policy(self, logical_id: str) -> list[Statement]:
        """The statements of one of the template's customer managed policies."""
        return self._document(logical_id, self.resources[logical_id]["Properties"]["PolicyDocument"])

    def _document(self, source: str, document: dict[str, Any]) -> list[Statement]:
        return statements_of(source, self.resolve(document))

    def holders(self, source: str) -> list[str]:
        """The functions whose roles carry the customer managed policy ``source``."""
        found = []
        for logical, resource in self.resources.items():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            role = resource["Properties"].get("Role", {}).get("Fn::GetAtt", [None])[0]
            arns = self.resources.get(role, {}).get("Properties", {}).get("ManagedPolicyArns", [])
            if {"Ref": source} in arns:
                found.append(logical)
        return found


def environment_names(
    template: dict[str, Any], function: str, env: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(physical names by logical id, parameter values) learnt from ``function``'s environment.

    A variable defined as ``!Ref X`` names resource X (or is parameter X); ``!GetAtt X.Arn`` is
    X's ARN; ``!Sub "/a/${P}/b"`` reveals parameter P from the value it was given.
    """
    variables = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    resource = template["Resources"].get(function, {})
    variables.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    names: dict[str, str] = {}
    parameters: dict[str, str] = {}
    declared = template.get("Parameters", {})
    for var, expr in variables.items():
        if var not in env or not isinstance(expr, dict):
            continue
        if "Ref" in expr:
            (parameters if expr["Ref"] in declared else names)[expr["Ref"]] = env[var]
        elif "Fn::GetAtt" in expr:
            logical, attribute = (
                expr["Fn::GetAtt"] if isinstance(expr["Fn::GetAtt"], list) else expr["Fn::GetAtt"].split(".", 1)
            )
            names[f"{logical}.{attribute}"] = env[var]
        elif "Fn::Sub" in expr and isinstance(expr["Fn::Sub"], str):
            pattern = re.escape(expr["Fn::Sub"])
            keys = re.findall(r"\\\$\\\{([A-Za-z0-9]+)\\\}", pattern)
            regex = re.sub(r"\\\$\\\{[A-Za-z0-9]+\\\}", "(.+?)", pattern)
            match = re.fullmatch(regex, env[var])
            if match:
                for key, value in zip(keys, match.groups(), strict=True):
                    if key in declared:
                        parameters[key] = value
    return names, parameters
