"""The scenario file format (YAML, validated with pydantic): the target, the world's settings,
the steps, and what each ``expect`` step may check. sandbox/scenarios.py runs them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from rollout_core.models import Target

BUILTIN = Path(__file__).resolve().parent / "scenarios"
DURATION = re.compile(r"^(\d+)\s*([smh])$")
UNITS = {"s": 1, "m": 60, "h": 3600}


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollout: str | None = None  # package label
    phase: str | None = None
    reason_contains: str | None = None
    weights: dict[str, int] | None = None  # package label -> % of endpoint traffic
    endpoint_status: str | None = None
    endpoint_exists: bool | None = None
    live_rollouts: int | None = None
    http_status: int | None = None  # of the last invoke / submit_job answer
    response_contains: str | None = None
    job: str | None = None  # job label
    job_status: str | None = None
    job_mode: str | None = None
    failure_contains: str | None = None
    notified: str | None = None  # an EventBridge detail-type announced so far (e.g. "Rollout Paused")
    paused: bool | None = None
    instances: dict[str, int] | None = None  # package label -> instances of its variant, exactly
    instance_types: dict[str, str] | None = None  # package label -> its variant's instance type (issue 17)
    rollouts: int | None = None  # how many rollouts the package (``rollout``) has had
    history_contains: str | None = None  # a reason in the rollout's history contains this
    # SageMaker's async test notifications delivered so far (distinct SNS messages)
    test_notifications: int | None = None
    # issue 17: the rollout's own candidate alarms: metric -> state (or MISSING: it does not exist)
    candidate_alarms: dict[str, str] | None = None
    # issue 17: the endpoint configs the rollout made that still exist, by what follows its id
    # in their names (e.g. ["-final1"]), exactly
    configs: list[str] | None = None
    reason_matches: str | None = None  # a regular expression the rollout's reason matches
    analysis: str | None = None  # the rollout's latest canary analysis verdict: PASS, FAIL, INCONCLUSIVE
    user_requests: dict[str, int] | None = None  # package label -> users' requests its variant got, exactly
    # package label -> InvokeEndpoint calls that named its variant in TargetVariant (the smoke test)
    targeted_requests: dict[str, int] | None = None
    env: str | None = None  # the environment the other keys are about (a chain); default: the first
    # package label -> environment -> its state there, as GET /v1/versions says (serving, waiting, ...)
    versions: dict[str, dict[str, str]] | None = None
    # {older: v2, newer: v3}: in no environment did the older serve after the newer took all traffic
    never_after: dict[str, str] | None = None
    # Issue 13: the package label of the endpoint's shadow variant ("none": it has none), and
    # package label -> at least this many requests copied to its shadow variant (no user's).
    shadow: str | None = None
    mirrored_at_least: dict[str, int] | None = None
    shadow_analysis: str | None = None  # the rollout's latest shadow analysis verdict


class EnvironmentSpec(BaseModel):
    """One environment of a chain: its target (over the defaults) and where its rollouts come from."""

    model_config = ConfigDict(extra="forbid")

    target: dict[str, Any] = Field(default_factory=dict)
    source: str = "registry"  # or after:<environment>
    soak: str | int = 0  # soak_seconds, as a duration (30m)
    gate: str = "auto"


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    target: dict[str, Any] = Field(default_factory=dict)
    endpoint_update_seconds: float = 120
    # How long a model/config SageMaker has just created stays invisible to the calls that use
    # it (CreateEndpoint API reference: eventually consistent read). 0: visible at once.
    lookup_delay_seconds: float = 0
    # The account's endpoint instance quotas (Service Quotas), per type; unset types keep the
    # sandbox's defaults (sandbox/quotas_ext.py). SageMaker enforces them.
    quota: dict[str, int] = Field(default_factory=dict)
    # The quotas cannot be read (ListServiceQuotas denied): the pre-flight only warns, and
    # SageMaker still refuses what does not fit (ResourceLimitExceeded).
    quota_reads_denied: bool = False
    # Users' traffic: {rps: 20, v2: {error_rate: 0.03, latency_ms: 140}} (per package label, the
    # fields of sandbox.traffic_ext.VariantProfile); every endpoint gets 20 rps of 100 ms, no error,
    # when the scenario says nothing.
    traffic: dict[str, Any] = Field(default_factory=dict)
    samples: bool = False  # every package registered carries sample payloads (SamplePayloadUrl)
    # A chain: one stack per environment, in order (each named after it: endpoint
    # churn-endpoint-<env>, alarm sagemaker-rollout-churn-<env>-5xx).
    environments: dict[str, EnvironmentSpec] = Field(default_factory=dict)
    # "one": every stack and the registry in one account; "separate": the registry and each
    # environment in an account of its own (cross-account: registry/template.yaml forwards).
    accounts: str = Field(default="one", pattern="^(one|separate)$")
    steps: list[dict[str, Any]]

    def full_target(self, env: str | None = None) -> Target:
        base: dict[str, Any] = {
            "model_package_group": "churn-model",
            "endpoint_name": "churn-endpoint",
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "guard_alarms": ["sagemaker-rollout-churn-5xx"],
        }
        if env is None:
            return Target.model_validate({**base, **self.target})
        spec = self.environments[env]
        base |= {"endpoint_name": f"churn-endpoint-{env}", "guard_alarms": [f"sagemaker-rollout-churn-{env}-5xx"]}
        chain = {"source": spec.source, "soak_seconds": int(seconds(spec.soak)), "gate": spec.gate}
        return Target.model_validate({**base, **self.target, **spec.target, **chain})


def seconds(value: str | int | float) -> float:
    if isinstance(value, int | float):
        return float(value)
    match = DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use 30s, 5m, 1h)")
    return int(match.group(1)) * UNITS[match.group(2)]


def load(path: Path) -> Scenario:
    return Scenario.model_validate(yaml.safe_load(path.read_text()))


def builtin_files() -> list[Path]:
    return sorted(BUILTIN.glob("*.yaml"))
