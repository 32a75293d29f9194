"""``rollout`` commands: list, status [--watch], pause, resume, promote, abort, approve, start."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from rich import box
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
    helps = {
        "approve": "start a rollout waiting at a manual gate",
        "abort": "abort a rollout (or decline a waiting one)",
    }
    for action in ("pause", "resume", "promote", "abort", "approve"):
        steer = commands.add_parser(action, help=helps.get(action, f"{action} a rollout"), parents=[common])
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
        out.print_json(json.dumps(rows)) if args.json else out.print(list_table(rows, width=out.width))
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


# --- what people read: times in their own zone, steps as percentages -------------------------


def short_time(iso: str, now: datetime | None = None) -> str:
    """An API time (full ISO 8601, UTC) in the reader's local zone: "14:05:09" today, else
    "Nov 20 14:05". --json keeps the API's full ISO times."""
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    today = (now or datetime.now(at.tzinfo)).astimezone().date()
    return at.strftime("%H:%M:%S") if at.date() == today else at.strftime("%b %d %H:%M")


def plan_text(steps: list[int]) -> str:
    """The plan's traffic steps: "10% → 50% → 100%"."""
    return " → ".join(f"{s}%" for s in steps)


def step_text(row: dict[str, Any]) -> str:
    """Where a rollout is, in percent of traffic on the candidate: "first deployment" (all traffic
    at once), "next 50%" (nothing shifted yet), "50% → 100%" (at 50 %, 100 % next), "100%"."""
    if row.get("first_deployment"):
        return "first deployment"
    steps, percent, phase = row["steps"], row["step_percent"], row["phase"]
    if phase == "SUCCEEDED":
        return "100%"
    if phase in TERMINAL:
        return f"stopped at {percent}%" if percent else "0%"
    if phase == "ROLLING_BACK":
        return f"back from {percent}%"
    if percent == 0:  # no traffic shifted yet: queued, provisioning, waiting
        return f"next {steps[0]}%" if steps else "0%"
    later = [s for s in steps if s > percent]
    return f"{percent}% → {later[0]}%" if later else f"{percent}%"


def history_step(index: int, steps: list[int]) -> str:
    """A history entry's step index as the candidate's traffic then (-1: before the first shift)."""
    return f"{steps[index]}%" if 0 <= index < len(steps) else "0%"


def list_table(rows: list[dict[str, Any]], now: datetime | None = None, width: int = 80) -> Table:
    """One line per rollout in ``width`` columns: ids, packages, phases, steps and times whole; the
    reason takes what is left and is cut short with an ellipsis (in full: ``rollout status ID``).
    The endpoint is the package group's target's, so the package names it."""
    cells = [
        [
            row["rollout_id"],
            row["model_package_arn"].rsplit("/", 2)[-2] + "/" + row["model_package_arn"].rsplit("/", 1)[-1],
            row["phase"] + (" (paused)" if row["paused"] else ""),
            step_text(row),
            short_time(row["updated_at"], now),
        ]
        for row in rows
    ]
    columns = ("id", "package", "phase", "step", "updated")
    widths = [max([len(name), *(len(c[i]) for c in cells)]) for i, name in enumerate(columns)]
    room = max(12, width - sum(widths) - 2 * len(columns))  # two spaces between columns
    table = Table(title="rollouts", box=None, pad_edge=False, padding=(0, 1))
    for name, column_width in zip(columns, widths, strict=True):
        table.add_column(name, no_wrap=True, min_width=column_width)
    table.add_column("reason", no_wrap=True, max_width=room)
    for row, row_cells in zip(rows, cells, strict=True):
        reason = row["reason"] if len(row["reason"]) <= room else row["reason"][: room - 1] + "…"
        table.add_row(*row_cells, reason)
    return table


def status_view(view: dict[str, Any], history: bool = False, now: datetime | None = None) -> Group:
    live = view["live"]
    head = Table.grid(padding=(0, 2))  # label, value: ids and times never wrap at 80 columns
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")
    phase = view["phase"] + (" (paused)" if view["paused"] else "")
    head.add_row("rollout", f"{view['rollout_id']} on {view['endpoint']}")
    head.add_row("phase", phase)
    head.add_row("step", f"{step_text(view)} (plan {plan_text(view['steps'])})")
    next_step = live.get("seconds_to_next_step")
    head.add_row(
        "endpoint", str(live["endpoint_status"]) + ("" if next_step is None else f", next step in {next_step}s")
    )
    head.add_row("package", view["model_package_arn"])
    head.add_row("reason", view["reason"])
    if view.get("smoke_test"):
        head.add_row("smoke test", smoke_line(view["smoke_test"]))
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
        past = Table(title="history", box=box.SIMPLE_HEAD, pad_edge=False)
        past.add_column("at", no_wrap=True)
        past.add_column("phase", overflow="fold")
        past.add_column("step", no_wrap=True)
        past.add_column("event", overflow="fold")
        past.add_column("reason", overflow="fold", ratio=1, min_width=12)
        for entry in view["history"]:
            past.add_row(
                short_time(entry["at"], now),
                entry["phase"],
                history_step(entry["step"], view["steps"]),
                entry["event"],
                entry["reason"][:80],
            )
        parts.append(past)
    return Group(*parts)


def summary_line(row: dict[str, Any], what: str) -> str:
    paused = " (paused)" if row.get("paused") else ""
    return f"{what}: rollout {row['rollout_id']} on {row['endpoint']} is {row['phase']}{paused} ({step_text(row)})"


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
