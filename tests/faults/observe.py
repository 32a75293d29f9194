"""What a faulted run reports (``Outcome``), and the state the harness compares runs by.

``snapshot()`` is everything the future of a scenario depends on, compared minute by minute
with the fault-free run to decide that a faulted run has *converged* (tests/faults/harness.py).
It compares contents, not names: the rollouts as stored (histories aside), the endpoint's
variants with their weights and instance counts, every endpoint config's variants (model,
instance type and count, weight), every model's container and role, the pending SageMaker
transitions, the scaling targets and policies, and the milestones announced so far.
``rollout_states()`` is what a call's *position* knows of the rollouts (see harness.position).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rollout_core.models import Rollout
from sandbox.calls import Call
from sandbox.stack import ACCOUNT, REGION, TABLE, Sandbox

# SageMaker calls that change something: each must be accepted at most once per argument set.
MUTATING = frozenset(
    {
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "DeleteEndpoint",
        "DeleteEndpointConfig",
        "DeleteModel",
    }
)
_READS = ("Describe", "List", "Get", "Query", "Scan", "BatchGet")


def mutating(action: str) -> bool:
    """A call that changes something somewhere (a write to the store, an endpoint change, a
    scaling target, an announcement): the crash matrix must fault each at least once."""
    return not action.split(":", 1)[1].startswith(_READS)


@dataclass
class Injected:
    kind: str
    index: int  # the k of "the k-th AWS call of the product"
    action: str  # e.g. sagemaker:UpdateEndpoint
    function: str | None
    position: list[Any]  # see harness.position
    attempts: int = 0  # HTTP attempts the client made for it (retries included)
    status: int | None = None
    sleeps: int = 0  # back-offs botocore slept before giving up


@dataclass
class Outcome:
    scenario: str
    phases: dict[str, str]  # package label -> phase
    reasons: dict[str, str]
    unsettled: list[str]
    endpoint: dict[str, Any] | None  # status, config, weights {variant: %}, models {variant: model}
    serving_label: str | None
    candidates: dict[str, dict[str, str]]  # label -> variant, model, rollout id
    models: list[str]  # this tool's models (by name prefix)
    configs: list[str]  # this tool's endpoint configs
    config_created: dict[str, float]  # config name -> creation order
    endpoint_changes: list[list[str]]  # EndpointSimulator.calls
    accepted: list[list[str]]  # successful mutating SageMaker calls: [operation, identity]
    locks: dict[str, str]  # lock item -> the rollout that holds it
    minutes: int
    scaling: dict[str, Any] = field(default_factory=dict)  # resource id -> {min, max, policies}
    announced: list[str] = field(default_factory=list)  # distinct milestones announced (announcements)
    # Right after each crash, before Lambda's retry: {"locks": {lock: owner}, "phases": {rollout id: phase}}
    after_crash: list[dict[str, dict[str, str]]] = field(default_factory=list)
    crashes: int = 0
    redeliveries: int = 0
    failed_invocations: int = 0
    injected: Injected | None = None
    converged_at: int | None = None  # minute at which the state was the baseline's again
    error: str | None = None  # the harness itself failed in a child
    seconds: float = 0.0  # how long the faulted run took
    candidate_alarms: list[str] = field(default_factory=list)  # the candidates' own alarms that exist

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @staticmethod
    def broken(scenario: str, injected: Injected | None, error: str) -> Outcome:
        return Outcome(scenario, {}, {}, [], None, None, {}, [], [], {}, [], [], {}, 0, injected=injected, error=error)

    @staticmethod
    def from_json(text: str) -> Outcome:
        data = json.loads(text)
        injected = data.pop("injected")
        return Outcome(**data, injected=None if injected is None else Injected(**injected))


def identity(call: Call) -> str:
    """What a mutating SageMaker call acts on and asks for (two equal ones are the same change)."""
    p = call.params
    if call.operation == "UpdateEndpointWeightsAndCapacities":
        weights = sorted((w["VariantName"], w.get("DesiredWeight")) for w in p.get("DesiredWeightsAndCapacities", []))
        return f"EndpointName={p.get('EndpointName')} {weights}"
    keys = ("EndpointName", "EndpointConfigName", "ModelName")
    return " ".join(f"{k}={p[k]}" for k in keys if k in p)


def accepted(calls: Sequence[Call]) -> list[list[str]]:
    return [[c.operation, identity(c)] for c in calls if c.ok and c.operation in MUTATING]


def announced(calls: Sequence[Call]) -> list[str]:
    """The distinct milestones SNS and EventBridge accepted so far (a set: announcements are
    at least once, so a crash between publishing and clearing the outbox may repeat one)."""
    found = set()
    for c in calls:
        if not c.ok:
            continue
        if c.action == "sns:Publish":
            found.add(json.dumps(["sns", c.params.get("Subject"), c.params.get("Message")]))
        elif c.action == "events:PutEvents":
            found |= {json.dumps(["events", e.get("DetailType"), e.get("Detail")]) for e in c.params["Entries"]}
    return sorted(found)


def scaling_state() -> dict[str, Any]:
    """Scalable targets and their policies, by resource id (contents; ARNs are random)."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    backend = applicationautoscaling_backends[ACCOUNT][REGION]
    out: dict[str, Any] = {}
    for dimension, targets in backend.targets.items():
        for rid, target in targets.items():
            out[rid] = {
                "dimension": dimension,
                "min": target.min_capacity,
                "max": target.max_capacity,
                "policies": [],
            }
    for policy in backend.policies.values():
        entry = out.setdefault(policy.resource_id, {"dimension": None, "min": None, "max": None, "policies": []})
        entry["policies"].append([policy.policy_name, policy.policy_type, policy._policy_body])
    for entry in out.values():
        entry["policies"].sort(key=lambda p: json.dumps(p, sort_keys=True, default=str))
    return out


