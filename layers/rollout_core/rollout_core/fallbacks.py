"""Instance-type fallbacks: the first of the target's instance types whose peak fits (pure).

A target may list ``instance_type_fallbacks``. When the quota pre-flight (preflight.py) finds
that the candidate's instance type does not fit the account's "<type> for endpoint usage"
quota, the rollout tries the next type, with the same instance count, and so on; it fails,
with every type's reason, only when none fits. The baseline is never moved: a shortfall of
the baseline's own type (its new fleet during the update) is a shortfall of every choice.

SageMaker itself may still refuse: the pre-flight's reads can fail (it then only warns), or
other endpoints of the account start between the pre-flight and the request. CreateEndpoint,
UpdateEndpoint and UpdateEndpointWeightsAndCapacities answer ResourceLimitExceeded at once
(their API references' Errors: "You have exceeded an SageMaker resource limit"), with the
quota in the message ("The account-level service limit '<type> for endpoint usage' is ...").
When that names the candidate's type while it joins (as a production variant or as the shadow;
or, on a first deployment, creates the endpoint), ``after_refusal`` moves it to the next type:
the configs of each type are named with its attempt number (naming.py) so a repeated decision
stays idempotent, the refused type's config is among the clean-up's deletions
(changes.abandoned_configs, changes.shadow_configs), the model (which names no instance type)
and the candidate's alarms are kept. When no type is left the rollout
fails with every type's reason (errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import changes, naming, preflight
from .history import notify, record
from .models import (
    Action,
    CreateEndpoint,
    CreateEndpointConfig,
    Observations,
    Phase,
    Rollout,
    Target,
    UpdateEndpoint,
    VariantSpec,
)

QUOTA_REFUSAL = "ResourceLimitExceeded"


@dataclass(frozen=True)
class Choice:
    target: Target | None  # the target on the first type that fits; None: none fits
    refused: list[str] = field(default_factory=list)  # "<type>: why", for each type tried before

    def reason(self) -> str:
        """Why the rollout fails (``target`` is None) or fell back (the history's note)."""
        if len(self.refused) == 1 and self.target is None:
            return self.refused[0].split(": ", 1)[1]  # one type: the pre-flight's own words
        tried = "; ".join(f"[{r}]" for r in self.refused)
        return tried if self.target is not None else f"no instance type fits the quotas: {tried}"


def types(target: Target) -> list[str]:
    return [target.instance_type, *target.instance_type_fallbacks]


def choose(target: Target, baseline: VariantSpec | None, obs: Observations) -> Choice:
    """The target on its first instance type whose peak fits the quotas read in ``obs``."""
    refused: list[str] = []
    tried = types(target)
    for n, instance_type in enumerate(tried):
        # The types after this one stay fallbacks (a stored target is validated again when read).
        on_type = target.model_copy(update={"instance_type": instance_type, "instance_type_fallbacks": tried[n + 1 :]})
        short = preflight.shortfall(on_type, baseline, obs)
        if short is None:
            return Choice(on_type, refused)
        refused.append(f"{instance_type}: {short}")
    return Choice(None, refused)


def apply(r: Rollout, choice: Choice) -> tuple[Rollout, str]:
    """The rollout on the chosen type (candidate and target), the history's note, and the
    ``instance_type_changed`` milestone when it fell back."""
    if choice.target is None or not choice.refused:
        return r, ""
    chosen = choice.target.instance_type
    candidate = r.candidate.model_copy(update={"instance_type": chosen})
    moved = r.model_copy(update={"target": choice.target, "candidate": candidate})
    note = f"; candidate on fallback instance type {chosen} ({choice.reason()})"
    text = f"candidate instance type {chosen} instead of {r.target.instance_type}: {choice.reason()}"
    return notify(moved, "instance_type_changed", text), note


def _joins_as_shadow(r: Rollout) -> bool:
    return r.phase is Phase.SHADOWING and r.shadow is not None and r.shadow.started_at is None


def refuses_candidate(r: Rollout, action: Action, code: str, message: str) -> bool:
    """SageMaker refused the request that brings the candidate in (as a production variant, or
    as the shadow: issue 13) for lack of quota of its type."""
    if code != QUOTA_REFUSAL or not (r.phase is Phase.PROVISIONING or _joins_as_shadow(r)):
        return False
    if not isinstance(action, CreateEndpointConfig | CreateEndpoint | UpdateEndpoint):
        return False
    return f"'{r.candidate.instance_type} for endpoint usage'" in message


def refusals(r: Rollout, message: str) -> str:
    """Every type's reason, this refusal's included (the rollout's failure when none is left)."""
    tried = [*r.refused_types, f"{r.candidate.instance_type}: {message}"]
    return "no instance type fits the quotas: " + "; ".join(f"[{t}]" for t in tried)


def after_refusal(r: Rollout, action: Action, code: str, message: str, now: datetime) -> Rollout | None:
    """The rollout on its next instance type after SageMaker refused the candidate's; None when
    the refusal is not about the candidate's type, or no fallback type is left."""
    if not refuses_candidate(r, action, code, message) or not r.target.instance_type_fallbacks:
        return None
    refused_type, (chosen, *rest) = r.candidate.instance_type, r.target.instance_type_fallbacks
    target = r.target.model_copy(update={"instance_type": chosen, "instance_type_fallbacks": rest})
    candidate = r.candidate.model_copy(update={"instance_type": chosen})
    if r.baseline is not None:  # the settings it inherits depend on the type (changes.py)
        candidate = candidate.model_copy(update={"settings": changes.candidate_settings(candidate, r.baseline)})
    moved = r.model_copy(
        update={
            "target": target,
            "candidate": candidate,
            "refused_types": [*r.refused_types, f"{refused_type}: {message}"],
            "requested_at": None,  # not sent: the next decision asks for the new type's config
            "retry_after": None,
        }
    )
    if _joins_as_shadow(r):
        assert r.shadow is not None
        shadow = r.shadow.model_copy(update={"type_attempt": moved.type_attempt})
        config = naming.shadow_config(r.endpoint_name, r.rollout_id, moved.type_attempt)
        moved = moved.model_copy(update={"shadow": shadow, "desired_config": config})
    else:
        name = naming.final_config if r.first_deployment else naming.rollout_config
        moved = moved.model_copy(update={"desired_config": name(r.endpoint_name, r.rollout_id, moved.type_attempt)})
    text = f"candidate instance type {chosen} instead of {refused_type}: SageMaker refused it ({message})"
    return record(notify(moved, "instance_type_changed", text), now, "instance type changed", text, None, [])
