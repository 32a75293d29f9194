"""The sandbox with one target's first version approved and serving (API and job benchmarks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.stack import Sandbox

TARGET: dict[str, Any] = {
    "model_package_group": "churn-model",
    "endpoint_name": "churn-endpoint",
    "instance_type": "ml.m5.large",
    "guard_alarms": [],
}


@contextmanager
def serving(target: dict[str, Any]) -> Iterator[Sandbox]:
    from sandbox.stack import Sandbox

    group = target["model_package_group"]
    with Sandbox(parameters={"EndpointName": target["endpoint_name"], "ModelPackageGroupName": group}) as sandbox:
        sandbox.put_target(json.dumps(target), group)
        sandbox.set_approval(sandbox.register_package(group), "Approved")
        sandbox.advance(300)
        yield sandbox
