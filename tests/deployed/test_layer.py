"""What is tested is what is deployed: the layer's pins, the built layer, the runtime's Python.

- layers/rollout_core/requirements.txt pins every distribution the layer ships (boto3, botocore
  and s3transfer included: Lambda's own SDK must not run on top of our botocore); the dev venv
  takes them from there (``-r``) and runs exactly those versions.
- The layer, installed from that file alone as `sam build` does it (tests/deployed/layer.py), holds
  exactly the pinned distributions, fits Lambda's size limits, and every function imports and
  builds its clients on it, under the runtime's Python, with nothing else on the path and the
  environment template.yaml gives the function. A canary layer with a dependency left out must fail.
"""

from __future__ import annotations

import email.parser
import functools
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from . import layer, summary
from .lambda_env import function_environments, isolated

ROOT = layer.ROOT
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
PROBE = Path(__file__).resolve().parent / "probe.py"
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
SDK = ("boto3", "botocore", "s3transfer")


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def pins(path: Path = layer.REQUIREMENTS) -> dict[str, str | None]:
    """Distribution -> pinned version (None when the line is not an exact ``==`` pin)."""
    found: dict[str, str | None] = {}
    for line in requirement_lines(path):
        if line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?(.*)", line)
        assert match, f"{path.name}: cannot read {line!r}"
        found[canonical(match.group(1))] = match.group(3) if not match.group(4) else None
    return found


def installed(directory: Path) -> dict[str, str]:
    """Distribution -> version of what pip installed into ``directory`` (its .dist-info)."""
    found = {}
    for info in directory.glob("*.dist-info"):
        meta = email.parser.Parser().parsestr((info / "METADATA").read_text())
        found[canonical(meta["Name"])] = meta["Version"]
    return found


# --- the pins: one source of truth -------------------------------------------------------------------


def test_the_layer_pins_every_requirement_and_the_sdk():
    pinned = pins()
    assert all(pinned.values()), f"not an exact pin: {[n for n, v in pinned.items() if not v]}"
    assert set(SDK) <= set(pinned), "the layer ships the SDK it is tested with"


def test_dev_requirements_take_the_layer_pins_and_repeat_none():
    lines = requirement_lines(DEV_REQUIREMENTS)
    assert "-r layers/rollout_core/requirements.txt" in lines
    repeated = set(pins(DEV_REQUIREMENTS)) & set(pins())
    assert not repeated, f"requirements-dev.txt pins layer distributions again: {sorted(repeated)}"


def test_the_tests_run_the_pinned_versions():
    running = {name: metadata.version(name) for name in pins()}
    assert running == pins(), "the dev venv drifted from the layer's pins: rebuild it (make)"


# --- the built layer -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def interpreter() -> tuple[str, str, str]:
    """(executable, its version, the runtime's version)."""
    python, found, wanted = layer.runtime_python()
    summary.lines.append(
        f"tests ran on Python {platform.python_version()}; the functions' runtime is python{wanted} "
        f"{layer.runtime()[1]}; the import check ran on Python {found}"
        + ("" if found == wanted else f" (no {wanted} on this machine: the closest)")
    )
    return python, found, wanted


@pytest.fixture(scope="session")
def lambda_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """python/ of the layer as deployed: wheels for the runtime's Python and architecture."""
    version, arch = layer.runtime()
    return layer.assemble(layer.install(version, arch), tmp_path_factory.mktemp("lambda-layer"))


@pytest.fixture(scope="session")
def native_layer(tmp_path_factory: pytest.TempPathFactory, interpreter: tuple[str, str, str]) -> Path:
    """The same layer built for this machine, so that its compiled parts import here."""
    return layer.assemble(layer.install(interpreter[1], layer.native_arch()), tmp_path_factory.mktemp("native-layer"))


def test_the_layer_ships_exactly_the_pinned_distributions(lambda_layer: Path):
    assert installed(lambda_layer) == pins(), "a dependency the layer installs is not pinned (or a pin is unused)"
    assert (lambda_layer / "rollout_core" / "__init__.py").is_file()
    assert (lambda_layer / "boto3").is_dir(), "boto3 itself, not only botocore"


def test_the_import_check_layer_has_the_same_distributions(lambda_layer: Path, native_layer: Path):
    assert installed(native_layer) == installed(lambda_layer)


