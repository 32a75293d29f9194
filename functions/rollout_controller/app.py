"""Rollout controller: endpoint state changes, guard alarm changes and a schedule advance rollouts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout_core.events import AlarmEvent, ControllerEvent, EndpointEvent
from rollout_core.wiring import controller_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Events only say *when* to look: every decision reads DescribeEndpoint/DescribeAlarms
    # itself, so duplicated, late or reordered events cannot move a rollout the wrong way.
    # Parser takes the discriminated union (it wraps any type in a TypeAdapter); its stubs want a class.
    trigger = parse(event=event, model=ControllerEvent)  # type: ignore[call-overload]
    service = controller_service()
    if isinstance(trigger, EndpointEvent):
        rollouts = service.advance_live(endpoint_name=trigger.detail.EndpointName)
    elif isinstance(trigger, AlarmEvent):
        state = trigger.detail.state
        fired = {trigger.detail.alarmName: (state.timestamp, state.reason)} if state.value == "ALARM" else {}
        rollouts = service.advance_live(alarm_name=trigger.detail.alarmName, fired=fired)
    else:
        rollouts = service.advance_live()
    return {"rollouts": [{"rollout_id": r.rollout_id, "phase": r.phase.value} for r in rollouts]}
