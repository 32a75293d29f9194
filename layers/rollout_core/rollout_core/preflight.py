"""Quota pre-flight: does the rollout's peak fit the account's instance quotas? (pure)

SageMaker counts every endpoint instance against an account-level quota per instance type,
named "<type> for endpoint usage" in Service Quotas, and refuses a change that would pass it
with ResourceLimitExceeded ("The account-level service limit 'ml.g4dn.xlarge for endpoint
usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1
Instances").

UpdateEndpoint (API reference) "deploys the EndpointConfig specified in the request to a new
fleet of instances", shifts traffic, "and then deletes the old instances": while it runs, the
old and the new fleet both count. So, on top of what the account runs now (the baseline
included), a rollout needs at its busiest moment, per instance type, the most of:
- joining: the baseline's instances again and the candidate at weight 0 (the new fleet); after
  a shadow phase (plan.shadow), the shadow's instances too: its config's fleet runs until the
  join's new fleet replaces it (the shadow phase itself needs less: the baseline and the shadow);
- promoting: the candidate sized for 100 % of the traffic (capacity.promoted_instances),
  twice (its fleet before the update and the new one), the baseline still running;
- after it: the async twin's instances again (its own update), the candidate serving.
A first deployment creates the endpoint (the candidate's count), then the async twin.
Transform instances are a separate quota ("<type> for transform job usage") that jobs use,
not the rollout: they are not part of its peak.
"""

from __future__ import annotations

from collections import Counter

from . import capacity
from .models import AutoscalingSnapshot, InstanceQuota, Observations, Target, VariantSpec

QUOTA_NAME = "{instance_type} for endpoint usage"  # Service Quotas QuotaName, service code "sagemaker"


def peak_need(
    target: Target, baseline: VariantSpec | None, full: int, autoscaling: AutoscalingSnapshot | None = None
) -> dict[str, int]:
    """Instances the rollout adds at its busiest moment, per instance type (see above).

    ``baseline``: the serving variant (None: a first deployment); ``full``: its instances.
    """
    settings = target.inference
    twin: Counter[str] = Counter()
    if settings.async_endpoint_name:
        twin[settings.async_instance_type or target.instance_type] += settings.async_instance_count
    if baseline is None:
        return dict(Counter({target.instance_type: target.instance_count}) + twin)
    promoted = capacity.promoted_instances(target, full, autoscaling)
    joining = Counter({baseline.instance_type: full}) + Counter({target.instance_type: target.instance_count})
    if target.plan.shadow is not None:
        joining[target.instance_type] += capacity.candidate_instances(target, full, target.plan.shadow.sampling_percent)
    promoting = Counter({target.instance_type: 2 * promoted})
    after = Counter({target.instance_type: promoted}) + twin
    return dict(_most(joining, promoting, after))


def _most(*moments: Counter[str]) -> Counter[str]:
    most: Counter[str] = Counter()
    for moment in moments:
        most |= moment  # per type, the larger count
    return most


def shortfall(target: Target, baseline: VariantSpec | None, obs: Observations) -> str | None:
    """Why the rollout's peak does not fit the quotas read in ``obs``; None when it fits
    (or when a quota could not be read: the rollout tries, and SageMaker has the last word)."""
    full = baseline.instance_count if baseline is not None else 0
    problems = []
    for instance_type, need in sorted(peak_need(target, baseline, full, obs.autoscaling).items()):
        quota = obs.quotas.get(instance_type)
        if quota is not None and quota.in_use + need > quota.quota:
            problems.append(_explain(quota, need))
    if not problems:
        return None
    return "quota pre-flight: " + "; ".join(problems)


def warnings(obs: Observations) -> str:
    """The quota reads that failed, for the history: the rollout goes ahead without them."""
    return f" (quota pre-flight incomplete: {'; '.join(obs.quota_warnings)})" if obs.quota_warnings else ""


def _explain(quota: InstanceQuota, need: int) -> str:
    name = QUOTA_NAME.format(instance_type=quota.instance_type)
    wanted = quota.in_use + need
    request = (
        f"aws service-quotas request-service-quota-increase --service-code sagemaker "
        f"--quota-code {quota.quota_code} --desired-value {wanted}"
        if quota.quota_code
        else f"request '{name}' of at least {wanted} in Service Quotas"
    )
    return (
        f"{quota.instance_type}: the rollout needs {need} more at its peak, {quota.in_use} in use, "
        f"quota '{name}' is {quota.quota} (short by {wanted - quota.quota}); {request}"
    )
