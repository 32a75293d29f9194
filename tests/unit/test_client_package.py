"""The client installs on its own (rollout_client/pyproject.toml) and runs as ``sagemaker-rollout``.

A copy of rollout_client/ is pip-installed into a new virtualenv, as a platform engineer would
install it from the repository (``pip install ./rollout_client``), and its console script runs
from outside the repository. The new virtualenv sees the dev venv's packages through a .pth
file (no download: the build backend and the client's dependencies come from there), so the
declared dependencies are checked against what the client's modules import instead.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "rollout_client"
TIMEOUT = 120  # seconds for each step (~5 s in all on an idle machine)


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def test_pip_install_of_the_path_gives_the_sagemaker_rollout_console_script(tmp_path: Path):
    source = tmp_path / "src" / "rollout_client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).stdout.strip()
    Path(site, "dev-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")

    installed = _run(
        python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--disable-pip-version-check", source,
        cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    script = venv / "bin" / "sagemaker-rollout"
    helped = _run(script, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: sagemaker-rollout"), helped.stdout[:200]
    for command in ("invoke", "rollout", "versions"):
        assert command in helped.stdout
    where = _run(python, "-c", "import rollout_client; print(rollout_client.__file__)", cwd=tmp_path).stdout
    assert Path(where.strip()).is_relative_to(venv), f"imported from {where}, not the installed copy"
    module = _run(python, "-m", "rollout_client", "--help", cwd=tmp_path)
    assert module.returncode == 0 and module.stdout.startswith("usage: python -m rollout_client"), module.stderr


def _third_party_imports() -> set[str]:
    found = set()
    for path in CLIENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found |= {n.split(".")[0] for n in names}
    return found - set(sys.stdlib_module_names) - {"__future__", "rollout_client"}


def test_the_client_declares_exactly_the_packages_it_imports():
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    declared = {dep.split(">")[0].split("=")[0].split("<")[0].strip() for dep in project["dependencies"]}
    assert declared == _third_party_imports()
    assert project["scripts"] == {"sagemaker-rollout": "rollout_client.cli:main"}
