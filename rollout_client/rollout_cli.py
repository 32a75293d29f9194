"""``rollout`` commands: list, status [--watch], pause, resume, promote, abort, start."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from .client import RolloutClient

TERMINAL = {"SUCCEEDED", "ROLLED_BACK", "FAILED", "ABORTED", "SUPERSEDED"}
# ``status --exit-code``: what a CI script can tell apart (1 is an API error, 2 a usage error).
EXIT_SUCCEEDED, EXIT_LIVE, EXIT_NOT_SUCCEEDED = 0, 3, 4


def add_commands(sub: Any, common: Any) -> None:
    """``rollout ...``; ``common``: the global options, accepted after every command name too."""
    rollout = sub.add_parser("rollout", help="see and steer rollouts", parents=[common])
    commands = rollout.add_subparsers(dest="rollout_command", required=True)
    listing = commands.add_parser("list", help="rollouts (see docs/operations.md for the order)", parents=[common])
    listing.add_argument("--endpoint")
    listing.add_argument("--phase")
    listing.add_argument("--live", action="store_true", help="only rollouts still running")
    listing.add_argument("--json", action="store_true")
    status = commands.add_parser("status", help="one rollout: weights, step, alarms, history", parents=[common])
    status.add_argument("rollout_id")
    status.add_argument("--watch", action="store_true", help="follow it until it finishes")
    status.add_argument("--interval", type=float, default=5.0, help="seconds between refreshes (--watch)")
    status.add_argument("--json", action="store_true")
    status.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {EXIT_SUCCEEDED} if the rollout SUCCEEDED, {EXIT_NOT_SUCCEEDED} if it ended otherwise "
        f"(ROLLED_BACK, FAILED, ABORTED, SUPERSEDED), {EXIT_LIVE} if it is still running (with --watch: at its end)",
    )
    for action in ("pause", "resume", "promote", "abort"):
        steer = commands.add_parser(action, help=f"{action} a rollout", parents=[common])
        steer.add_argument("rollout_id")
        steer.add_argument("--json", action="store_true")
    start = commands.add_parser(
        "start", help="roll out an approved package by hand (redeploy or roll back)", parents=[common]
    )
    start.add_argument("--package", required=True, help="model package ARN (must be Approved)")
    start.add_argument("--target", help="model package group (default: the package's)")
    start.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, client: RolloutClient, out: Console) -> int:
    command = args.rollout_command
    if command == "list":
        rows = client.rollouts(endpoint=args.endpoint, phase=args.phase, live=args.live)
        out.print_json(json.dumps(rows)) if args.json else out.print(list_table(rows))
        return 0
    if command == "status":
        return status(args, client, out)
    if command == "start":
        started = client.start_rollout(args.package, args.target)
        out.print_json(json.dumps(started)) if args.json else out.print(summary_line(started, "started"))
        return 0
    changed = client.steer(args.rollout_id, command)
    out.print_json(json.dumps(changed)) if args.json else out.print(summary_line(changed, command))
    return 0


def exit_code(view: dict[str, Any]) -> int:
    """``status --exit-code``: SUCCEEDED, still running, or ended without success."""
    if view["phase"] == "SUCCEEDED":
        return EXIT_SUCCEEDED
    return EXIT_NOT_SUCCEEDED if view["phase"] in TERMINAL else EXIT_LIVE


def status(args: argparse.Namespace, client: RolloutClient, out: Console) -> int:
    view = _watch(args, client, out)
    return exit_code(view) if args.exit_code else 0


def _watch(args: argparse.Namespace, client: RolloutClient, out: Console) -> dict[str, Any]:
    """Show the rollout (once, or until it ends with --watch); returns its last view."""
    view = client.rollout(args.rollout_id)
    if args.json and not args.watch:
        out.print_json(json.dumps(view))
        return view
    if not args.watch:
        out.print(status_view(view, history=True))
        return view
    if out.is_terminal:
        with Live(status_view(view), console=out, refresh_per_second=4) as live:
            while view["phase"] not in TERMINAL:
                time.sleep(args.interval)
                view = client.rollout(args.rollout_id)
                live.update(status_view(view))
    else:  # piped or captured: print a snapshot whenever something changes
        shown = None
        while True:
            key = (
                view["phase"],
                view["step_percent"],
                json.dumps(view["live"]["weights"], sort_keys=True),
                view["paused"],
                _analysis_key(view),
            )
            if key != shown:
                out.print(status_view(view))
                shown = key
            if view["phase"] in TERMINAL:
                break
            time.sleep(args.interval)
            view = client.rollout(args.rollout_id)
    out.print(f"rollout {view['rollout_id']} ended {view['phase']}: {view['reason']}")
    return view


def list_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="rollouts")
    for column in ("id", "endpoint", "package", "phase", "step", "updated", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        phase = row["phase"] + (" (paused)" if row["paused"] else "")
        table.add_row(
            row["rollout_id"],
            row["endpoint"],
            row["model_package_arn"].rsplit("/", 2)[-2] + "/" + row["model_package_arn"].rsplit("/", 1)[-1],
            phase,
            f"{row['step_percent']}%",
            row["updated_at"][:19],
            row["reason"][:60],
        )
    return table


def status_view(view: dict[str, Any], history: bool = False) -> Group:
    live = view["live"]
    head = Table.grid(padding=(0, 2))
    head.add_row("rollout", view["rollout_id"], "endpoint", view["endpoint"])
    phase = view["phase"] + (" (paused)" if view["paused"] else "")
    head.add_row("phase", phase, "step", f"{view['step_percent']}% of {view['steps']}")
    next_step = live.get("seconds_to_next_step")
    head.add_row(
        "endpoint", str(live["endpoint_status"]), "next step in", "-" if next_step is None else f"{next_step}s"
    )
    head.add_row("package", view["model_package_arn"], "reason", view["reason"])
    if view.get("smoke_test"):
        head.add_row("smoke test", smoke_line(view["smoke_test"]), "", "")
    weights = Table(title="traffic")
    weights.add_column("variant")
    weights.add_column("role")
    weights.add_column("weight", justify="right")
    for variant, percent in sorted(live["weights"].items()):
        role = (
            "candidate"
            if variant == view["candidate_variant"]
            else "baseline"
            if variant == view["baseline_variant"]
            else ""
        )
        weights.add_row(variant, role, f"{percent}%")
    alarms = Table(title="guard alarms")
    alarms.add_column("alarm")
    alarms.add_column("state")
    alarms.add_column("reason", overflow="fold")
    for name, alarm in live["alarms"].items():
        color = {"OK": "green", "ALARM": "red"}.get(alarm["state"], "yellow")
        state = f"[{color}]{alarm['state']}[/{color}]"
        if alarm.get("stale"):  # in ALARM since before the rollout started: ignored
            state = f"[yellow]{alarm['state']} (stale, ignored)[/yellow]"
        alarms.add_row(name, state, alarm["reason"][:80])
    parts: list[Any] = [head, weights, alarms]
    if view.get("analysis"):
        parts += analysis_view(view["analysis"])
    if view.get("needs_attention"):
        parts.append(f"[bold red]needs attention:[/bold red] {view['needs_attention']}")
    if history:
        past = Table(title="history")
        for column in ("at", "phase", "step", "event", "reason"):
            past.add_column(column, overflow="fold")
        for entry in view["history"]:
            past.add_row(entry["at"][:19], entry["phase"], str(entry["step"]), entry["event"], entry["reason"][:80])
        parts.append(past)
    return Group(*parts)


def summary_line(row: dict[str, Any], what: str) -> str:
    paused = " (paused)" if row.get("paused") else ""
    return (
        f"{what}: rollout {row['rollout_id']} on {row['endpoint']} is {row['phase']}{paused} at {row['step_percent']}%"
    )


# --- judging the candidate (issue 12): the smoke test and the latest canary analysis ---------


def smoke_line(smoke: dict[str, Any]) -> str:
    outcome = smoke["outcome"] or f"under way (attempt {smoke['attempts']})"
    color = {"passed": "green", "failed": "red"}.get(smoke["outcome"] or "", "yellow")
    return f"[{color}]{outcome}[/{color}]" + (f": {smoke['reason']}" if smoke["reason"] else "")


def _analysis_key(view: dict[str, Any]) -> tuple[Any, ...] | None:
    report = view.get("analysis")
    if not report:
        return None
    return (report["step"], report["verdict"], tuple((c["name"], c["verdict"]) for c in report["checks"]))


def _number(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.4g}{unit}"


def analysis_view(report: dict[str, Any]) -> list[Any]:
    """The latest canary analysis as a table (per check: the two variants' values, the difference,
    the p-value, how much data, the verdict), then the sentence of every check not passing."""
    verdict = report["verdict"]
    color = {"PASS": "green", "FAIL": "red"}.get(verdict, "yellow")
    score = "" if report["score"] is None else f", score {report['score']:g} (pass {report['pass_score']:g})"
    title = (
        f"canary analysis at {report['step_percent']}%: [{color}]{verdict}[/{color}]{score}, "
        f"minutes {report['window_start'][11:16]}-{report['window_end'][11:16]}"
    )
    table = Table(title=title)
    for column in ("check", "verdict", "baseline", "candidate", "difference", "p-value", "data"):
        table.add_column(column, justify="right" if column in ("baseline", "candidate", "difference") else "left")
    for check in report["checks"]:
        unit, change = {"errors": (" %", " pt"), "latency": (" ms", " %")}.get(check["name"], ("", " %"))
        mark = {"PASS": "green", "FAIL": "red"}.get(check["verdict"], "yellow")
        difference = "-" if check["difference"] is None else f"{check['difference']:+.4g}{change}"
        table.add_row(
            check["name"] + (" (critical)" if check["critical"] else ""),
            f"[{mark}]{check['verdict']}[/{mark}]",
            _number(check["baseline"], unit),
            _number(check["candidate"], unit),
            difference,
            "-" if check["p_value"] is None else f"{check['p_value']:.2g}",
            check["data"],
        )
    parts: list[Any] = [table]
    if report.get("holding_since"):
        parts.append(f"holding since {report['holding_since'][:19]}: not enough data to judge, the bake extends")
    parts += [f"{c['name']} {c['verdict']}: {c['detail']}" for c in report["checks"] if c["verdict"] != "PASS"]
    return parts
