"""cfn-lint and checkov: zero findings on template.yaml and on its offline SAM translation; canaries.

The raw template alone proves little: current cfn-lint no longer expands AWS::Serverless::*
resources and checkov ignores SAM's inline ``Policies:``, so both linters also read the
template as aws-sam-translator expands it (tests/security/translate.py), where the generated
functions, roles, rules and permissions are plain CloudFormation. The canaries are templates
that are wrong on purpose: if a linter stops failing on them, its silence on template.yaml
means nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.template import load_template

from . import summary
from .conftest import FIXTURES, TEMPLATE, tools_bin, translate


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def checkov(path: Path) -> dict[str, Any]:
    """checkov's JSON report for one CloudFormation file (offline: --skip-download)."""
    proc = subprocess.run(
        [
            str(tools_bin() / "checkov"),
            "--file",
            str(path),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.strip().startswith("{"), f"checkov did not report on {path.name}:\n{proc.stdout}\n{proc.stderr}"
    report: dict[str, Any] = json.loads(proc.stdout)
    report["returncode"] = proc.returncode
    return report


def failed(report: dict[str, Any]) -> list[str]:
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"].get("failed_checks", [])]


@pytest.fixture(scope="module")
def canary_translated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("canary") / "sam_canary.json"
    translate(FIXTURES / "sam_canary.yaml", out)
    return out


# --- template.yaml ---------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing_in_the_template_or_its_translation(translated_path: Path):
    for path in (TEMPLATE, translated_path):
        proc = cfn_lint(path)
        assert proc.returncode == 0, f"cfn-lint on {path.name}:\n{proc.stdout}{proc.stderr}"
    summary.lines.append("cfn-lint: 0 findings on template.yaml and on its SAM translation")


def test_checkov_finds_nothing_in_the_template_or_its_translation(translated_path: Path, translated: dict[str, Any]):
    raw, expanded = checkov(TEMPLATE), checkov(translated_path)
    for name, report in (("template.yaml", raw), ("translated", expanded)):
        assert report["summary"]["parsing_errors"] == 0, name
        assert not failed(report), f"checkov on {name}:\n" + "\n".join(failed(report))
        summary.lines.append(
            f"checkov {name}: passed {report['summary']['passed']}, failed {report['summary']['failed']}, "
            f"skipped {report['summary']['skipped']} (each with its reason)"
        )
    # The translation is what makes checkov look at the generated roles and functions.
    checked = {c["resource"].split(".")[0] for c in expanded["results"]["passed_checks"]}
    assert {"AWS::IAM::Role", "AWS::Lambda::Function"} <= checked
    roles = [r for r in translated["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert roles, "SAM generated no role: nothing of the functions' IAM was linted"


# --- canaries ----------------------------------------------------------------------------------------


def test_cfn_lint_fails_its_canaries(canary_translated: Path):
    plain = cfn_lint(FIXTURES / "cfn_canary.yaml")
    assert plain.returncode != 0
    assert re.search(r":E3002:|:E1010:", plain.stdout), plain.stdout  # unknown property, reference to nothing
    expanded = cfn_lint(canary_translated)
    assert expanded.returncode != 0
    assert ":E2533:" in expanded.stdout, expanded.stdout  # the generated function's deprecated runtime


def test_checkov_fails_its_canaries(canary_translated: Path):
    plain = failed(checkov(FIXTURES / "cfn_canary.yaml"))
    assert any(f.startswith("CKV_AWS_28 AWS::DynamoDB::Table") for f in plain), plain  # no PITR
    assert any("AWS::S3::Bucket.OpenBucket" in f for f in plain), plain
    expanded = failed(checkov(canary_translated))
    role_findings = [f for f in expanded if "AWS::IAM::Role" in f]
    assert any(f.startswith(("CKV_AWS_62", "CKV_AWS_63")) for f in role_findings), expanded  # Action "*"
    # The blind spot the translation closes: on the SAM template as written, checkov never sees
    # the admin policy (it ignores inline SAM Policies). If this starts failing, checkov learnt
    # to read them; the translation stays useful for everything else SAM generates.
    as_written = failed(checkov(FIXTURES / "sam_canary.yaml"))
    assert not any(f.startswith(("CKV_AWS_62", "CKV_AWS_63")) for f in as_written), as_written


# --- skips ---------------------------------------------------------------------------------------------

MIN_REASON = 20  # characters: a reason, not a placeholder


def skip_problems(template: dict[str, Any], text: str) -> list[str]:
    """Every linter skip in a template must say why."""
    problems = []
    sections = [("Metadata", template.get("Metadata", {}))] + [
        (name, resource.get("Metadata", {})) for name, resource in template.get("Resources", {}).items()
    ]
    for name, metadata in sections:
        for skip in (metadata.get("checkov") or {}).get("skip", []):
            if not re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", str(skip.get("id", ""))):
                problems.append(f"{name}: checkov skip of an unknown check id {skip.get('id')!r}")
            if len(str(skip.get("comment") or "").strip()) < MIN_REASON:
                problems.append(f"{name}: checkov skip {skip.get('id')} has no reason")
    lines = text.splitlines()
    for n, line in enumerate(lines):
        inline = re.search(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?", line)
        if inline and len((inline.group(2) or "").strip()) < MIN_REASON:
            problems.append(f"line {n + 1}: inline checkov skip {inline.group(1)} has no reason")
        if "ignore_checks" in line:
            above = [prev.strip() for prev in lines[max(0, n - 3) : n] if prev.strip()]
            if not any(prev.startswith("#") for prev in above):
                problems.append(f"line {n + 1}: cfn-lint ignore_checks without a comment saying why")
    return problems


def test_every_skip_in_the_template_has_a_reason():
    problems = skip_problems(load_template(), TEMPLATE.read_text())
    assert not problems, "\n".join(problems)


def test_a_skip_without_a_reason_is_caught():
    text = """
Metadata:
  cfn-lint:
    config:
      ignore_checks: [W3005]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_28
          - id: CKV_AWS_119
            comment: ok
"""
    problems = skip_problems(yaml.safe_load(text), text)
    assert len(problems) == 3, problems


# --- registry/template.yaml (the Model Registry's account, issue 11) --------------------------------

REGISTRY_TEMPLATE = TEMPLATE.parent / "registry" / "template.yaml"


@pytest.fixture(scope="module")
def registry_translated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("registry") / "registry.json"
    translate(REGISTRY_TEMPLATE, out)
    return out


def test_the_registry_template_passes_cfn_lint_and_checkov_as_written_and_translated(registry_translated: Path):
    for path in (REGISTRY_TEMPLATE, registry_translated):
        proc = cfn_lint(path)
        assert proc.returncode == 0, f"cfn-lint on {path.name}:\n{proc.stdout}{proc.stderr}"
        report = checkov(path)
        assert report["summary"]["parsing_errors"] == 0, path.name
        assert not failed(report), f"checkov on {path.name}:\n" + "\n".join(failed(report))
        assert report["summary"]["passed"] > 0, f"checkov checked nothing in {path.name}"
    problems = skip_problems(load_template(REGISTRY_TEMPLATE), REGISTRY_TEMPLATE.read_text())
    assert not problems, "\n".join(problems)
    summary.lines.append("registry/template.yaml: 0 findings from cfn-lint and checkov, as written and translated")
