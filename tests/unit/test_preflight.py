"""Quota pre-flight (issue 17): a rollout whose peak does not fit the quotas ends before it acts."""

from __future__ import annotations

from rollout_core import machine, preflight
from rollout_core.canary_models import ShadowPlan
from rollout_core.models import (
    AutoscalingSnapshot,
    EndpointView,
    InferenceSettings,
    InstanceQuota,
    Observations,
    Phase,
    VariantSpec,
)

from .world import BASELINE, PACKAGE, T0, target

SERVING = EndpointView(
    status="InService", config_name="original", weights={BASELINE.variant_name: 1.0}, last_modified=T0, instances={}
)


def quota(value: int, in_use: int, instance_type: str = "ml.m5.large") -> dict[str, InstanceQuota]:
    return {instance_type: InstanceQuota(instance_type=instance_type, quota=value, in_use=in_use, quota_code="L-1")}


def observe(baseline: VariantSpec = BASELINE, **extra: object) -> Observations:
    return Observations.model_validate({"endpoint": SERVING, "serving_variant": baseline, **extra})


def test_peak_is_the_busiest_moment_of_the_rollout_per_instance_type():
    tgt = target()  # ml.m5.large, 1 instance
    four = BASELINE.model_copy(update={"instance_count": 4})
    # joining: a new fleet for baseline (4) and candidate (1) = 5; promoting: 2 x 4 = 8.
    assert preflight.peak_need(tgt, four, 4) == {"ml.m5.large": 8}
    # one instance: joining 1 + 1 = 2, promoting 2 x 1 = 2.
    assert preflight.peak_need(tgt, BASELINE, 1) == {"ml.m5.large": 2}
    # the promoted variant stays within the carried autoscaling range
    scaling = AutoscalingSnapshot(min_capacity=1, max_capacity=2)
    assert preflight.peak_need(tgt, four, 4, scaling) == {"ml.m5.large": 5}  # joining 4 + 1 beats 2 x 2


def test_peak_counts_types_apart_and_the_async_twin():
    gpu = target().model_copy(
        update={
            "instance_type": "ml.g4dn.xlarge",
            "inference": InferenceSettings(
                async_endpoint_name="churn-async", async_instance_type="ml.g5.xlarge", async_instance_count=2
            ),
        }
    )
    assert preflight.peak_need(gpu, BASELINE, 1) == {"ml.m5.large": 1, "ml.g4dn.xlarge": 2, "ml.g5.xlarge": 2}
    assert preflight.peak_need(gpu, None, 0) == {"ml.g4dn.xlarge": 1, "ml.g5.xlarge": 2}  # a first deployment


def test_a_rollout_that_does_not_fit_fails_at_once_and_touches_nothing():
    rollout = machine.new_rollout(target(), PACKAGE, T0)
    decided, actions = machine.decide(rollout, observe(quotas=quota(value=2, in_use=1)), T0)
    assert decided.phase is Phase.FAILED
    assert actions == [] and decided.finishing == []
    assert decided.reason == (
        "quota pre-flight: ml.m5.large: the rollout needs 2 more at its peak, 1 in use, quota "
        "'ml.m5.large for endpoint usage' is 2 (short by 1); aws service-quotas request-service-quota-increase "
        "--service-code sagemaker --quota-code L-1 --desired-value 3"
    )
    assert decided.outbox[-1].milestone == "failed"


def test_a_rollout_that_fits_goes_ahead():
    rollout = machine.new_rollout(target(), PACKAGE, T0)
    decided, actions = machine.decide(rollout, observe(quotas=quota(value=3, in_use=1)), T0)
    assert decided.phase is Phase.PROVISIONING
    assert [a.kind for a in actions][-1] == "UpdateEndpoint"


def test_a_first_deployment_that_does_not_fit_creates_nothing():
    rollout = machine.new_rollout(target(), PACKAGE, T0)
    decided, actions = machine.decide(rollout, Observations(endpoint=None, quotas=quota(value=3, in_use=3)), T0)
    assert decided.phase is Phase.FAILED and actions == []
    assert "3 in use" in decided.reason and "short by 1" in decided.reason


def test_a_quota_that_could_not_be_read_warns_in_the_history_and_the_rollout_tries():
    rollout = machine.new_rollout(target(), PACKAGE, T0)
    warning = "could not read quotas or usage (AccessDeniedException: no)"
    decided, actions = machine.decide(rollout, observe(quota_warnings=[warning]), T0)
    assert decided.phase is Phase.PROVISIONING and actions
    assert decided.history[-1].reason.endswith(f"(quota pre-flight incomplete: {warning})")


def test_without_a_request_code_the_message_still_names_the_quota_to_raise():
    short = preflight.shortfall(
        target(),
        BASELINE,
        observe(quotas={"ml.m5.large": InstanceQuota(instance_type="ml.m5.large", quota=1, in_use=1)}),
    )
    assert short is not None and "request 'ml.m5.large for endpoint usage' of at least 3 in Service Quotas" in short


def test_after_a_shadow_phase_the_join_also_counts_the_shadows_fleet():
    """issue 13: the shadow's config (baseline + shadow) still runs while the join's new fleet
    (baseline + candidate) comes up, so the join needs the shadow's instances too."""
    four = BASELINE.model_copy(update={"instance_count": 4})
    plain = target()
    shadowed = plain.model_copy(
        update={"plan": plain.plan.model_copy(update={"shadow": ShadowPlan(sampling_percent=50, duration_seconds=600)})}
    )
    # joining: 4 + 1 without a shadow; 4 + 1 + 2 (the shadow sized for half of 4 instances) with one
    one = AutoscalingSnapshot(min_capacity=1, max_capacity=1)  # promoting needs 2 x 1: joining is the peak
    assert preflight.peak_need(plain, four, 4, one) == {"ml.m5.large": 5}
    assert preflight.peak_need(shadowed, four, 4, one) == {"ml.m5.large": 7}
