"""One function's cold start on the layer alone; prints JSON. Run by test_layer.py, never imported.

    python -S tests/deployed/probe.py        with PYTHONSAFEPATH=1, PYTHONPATH=<function dir>:<layer python/>

and the function's environment (tests/deployed/lambda_env.py). ``-S`` keeps every site-packages
directory off the path, PYTHONSAFEPATH keeps this script's directory off it: the standard library,
the function's code and the layer are all there is, as on Lambda with the layer ahead of the
runtime's own boto3 (the layer's boto3 is the one that runs there too).

It does what Lambda's init does (imports ``app`` and looks up ``_HANDLER``), then what the first
invocation does before any AWS call: every zero-argument cached factory of the module (the
rollout_core.wiring builders it imports, the idempotency persistence layer), the same rule as
bench/cold_start.py. Then it reports where every module came from and which distributions it saw.
"""

import importlib
import importlib.metadata
import json
import os
import sys
import traceback


def _cached_factories(module: object) -> list[object]:
    found = []
    for name, value in vars(module).items():
        if callable(value) and hasattr(value, "cache_clear") and not name.startswith("__"):
            code = getattr(getattr(value, "__wrapped__", None), "__code__", None)
            if code is not None and code.co_argcount == 0:
                found.append(value)
    return found


def main() -> dict[str, object]:
    module_name, handler_name = os.environ["_HANDLER"].rsplit(".", 1)
    report: dict[str, object] = {"python": sys.version.split()[0], "path": list(sys.path)}
    try:
        module = importlib.import_module(module_name)
        if not callable(getattr(module, handler_name, None)):
            raise AttributeError(f"{module_name} has no handler {handler_name}")
        factories = _cached_factories(module)
        for factory in factories:
            factory()  # type: ignore[operator]
        report["factories"] = [getattr(f, "__name__", repr(f)) for f in factories]
    except Exception:
        report["error"] = traceback.format_exc()
    this = sys.modules["__main__"]  # this script (multiprocessing also files it as __mp_main__)
    modules = [m for m in list(sys.modules.values()) if m is not this]
    report["files"] = sorted({f for m in modules if (f := getattr(m, "__file__", None))})
    report["distributions"] = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
    return report


if __name__ == "__main__":
    print(json.dumps(main()))
