"""Users' traffic on the sandbox's real-time endpoints, and SageMaker's per-variant metrics of it.

SageMaker publishes, per minute, in AWS/SageMaker with dimensions EndpointName and VariantName
("Amazon SageMaker AI metrics in Amazon CloudWatch", endpoint invocation metrics):
- ``Invocations``: the InvokeEndpoint requests sent to the variant (Sum);
- ``Invocation4XXErrors`` / ``Invocation5XXErrors``: "For each 4xx [5xx] response, 1 is sent;
  otherwise, 0 is sent" (so Sum is the count and Average the rate);
- ``ModelLatency`` and ``OverheadLatency``, in microseconds, one value per request;
- nothing for a variant that had no request in the minute.

Users' requests: ``rps`` x 60 a minute on every real-time endpoint that is InService or
Updating, split across its production variants by their current weight (how SageMaker
distributes traffic: "based on the variant weights", InvokeEndpoint API reference); each
request of a variant fails (5XX) with its ``error_rate`` (every request, when its container
is made to fail: the JobsSimulator's ``failing_variants``), and its model latency is drawn from
a log-normal distribution with median ``latency_ms``. Direct InvokeEndpoint calls (the
inference API, the smoke test) are counted in the minute they are made (``record``).
Everything is seeded by (endpoint, variant, minute): a scenario run twice sees the same data.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from moto.sagemaker.models import SageMakerModelBackend

from .cloudwatch_ext import MetricStore

NAMESPACE = "AWS/SageMaker"
LATENCY_STEP_US = 100  # latencies are kept to 0.1 ms (fewer distinct values, same percentiles)


@dataclass(frozen=True)
class VariantProfile:
    error_rate: float = 0.0
    latency_ms: float = 100.0
    latency_sigma: float = 0.2  # of the log-normal: ~20 % spread
    overhead_ms: float = 5.0


@dataclass
class _Minute:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    model_latency: dict[float, float] = field(default_factory=lambda: defaultdict(float))
    overhead: dict[float, float] = field(default_factory=lambda: defaultdict(float))


Profile = Callable[[str, str], VariantProfile]  # (endpoint, variant) -> how it behaves


class TrafficSimulator:
    def __init__(
        self,
        store: MetricStore,
        clock: Callable[[], datetime],
        rps: float = 20.0,
        profile: Profile | None = None,
        failing: Callable[[str, str], int | None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.rps = rps
        self.profile: Profile = profile or (lambda endpoint, variant: VariantProfile())
        self.failing = failing or (lambda endpoint, variant: None)  # -> the container's error status
        self.user_requests: dict[tuple[str, str], int] = defaultdict(int)  # (endpoint, variant) -> requests
        self.direct: dict[tuple[str, str], int] = defaultdict(int)  # (endpoint, variant) -> InvokeEndpoint calls
        self._pending: dict[tuple[str, str, datetime], _Minute] = {}
        self._next: datetime | None = None  # the next minute to publish

    def record(self, endpoint: str, variant: str, status: int) -> float:
        """A direct InvokeEndpoint call answered with ``status``: counted in this minute's metrics.
        Returns how long it took, in seconds (model latency and overhead)."""
        with self.store.lock:  # one lock with the metric store: a read's catch-up publishes
            now = self.clock()
            minute = _floor(now)
            entry = self._pending.setdefault((endpoint, variant, minute), _Minute())
            calls = self.direct[(endpoint, variant)]
            self.direct[(endpoint, variant)] = calls + 1
            rng = random.Random(f"direct:{endpoint}:{variant}:{calls}")
            profile = self.profile(endpoint, variant)
            return (self._add(entry, profile, rng, status) + profile.overhead_ms * 1000) / 1e6

    def advance(self, *backends: SageMakerModelBackend) -> None:
        """Publish every whole minute up to now: users' requests on the endpoints as they are
        (of every account's backend given: the stacks of a world)."""
        with self.store.lock:  # concurrent reads each catch up: one publishes, the others wait
            now = _floor(self.clock())
            if self._next is None:
                self._next = now
            while self._next < now:
                for backend in backends:
                    self._users(backend, self._next)
                self._publish(self._next)
                self._next += timedelta(minutes=1)

    # --- inside ---------------------------------------------------------------------------

    def _users(self, backend: SageMakerModelBackend, minute: datetime) -> None:
        if self.rps <= 0:
            return
        for name, endpoint in backend.endpoints.items():
            if endpoint.endpoint_status not in ("InService", "Updating"):
                continue
            config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
            if config is not None and getattr(config, "async_inference_config", None):
                continue  # no real-time traffic on an async endpoint
            weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in endpoint.production_variants}
            for variant, count in _split(round(self.rps * 60), weights).items():
                if count == 0:
                    continue
                self.user_requests[(name, variant)] += count
                entry = self._pending.setdefault((name, variant, minute), _Minute())
                profile = self.profile(name, variant)
                rng = random.Random(f"users:{name}:{variant}:{minute.isoformat()}")
                failing = self.failing(name, variant)
                for _ in range(count):
                    status = failing or (500 if rng.random() < profile.error_rate else 200)
                    self._add(entry, profile, rng, status)

    @staticmethod
    def _add(entry: _Minute, profile: VariantProfile, rng: random.Random, status: int) -> float:
        """One request in the minute's metrics; returns its model latency (microseconds)."""
        entry.requests += 1
        entry.errors_4xx += 400 <= status < 500
        entry.errors_5xx += status >= 500
        latency = rng.lognormvariate(math.log(profile.latency_ms * 1000), profile.latency_sigma)
        entry.model_latency[round(latency / LATENCY_STEP_US) * LATENCY_STEP_US] += 1
        entry.overhead[round(profile.overhead_ms * 1000)] += 1
        return latency

    def _publish(self, minute: datetime) -> None:
        for key in [k for k in self._pending if k[2] <= minute]:
            endpoint, variant, at = key
            entry = self._pending.pop(key)
            dims = {"EndpointName": endpoint, "VariantName": variant}
            ok = entry.requests
            metrics: dict[str, dict[float, float]] = {
                "Invocations": {1.0: ok},
                "Invocation4XXErrors": {1.0: entry.errors_4xx, 0.0: ok - entry.errors_4xx},
                "Invocation5XXErrors": {1.0: entry.errors_5xx, 0.0: ok - entry.errors_5xx},
                "ModelLatency": dict(entry.model_latency),
                "OverheadLatency": dict(entry.overhead),
            }
            for name, values in metrics.items():
                self.store.publish(NAMESPACE, name, dims, at, values={v: c for v, c in values.items() if c})


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` requests by weight, whole numbers adding up to ``total`` (largest remainders)."""
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        return dict.fromkeys(weights, 0)
    exact = {v: total * w / weight_sum for v, w in weights.items()}
    counts = {v: math.floor(x) for v, x in exact.items()}
    left = total - sum(counts.values())
    for v in sorted(exact, key=lambda v: (exact[v] - counts[v], v), reverse=True)[:left]:
        counts[v] += 1
    return counts


def _floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)
