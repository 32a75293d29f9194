"""``versions --group G``: where each version of a model package group is, in every environment.

Each environment's stack answers for itself (``GET /v1/versions``); the environments are the
API URLs in ``SAGEMAKER_ROLLOUT_APIS`` ("dev=https://...,staging=https://...", in chain order),
or the one ``--api``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from .client import ApiError, RolloutClient
from .rollout_cli import short_time

NEVER = "never reached"


def add_command(sub: Any, common: Any) -> None:
    versions = sub.add_parser("versions", help="where each version of a group is, per environment", parents=[common])
    versions.add_argument("--group", required=True, help="model package group")
    versions.add_argument("--json", action="store_true")


def environments(spec: str | None, api: str | None) -> dict[str, str]:
    """``SAGEMAKER_ROLLOUT_APIS`` ("dev=URL,staging=URL") as {environment: URL}, in order; else
    the one ``api`` (named after the last segment of its URL, the stage: the environment)."""
    if spec:
        pairs = [item.split("=", 1) for item in spec.split(",") if item.strip()]
        bad = [p[0] for p in pairs if len(p) != 2 or not p[0].strip() or not p[1].strip()]
        if bad:
            raise ValueError(f"SAGEMAKER_ROLLOUT_APIS: expected environment=URL, got {bad[0]!r}")
        return {name.strip(): url.strip() for name, url in pairs}
    if api:
        return {api.rstrip("/").rsplit("/", 1)[-1]: api}
    return {}


def merge(views: dict[str, dict[str, Any] | str]) -> list[dict[str, Any]]:
    """One row per version, newest first: its state in each environment (``views``: each
    environment's GET /v1/versions answer, or why it could not be read)."""
    rows: dict[str, dict[str, Any]] = {}
    for env, view in views.items():
        if isinstance(view, str):
            continue
        for version in view["versions"]:
            row = rows.setdefault(
                version["model_package_arn"],
                {"model_package_arn": version["model_package_arn"], "version": version["version"], "environments": {}},
            )
            row["environments"][env] = {
                k: version[k] for k in ("state", "detail", "phase", "rollout_id", "since", "waiting")
            }
    for row in rows.values():
        for env, view in views.items():
            if isinstance(view, str):
                row["environments"][env] = {"state": "unknown", "detail": view}
            else:
                row["environments"].setdefault(env, {"state": NEVER, "detail": ""})
    return sorted(rows.values(), key=lambda r: (r["version"] or 0, r["model_package_arn"]), reverse=True)


def table(rows: list[dict[str, Any]], names: list[str], group: str, now: datetime | None = None) -> Table:
    shown = Table(title=f"versions of {group}")
    shown.add_column("version", no_wrap=True)
    for env in names:
        shown.add_column(env)
    for row in rows:
        cells = []
        for env in names:
            where = row["environments"][env]
            detail = where.get("detail") or ""
            waiting = where.get("waiting") or {}
            if where["state"] == "waiting" and waiting:
                where_now = "soaking" if waiting["for"] == "soak" else "at the gate"
                detail = f"{where_now} since {short_time(waiting['since'], now)}"
            cells.append(where["state"] + (f"\n{detail[:60]}" if detail else ""))
        shown.add_row(str(row["version"] or row["model_package_arn"]), *cells)
    return shown


def run(args: argparse.Namespace, apis: dict[str, str], out: Console, connect: Callable[[str], RolloutClient]) -> int:
    views: dict[str, dict[str, Any] | str] = {}
    for env, url in apis.items():
        try:
            views[env] = connect(url).versions(args.group)
        except ApiError as exc:
            views[env] = f"error {exc.status}: {exc.message}"
    rows = merge(views)
    if args.json:
        out.print_json(json.dumps({"group": args.group, "environments": list(apis), "versions": rows}))
    else:
        out.print(table(rows, list(apis), args.group))
    return 0
