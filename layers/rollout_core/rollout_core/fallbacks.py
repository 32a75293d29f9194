"""Instance-type fallbacks: the first of the target's instance types whose peak fits (pure).

A target may list ``instance_type_fallbacks``. When the quota pre-flight (preflight.py) finds
that the candidate's instance type does not fit the account's "<type> for endpoint usage"
quota, the rollout tries the next type, with the same instance count, and so on; it fails,
with every type's reason, only when none fits. The baseline is never moved: a shortfall of
the baseline's own type (its new fleet during the update) is a shortfall of every choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import preflight
from .history import notify
from .models import Observations, Rollout, Target, VariantSpec


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
