"""``doctor ENDPOINT [--json]``: what is likely to hurt the endpoint; exit 1 on a HIGH finding."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from .client import RolloutClient

COLORS = {"HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan"}


def add_command(sub: Any, common: Any) -> None:
    doctor = sub.add_parser(
        "doctor", help="what is likely to hurt ENDPOINT (exit 1 on a HIGH finding)", parents=[common]
    )
    doctor.add_argument("endpoint")
    doctor.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, client: RolloutClient, out: Console) -> int:
    report = client.doctor(args.endpoint)
    if args.json:
        out.print_json(json.dumps(report))
    else:
        out.print(table(report))
    return 1 if report["high"] else 0


def table(report: dict[str, Any]) -> Table | str:
    if not report["findings"]:
        return f"{report['endpoint']}: no finding"
    rows = Table(title=f"doctor {report['endpoint']}")
    for column in ("severity", "check", "finding", "fix"):
        rows.add_column(column)
    for f in report["findings"]:
        color = COLORS.get(f["severity"], "white")
        rows.add_row(f"[{color}]{f['severity']}[/{color}]", f["check"], f["message"], f["fix"])
    return rows
