"""Command line: ``python -m rollout_client [--api URL] invoke ENDPOINT FILE`` and
``python -m rollout_client rollout list|status|pause|resume|promote|abort|approve|start``,
``python -m rollout_client versions --group G`` (every environment of $SAGEMAKER_ROLLOUT_APIS) and
``python -m rollout_client doctor ENDPOINT [--json]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from . import doctor_cli, versions_cli
from .client import ApiError, RolloutClient, default_api_url
from .rollout_cli import add_commands, run


def _common(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (``defaults``: the top level's)."""
    common = argparse.ArgumentParser(add_help=False)
    default = default_api_url() if defaults else argparse.SUPPRESS
    none = None if defaults else argparse.SUPPRESS
    common.add_argument(
        "--api", default=default, help="API base URL (InferenceApiUrl output); default: $SAGEMAKER_ROLLOUT_API"
    )
    common.add_argument("--region", default=none, help="AWS region (default: the usual AWS config)")
    common.add_argument("--realtime-limit", type=int, default=none, help="bytes above which the job route is used")
    return common


def _parser() -> argparse.ArgumentParser:
    # Installed, the console script is sagemaker-rollout (rollout_client/pyproject.toml).
    prog = "sagemaker-rollout" if Path(sys.argv[0]).name == "sagemaker-rollout" else "python -m rollout_client"
    parser = argparse.ArgumentParser(
        prog=prog, description="sagemaker-rollout client", parents=[_common(defaults=True)]
    )
    common = _common(defaults=False)  # the same options after a command's name
    sub = parser.add_subparsers(dest="command", required=True)
    invoke = sub.add_parser("invoke", help="get predictions for FILE, whatever its size", parents=[common])
    invoke.add_argument("endpoint")
    invoke.add_argument("file", type=Path)
    invoke.add_argument("--content-type", default="application/octet-stream")
    invoke.add_argument("--accept", default=None)
    invoke.add_argument("--mode", choices=["auto", "async", "batch"], default="auto")
    invoke.add_argument(
        "--split-type",
        choices=["None", "Line", "RecordIO", "TFRecord"],
        default="None",
        help="batch: how FILE splits into records",
    )
    invoke.add_argument("--output", "-o", type=Path, default=None, help="write the result here (default: stdout)")
    invoke.add_argument("--json", action="store_true", help="print a JSON summary instead of the body")
    add_commands(sub, common)
    doctor_cli.add_command(sub, common)
    versions_cli.add_command(sub, common)
    clean = sub.add_parser(
        "cleanup",
        help="list (and with --yes delete) the SageMaker resources this tool created for a stack",
        parents=[common],
    )
    clean.add_argument("--stack", required=True, help="the stack's name (its managed prefix is read from it)")
    clean.add_argument("--yes", action="store_true", help="delete (default: only print what would be deleted)")
    clean.add_argument("--endpoints", action="store_true", help="delete the endpoints too (they serve traffic!)")
    return parser


def _cleanup(args: argparse.Namespace, out: Console) -> int:
    import boto3

    from . import cleanup

    session = boto3.session.Session(region_name=args.region)
    sagemaker, cloudwatch = session.client("sagemaker"), session.client("cloudwatch")
    found = cleanup.plan(sagemaker, cloudwatch, cleanup.stack_prefix(session.client("cloudformation"), args.stack))
    for line in found.lines(args.endpoints):
        out.print(line)
    if not args.yes:
        out.print("dry run: nothing deleted (add --yes to delete)")
        return 0
    cleanup.apply(sagemaker, cloudwatch, found, args.endpoints, cleanup.endpoint_waiter(sagemaker), out.print)
    out.print("done. The stack's table and jobs bucket are retained: delete them yourself when unneeded.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    err = Console(stderr=True)
    if args.command == "cleanup":
        return _cleanup(args, Console())
    if args.command == "versions":
        try:
            apis = versions_cli.environments(os.environ.get("SAGEMAKER_ROLLOUT_APIS"), args.api)
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            return 2
        if not apis:
            err.print("[red]no API URLs: set SAGEMAKER_ROLLOUT_APIS (dev=URL,staging=URL,...) or pass --api[/red]")
            return 2
        return versions_cli.run(args, apis, Console(), lambda url: RolloutClient(url, region=args.region))
    if not args.api:
        err.print("[red]no API URL: pass --api or set SAGEMAKER_ROLLOUT_API[/red]")
        return 2
    options = {"realtime_limit": args.realtime_limit} if args.realtime_limit else {}
    client = RolloutClient(args.api, region=args.region, **options)
    if args.command in ("rollout", "doctor"):
        try:
            return (run if args.command == "rollout" else doctor_cli.run)(args, client, Console())
        except ApiError as exc:
            err.print(f"[red]error {exc.status}: {exc.message}[/red]")
            return 1
    if not args.file.is_file():
        err.print(f"[red]{args.file}: no such file[/red]")
        return 2
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bars:

        def progress(stage: str, done: int, total: int | None) -> None:
            key = stage.split(" ", maxsplit=1)[0]
            if key == "job":  # polling: done counts seconds, not bytes
                stage, done, total = f"{stage} ({done} s)", 0, None
            if key not in tasks:
                tasks[key] = bars.add_task(stage, total=total)
            bars.update(tasks[key], completed=done, total=total, description=stage)

        try:
            result = client.invoke(
                args.endpoint,
                args.file,
                args.content_type,
                accept=args.accept,
                mode=args.mode,
                split_type=args.split_type,
                output=args.output,
                progress=progress,
            )
        except ApiError as exc:
            bars.stop()
            err.print(f"[red]error {exc.status}: {exc.message}[/red]")
            return 1
    if args.json:
        summary = {
            "route": result.route,
            "job_id": result.job_id,
            "variant": result.variant,
            "output": str(result.output_path) if result.output_path else None,
            "bytes": len(result.body)
            if result.body is not None
            else result.output_path.stat().st_size
            if result.output_path
            else 0,
        }
        print(json.dumps(summary))
    elif result.body is not None:
        sys.stdout.buffer.write(result.body)
        sys.stdout.flush()
    err.print(
        f"[green]{result.route}[/green]"
        + (f" job {result.job_id}" if result.job_id else "")
        + (f" variant {result.variant}" if result.variant else "")
    )
    return 0
