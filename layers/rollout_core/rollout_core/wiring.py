"""Build the service from the Lambda environment (one set of clients per cold start)."""

from __future__ import annotations

import os
from functools import cache

from .aws.alarms import AlarmGateway
from .aws.autoscaling import AutoscalingGateway
from .aws.clients import client
from .aws.sagemaker import SageMakerGateway
from .aws.store import RolloutStore
from .aws.targets import TargetRepository
from .service import RolloutService


@cache
def rollout_service() -> RolloutService:
    """Environment: TABLE_NAME, TARGETS_PREFIX, SAGEMAKER_EXECUTION_ROLE_ARN."""
    return RolloutService(
        store=RolloutStore(client("dynamodb"), os.environ["TABLE_NAME"]),
        sagemaker=SageMakerGateway(client("sagemaker"), os.environ["SAGEMAKER_EXECUTION_ROLE_ARN"]),
        alarms=AlarmGateway(client("cloudwatch")),
        autoscaling=AutoscalingGateway(client("application-autoscaling")),
        targets=TargetRepository(client("ssm"), os.environ["TARGETS_PREFIX"]),
    )
