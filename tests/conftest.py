"""Shared fixtures: the sandbox stack on moto, with the target of the sample events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout_core.models import Target
from sandbox.stack import Sandbox

# Records every AWS call each function makes during the session (tests/security/test_iam_coverage.py);
# prints the suites' summaries at the end, from xdist's workers too (tests/summaries.py).
pytest_plugins = ["tests.security.recorder", "tests.summaries"]

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


HANDLER_ERRORS = "handler_errors"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{HANDLER_ERRORS}: the test makes a handler raise on purpose (the stack fixture lets it)"
    )


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def unexpected_handler_errors(sandbox: Sandbox) -> list[str]:
    """What the stack fixture fails a test on: every handler that raised during it."""
    return [f"{d.function} at {d.at:%H:%M}: {d.error}" for d in sandbox.handler_errors()]


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The sandbox with the sample target. A handler that raises during the test fails it (at
    teardown), unless the test is marked ``handler_errors``."""
    parameters = {
        "EndpointName": SAMPLE_TARGET.endpoint_name,
        "ModelPackageGroupName": SAMPLE_TARGET.model_package_group,
    }
    with Sandbox(parameters=parameters) as sandbox:
        sandbox.put_target(SAMPLE_TARGET.model_dump_json(), SAMPLE_TARGET.model_package_group)
        for alarm in SAMPLE_TARGET.guard_alarms:
            sandbox.create_alarm(alarm)
        yield sandbox
        if request.node.get_closest_marker(HANDLER_ERRORS) is None:
            errors = unexpected_handler_errors(sandbox)
            assert not errors, "a handler raised (mark the test handler_errors if it means to):\n" + "\n".join(errors)


ASYNC_TARGET = SAMPLE_TARGET.model_copy(
    update={"inference": SAMPLE_TARGET.inference.model_copy(update={"async_endpoint_name": "churn-endpoint-async"})}
)


@pytest.fixture
def serving_stack(stack: Sandbox) -> Sandbox:
    """The sample target with an async twin, version 1 deployed (real-time and async)."""
    stack.put_target(ASYNC_TARGET.model_dump_json(), ASYNC_TARGET.model_package_group)
    arn = stack.register_package(ASYNC_TARGET.model_package_group)
    stack.set_approval(arn, "Approved")
    stack.advance(300)
    assert stack.endpoint_status("churn-endpoint") == "InService"
    assert stack.endpoint_status("churn-endpoint-async") == "InService"
    return stack
