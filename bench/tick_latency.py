"""The controller tick with N live rollouts when every AWS call takes ``LATENCY`` seconds.

A real SageMaker, DynamoDB or CloudWatch call takes tens of milliseconds, spent elsewhere. moto
in-process answers fast but on this process's CPU, under the same GIL as the controller: with
it, threads would wait on moto, not on the network. So each level is recorded, then replayed:

1. a tick on moto, with every HTTP answer of the controller's clients recorded (botocore's
   ``after-call``), keyed by operation and parameters (a quiet tick only reads, so a second
   tick asks exactly the same questions);
2. ticks whose HTTP attempts are answered by a ``before-send`` hook with the recorded bytes,
   after sleeping ``LATENCY`` (the sleep releases the GIL, as a thread waiting on a socket
   does). Everything the function does itself runs for real: botocore's request building,
   signing, retries and parsing, the store, decide(), pydantic.

Each level is replayed with the controller's pool (``decision_pool.DECISION_WORKERS``) and with one
worker (the sequential tick) in the same run, which gives the speed-up.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.awsrequest import AWSResponse

from sandbox.calls import ANSWERED, _Raw, skip_answered_requests

LATENCY = 0.030  # seconds per AWS call
LEVELS = (1, 10, 100, 1000)
FUNCTION = "RolloutControllerFunction"
SERVICES = ("dynamodb", "sagemaker", "cloudwatch")  # the controller's clients on a quiet tick
_KEY = "bench_replay_key"


class Replay:
    """Records the answers of a client's calls, then answers the same calls after ``latency``."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.recording = False
        self.replaying = False
        self.calls = 0

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-call", self._before_call)
        client.meta.events.register("after-call", self._after_call)
        client.meta.events.register_first("before-send", self._before_send)  # ahead of moto's stubber

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-call", self._before_call)
        client.meta.events.unregister("after-call", self._after_call)
        client.meta.events.unregister("before-send", self._before_send)

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        context[_KEY] = f"{model.name} {json.dumps(params, sort_keys=True, default=str)}"

    def _after_call(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if self.recording:
            response = http_response
            self.answers[context[_KEY]] = (response.status_code, dict(response.headers), response.content)

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.replaying:
            return None
        status, headers, body = self.answers[request.context[_KEY]]  # KeyError: not a quiet tick
        time.sleep(self.latency)
        request.context[ANSWERED] = True  # botocore calls every before-send handler: moto must not answer
        return AWSResponse(request.url, status, headers, _Raw(body))  # type: ignore[arg-type]


def _tick(sandbox: Any, event: dict[str, Any], replay: Replay, workers: int | None = None) -> tuple[float, int]:
    from rollout_core.decision_pool import DECISION_WORKERS
    from rollout_core.wiring import controller_service
    from sandbox.stack import LambdaContext

    controller_service().decision_workers = workers or DECISION_WORKERS  # the controller's own (with judges)
    replay.calls = 0
    started = time.perf_counter()
    try:
        result = sandbox.handlers[FUNCTION](event, LambdaContext(FUNCTION))
    finally:
        controller_service().decision_workers = DECISION_WORKERS
    elapsed = time.perf_counter() - started
    assert all(r["phase"] == "BAKING" for r in result["rollouts"]), "not a quiet tick"
    return elapsed, len(result["rollouts"])


def tick_at_latency(levels: tuple[int, ...] = LEVELS, latency: float = LATENCY) -> dict[str, dict[str, Any]]:
    """{N: {"seconds", "sequential_seconds", "speedup", "calls", "workers"}}; one table, live
    rollouts added level by level (bench.__main__._seed), no finished ones (the other tick
    bench shows they cost nothing)."""
    from bench.__main__ import _seed
    from rollout_core.decision_pool import DECISION_WORKERS
    from rollout_core.wiring import aws_client
    from sandbox.stack import Sandbox

    out: dict[str, dict[str, Any]] = {}
    replay = Replay(latency)
    with Sandbox(update_seconds=60) as sandbox:
        sandbox.create_alarm("sagemaker-rollout-bench-5xx")
        event = sandbox.captured(sandbox.tick)[0]
        skip_answered_requests()
        seeded = 0
        for live in levels:
            _seed(sandbox, live - seeded, 0, first=seeded)
            seeded = live
            _tick(sandbox, event, replay)  # on moto: clients made, milestones of the new rollouts announced
            clients = [aws_client(service) for service in SERVICES]
            for client in clients:
                replay.attach(client)
            try:
                replay.recording, replay.answers = True, {}
                _tick(sandbox, event, replay)
                replay.recording, replay.replaying = False, True
                pooled, decided = _tick(sandbox, event, replay)
                calls = replay.calls
                sequential, _ = _tick(sandbox, event, replay, workers=1)
                assert replay.calls == calls, (replay.calls, calls)
            finally:
                replay.recording = replay.replaying = False
                for client in clients:
                    replay.detach(client)
            assert decided == live, (live, decided)
            out[str(live)] = {
                "seconds": round(pooled, 3),
                "sequential_seconds": round(sequential, 3),
                "speedup": round(sequential / pooled, 2),
                "calls": calls,
                "workers": min(DECISION_WORKERS, live),
            }
    return out


if __name__ == "__main__":  # a quick look: python -m bench.tick_latency 1 10 100
    import os
    import sys

    os.environ.setdefault("SANDBOX_LOG_LEVEL", "ERROR")
    print(json.dumps(tick_at_latency(tuple(int(a) for a in sys.argv[1:]) or LEVELS), indent=2))
