"""Instance-type fallbacks (issue 17): the next type takes over when the candidate's does not fit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rollout_core import machine
from rollout_core.models import Phase, Rollout, Target

from .test_preflight import observe, quota
from .world import PACKAGE, T0, target

GPU = "ml.g4dn.xlarge"


def gpu_target(*fallbacks: str) -> Target:
    return target().model_copy(update={"instance_type": GPU, "instance_type_fallbacks": list(fallbacks)})


def quotas(**values: tuple[int, int]) -> dict[str, object]:
    """instance type with dots as underscores -> (quota, in use)"""
    out: dict[str, object] = {}
    for name, (value, in_use) in values.items():
        out |= quota(value, in_use, name.replace("_", "."))
    return out


def test_the_next_type_that_fits_takes_over_and_history_and_milestone_say_why():
    rollout = machine.new_rollout(gpu_target("ml.g5.xlarge", "ml.g4dn.2xlarge"), PACKAGE, T0)
    obs = observe(quotas=quotas(ml_g4dn_xlarge=(4, 4), ml_g5_xlarge=(1, 1), ml_g4dn_2xlarge=(4, 0)))
    decided, actions = machine.decide(rollout, obs, T0)
    assert decided.phase is Phase.PROVISIONING
    assert decided.candidate.instance_type == "ml.g4dn.2xlarge" == decided.target.instance_type
    config = next(a for a in actions if a.kind == "CreateEndpointConfig")
    assert [spec.instance_type for spec, _ in config.variants] == ["ml.m5.large", "ml.g4dn.2xlarge"]
    note = decided.history[-1].reason
    assert "fallback instance type ml.g4dn.2xlarge" in note
    assert "[ml.g4dn.xlarge: quota pre-flight: ml.g4dn.xlarge: the rollout needs 2 more" in note
    assert "[ml.g5.xlarge: quota pre-flight: ml.g5.xlarge:" in note
    changed = [n for n in decided.outbox if n.milestone == "instance_type_changed"]
    assert len(changed) == 1 and "ml.g4dn.2xlarge instead of ml.g4dn.xlarge" in changed[0].message
    # stored and read back: the target is still valid (the tried types are not fallbacks any more)
    assert Rollout.model_validate_json(decided.model_dump_json()).target.instance_type_fallbacks == []


def test_the_first_type_that_fits_is_kept_without_a_note():
    rollout = machine.new_rollout(gpu_target("ml.g5.xlarge"), PACKAGE, T0)
    decided, _ = machine.decide(rollout, observe(quotas=quotas(ml_g4dn_xlarge=(4, 0))), T0)
    assert decided.candidate.instance_type == GPU and "fallback" not in decided.history[-1].reason
    assert not [n for n in decided.outbox if n.milestone == "instance_type_changed"]


def test_none_fits_fails_before_touching_anything_with_every_types_reason():
    rollout = machine.new_rollout(gpu_target("ml.g5.xlarge"), PACKAGE, T0)
    obs = observe(quotas=quotas(ml_g4dn_xlarge=(1, 1), ml_g5_xlarge=(0, 0)))
    decided, actions = machine.decide(rollout, obs, T0)
    assert decided.phase is Phase.FAILED and actions == [] and decided.finishing == []
    assert decided.reason.startswith("no instance type fits the quotas: [ml.g4dn.xlarge: quota pre-flight:")
    assert "quota 'ml.g4dn.xlarge for endpoint usage' is 1" in decided.reason
    assert "quota 'ml.g5.xlarge for endpoint usage' is 0" in decided.reason


def test_a_first_deployment_falls_back_too():
    rollout = machine.new_rollout(gpu_target("ml.g5.xlarge"), PACKAGE, T0)
    obs = observe(quotas=quotas(ml_g4dn_xlarge=(0, 0), ml_g5_xlarge=(2, 0))).model_copy(
        update={"endpoint": None, "serving_variant": None}
    )
    decided, actions = machine.decide(rollout, obs, T0)
    assert decided.phase is Phase.PROVISIONING and decided.candidate.instance_type == "ml.g5.xlarge"
    created = next(a for a in actions if a.kind == "CreateEndpointConfig")
    assert [spec.instance_type for spec, _ in created.variants] == ["ml.g5.xlarge"]


def test_the_baselines_own_shortfall_is_every_choices():
    """The baseline's type short (its new fleet during the update): no candidate type helps."""
    rollout = machine.new_rollout(gpu_target("ml.g5.xlarge"), PACKAGE, T0)
    obs = observe(quotas=quotas(ml_m5_large=(1, 1), ml_g4dn_xlarge=(9, 0), ml_g5_xlarge=(9, 0)))
    decided, _ = machine.decide(rollout, obs, T0)
    assert decided.phase is Phase.FAILED and decided.reason.count("ml.m5.large for endpoint usage") == 2


@pytest.mark.parametrize("fallbacks", [[GPU], ["ml.g5.xlarge", "ml.g5.xlarge"], ["g5.xlarge"], ["ml.a.b"] * 6])
def test_fallbacks_are_other_valid_types(fallbacks: list[str]):
    with pytest.raises(ValidationError):
        Target.model_validate({**gpu_target().model_dump(), "instance_type_fallbacks": fallbacks})


def test_fallbacks_accept_a_comma_separated_string():
    tgt = Target.model_validate({**gpu_target().model_dump(), "instance_type_fallbacks": "ml.g5.xlarge, ml.p3.2xlarge"})
    assert tgt.instance_type_fallbacks == ["ml.g5.xlarge", "ml.p3.2xlarge"]
