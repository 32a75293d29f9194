"""The rollout CLI against the sandbox served over HTTP: every command, and status --watch,
signing as the rollout operator (RolloutOperatorPolicy)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .serve import OPERATOR_ENV, ROOT, served


@pytest.fixture(scope="module", name="served")
def served_sandbox() -> Iterator[dict[str, Any]]:
    with served() as ready:
        yield ready


def cli(served: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollout_client", "--api", served["api"], "rollout", *args],
        cwd=ROOT,
        env={**OPERATOR_ENV, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_start_then_watch_it_to_the_end(served: dict[str, Any]):
    started = cli(served, "start", "--package", served["approved_package"], "--json")
    assert started.returncode == 0, started.stderr
    rollout_id = json.loads(started.stdout)["rollout_id"]
    watched = cli(served, "status", rollout_id, "--watch", "--interval", "0.5")
    assert watched.returncode == 0, watched.stderr
    output = watched.stdout
    assert "traffic" in output and "guard alarms" in output
    assert "sagemaker-rollout-churn-5xx" in output
    assert output.count("phase") >= 3, "a snapshot per change"
    assert "BAKING" in output
    assert f"rollout {rollout_id} ended SUCCEEDED" in output
    Path(ROOT / "sandbox-output").mkdir(exist_ok=True)
    (ROOT / "sandbox-output" / "rollout-status-watch.txt").write_text(output)  # for a look


def test_list_status_and_the_steering_commands(served: dict[str, Any]):
    started = json.loads(cli(served, "start", "--package", served["approved_package"], "--json").stdout)
    rollout_id = started["rollout_id"]
    paused = cli(served, "pause", rollout_id)
    assert paused.returncode == 0, paused.stderr
    assert "(paused)" in paused.stdout
    again = cli(served, "pause", rollout_id)
    assert again.returncode == 1
    assert "error 409" in again.stderr
    assert "already paused" in again.stderr
    listing = cli(served, "list", "--live")
    assert listing.returncode == 0
    assert rollout_id in listing.stdout
    as_json = json.loads(cli(served, "list", "--json").stdout)
    assert rollout_id in {r["rollout_id"] for r in as_json}
    status = cli(served, "status", rollout_id)
    assert "history" in status.stdout
    assert "paused by" in status.stdout
    assert cli(served, "resume", rollout_id).returncode == 0
    assert cli(served, "promote", rollout_id).returncode == 0
    aborted = cli(served, "abort", rollout_id)
    assert aborted.returncode in (0, 1)  # 409 if the promotion is already under way
    if aborted.returncode == 1:
        assert "409" in aborted.stderr
    missing = cli(served, "status", "0123456789")
    assert missing.returncode == 1
    assert "404" in missing.stderr
    refused = cli(served, "start", "--package", served["approved_package"].rsplit("/", 1)[0] + "/42")
    assert refused.returncode == 1
    assert "404" in refused.stderr