def _stored_rollouts() -> Iterator[Rollout]:
    from moto.dynamodb.models import dynamodb_backends

    for item in dynamodb_backends[ACCOUNT][REGION].get_table(TABLE).all_items():
        attrs = item.to_json()["Attributes"]
        if attrs["sk"]["S"] == "ROLLOUT":
            yield Rollout.model_validate_json(attrs["body"]["S"])


def locks_and_phases() -> dict[str, dict[str, str]]:
    """The endpoint locks (lock -> owner) and every rollout's phase, as stored now."""
    from moto.dynamodb.models import dynamodb_backends

    out: dict[str, dict[str, str]] = {"locks": {}, "phases": {}}
    for item in dynamodb_backends[ACCOUNT][REGION].get_table(TABLE).all_items():
        attrs = item.to_json()["Attributes"]
        if attrs["sk"]["S"] == "LOCK":
            out["locks"][attrs["pk"]["S"]] = attrs["rollout_id"]["S"]
    for rollout in _stored_rollouts():
        out["phases"][rollout.rollout_id] = rollout.phase.value
    return out


def rollout_states(endpoint_name: str) -> tuple[str, ...]:
    """What a call's position knows of the state an invocation starts from: whether the
    endpoint exists (a baseline to go back to) and has autoscaling, and each unsettled rollout:
    its phase, the outcome it pursues (ROLLING_BACK), whether it has a baseline, carries
    autoscaling, or has clean-up left."""
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints.get(endpoint_name)
    scaled = any(rid.startswith(f"endpoint/{endpoint_name}/") for rid in scaling_state())
    states = ["no endpoint" if endpoint is None else "endpoint" + (" autoscaled" if scaled else "")]
    for r in sorted(_stored_rollouts(), key=lambda r: r.created_at):
        if r.settled:
            continue
        words = [r.phase.value if r.outcome is None else f"{r.phase.value}->{r.outcome.value}"]
        words.append("first" if r.baseline is None else "baseline")
        if r.autoscaling is not None:
            words.append("autoscaling" + (" suspended" if r.autoscaling_suspended else ""))
        if r.finishing:
            words.append("finishing")
        states.append(" ".join(words))
    return tuple(states)


def snapshot(sandbox: Sandbox, calls: Sequence[Call]) -> str:
    """Everything the future of the scenario depends on (rollout histories aside).

    Read from moto's backends directly (it runs after every simulated minute, so it must be
    cheap); the harness never writes through them.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.sagemaker.models import sagemaker_backends

    items = []
    for item in dynamodb_backends[ACCOUNT][REGION].get_table(TABLE).all_items():
        attrs = item.to_json()["Attributes"]
        if attrs["sk"]["S"] == "ROLLOUT":
            rollout = Rollout.model_validate_json(attrs["body"]["S"])
            items.append(rollout.model_dump(mode="json", exclude={"history", "updated_at", "version"}))
        else:  # locks, idempotency records (their expiry times are wall-clock: left out)
            items.append({k: v for k, v in attrs.items() if k not in ("expiration", "in_progress_expiration")})
    sm = sagemaker_backends[ACCOUNT][REGION]
    endpoints: dict[str, list[Any]] = {  # production_variants: weights and instance counts
        name: [ep.endpoint_status, ep.endpoint_config_name, ep.failure_reason, ep.last_modified_time]
        for name, ep in sm.endpoints.items()
    }
    for name, ep in sm.endpoints.items():
        endpoints[name].append(ep.production_variants)
    pending = {
        name: [str(t.due), t.kind, t.config_name, t.weights, t.failure]
        for name, (_, t) in sandbox.simulator.pending.items()
    }
    state = {
        "items": sorted(json.dumps(i, sort_keys=True, default=str) for i in items),
        "endpoints": endpoints,
        "pending": pending,
        "models": {name: [m.execution_role_arn, m.primary_container] for name, m in sm._models.items()},
        "configs": {name: [c.production_variants, c.async_inference_config] for name, c in sm.endpoint_configs.items()},
        "scaling": scaling_state(),
        "announced": announced(calls),
    }
    return json.dumps(state, sort_keys=True, default=str)


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page[key]
