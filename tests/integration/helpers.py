"""Helpers for the moto integration tests."""

from __future__ import annotations

from typing import Any

import boto3

from rollout_core.models import Rollout
from sandbox.stack import REGION, TABLE, Sandbox


def rollouts() -> list[Rollout]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    items = ddb.scan(TableName=TABLE, FilterExpression="sk = :r", ExpressionAttributeValues={":r": {"S": "ROLLOUT"}})
    return sorted((Rollout.model_validate_json(i["body"]["S"]) for i in items["Items"]), key=lambda r: r.created_at)


def rollout_for(package_arn: str) -> Rollout:
    return next(r for r in rollouts() if r.model_package_arn == package_arn)


def register(stack: Sandbox, count: int) -> list[str]:
    """Register ``count`` package versions; the third is the one the sample events name."""
    return [stack.register_package("churn-model") for _ in range(count)]


def approved_event(arn: str, base: dict[str, Any]) -> dict[str, Any]:
    event = {**base, "detail": {**base["detail"], "ModelPackageArn": arn, "ModelApprovalStatus": "Approved"}}
    event["resources"] = [arn]
    return event


def serving(stack: Sandbox) -> dict[str, int] | None:
    return stack.endpoint_weights("churn-endpoint")
