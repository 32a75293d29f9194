"""Targets live in SSM Parameter Store, one JSON parameter per model package group."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..models import Target
from .clients import error_code


class TargetRepository:
    """``{prefix}/{model_package_group}`` holds the group's Target as JSON."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._ssm = client
        self._prefix = prefix.rstrip("/")

    def parameter_name(self, model_package_group: str) -> str:
        return f"{self._prefix}/{model_package_group}"

    def get(self, model_package_group: str) -> Target | None:
        """The group's target, or None when the group has none. Invalid JSON raises."""
        try:
            value = self._ssm.get_parameter(Name=self.parameter_name(model_package_group))["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc)[0] == "ParameterNotFound":
                return None
            raise
        target = Target.model_validate_json(value)
        if target.model_package_group != model_package_group:
            raise ValueError(f"{self.parameter_name(model_package_group)} names group {target.model_package_group!r}")
        return target

    def find_by_endpoint(self, endpoint_name: str) -> Target | None:
        """The target whose real-time (or async) endpoint is ``endpoint_name``."""
        paginator = self._ssm.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=self._prefix, Recursive=False):
            for parameter in page["Parameters"]:
                target = Target.model_validate_json(parameter["Value"])
                if endpoint_name in (target.endpoint_name, target.inference.async_endpoint_name):
                    return target
        return None
