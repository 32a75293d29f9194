"""What CloudFormation makes of a (SAM-translated) template for given parameter values.

- ``deployed``: the resources whose Condition holds, with every Fn::If decided and
  ``AWS::NoValue`` dropped (as CloudFormation does before it creates anything);
- ``dependencies``: what a resource waits for. CloudFormation orders creation by DependsOn and
  by every Ref / Fn::GetAtt / ${X} in Fn::Sub anywhere in the resource, Metadata included
  (CloudFormation User Guide, "DependsOn attribute": "resources that reference ... are created
  after"; the Metadata form is the usual way to make a dependency conditional, since DependsOn
  takes no intrinsic functions).
"""

from __future__ import annotations

import re
from typing import Any

Template = dict[str, Any]
NO_VALUE = {"Ref": "AWS::NoValue"}


def parameter_values(template: Template, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The template's defaults with ``overrides`` on top (all as strings, as CloudFormation passes them)."""
    defaults = {name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p}
    return {**defaults, **(overrides or {})}


def condition(template: Template, name_or_expr: Any, parameters: dict[str, str]) -> bool:
    """Evaluate a named condition or a condition expression (Equals, Not, And, Or, Condition)."""
    expr = template["Conditions"][name_or_expr] if isinstance(name_or_expr, str) else name_or_expr
    ((fn, args),) = expr.items()
    if fn == "Condition":
        return condition(template, args, parameters)
    if fn == "Fn::Equals":
        left, right = (str(_value(a, parameters)) for a in args)
        return left == right
    if fn == "Fn::Not":
        return not condition(template, args[0], parameters)
    if fn == "Fn::And":
        return all(condition(template, a, parameters) for a in args)
    if fn == "Fn::Or":
        return any(condition(template, a, parameters) for a in args)
    raise ValueError(f"unsupported condition function {fn}")


def _value(arg: Any, parameters: dict[str, str]) -> Any:
    if isinstance(arg, dict) and set(arg) == {"Ref"}:
        return parameters[arg["Ref"]]
    return arg


def decide(template: Template, value: Any, parameters: dict[str, str]) -> Any:
    """``value`` with every Fn::If decided; AWS::NoValue removed from mappings and lists."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return decide(template, when_true if condition(template, name, parameters) else when_false, parameters)
        out = {}
        for key, inner in value.items():
            decided = decide(template, inner, parameters)
            if decided != NO_VALUE:
                out[key] = decided
        return out
    if isinstance(value, list):
        return [d for d in (decide(template, v, parameters) for v in value) if d != NO_VALUE]
    return value


def deployed(template: Template, parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for the resources CloudFormation creates with these parameters."""
    return {
        logical_id: decide(template, resource, parameters)
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or condition(template, resource["Condition"], parameters)
    }


def refs(value: Any) -> set[str]:
    """Logical ids and parameters a value names (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                names = set(re.findall(r"\$\{([^}!]+)\}", text))
                local = set(inner[1]) if isinstance(inner, list) and len(inner) > 1 else set()
                found |= {n.split(".")[0] for n in names - local}
                found |= refs(inner[1:] if isinstance(inner, list) else [])
            else:
                found |= refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs(inner)
    return found


def direct_dependencies(resources: dict[str, dict[str, Any]], logical_id: str) -> set[str]:
    resource = resources[logical_id]
    depends = resource.get("DependsOn", [])
    named = {depends} if isinstance(depends, str) else set(depends)
    body = {k: v for k, v in resource.items() if k != "DependsOn"}
    return (named | refs(body)) - {logical_id}


def dependencies(resources: dict[str, dict[str, Any]], logical_id: str) -> set[str]:
    """Every resource ``logical_id`` waits for, directly or through others."""
    seen: set[str] = set()
    todo = [logical_id]
    while todo:
        for dep in direct_dependencies(resources, todo.pop()) & set(resources):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def dangling(template: Template, resources: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Resources that name something neither deployed, nor a parameter, nor a pseudo parameter."""
    known = set(resources) | set(template.get("Parameters", {}))
    found = {}
    for logical_id in resources:
        missing = {n for n in direct_dependencies(resources, logical_id) if not n.startswith("AWS::")} - known
        if missing:
            found[logical_id] = missing
    return found