def test_the_layer_fits_lambda_limits(lambda_layer: Path):
    unzipped, zipped = layer.sizes(lambda_layer)
    code = max(
        sum(f.stat().st_size for f in (ROOT / "functions" / fn).rglob("*.py")) for fn in FUNCTIONS
    )  # a function's own package, beside the layer
    summary.lines.append(
        f"core layer (python{layer.runtime()[0]}, {layer.runtime()[1]}): {unzipped / 1e6:.1f} MB unzipped "
        f"({(unzipped + code) / layer.UNZIPPED_LIMIT:.0%} of Lambda's {layer.UNZIPPED_LIMIT / 2**20:.0f} MB with "
        f"the largest function), {zipped / 1e6:.1f} MB zipped ({zipped / layer.ZIPPED_DIRECT_LIMIT:.0%} of the "
        f"{layer.ZIPPED_DIRECT_LIMIT / 2**20:.0f} MB direct upload; sam deploy uploads through S3)"
    )
    assert unzipped + code < layer.UNZIPPED_LIMIT, "the deploy would fail: over Lambda's unzipped limit"


ENVIRONMENTS = functools.cache(function_environments)


def run_probe(python: str, function: str, layer_dir: Path, pycache: Path) -> dict[str, Any]:
    env = isolated(ENVIRONMENTS()[function], ROOT / "functions" / function, layer_dir) | {
        # Compiled modules go elsewhere: the layer stays as built (sam build ships no .pyc), and
        # the probes after the first one do not compile botocore and pydantic again.
        "PYTHONPYCACHEPREFIX": str(pycache),
    }
    out = subprocess.run([python, "-S", str(PROBE)], env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="session")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture(scope="session")
def stdlib(interpreter: tuple[str, str, str]) -> list[str]:
    code = "import json, sysconfig; print(json.dumps([sysconfig.get_path('stdlib'), sysconfig.get_path('platstdlib')]))"
    out = subprocess.run([interpreter[0], "-S", "-c", code], capture_output=True, text=True, check=True)
    paths: list[str] = json.loads(out.stdout)
    return paths


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_starts_on_the_layer_alone(
    function: str, native_layer: Path, interpreter: tuple[str, str, str], stdlib: list[str], pycache: Path
):
    report = run_probe(interpreter[0], function, native_layer, pycache)
    assert "error" not in report, f"{function} does not start on the layer alone:\n{report['error']}"
    assert report["python"].startswith(interpreter[1] + ".")
    roots = [str(ROOT / "functions" / function), str(native_layer), *stdlib]
    strays = [f for f in report["files"] if not any(f.startswith(r + os.sep) for r in roots)]
    assert not strays, f"{function} loaded modules from outside its code, the layer and the stdlib: {strays}"
    assert {canonical(n): v for n, v in report["distributions"].items()} == pins()
    assert any(f.startswith(str(native_layer / "boto3") + os.sep) for f in report["files"])


def test_the_import_check_fails_on_a_missing_dependency(
    tmp_path: Path, interpreter: tuple[str, str, str], pycache: Path
):
    """Canary: the same layer without pydantic. If this starts, the check above proves nothing."""
    incomplete = layer.assemble(
        layer.install(interpreter[1], layer.native_arch()), tmp_path, leave_out=("pydantic", "pydantic-*")
    )
    report = run_probe(interpreter[0], FUNCTIONS[0], incomplete, pycache)
    assert "No module named 'pydantic'" in str(report.get("error")), report.get("error")


def test_without_the_runtime_python_the_closest_one_is_used(monkeypatch: pytest.MonkeyPatch):
    versions = {"/py311": (3, 11), "/py312": (3, 12), "/py314": (3, 14), "/py310": (3, 10)}
    monkeypatch.setattr(layer, "_candidates", lambda: list(versions))
    monkeypatch.setattr(layer, "_version_of", lambda python: (python, versions[python]))
    assert layer.find_python("3.14") == ("/py314", "3.14")
    assert layer.find_python("3.13") == ("/py314", "3.14")  # the newer of two equally close
    del versions["/py314"]
    assert layer.find_python("3.13") == ("/py312", "3.12")
    assert layer.find_python("3.9") == ("/py311", "3.11")  # never below the floor
