"""Shared fixtures: the sandbox stack on moto, with the target of the sample events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout_core.models import Target
from sandbox.stack import Sandbox

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# The sample events in events/ name this group, endpoint and alarm.
SAMPLE_TARGET = Target.model_validate(
    {
        "model_package_group": "churn-model",
        "endpoint_name": "churn-endpoint",
        "instance_type": "ml.m5.large",
        "plan": {"steps": [10, 50, 100], "bake_seconds": 300},
        "guard_alarms": ["sagemaker-rollout-churn-5xx"],
    }
)


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture
def stack() -> Iterator[Sandbox]:
    parameters = {
        "EndpointName": SAMPLE_TARGET.endpoint_name,
        "ModelPackageGroupName": SAMPLE_TARGET.model_package_group,
    }
    with Sandbox(parameters=parameters) as sandbox:
        sandbox.put_target(SAMPLE_TARGET.model_dump_json(), SAMPLE_TARGET.model_package_group)
        for alarm in SAMPLE_TARGET.guard_alarms:
            sandbox.create_alarm(alarm)
        yield sandbox
