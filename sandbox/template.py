"""Read template.yaml as the sandbox needs it: parameters, the table, and which rule feeds which function."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from moto.events.models import EventPattern, EventPatternParser

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags (!Ref, !Sub, ...) as their long form."""


def _construct(tag: str) -> Any:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"  # !Condition X is {"Condition": X}

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "Base64",
    "Cidr",
    "GetAZs",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as fh:
        loaded: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)
    return loaded


@dataclass(frozen=True)
class Route:
    """One EventBridge rule (or schedule) of the template and the function it invokes."""

    function: str  # logical id
    event: str  # the event's name under the function's Events
    pattern: dict[str, Any]
    topic_arn: str | None = None  # an SNS subscription instead of a rule

    def matches(self, event: dict[str, Any]) -> bool:
        if self.topic_arn is not None:
            records = event.get("Records") or [{}]
            return bool(records[0].get("Sns", {}).get("TopicArn") == self.topic_arn)
        if "detail-type" not in event:
            return False
        raw = json.dumps(self.pattern)
        return bool(EventPattern(raw, EventPatternParser(raw).parse()).matches_event(event))  # type: ignore[arg-type]


def _condition(name_or_expr: Any, template: dict[str, Any], parameters: dict[str, str]) -> bool:
    """Evaluate a CloudFormation condition (Fn::Equals/Not/And/Or, Condition references)."""
    expr = template.get("Conditions", {})[name_or_expr] if isinstance(name_or_expr, str) else name_or_expr
    ((fn, args),) = expr.items()
    if fn == "Condition":
        return _condition(args, template, parameters)
    if fn == "Fn::Equals":
        left, right = (_resolve(a, template, parameters) for a in args)
        return bool(left == right)
    if fn == "Fn::Not":
        return not _condition(args[0], template, parameters)
    if fn == "Fn::And":
        return all(_condition(a, template, parameters) for a in args)
    if fn == "Fn::Or":
        return any(_condition(a, template, parameters) for a in args)
    raise ValueError(f"unsupported condition {fn}")


_NO_VALUE = object()  # Ref AWS::NoValue: the property (or list item) is left out


def _resolve(value: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """Resolve Ref to parameters, Fn::Sub (both forms), Fn::If, Fn::Split, Fn::Select, Fn::Join
    and AWS::NoValue; anything else is kept as written."""
    if isinstance(value, dict):
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return re.sub(r"\$\{([\w:]+)\}", lambda m: str(parameters.get(m.group(1), m.group(0))), value["Fn::Sub"])
        if set(value) == {"Fn::Sub"}:  # the list form: [text, {variable: value, ...}]
            text, variables = value["Fn::Sub"]
            local = {k: str(_resolve(v, template, parameters)) for k, v in variables.items()}
            return _resolve({"Fn::Sub": text}, template, {**parameters, **local})
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            chosen = when_true if _condition(name, template, parameters) else when_false
            return _resolve(chosen, template, parameters)
        if set(value) == {"Fn::Split"}:
            separator, text = value["Fn::Split"]
            return str(_resolve(text, template, parameters)).split(separator)
        if set(value) == {"Fn::Select"}:
            index, items = value["Fn::Select"]
            return _resolve(items, template, parameters)[int(_resolve(index, template, parameters))]
        if set(value) == {"Fn::Join"}:
            separator, items = value["Fn::Join"]
            return separator.join(str(i) for i in _resolve(items, template, parameters))
        resolved = {k: _resolve(v, template, parameters) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (_resolve(v, template, parameters) for v in value) if v is not _NO_VALUE]
    return value


def resolve(value: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """``value`` of ``template`` with the intrinsics above resolved for ``parameters``."""
    return _resolve(value, template, parameters)


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p}


def routes(template: dict[str, Any], parameters: dict[str, str]) -> list[Route]:
    """EventBridge rules, schedules and SNS subscriptions of every function.

    ``parameters`` resolves Ref: template parameters, and the sandbox's names for resources
    (e.g. the jobs bucket, the topics' ARNs).
    """
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function" or not deployed(resource, template, parameters):
            continue
        for name, event in resource.get("Properties", {}).get("Events", {}).items():
            props = event.get("Properties", {})
            if event["Type"] == "EventBridgeRule":
                pattern = _resolve(props["Pattern"], template, parameters)
            elif event["Type"] == "Schedule":
                # A schedule rule invokes only its own target; its events name the rule.
                rule = _resolve(props.get("Name", name), template, parameters)
                arn = f"arn:aws:events:{parameters['AWS::Region']}:{parameters['AWS::AccountId']}:rule/{rule}"
                pattern = {"source": ["aws.events"], "detail-type": ["Scheduled Event"], "resources": [arn]}
            elif event["Type"] == "SNS":
                topic = _resolve(props["Topic"], template, parameters)
                found.append(Route(logical_id, name, {}, topic_arn=str(topic)))
                continue
            else:
                continue
            found.append(Route(logical_id, name, pattern))
    return found


def deployed(resource: dict[str, Any], template: dict[str, Any], parameters: dict[str, str]) -> bool:
    """The resource's Condition holds for ``parameters`` (or it has none)."""
    return "Condition" not in resource or _condition(resource["Condition"], template, parameters)


def table_definition(template: dict[str, Any], logical_id: str, name: str) -> dict[str, Any]:
    """CreateTable arguments from the template's AWS::DynamoDB::Table resource."""
    props = template["Resources"][logical_id]["Properties"]
    keep = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    return {"TableName": name, **{k: props[k] for k in keep if k in props}}


@dataclass(frozen=True)
class ApiRoute:
    """One Api event of a function: what API Gateway sends to it."""

    function: str
    method: str
    path: str  # e.g. /v1/jobs/{job_id}

    def matches(self, method: str, path: str) -> bool:
        pattern = "^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(self.path)) + "$"
        return self.method == method and re.match(pattern, path) is not None


def api_routes(template: dict[str, Any]) -> list[ApiRoute]:
    """Every Api event in the template; static paths first, as API Gateway prefers them."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                found.append(ApiRoute(logical_id, props["Method"].upper(), props["Path"]))
    return sorted(found, key=lambda r: r.path.count("{"))
