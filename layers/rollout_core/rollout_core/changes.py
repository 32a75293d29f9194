"""What to ask of SageMaker to reach the config a rollout wants: pure builders of actions.

Every config a rollout makes carries the serving (baseline) config's own fields (data
capture, KMS key, VPC, ...) and its tags, and the baseline variant exactly as it was, so
going back to the baseline gives the endpoint the config it had before the rollout.
"""

from __future__ import annotations

from typing import Any

from . import capacity, naming
from .models import (
    Action,
    ApplyAutoscaling,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpointConfig,
    DeleteModel,
    PruneOldModels,
    Rollout,
    SuspendAutoscaling,
    UpdateAsyncEndpoint,
    UpdateEndpoint,
    VariantSpec,
)

# ProductionVariant fields a candidate takes from the baseline variant: how SageMaker starts
# and reaches the container (same model family, same needs), not what it runs on.
INHERITED_VARIANT_SETTINGS = (
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "RoutingConfig",
    "CoreDumpConfig",
)
# Taken only when the candidate runs on the baseline's instance type: what they allow
# (volume sizes, AMI versions, accelerators) depends on the instance type.
SAME_TYPE_VARIANT_SETTINGS = ("VolumeSizeInGB", "InferenceAmiVersion", "AcceleratorType")


def candidate_settings(candidate: VariantSpec, baseline: VariantSpec) -> dict[str, Any]:
    """The baseline variant's settings that the candidate inherits."""
    names: tuple[str, ...] = INHERITED_VARIANT_SETTINGS
    if candidate.instance_type == baseline.instance_type:
        names += SAME_TYPE_VARIANT_SETTINGS
    return {k: v for k, v in baseline.settings.items() if k in names}


def for_desired_config(r: Rollout) -> tuple[list[Action], bool]:
    """The actions that put ``r.desired_config`` on the endpoint (idempotent when repeated),
    and whether they suspend the baseline's autoscaling first."""
    name = r.desired_config
    assert name is not None
    config = r.baseline_config
    if r.shadow is not None and name == naming.shadow_config(r.endpoint_name, r.rollout_id, r.shadow.type_attempt):
        # The baseline keeps serving as it is; the candidate joins as the shadow (shadow.py).
        assert r.baseline is not None and r.target.plan.shadow is not None
        return [
            create_model(r),
            CreateEndpointConfig(
                config_name=name,
                variants=[(r.baseline, 100)],
                shadow_variants=[(shadow_variant(r), r.target.plan.shadow.sampling_percent)],
                baseline_config=config,
            ),
            UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
        ], False
    if name == naming.rollout_config(r.endpoint_name, r.rollout_id, r.type_attempt):
        assert r.baseline is not None
        return [
            create_model(r),
            CreateEndpointConfig(
                config_name=name, variants=[(r.baseline, 100), (r.candidate, 0)], baseline_config=config
            ),
            UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
        ], False
    if name == naming.final_config(r.endpoint_name, r.rollout_id, r.type_attempt):
        if r.first_deployment:
            return [
                create_model(r),
                CreateEndpointConfig(config_name=name, variants=[(r.candidate, 100)], baseline_config=config),
                CreateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
            ], False
        assert r.baseline is not None
        full = r.full_capacity or r.baseline.instance_count
        promoted = r.candidate.model_copy(
            update={"instance_count": capacity.promoted_instances(r.target, full, r.autoscaling)}
        )
        actions: list[Action] = [
            CreateEndpointConfig(config_name=name, variants=[(promoted, 100)], baseline_config=config),
            UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
        ]
        if r.autoscaling is None:
            return actions, False
        # AWS: a variant under autoscaling must be deregistered before an update removes it.
        suspend = SuspendAutoscaling(endpoint_name=r.endpoint_name, variant_name=r.baseline.variant_name)
        return [suspend, *actions], True
    # The baseline alone, as it was (with the most instances it was seen running: an
    # UpdateEndpoint without RetainAllVariantProperties sets the count from the config).
    assert r.baseline is not None
    restored = r.baseline.model_copy(update={"instance_count": max(r.baseline.instance_count, r.full_capacity or 0)})
    return [
        CreateEndpointConfig(config_name=name, variants=[(restored, 100)], baseline_config=config),
        UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
    ], False


