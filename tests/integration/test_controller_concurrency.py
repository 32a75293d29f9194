"""The controller tick decides endpoints concurrently, DECISION_WORKERS at a time (issue 14).

Each controller call here waits 50 ms before moto answers it (a botocore before-send hook), so
calls that overlap in time were in flight together, as against a real AWS.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from botocore.awsrequest import AWSResponse

from rollout_core import rollout_metrics
from rollout_core.aws.clients import RETRY_CONFIG
from rollout_core.decision_pool import DECISION_WORKERS
from rollout_core.models import Phase
from sandbox.calls import BaseListener, Call, error_response, hooks
from sandbox.stack import Sandbox
from tests.conftest import SAMPLE_TARGET

from .helpers import rollout_for, rollouts

CONTROLLER = "RolloutControllerFunction"
ENDPOINTS = 3


class _InFlight(BaseListener):
    """Counts the controller's calls in flight at once; each takes ``seconds``."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.actions: list[str] = []
        self.threads: set[str] = set()
        self.deny: str | None = None  # an endpoint whose DescribeEndpoint is refused

    def on_call(self, call: Call) -> None:
        if call.function == CONTROLLER:
            with self.lock:
                self.actions.append(call.action)

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.function != CONTROLLER:
            return None
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
        if call.operation == "DescribeEndpoint" and call.params.get("EndpointName") == self.deny:
            return error_response(call, 400, "AccessDeniedException", "not authorized")
        return None


@pytest.fixture
def baking(stack: Sandbox) -> tuple[Sandbox, list[str]]:
    """ENDPOINTS endpoints, each with a second version baking at its first step."""
    seconds: dict[str, list[str]] = {}
    for n in range(ENDPOINTS):
        group = f"churn-model-{n}"
        target = SAMPLE_TARGET.model_copy(update={"model_package_group": group, "endpoint_name": f"churn-endpoint-{n}"})
        stack.put_target(target.model_dump_json(), group)
        seconds[group] = [stack.register_package(group) for _ in range(2)]
        stack.set_approval(seconds[group][0], "Approved")
    stack.advance(180)
    for first, second in seconds.values():
        assert rollout_for(first).phase is Phase.SUCCEEDED
        stack.set_approval(second, "Approved")
    stack.advance(360)
    live = [r for r in rollouts() if not r.settled]
    assert len(live) == ENDPOINTS and {r.phase for r in live} == {Phase.BAKING}
    return stack, [second for _, second in seconds.values()]


def _tick(stack: Sandbox, workers: int | None = None) -> tuple[_InFlight, list[dict[str, str]]]:
    from rollout_core.wiring import controller_service

    stack.tick()  # the clients exist (a cold start is not what is measured)
    if workers is not None:
        controller_service().decision_workers = workers  # the controller's own, with the judges
    listener = hooks.subscribe(_InFlight())
    try:
        deliveries = stack.tick()
    finally:
        hooks.unsubscribe(listener)
    assert deliveries[0].error is None, deliveries[0].error
    return listener, deliveries[0].result["rollouts"]


def test_a_tick_reads_and_decides_endpoints_concurrently_within_its_pool(baking):
    stack, _ = baking
    listener, decided = _tick(stack)
    assert len(decided) == ENDPOINTS
    assert listener.most == ENDPOINTS  # each rollout's GetItem, then each DescribeEndpoint, together
    # The same 3N + 2 calls as one after another: each baking rollout's decision is judged on
    # its worker (the canary analysis's one GetMetricData).
    per_rollout = ["dynamodb:GetItem", "sagemaker:DescribeEndpoint", "cloudwatch:GetMetricData"]
    assert sorted(listener.actions) == sorted(["dynamodb:Query", "cloudwatch:DescribeAlarms"] + per_rollout * ENDPOINTS)
    listener, decided = _tick(stack, workers=2)
    assert listener.most == 2 and len(decided) == ENDPOINTS
    listener, decided = _tick(stack, workers=1)
    assert listener.most == 1 and len(decided) == ENDPOINTS
    assert len(listener.threads) == 1  # no pool at all: the handler's own thread


def test_one_rollouts_trouble_does_not_hold_back_the_others(baking, monkeypatch):
    stack, seconds = baking
    counted: list[str] = []
    monkeypatch.setattr(rollout_metrics, "count", counted.append)
    before = {arn: rollout_for(arn) for arn in seconds}
    stack.now += timedelta(seconds=SAMPLE_TARGET.plan.bake_seconds)  # every rollout is due to move on
    listener = _InFlight()
    listener.deny = "churn-endpoint-1"
    hooks.subscribe(listener)
    try:
        deliveries = stack.tick()
    finally:
        hooks.unsubscribe(listener)
    assert deliveries[0].error is None
    phases = {r["rollout_id"]: r["phase"] for r in deliveries[0].result["rollouts"]}
    assert counted.count("RolloutDecisionErrors") == 1, counted
    denied = rollout_for(seconds[1])
    assert denied == before[seconds[1]] and phases[denied.rollout_id] == "BAKING"  # untouched, retried next tick
    for arn in (seconds[0], seconds[2]):
        assert rollout_for(arn).step_index > before[arn].step_index  # decided despite the other's error


def test_the_clients_keep_a_connection_for_every_worker():
    # botocore opens a connection beyond max_pool_connections and drops it after the call.
    pool: int | None = getattr(RETRY_CONFIG, "max_pool_connections", None)  # not in botocore's stubs
    assert pool is not None and pool >= DECISION_WORKERS > 1
