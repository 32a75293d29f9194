"""``python -m sandbox run [SCENARIO_FILE ...] [--json]``: rehearse the stack on moto."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .template import ROOT

sys.path.insert(0, str(ROOT / "layers" / "rollout_core"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run scenario files (default: the built-in ones)")
    run.add_argument("files", nargs="*", type=Path)
    run.add_argument("--json", action="store_true", help="print timelines and final rollouts as JSON")
    serve = sub.add_parser("serve", help="serve the API over HTTP on a local moto server (for the client/CLI)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--realtime-limit", type=int, default=None, help="override REALTIME_LIMIT_BYTES")
    args = parser.parse_args(argv)
    if args.command == "serve":
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        from .serve import main as serve_main

        return serve_main(args.port, args.realtime_limit)

    from .scenario_format import builtin_files, load
    from .scenarios import Runner

    files = args.files or builtin_files()
    results = []
    for path in files:
        runner = Runner(load(path))
        result = runner.run()
        results.append(result)
        if not args.json:
            mark = "PASS" if result.passed else "FAIL"
            print(f"\n== {mark} {result.name} ({path.name})")
            for line in runner.lines():
                print("  " + line)
            for failure in result.failures:
                print(f"  !! {failure}")
    if args.json:
        print(json.dumps([vars(r) | {"passed": r.passed} for r in results], indent=2, default=str))
    else:
        passed = sum(r.passed for r in results)
        print(f"\n{passed}/{len(results)} scenarios passed")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