def shadow_variant(r: Rollout) -> VariantSpec:
    """The candidate as the shadow variant: its own name, sized for the share of requests it is
    sent (capacity.py, as for a canary step of that share)."""
    assert r.baseline is not None and r.target.plan.shadow is not None
    full = r.full_capacity or r.baseline.instance_count
    return r.candidate.model_copy(
        update={
            "variant_name": naming.shadow_variant_name(r.rollout_id),
            "instance_count": capacity.candidate_instances(r.target, full, r.target.plan.shadow.sampling_percent),
        }
    )


def after_rollback(r: Rollout, serving_config: str) -> list[Action]:
    """Once the baseline serves alone again: this tool's models and configs beyond the newest
    ``retain_models`` are pruned, as after a promotion. Each rollback puts the baseline on a
    config of its own (naming.rollback_config), so the one that served before is left unused:
    without this, every rollback in a row left one more config behind."""
    assert r.baseline is not None
    in_use = [r.baseline.model_name, serving_config]
    return [PruneOldModels(endpoint_name=r.endpoint_name, keep=r.target.retain_models, in_use=in_use)]


def after_promotion(r: Rollout) -> list[Action]:
    """Once the candidate serves alone: the async twin follows, old models are pruned."""
    settings = r.target.inference
    actions: list[Action] = abandoned_configs(r)
    in_use = [r.candidate.model_name, r.desired_config or ""]
    if settings.async_endpoint_name:
        config = naming.async_config(settings.async_endpoint_name, r.rollout_id)
        in_use.append(config)
        actions.append(
            UpdateAsyncEndpoint(
                endpoint_name=settings.async_endpoint_name,
                config_name=config,
                model_name=r.candidate.model_name,
                instance_type=settings.async_instance_type or r.target.instance_type,
                instance_count=settings.async_instance_count,
            )
        )
    actions.append(
        PruneOldModels(
            endpoint_name=r.endpoint_name,
            keep=r.target.retain_models,
            in_use=in_use,
            async_endpoint_name=settings.async_endpoint_name,
        )
    )
    return actions


def promoted(r: Rollout) -> list[Action]:
    """The finishing actions of a promotion: autoscaling follows the candidate, then clean-up."""
    actions: list[Action] = []
    if r.autoscaling is not None:
        actions.append(
            ApplyAutoscaling(
                endpoint_name=r.endpoint_name,
                variant_name=r.candidate.variant_name,
                snapshot=r.autoscaling,
            )
        )
    rollout_config = naming.rollout_config(r.endpoint_name, r.rollout_id, r.type_attempt)
    actions.append(DeleteEndpointConfig(config_name=rollout_config))
    actions += [DeleteEndpointConfig(config_name=name) for name in shadow_configs(r)]
    return actions + after_promotion(r)


def create_model(r: Rollout) -> CreateModel:
    return CreateModel(model_name=r.candidate.model_name, model_package_arn=r.model_package_arn)


def discard_candidate(r: Rollout) -> list[Action]:
    """Delete what the rollout created for the candidate (never what serves)."""
    return [
        *(DeleteEndpointConfig(config_name=name) for name in shadow_configs(r)),
        *abandoned_configs(r),
        DeleteEndpointConfig(config_name=naming.rollout_config(r.endpoint_name, r.rollout_id, r.type_attempt)),
        DeleteEndpointConfig(config_name=naming.final_config(r.endpoint_name, r.rollout_id, r.type_attempt)),
        DeleteModel(model_name=r.candidate.model_name),
    ]


def shadow_configs(r: Rollout) -> list[str]:
    """The shadow configs the rollout made: the one that served (if any), and one per instance
    type SageMaker refused while the shadow joined (fallbacks.py)."""
    if r.shadow is None:
        return []
    return [naming.shadow_config(r.endpoint_name, r.rollout_id, n) for n in range(r.shadow.type_attempt + 1)]


def abandoned_configs(r: Rollout) -> list[Action]:
    """Delete the configs made for the instance types SageMaker refused (fallbacks.py): they
    never served, and a crash between the refusal and the next type leaves them for clean-up."""
    name = naming.final_config if r.first_deployment else naming.rollout_config
    return [DeleteEndpointConfig(config_name=name(r.endpoint_name, r.rollout_id, n)) for n in range(r.type_attempt)]
