"""Promotion: an upstream environment's Rollout Started / Rollout Succeeded -> wait, then roll out here.

Only in stacks that follow another environment (RolloutSource after:<environment>). No
Powertools idempotency record is needed: a duplicate Rollout Succeeded maps to the same
WAITING rollout id (the upstream's rollout id is part of it) and the store's conditional write
refuses a second one; a duplicate Rollout Started cancels nothing twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout_core import promotion_service
from rollout_core.events import UpstreamMilestoneEvent
from rollout_core.wiring import rollout_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    milestone = parse(event=event, model=UpstreamMilestoneEvent)
    logger.append_keys(
        model_package_arn=milestone.detail.model_package_arn,
        upstream=milestone.detail.environment,
        upstream_rollout_id=milestone.detail.rollout_id,
    )
    rollouts = promotion_service.on_upstream(rollout_service(), milestone)
    return {"rollouts": [{"rollout_id": r.rollout_id, "phase": r.phase.value} for r in rollouts]}
