"""Model approval: SageMaker Model Package State Change -> start or abort a rollout."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout_core.events import ModelPackageEvent
from rollout_core.wiring import aws_client, rollout_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# SageMaker may send one state change several times with different event ids, so the
# idempotency key is the business key: package ARN + approval status + the time the registry
# recorded the change (a package approved, rejected, then approved again is a new approval).
# EventBridge retries for up to 24 h, hence the expiry.
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="detail.[ModelPackageArn, ModelApprovalStatus, LastModifiedTime]",
    expires_after_seconds=24 * 3600,
    raise_on_no_idempotency_key=True,
)


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse(event=event, model=ModelPackageEvent).detail
    logger.append_keys(model_package_arn=change.ModelPackageArn, group=change.ModelPackageGroupName)
    service = rollout_service()
    rollouts = []
    if not change.approval_changed:
        # An edit of the package (description, metadata, lifecycle stage) is not an approval:
        # an old approved version must never roll out again because someone edited it.
        logger.info("package updated, approval unchanged; ignored", extra={"fields": change.UpdatedModelPackageFields})
    elif change.ModelApprovalStatus == "Approved":
        approved = service.approve(change.ModelPackageGroupName, change.ModelPackageArn, change.LastModifiedTime)
        rollouts = [approved] if approved else []
    elif change.ModelApprovalStatus == "Rejected":
        rollouts = service.reject(change.ModelPackageArn)
    else:
        logger.info("approval status needs no action", extra={"status": change.ModelApprovalStatus})
    return {"rollouts": [{"rollout_id": r.rollout_id, "phase": r.phase.value} for r in rollouts]}


@cache
def _idempotent_handle() -> Any:
    # Built on first use, not at import: the persistence layer creates its client at init.
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["TABLE_NAME"],
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value="IDEMPOTENCY#model-approval",
        boto3_client=aws_client("dynamodb"),  # the rollout store's client (same table)
    )
    return idempotent(config=IDEMPOTENCY, persistence_store=persistence)(handle)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result: dict[str, Any] = _idempotent_handle()(event, context)
    return result
