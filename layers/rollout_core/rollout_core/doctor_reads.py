"""`doctor ENDPOINT`: the facts doctor.py judges, read through the service's gateways.

Read-only: DescribeEndpoint/DescribeEndpointConfig (the serving variants), the target (SSM), the
quota pre-flight's reads (aws/quotas.py), DescribeScalableTargets/DescribeScalingPolicies per
variant, DescribeAlarms for the target's guard alarms, and the store's FAILED rollouts of the
endpoint, and the inference API's own request sizes and 413s of the last day (one GetMetricData,
request_metrics.py; a read that fails leaves them unknown).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from . import preflight, request_metrics
from .aws.metrics import MetricsGateway
from .doctor import Facts, ScalingPolicy, VariantScaling
from .models import Phase, Rollout
from .service import RolloutService

FAILED_WITHIN = timedelta(days=7)  # "recent" failed updates
MAX_ROLLOUTS = 500  # rollouts scanned for the endpoint's recent failures
logger = Logger(child=True)


def read_facts(
    service: RolloutService, endpoint_name: str, now: datetime, metrics: MetricsGateway | None = None
) -> Facts | None:
    """The facts about ``endpoint_name``; None when it does not exist. ``metrics``: where the
    inference API's request metrics are read (None: not read)."""
    described = service.sagemaker.describe_endpoint(endpoint_name)
    if described is None:
        return None
    facts = Facts(endpoint=endpoint_name)
    baseline = service.sagemaker.baseline(described).variant
    target = service.targets.find_by_endpoint(endpoint_name)
    if target is not None and baseline is not None and service.quotas is not None:
        need = preflight.peak_need(target, baseline, baseline.instance_count)
        facts.need = need
        facts.quotas = service.quotas.read(need).quotas
    for variant in described.get("ProductionVariants", []):
        name = variant["VariantName"]
        snapshot = service.autoscaling.snapshot(endpoint_name, name)
        if snapshot is None:
            facts.scaling.append(VariantScaling(variant=name, registered=False))
            continue
        policies = [
            ScalingPolicy(
                name=p["PolicyName"],
                policy_type=p["PolicyType"],
                scale_in_cooldown=(p.get("TargetTrackingScalingPolicyConfiguration") or {}).get("ScaleInCooldown"),
                alarms=[a["AlarmName"] for a in snapshot.alarms.get(p["PolicyName"], [])],
            )
            for p in snapshot.policies
        ]
        facts.scaling.append(
            VariantScaling(
                variant=name,
                registered=True,
                min_capacity=snapshot.min_capacity,
                max_capacity=snapshot.max_capacity,
                policies=policies,
            )
        )
    if target is not None:
        states = service.alarms.states(target.guard_alarms)
        facts.guard_alarms = {name: states.get(name) for name in target.guard_alarms}
    if described.get("FailureReason"):
        facts.failed_updates.append(f"the endpoint says: {described['FailureReason']}")
    facts.failed_updates += [f"rollout {r.rollout_id}: {r.reason}" for r in _failed(service, endpoint_name, now)]
    if metrics is not None:
        _requests(facts, metrics, endpoint_name, now)
    return facts


def _requests(facts: Facts, metrics: MetricsGateway, endpoint_name: str, now: datetime) -> None:
    """The inference API's largest request and 413s of the last day (request_metrics.py)."""
    if os.environ.get("REALTIME_LIMIT_BYTES"):
        facts.realtime_limit_bytes = int(os.environ["REALTIME_LIMIT_BYTES"])
    try:
        data = metrics.read(request_metrics.last_day(endpoint_name, now))
    except (ClientError, BotoCoreError):  # advice only: the other checks still report
        logger.warning("could not read the inference API's request metrics", exc_info=True)
        return
    facts.largest_request_bytes, facts.requests_413 = request_metrics.summary(data)


def _failed(service: RolloutService, endpoint_name: str, now: datetime) -> list[Rollout]:
    found: list[Rollout] = []
    token = None
    scanned = 0
    while scanned < MAX_ROLLOUTS:
        page, token = service.store.page(100, token, endpoint_name, Phase.FAILED.value)
        scanned += 100
        found += [r for r in page if now - r.updated_at <= FAILED_WITHIN]
        if token is None:
            break
    return sorted(found, key=lambda r: r.updated_at, reverse=True)[:5]
