"""The security tools (checkov, aws-sam-translator) live in their own venv: they pin versions of
boto3 and pydantic the product cannot use. `make test` creates it (.venv-security, from
requirements-security.txt); SECURITY_VENV points elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import summaries

from . import summary

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TRANSLATE = Path(__file__).resolve().parent / "translate.py"


def tools_bin() -> Path:
    venv = Path(os.environ.get("SECURITY_VENV") or ROOT / ".venv-security")
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.fail(f"no security tools venv at {venv}: run `make security-tools` (or set SECURITY_VENV)")
    return venv / "bin"


def translate(template: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(tools_bin() / "python"), str(TRANSLATE), str(template), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"translation of {template.name} failed:\n{proc.stderr}"
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


@pytest.fixture(scope="session")
def translated_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("translated") / "template.json"
    translate(TEMPLATE, out)
    return out


@pytest.fixture(scope="session")
def translated(translated_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(translated_path.read_text())
    return loaded


summaries.register("security baseline", lambda: summary.lines)
