"""A small model of one SageMaker endpoint, for driving the pure state machine in unit tests.

It follows the documented behaviour the adapters rely on: updates put the endpoint in
Updating (or Creating), complete later, and a failed update leaves the previous
configuration InService with a FailureReason. It only interprets the core's actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rollout_core import analysis, decisions, errors, history, machine, naming, shadow, smoke
from rollout_core.canary_models import MetricData, MetricRequest, RunSmokeTest, SmokeResult
from rollout_core.models import (
    Action,
    AlarmState,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteCandidateAlarms,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    EndpointView,
    Notification,
    Observations,
    Phase,
    PutCandidateAlarms,
    Rollout,
    Target,
    UpdateCapacity,
    UpdateEndpoint,
    UpdateWeights,
    VariantSpec,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BASELINE = VariantSpec(variant_name="AllTraffic", model_name="churn-v1", instance_type="ml.m5.large", instance_count=1)


class TransientError(Exception):
    code = "ThrottlingException"


@dataclass
class Traffic:
    """One variant's traffic per minute, as SageMaker's per-variant metrics would show it."""

    invocations: int = 1000
    errors: int = 0  # Invocation5XXErrors
    latency_ms: float = 100.0  # ModelLatency (the statistic asked for), before a small per-minute wobble

    def value(self, metric: str, minute: int) -> float | None:
        if self.invocations == 0:
            return None  # SageMaker publishes nothing for a variant without invocations
        wobble = 1 + ((minute * 7919) % 11 - 5) / 1000
        return {
            "Invocations": float(self.invocations),
            "Invocation5XXErrors": float(self.errors),
            "Invocation4XXErrors": 0.0,
            "ModelLatency": self.latency_ms * 1000 * wobble,
        }.get(metric)


@dataclass
class World:
    now: datetime = T0
    exists: bool = True
    status: str = "InService"
    config: str = "original"
    weights: dict[str, float] = field(default_factory=lambda: {BASELINE.variant_name: 1.0})
    instances: dict[str, int] = field(default_factory=lambda: {BASELINE.variant_name: BASELINE.instance_count})
    last_modified: datetime = T0 - timedelta(days=1)
    failure_reason: str | None = None
    configs: dict[str, list[tuple[VariantSpec, int]]] = field(default_factory=lambda: {"original": [(BASELINE, 100)]})
    models: set[str] = field(default_factory=lambda: {BASELINE.model_name})
    shadow_configs: dict[str, list[tuple[VariantSpec, int]]] = field(default_factory=dict)  # ShadowProductionVariants
    shadows: dict[str, int] = field(default_factory=dict)  # the endpoint's shadow variant -> instances
    alarms: dict[str, AlarmState] = field(default_factory=dict)
    alarm_since: dict[str, datetime] = field(default_factory=dict)  # StateUpdatedTimestamp per alarm
    pending: tuple[str, object, bool] | None = None  # (kind, payload, fails) done at the next complete()
    fail_next: bool = False
    fail_status: str = "InService"  # where a failed update leaves the endpoint (a create: Failed)
    errors_next: list[str | tuple[str, str]] = field(default_factory=list)  # code or (code, message) of the next calls
    calls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # milestones announced, in order
    announced: list[Notification] = field(default_factory=list)  # the same, in full
    # Judging (issue 12): the shell can judge; what the smoke test finds; per-variant traffic.
    judging: bool = True
    smoke_result: SmokeResult = field(default_factory=lambda: SmokeResult(outcome="skipped", reason="no sample"))
    smoke_tests: int = 0  # RunSmokeTest actions carried out
    baseline_traffic: Traffic = field(default_factory=Traffic)
    candidate_traffic: Traffic = field(default_factory=Traffic)
    metric_reads: list[MetricRequest] = field(default_factory=list)

    @classmethod
    def empty(cls) -> World:
        return cls(exists=False, configs={}, models=set(), weights={}, config="", instances={})

    def view(self) -> EndpointView | None:
        if not self.exists:
            return None
        return EndpointView(
            status=self.status,
            config_name=self.config,
            weights=dict(self.weights),
            last_modified=self.last_modified,
            failure_reason=self.failure_reason,
            instances=dict(self.instances),
            shadows=dict(self.shadows),
        )

    def observe(self, rollout: Rollout) -> Observations:
        ep = self.view()
        serving = None
        if rollout.phase is Phase.PENDING and ep is not None and ep.status == "InService":
            top = max(self.weights, key=lambda v: self.weights[v])
            spec = next(spec for spec, _ in self.configs[self.config] if spec.variant_name == top)
            serving = spec.model_copy(update={"instance_count": self.instances.get(top, spec.instance_count)})
        metrics = None
        wanted = (
            (analysis.request(rollout, self.now) or shadow.request_metrics(rollout, self.now)) if self.judging else None
        )
        if wanted is not None:
            self.metric_reads.append(wanted)
            metrics = self.metrics(rollout, wanted)
        return Observations(
            endpoint=ep,
            alarms=dict(self.alarms),
            alarm_since=dict(self.alarm_since),
            serving_variant=serving,
            judging=self.judging,
            metrics=metrics,
        )

    def metrics(self, rollout: Rollout, wanted: MetricRequest) -> MetricData:
        """What GetMetricData would return for the request, from the traffic model."""
        series: dict[str, list[tuple[datetime, float]]] = {}
        minutes = int((wanted.end - wanted.start).total_seconds() // 60)
        for query in wanted.queries:
            is_candidate = query.dimensions.get("VariantName") in (
                rollout.candidate.variant_name,
                naming.shadow_variant_name(rollout.rollout_id),  # the candidate as the shadow
            )
            traffic = self.candidate_traffic if is_candidate else self.baseline_traffic
            points = []
            for m in range(minutes):
                value = traffic.value(query.metric_name, m)
                if value is not None:
                    points.append((wanted.start + timedelta(minutes=m), value))
            series[query.id] = points
        return MetricData(start=wanted.start, end=wanted.end, series=series)

    # --- actions --------------------------------------------------------------------------

    def apply(self, action: Action) -> None:
        self.calls.append(action.kind)
        if isinstance(action, RunSmokeTest):
            self.smoke_tests += 1
            return
        if self.errors_next:
            item = self.errors_next.pop(0)
            code, message = item if isinstance(item, tuple) else (item, item)
            err = TransientError(message)
            err.code = code
            raise err
        if isinstance(action, PutCandidateAlarms):  # a new alarm starts INSUFFICIENT_DATA
            for name in action.alarms.values():
                self.alarms.setdefault(name, AlarmState.INSUFFICIENT_DATA)
        elif isinstance(action, DeleteCandidateAlarms):
            for name in action.names:
                self.alarms.pop(name, None)
        elif isinstance(action, CreateModel):
            self.models.add(action.model_name)
        elif isinstance(action, CreateEndpointConfig):
            assert all(spec.model_name in self.models for spec, _ in action.variants + action.shadow_variants)
            if action.shadow_variants:  # one production and one shadow variant (CreateEndpointConfig)
                assert len(action.variants) == 1 and len(action.shadow_variants) == 1
                assert 0 < action.shadow_variants[0][1] <= action.variants[0][1]
                self.shadow_configs.setdefault(action.config_name, action.shadow_variants)
            self.configs.setdefault(action.config_name, action.variants)
        elif isinstance(action, CreateEndpoint):
            assert not self.exists, "CreateEndpoint on an existing endpoint"
            self.exists, self.status, self.config, self.weights = True, "Creating", "", {}
            self._start("create", action.config_name)
        elif isinstance(action, UpdateEndpoint):
            self._require_in_service()
            assert action.config_name in self.configs
            self.status = "Updating"
            self._start("config", action.config_name)
        elif isinstance(action, UpdateWeights):
            self._require_in_service()
            assert set(action.weights) <= set(self.weights)
            self.status = "Updating"
            self._start("weights", dict(action.weights))
        elif isinstance(action, UpdateCapacity):
            self._require_in_service()
            assert action.variant_name in self.weights
            self.status = "Updating"
            self._start("capacity", {action.variant_name: action.instance_count})
        elif isinstance(action, DeleteEndpoint):
            self.exists, self.pending = False, None
        elif isinstance(action, DeleteEndpointConfig):
            assert action.config_name != self.config or not self.exists, "deleting the config in use"
            self.configs.pop(action.config_name, None)
            self.shadow_configs.pop(action.config_name, None)
        elif isinstance(action, DeleteModel):
            in_use = {
                s.model_name for s, _ in self.configs.get(self.config, []) + self.shadow_configs.get(self.config, [])
            }
            assert action.model_name not in in_use or not self.exists, "deleting a model in use"
            self.models.discard(action.model_name)

    def _require_in_service(self) -> None:
        assert self.exists and self.status == "InService", f"update sent to a {self.status} endpoint"

    def _start(self, kind: str, payload: object) -> None:
        self.last_modified = self.now
        self.pending = (kind, payload, self.fail_next)
        self.fail_next = False

    def complete(self) -> None:
        if self.pending is None or not self.exists:
            return
        kind, payload, fail = self.pending
        self.pending = None
        self.last_modified = self.now
        if fail:
            self.failure_reason = "simulated failure"
            self.status = "Failed" if kind == "create" else self.fail_status
            return
        self.failure_reason = None
        self.status = "InService"
        if kind in ("create", "config"):
            self.config = str(payload)
            self.weights = {spec.variant_name: float(w) for spec, w in self.configs[self.config]}
            self.instances = {spec.variant_name: spec.instance_count for spec, _ in self.configs[self.config]}
            self.shadows = {
                spec.variant_name: spec.instance_count for spec, _ in self.shadow_configs.get(self.config, [])
            }
        elif kind == "capacity":
            assert isinstance(payload, dict)
            self.instances.update(payload)
        else:
            assert isinstance(payload, dict)
            self.weights.update({k: float(v) for k, v in payload.items()})

    def serving_models(self) -> dict[str, int]:
        """model name -> percent of traffic."""
        ep = self.view()
        if ep is None:
            return {}
        by_variant = {spec.variant_name: spec.model_name for spec, _ in self.configs.get(self.config, [])}
        return {by_variant[v]: p for v, p in ep.percentages.items() if p > 0}


def _declared(before: Rollout, after: Rollout) -> Rollout:
    """Every change of phase a test sees must be one machine.TRANSITIONS (and the docs) declare."""
    if after.phase is not before.phase:
        allowed = set(machine.TRANSITIONS.get(before.phase, frozenset()))
        if Phase.ROLLING_BACK in allowed:  # a rollback can start and end within one decision
            allowed |= machine.TRANSITIONS[Phase.ROLLING_BACK]
        assert after.phase in allowed, (before.phase, after.phase)
    return after


def step(world: World, rollout: Rollout, *, crash: bool = False) -> Rollout:
    """One decision and its actions, as the shell does it (errors folded back in)."""
    return _declared(rollout, _step(world, rollout, crash=crash))


def _step(world: World, rollout: Rollout, *, crash: bool = False) -> Rollout:
    decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
    if crash:
        return decided  # the process died after saving, before any action
    for action in actions:
        try:
            world.apply(action)
        except TransientError as exc:
            return errors.on_action_error(decided, action, exc.code, str(exc), world.now)
        if isinstance(action, RunSmokeTest):  # the shell folds what it found into the rollout
            decided = smoke.finished(decided, world.smoke_result, world.now)
    world.notes += [n.milestone for n in decided.outbox]  # the shell publishes, then clears
    world.announced += decided.outbox
    decided = history.announced(decided)
    return decisions.finished(decided, world.now) if decided.finishing else decided


def target(steps: list[int] | None = None, bake: int = 300, alarms: list[str] | None = None, **plan: object) -> Target:
    return Target.model_validate(
        {
            "model_package_group": "churn-model",
            "endpoint_name": "churn",
            "instance_type": "ml.m5.large",
            "plan": {"steps": steps or [10, 50, 100], "bake_seconds": bake, **plan},
            "guard_alarms": alarms if alarms is not None else ["churn-5xx"],
        }
    )


PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/2"
