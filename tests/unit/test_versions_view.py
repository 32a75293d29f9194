"""``versions``: the client merges each environment's GET /v1/versions into one row per version."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

from rollout_client import versions_cli
from rollout_client.client import ApiError


@pytest.fixture
def utc_terminal() -> Iterator[None]:
    """The reader's zone is UTC (tables show short local times; --json keeps full ISO)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/{}"


def row(version: int, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "model_package_arn": ARN.format(version),
        "version": version,
        "state": state,
        "detail": extra.pop("detail", ""),
        "phase": extra.pop("phase", "SUCCEEDED"),
        "rollout_id": "0123456789",
        "since": "2026-11-20T10:00:00+00:00",
        "waiting": extra.pop("waiting", None),
    }


VIEWS: dict[str, dict[str, Any] | str] = {
    "dev": {"versions": [row(2, "serving"), row(1, "replaced")]},
    "staging": {"versions": [row(2, "waiting", phase="WAITING", waiting={"for": "soak", "since": "2026-11-20T10:05"})]},
    "prod": {"versions": [row(1, "serving")]},
}


def test_environments_come_from_sagemaker_rollout_apis_in_order():
    apis = versions_cli.environments("dev=https://a/dev, staging=https://b/staging,prod=https://c/prod", None)
    assert list(apis) == ["dev", "staging", "prod"] and apis["staging"] == "https://b/staging"
    assert versions_cli.environments(None, "https://x.execute-api.us-east-1.amazonaws.com/dev/") == {
        "dev": "https://x.execute-api.us-east-1.amazonaws.com/dev/"
    }
    with pytest.raises(ValueError, match="environment=URL"):
        versions_cli.environments("dev", None)


def test_merge_gives_each_version_its_state_in_every_environment_newest_first():
    rows = versions_cli.merge(VIEWS)
    assert [r["version"] for r in rows] == [2, 1]
    states = {r["version"]: {env: e["state"] for env, e in r["environments"].items()} for r in rows}
    assert states == {
        2: {"dev": "serving", "staging": "waiting", "prod": "never reached"},
        1: {"dev": "replaced", "staging": "never reached", "prod": "serving"},
    }


def test_an_environment_that_cannot_be_read_says_so_instead_of_never_reached():
    rows = versions_cli.merge({"dev": VIEWS["dev"], "prod": "error 403: forbidden"})
    assert all(r["environments"]["prod"] == {"state": "unknown", "detail": "error 403: forbidden"} for r in rows)


class FakeClient:
    def __init__(self, url: str) -> None:
        self.env = url.rsplit("/", 1)[-1]

    def versions(self, group: str) -> dict[str, Any]:
        view = VIEWS[self.env]
        if isinstance(view, str):
            raise ApiError(403, view)
        return view


def test_the_table_fits_80_columns_and_shows_the_soak(utc_terminal: None):
    console = Console(width=80, record=True)
    apis = {env: f"https://api/{env}" for env in VIEWS}
    args = argparse.Namespace(group="churn-model", json=False)
    assert versions_cli.run(args, apis, console, FakeClient) == 0  # type: ignore[arg-type]
    text = console.export_text()
    assert "soaking since Nov 20 10:05" in text  # not today: dated
    assert "never reached" in text
    assert all(len(line) <= 80 for line in text.splitlines())
