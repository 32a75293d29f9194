"""Instance-type fallbacks when SageMaker itself refuses the candidate's type (issue 17 item 2).

The pre-flight may pass (its reads failed, or the account changed since) and SageMaker then
answers ResourceLimitExceeded at once (CreateEndpoint / UpdateEndpoint API references, Errors).
"""

from __future__ import annotations

from datetime import timedelta

from rollout_core import changes, errors, machine, naming
from rollout_core.canary_models import ShadowPlan
from rollout_core.models import (
    Action,
    CreateEndpointConfig,
    DeleteEndpointConfig,
    EndpointView,
    Phase,
    Rollout,
    UpdateEndpoint,
)

from .test_fallbacks import GPU, gpu_target
from .test_preflight import observe
from .world import BASELINE, PACKAGE, T0

G5, G4_2X = "ml.g5.xlarge", "ml.g4dn.2xlarge"
CODE = "ResourceLimitExceeded"


def refusal(instance_type: str, used: int = 4) -> str:
    """SageMaker's words for a quota refusal."""
    return (
        f"The account-level service limit '{instance_type} for endpoint usage' is {used} Instances, with current "
        f"utilization of {used} Instances and a request delta of 1 Instances. Please use AWS Service Quotas to "
        "request an increase for this quota."
    )


def joining(*fallbacks: str) -> tuple[Rollout, list[Action]]:
    """A rollout whose candidate joins (the pre-flight read nothing), and the join's actions."""
    rollout = machine.new_rollout(gpu_target(*fallbacks), PACKAGE, T0)
    decided, actions = machine.decide(rollout, observe(), T0)
    assert decided.phase is Phase.PROVISIONING
    return decided, actions


def update_of(actions: list[Action]) -> UpdateEndpoint:
    return next(a for a in actions if isinstance(a, UpdateEndpoint))


def config_names(actions: list[Action]) -> list[str]:
    return [a.config_name for a in actions if isinstance(a, DeleteEndpointConfig)]


def test_a_refused_join_moves_the_candidate_to_the_next_type_with_configs_of_its_own():
    rollout, actions = joining(G5, G4_2X)
    assert update_of(actions).config_name == naming.rollout_config(rollout.endpoint_name, rollout.rollout_id)
    now = T0 + timedelta(seconds=1)
    moved = errors.on_action_error(rollout, update_of(actions), CODE, refusal(GPU), now)
    assert moved.phase is Phase.PROVISIONING  # not FAILED: another type is left
    assert moved.candidate.instance_type == G5 == moved.target.instance_type
    assert moved.target.instance_type_fallbacks == [G4_2X]
    assert moved.refused_types == [f"{GPU}: {refusal(GPU)}"]
    assert moved.desired_config == naming.rollout_config(rollout.endpoint_name, rollout.rollout_id, 1)
    assert moved.desired_config.endswith("-roll1") and moved.requested_at is None
    changed = [n for n in moved.outbox if n.milestone == "instance_type_changed"]
    assert len(changed) == 1 and f"{G5} instead of {GPU}: SageMaker refused it" in changed[0].message
    assert moved.history[-1].event == "instance type changed"
    # the next decision asks for the new type's config, under its own name (idempotent on retry)
    again, actions = machine.decide(moved, observe(), now + timedelta(seconds=60))
    created = next(a for a in actions if a.kind == "CreateEndpointConfig")
    assert created.config_name == moved.desired_config
    assert [spec.instance_type for spec, _ in created.variants] == [BASELINE.instance_type, G5]
    assert update_of(actions).config_name == moved.desired_config
    # stored and read back
    assert Rollout.model_validate_json(again.model_dump_json()).type_attempt == 1


def test_every_type_refused_fails_with_every_types_reason_and_cleans_up_every_config():
    rollout, actions = joining(G5)
    moved = errors.on_action_error(rollout, update_of(actions), CODE, refusal(GPU), T0)
    _, actions = machine.decide(moved, observe(), T0 + timedelta(seconds=60))
    failed = errors.on_action_error(moved, update_of(actions), CODE, refusal(G5, 0), T0 + timedelta(seconds=61))
    assert failed.phase is Phase.FAILED
    assert failed.reason.startswith(f"UpdateEndpoint failed: {CODE}: no instance type fits the quotas: [{GPU}: ")
    assert f"'{GPU} for endpoint usage' is 4" in failed.reason and f"'{G5} for endpoint usage' is 0" in failed.reason
    first, second = (naming.rollout_config(rollout.endpoint_name, rollout.rollout_id, n) for n in (0, 1))
    assert {first, second} <= set(config_names(failed.finishing))  # the refused type's config too


def test_a_refusal_naming_another_type_fails_as_before():
    """The baseline's own type short (its new fleet): another candidate type would not help."""
    rollout, actions = joining(G5)
    failed = errors.on_action_error(rollout, update_of(actions), CODE, refusal("ml.m5.large"), T0)
    assert failed.phase is Phase.FAILED and failed.refused_types == []
    assert failed.reason == f"UpdateEndpoint failed: {CODE}: {refusal('ml.m5.large')}"


def test_without_fallbacks_the_refusal_fails_the_rollout_in_sagemakers_words():
    rollout, actions = joining()
    failed = errors.on_action_error(rollout, update_of(actions), CODE, refusal(GPU), T0)
    assert failed.phase is Phase.FAILED and "no instance type fits" not in failed.reason


