"""One cold start, in this (fresh) process; prints JSON. Run by bench/__main__.py, never imported by it.

    python -S bench/cold_start.py function <name>   import functions/<name>/app.py and set up its clients
    python -S bench/cold_start.py bare <svc> ...    import boto3 and make the same clients the same way

with PYTHONPATH = the function's directory and the core layer (tests/deployed/lambda_env.isolated):
what it imports comes from there or from the standard library, as on Lambda.

"Set up its clients" calls the zero-argument cached factories the module uses (what its first
invocation does before any AWS call): the rollout_core.wiring factories it imports and its own
cached builders (e.g. the Powertools idempotency persistence layer). The clients it creates are
recorded, so the bare process makes exactly those.
"""

from __future__ import annotations

import json
import sys
import time

START = time.perf_counter()

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _cached_factories(module: object) -> list[object]:
    found = []
    for name, value in vars(module).items():
        if callable(value) and hasattr(value, "cache_clear") and not name.startswith("__"):
            code = getattr(getattr(value, "__wrapped__", None), "__code__", None)
            if code is not None and code.co_argcount == 0:
                found.append(value)
    return found


def _timings(imported: float, services: list[str]) -> dict[str, object]:
    """Seconds since the process started (in all and to the end of imports), and what it made."""
    return {
        "seconds": time.perf_counter() - START,
        "import_seconds": imported - START,
        "services": services,
        "modules": len(sys.modules),
        "python": sys.version.split()[0],
    }


def function(name: str) -> dict[str, object]:
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    imported = time.perf_counter()
    import botocore.session

    services: list[str] = []
    create = botocore.session.Session.create_client

    def recording(self: object, service_name: str, *args: object, **kwargs: object) -> object:
        services.append(service_name)
        return create(self, service_name, *args, **kwargs)  # type: ignore[arg-type]

    setattr(botocore.session.Session, "create_client", recording)  # noqa: B010 - mypy: the stubs' signature
    for factory in _cached_factories(module):
        factory()  # type: ignore[operator]
    return _timings(imported, services)


def bare(services: list[str]) -> dict[str, object]:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 4})
    imported = time.perf_counter()
    for service in services:
        session: Any = boto3.session.Session()
        session.client(service, config=config)  # a session per client, as the product does
    return _timings(imported, services)


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    result = function(args[0]) if kind == "function" else bare(args)
    print(json.dumps(result))
