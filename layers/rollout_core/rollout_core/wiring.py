"""Build the service from the Lambda environment (one set of clients per cold start)."""

from __future__ import annotations

import dataclasses
import os
from functools import cache
from typing import Any

from .aws.alarms import AlarmGateway
from .aws.autoscaling import AutoscalingGateway
from .aws.clients import client, realtime_runtime_client, smoke_runtime_client
from .aws.job_store import JobStore
from .aws.logs import ContainerLogs
from .aws.metrics import MetricsGateway
from .aws.notify import Notifier
from .aws.quotas import QuotaGateway
from .aws.runtime import RuntimeGateway
from .aws.sagemaker import AsyncSettings, SageMakerGateway
from .aws.samples import SmokeRunner
from .aws.storage import Storage
from .aws.store import RolloutStore
from .aws.targets import TargetRepository
from .aws.transform import TransformGateway
from .job_service import JobService
from .judging import Judges
from .operations import Operations
from .service import RolloutService


@cache
def aws_client(service: str) -> Any:
    """One client per service and execution environment, shared by every builder below (and by
    the idempotency persistence layer): each extra client costs cold-start time."""
    return client(service)


def async_settings() -> AsyncSettings | None:
    """From JOBS_BUCKET, ASYNC_SUCCESS_TOPIC_ARN, ASYNC_ERROR_TOPIC_ARN (None when unset)."""
    bucket = os.environ.get("JOBS_BUCKET")
    if not bucket:
        return None
    return AsyncSettings(
        output_s3_uri=f"s3://{bucket}/outputs/async/",
        failure_s3_uri=f"s3://{bucket}/outputs/async-failures/",
        success_topic_arn=os.environ["ASYNC_SUCCESS_TOPIC_ARN"],
        error_topic_arn=os.environ["ASYNC_ERROR_TOPIC_ARN"],
    )


def origin() -> dict[str, str]:
    """This stack's environment, account and region (ENVIRONMENT, ACCOUNT_ID, AWS_REGION)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    return {
        "environment": os.environ.get("ENVIRONMENT", ""),
        "account": os.environ.get("ACCOUNT_ID", ""),
        "region": region,
    }


def notifier() -> Notifier | None:
    """SNS topic NOTIFICATIONS_TOPIC_ARN and custom events on EVENT_BUS_NAME (default bus)."""
    topic = os.environ.get("NOTIFICATIONS_TOPIC_ARN") or None
    bus = os.environ.get("EVENT_BUS_NAME", "default")
    return Notifier(aws_client("sns"), aws_client("events"), topic, bus, origin())


@cache
def rollout_service() -> RolloutService:
    """Environment: TABLE_NAME, TARGETS_PREFIX, SAGEMAKER_EXECUTION_ROLE_ARN, ALARM_NAME_PREFIX (+ async settings)."""
    return RolloutService(
        store=RolloutStore(aws_client("dynamodb"), os.environ["TABLE_NAME"]),
        sagemaker=SageMakerGateway(
            aws_client("sagemaker"), os.environ["SAGEMAKER_EXECUTION_ROLE_ARN"], async_settings()
        ),
        alarms=AlarmGateway(aws_client("cloudwatch")),
        autoscaling=AutoscalingGateway(aws_client("application-autoscaling"), aws_client("cloudwatch")),
        targets=TargetRepository(aws_client("ssm"), os.environ["TARGETS_PREFIX"]),
        notifier=notifier(),
        quotas=QuotaGateway(aws_client("service-quotas"), aws_client("sagemaker")),
        alarm_prefix=os.environ.get("ALARM_NAME_PREFIX", ""),
        logs=ContainerLogs(aws_client("logs")),
    )


@cache
def controller_service() -> RolloutService:
    """The rollout controller's service: rollout_service() that also judges the candidate (a
    bake's metrics, the smoke test). Environment: as rollout_service(), plus
    SAMPLE_PAYLOAD_BUCKET (the one bucket sample payloads are read from; empty: none)."""
    service = rollout_service()
    judges = Judges(
        metrics=MetricsGateway(aws_client("cloudwatch")),
        runner=SmokeRunner(
            service.sagemaker,
            aws_client("s3"),
            smoke_runtime_client,
            os.environ.get("SAMPLE_PAYLOAD_BUCKET") or None,
        ),
    )
    return dataclasses.replace(service, judges=judges)  # the same gateways, plus the judges


@cache
def metrics_gateway() -> MetricsGateway:
    """CloudWatch GetMetricData (doctor: the inference API's request metrics)."""
    return MetricsGateway(aws_client("cloudwatch"))


@cache
def job_service() -> JobService:
    """Environment: TABLE_NAME, TARGETS_PREFIX, JOBS_BUCKET."""
    table = os.environ["TABLE_NAME"]
    sagemaker = aws_client("sagemaker")
    dynamodb = aws_client("dynamodb")
    return JobService(
        jobs=JobStore(dynamodb, table, int(os.environ.get("JOB_RETENTION_DAYS", "7"))),
        rollouts=RolloutStore(dynamodb, table),
        targets=TargetRepository(aws_client("ssm"), os.environ["TARGETS_PREFIX"]),
        sagemaker=SageMakerGateway(sagemaker, os.environ.get("SAGEMAKER_EXECUTION_ROLE_ARN", "")),
        # InvokeEndpointAsync (job dispatcher) keeps the shared client's retries.
        runtime=RuntimeGateway(aws_client("sagemaker-runtime")),
        transform=TransformGateway(sagemaker),
        storage=Storage(aws_client("s3")),
        bucket=os.environ["JOBS_BUCKET"],
        notifier=notifier(),
    )


@cache
def runtime_gateway() -> RuntimeGateway:
    """The real-time route's InvokeEndpoint: one attempt, read timeout under API Gateway's."""
    return RuntimeGateway(realtime_runtime_client())


@cache
def operations() -> Operations:
    """The rollout API's service: listing, live views, commands, manual starts."""
    service = rollout_service()
    return Operations(
        service=service, sagemaker=service.sagemaker, alarms=service.alarms, environment=origin()["environment"]
    )