def test_a_first_deployment_refused_creates_the_endpoint_on_the_next_type():
    rollout = machine.new_rollout(gpu_target(G5), PACKAGE, T0)
    first = observe().model_copy(update={"endpoint": None, "serving_variant": None})
    decided, actions = machine.decide(rollout, first, T0)
    create = next(a for a in actions if a.kind == "CreateEndpoint")
    moved = errors.on_action_error(decided, create, CODE, refusal(GPU), T0)
    assert moved.phase is Phase.PROVISIONING and moved.candidate.instance_type == G5
    assert moved.desired_config == naming.final_config(rollout.endpoint_name, rollout.rollout_id, 1)
    _, actions = machine.decide(moved, first, T0 + timedelta(seconds=60))
    assert next(a for a in actions if a.kind == "CreateEndpoint").config_name == moved.desired_config
    # once in service: the refused type's config is among the finishing actions
    serving = EndpointView(
        status="InService",
        config_name=moved.desired_config,
        weights={moved.candidate.variant_name: 1.0},
        last_modified=T0 + timedelta(seconds=120),
        instances={},
    )
    sent = moved.model_copy(update={"requested_at": T0 + timedelta(seconds=60)})
    done, _ = machine.decide(sent, observe().model_copy(update={"endpoint": serving}), T0 + timedelta(seconds=180))
    assert done.phase is Phase.SUCCEEDED
    assert naming.final_config(rollout.endpoint_name, rollout.rollout_id) in config_names(done.finishing)


def shadowing(*fallbacks: str) -> tuple[Rollout, list[Action]]:
    """A rollout whose candidate joins as the shadow (issue 13), and that join's actions."""
    tgt = gpu_target(*fallbacks)
    plan = tgt.plan.model_copy(update={"shadow": ShadowPlan(sampling_percent=20, duration_seconds=600)})
    rollout = machine.new_rollout(tgt.model_copy(update={"plan": plan}), PACKAGE, T0)
    decided, actions = machine.decide(rollout, observe(), T0)
    assert decided.phase is Phase.SHADOWING
    return decided, actions


def test_a_refused_shadow_moves_the_candidate_to_the_next_type_with_a_shadow_config_of_its_own():
    rollout, actions = shadowing(G5)
    first = naming.shadow_config(rollout.endpoint_name, rollout.rollout_id)
    assert update_of(actions).config_name == first
    moved = errors.on_action_error(rollout, update_of(actions), CODE, refusal(GPU), T0)
    assert moved.phase is Phase.SHADOWING and moved.candidate.instance_type == G5
    assert moved.refused_types == [f"{GPU}: {refusal(GPU)}"]
    second = naming.shadow_config(rollout.endpoint_name, rollout.rollout_id, 1)
    assert moved.desired_config == second and moved.shadow is not None and moved.shadow.type_attempt == 1
    assert [n.milestone for n in moved.outbox if n.milestone == "instance_type_changed"] == ["instance_type_changed"]
    # the next decision asks for the new type's shadow config, the shadow on the new type
    _, actions = machine.decide(moved, observe(), T0 + timedelta(seconds=60))
    created = next(a for a in actions if isinstance(a, CreateEndpointConfig))
    assert created.config_name == second and update_of(actions).config_name == second
    assert [spec.instance_type for spec, _ in created.shadow_variants] == [G5]
    assert [spec.instance_type for spec, _ in created.variants] == [BASELINE.instance_type]
    # when every type is refused: the way back to the baseline alone (as any failed shadow
    # config), with every type's reason; both shadow configs are among what it deletes
    failed = errors.on_action_error(moved, update_of(actions), CODE, refusal(G5, 0), T0 + timedelta(seconds=61))
    assert failed.phase is Phase.ROLLING_BACK and failed.outcome is Phase.FAILED
    assert "no instance type fits the quotas" in failed.reason
    assert {first, second} <= set(config_names(changes.discard_candidate(failed)))


def test_after_a_refused_shadow_the_join_as_a_production_variant_uses_the_next_types_config():
    rollout, actions = shadowing(G5, G4_2X)
    moved = errors.on_action_error(rollout, update_of(actions), CODE, refusal(GPU), T0)
    # the shadow phase passes on G5 (promote skips the rest of it); the candidate joins at weight 0
    started = moved.model_copy(
        update={"shadow": moved.shadow.model_copy(update={"started_at": T0}), "fast_forward": True}  # type: ignore[union-attr]
    )
    serving = observe().endpoint.model_copy(update={"config_name": started.desired_config})  # type: ignore[union-attr]
    joined, actions = machine.decide(started, observe().model_copy(update={"endpoint": serving}), T0)
    assert joined.phase is Phase.PROVISIONING
    assert update_of(actions).config_name == naming.rollout_config(rollout.endpoint_name, rollout.rollout_id, 1)
    # promoted later: every shadow config it made is deleted with the rest
    finishing = config_names(changes.promoted(joined))
    assert [n for n in finishing if "-shadow" in n] == [
        naming.shadow_config(rollout.endpoint_name, rollout.rollout_id),
        naming.shadow_config(rollout.endpoint_name, rollout.rollout_id, 1),
    ]
