"""Names of the SageMaker resources a rollout creates (all within SageMaker's 63 characters).

Every model and endpoint config this tool creates for an endpoint starts with
``{endpoint}-m-`` or ``{endpoint}-c-``, which is how pruning tells ours from the rest.
"""

from __future__ import annotations

import hashlib


def rollout_id(model_package_arn: str, salt: str = "") -> str:
    """Deterministic id: a duplicate approval event maps to the same rollout."""
    return hashlib.sha256(f"{model_package_arn}|{salt}".encode()).hexdigest()[:10]


def model_prefix(endpoint_name: str) -> str:
    return f"{endpoint_name}-m-"


def config_prefix(endpoint_name: str) -> str:
    return f"{endpoint_name}-c-"


def model_name(endpoint_name: str, rid: str) -> str:
    return f"{model_prefix(endpoint_name)}{rid}"


def variant_name(rid: str) -> str:
    return f"v-{rid}"


def shadow_variant_name(rid: str) -> str:
    """The candidate while it is the shadow variant (a name of its own: its metrics are not mixed
    with the canary's, and no variant changes from shadow to production across an update)."""
    return f"s-{rid}"


def shadow_config(endpoint_name: str, rid: str, type_attempt: int = 0) -> str:
    """The baseline serving, the candidate as its shadow (issue 13)."""
    return f"{config_prefix(endpoint_name)}{rid}-shadow{_attempt(type_attempt)}"


def _attempt(type_attempt: int) -> str:
    # The n-th instance type tried after SageMaker refused the ones before it (fallbacks.py):
    # its configs get names of their own, so each type's create stays idempotent.
    return str(type_attempt) if type_attempt else ""


def rollout_config(endpoint_name: str, rid: str, type_attempt: int = 0) -> str:
    """Baseline and candidate side by side."""
    return f"{config_prefix(endpoint_name)}{rid}-roll{_attempt(type_attempt)}"


def final_config(endpoint_name: str, rid: str, type_attempt: int = 0) -> str:
    """The candidate alone (promotion, or a first deployment)."""
    return f"{config_prefix(endpoint_name)}{rid}-final{_attempt(type_attempt)}"


def rollback_config(endpoint_name: str, rid: str) -> str:
    """The baseline alone, as it was before the rollout."""
    return f"{config_prefix(endpoint_name)}{rid}-back"


def async_config(async_endpoint_name: str, rid: str) -> str:
    """The async endpoint's config holding the promoted model."""
    return f"{config_prefix(async_endpoint_name)}{rid}"


def candidate_alarm(prefix: str, endpoint_name: str, rid: str, metric: str) -> str:
    """One of the candidate variant's own guard alarms, named with the stack's AlarmNamePrefix so
    that its state changes reach the controller at once."""
    return f"{prefix}{endpoint_name}-{variant_name(rid)}-{metric}"[:255]


def scaling_alarm_prefix(endpoint_name: str) -> str:
    """The CloudWatch alarms this tool puts on a variant for its step scaling policies."""
    return f"{endpoint_name}-scaling-"


def scaling_alarm(endpoint_name: str, variant: str, policy_name: str, index: int) -> str:
    """One of them (CloudWatch alarm names take up to 255 characters)."""
    return f"{scaling_alarm_prefix(endpoint_name)}{variant}-{index}-{policy_name}"[:255]
