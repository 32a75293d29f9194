"""The CLI's tables in an 80-column terminal: ids and times never wrap, steps read as percentages.

The rows are what the rollout API answers (rollout_core.operations.summary and view), built from
the core's own models; the tables are rendered by rich at width 80 as a terminal would show them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from rollout_client import rollout_cli, versions_cli
from rollout_core import operations
from rollout_core.models import HistoryEntry, Phase, Rollout, Target, VariantSpec

AT = datetime(2026, 11, 20, 9, 12, 5, tzinfo=UTC)
GROUP = "churn-model"


@pytest.fixture(autouse=True)
def utc_terminal() -> Iterator[None]:
    """The reader's zone is UTC here (short times are local)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def _rollout(version: int, phase: Phase, step_index: int, first: bool = False, **extra: Any) -> Rollout:
    target = Target.model_validate(
        {
            "model_package_group": GROUP,
            "endpoint_name": "churn-endpoint-production",
            "instance_type": "ml.m5.large",
            "plan": {"steps": [10, 50, 100]},
            "guard_alarms": ["sagemaker-rollout-churn-5xx"],
        }
    )
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}"
    spec = {"instance_type": "ml.m5.large", "instance_count": 1}
    candidate = VariantSpec(variant_name=f"v-{version:010d}", model_name=f"m-{version}", **spec)
    baseline = None if first else VariantSpec(variant_name="v-0000000001", model_name="m-1", **spec)
    history = [
        HistoryEntry(at=AT - timedelta(minutes=9), phase=Phase.PROVISIONING, step=-1, event="created", reason="x"),
        HistoryEntry(at=AT, phase=phase, step=max(step_index, -1), event="shifted", reason="traffic moved " * 8),
    ]
    return Rollout(
        rollout_id=f"{version:010x}",
        endpoint_name=target.endpoint_name,
        model_package_arn=arn,
        model_package_group=GROUP,
        target=target,
        phase=phase,
        step_index=step_index,
        reason="a reason long enough to need folding in a narrow terminal column, surely",
        candidate=candidate,
        baseline=baseline,
        created_at=AT - timedelta(minutes=10),
        updated_at=AT,
        history=history,
        **extra,
    )


def _render(renderable: Any) -> list[str]:
    console = Console(width=80, record=True, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.export_text().splitlines()


def _fits(lines: list[str], *whole: str) -> None:
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    for text in whole:  # never broken across lines
        assert any(text in line for line in lines), f"{text!r} is not on one line:\n" + "\n".join(lines)
    text = "\n".join(lines)
    assert not re.search(r"(?<![\w:-])-1\b", text), "an internal step index is shown"
    assert "of [" not in text


def test_the_rollout_list_fits_80_columns_with_whole_ids_times_and_percent_steps():
    rows = [
        operations.summary(_rollout(2, Phase.SUCCEEDED, 0, first=True)),
        operations.summary(_rollout(3, Phase.PROVISIONING, -1)),
        operations.summary(_rollout(4, Phase.BAKING, 1, paused=True)),
        operations.summary(_rollout(5, Phase.ROLLED_BACK, 1)),
    ]
    lines = _render(rollout_cli.list_table(rows, now=AT))
    _fits(lines, *(r["rollout_id"] for r in rows), "09:12:05", "first deployment", "next 10%", "50% → 100%")
    assert any("stopped at 50%" in line for line in lines)


def test_times_are_short_and_local_today_and_dated_otherwise():
    assert rollout_cli.short_time("2026-11-20T09:12:05+00:00", now=AT) == "09:12:05"
    assert rollout_cli.short_time("2026-11-19T23:59:00+00:00", now=AT) == "Nov 19 23:59"


def test_status_with_history_fits_80_columns_and_reads_step_minus_one_as_zero_percent():
    rollout = _rollout(3, Phase.SHIFTING, 1)
    view = {
        **operations.summary(rollout),
        "history": [h.model_dump(mode="json") for h in rollout.history],
        "live": {
            "endpoint_status": "Updating",
            "weights": {"v-0000000001": 50, "v-0000000003": 50},
            "alarms": {"sagemaker-rollout-churn-5xx": {"state": "OK", "reason": "fine"}},
            "seconds_to_next_step": 120,
        },
    }
    lines = _render(rollout_cli.status_view(view, history=True, now=AT))
    _fits(lines, view["rollout_id"], "09:03:05", "09:12:05", "50% → 100% (plan 10% → 50% → 100%)")
    provisioning = next(line for line in lines if "09:03:05" in line)
    assert "PROVISIONING" in provisioning and " 0% " in provisioning


def test_a_finished_first_deployment_reads_as_such_not_as_0_percent_of_the_plan():
    row = operations.summary(_rollout(2, Phase.SUCCEEDED, 0, first=True))
    assert rollout_cli.step_text(row) == "first deployment"
    assert "first deployment" in rollout_cli.summary_line(row, "promoted")


def test_the_versions_table_fits_80_columns_for_three_environments():
    waiting = {"for": "operator", "since": "2026-11-20T08:58:00+00:00"}
    rows = [
        {
            "model_package_arn": f"arn:aws:sagemaker:us-east-1:1:model-package/{GROUP}/7",
            "version": 7,
            "environments": {
                "dev": {"state": "serving", "detail": "100%"},
                "staging": {"state": "serving", "detail": "100%"},
                "prod": {"state": "waiting", "detail": "", "waiting": waiting},
            },
        }
    ]
    lines = _render(versions_cli.table(rows, ["dev", "staging", "prod"], GROUP, now=AT))
    _fits(lines, "08:58:00")
