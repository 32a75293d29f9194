"""The docs say what the code does, where a test can tell: parameters, routes, milestones, links.

README.md is the front door (short, links into docs/); docs/*.md hold the reference. A new
template parameter, API route or milestone fails here until the page that lists them says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rollout_core.history import MILESTONE_TYPES
from rollout_core.machine import TRANSITIONS
from sandbox.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
JOB_MILESTONES = ("Job Succeeded", "Job Failed")
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _table_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")
    ]


def _parameter_rows() -> dict[str, list[str]]:
    """Template parameter name -> its row in docs/configuration.md's parameter table."""
    rows = {}
    for cells in _table_rows((DOCS / "configuration.md").read_text()):
        for name in re.findall(r"`([A-Z][A-Za-z]+)`", cells[0]):
            rows[name] = cells
    return rows


def _default_shown(parameter: dict[str, Any]) -> str:
    if "Default" not in parameter:
        return "(required)"
    value = str(parameter["Default"])
    return '`""`' if value == "" else f"`{value}`"


def test_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= 250, "README.md is the front door: reference material belongs in docs/"
    assert "make sandbox" in text and "make test" in text


def test_every_template_parameter_is_documented_with_its_real_default():
    rows = _parameter_rows()
    parameters = load_template()["Parameters"]
    missing = sorted(set(parameters) - set(rows))
    assert not missing, f"docs/configuration.md lacks a row for {missing}"
    wrong = []
    for name, parameter in parameters.items():
        cells = rows[name]
        if _default_shown(parameter) not in cells[2]:
            wrong.append(f"{name}: docs say {cells[2]!r}, the template {_default_shown(parameter)}")
        if parameter["Type"] not in cells[1]:
            wrong.append(f"{name}: docs say type {cells[1]!r}, the template {parameter['Type']}")
    assert not wrong, wrong
    unknown = sorted(set(rows) - set(parameters))
    assert not unknown, f"docs/configuration.md documents parameters the template does not have: {unknown}"


def _api_routes() -> set[tuple[str, str]]:
    routes = set()
    for resource in load_template()["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                routes.add((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return routes


def test_every_api_route_is_documented():
    text = "\n".join((DOCS / page).read_text() for page in ("inference-api.md", "operations.md", "security.md"))
    # Path parameters read as one segment on both sides: {id} in the docs, {rollout_id} in the template.
    documented = {
        (m, re.sub(r"\{[^}]+\}", "x", p)) for m, p in re.findall(r"`(GET|POST|PUT|DELETE) (/v1/[^`? ]*)", text)
    }
    missing = []
    for method, path in sorted(_api_routes()):
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        if not any(m == method and pattern.match(p) for m, p in documented):
            missing.append(f"{method} {path}")
    assert not missing, f"routes with no documentation in docs/: {missing}"


def test_every_milestone_is_in_the_events_list():
    text = (DOCS / "operations.md").read_text()
    kinds = [*MILESTONE_TYPES.values(), *JOB_MILESTONES]
    words = {k: k.removeprefix("Rollout ").removeprefix("Job ") for k in kinds}
    missing = [k for k in kinds if f"`{k}`" not in text and f"`{words[k]}`" not in text]
    assert not missing, f"docs/operations.md does not list the milestones {missing}"


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_lead_somewhere(page: Path):
    broken = [
        target
        for target, _ in LINK.findall(page.read_text())
        if not target.startswith(("http://", "https://", "mailto:")) and not (page.parent / target).exists()
    ]
    assert not broken, f"{page.name} links to {broken}"


def test_the_readme_links_every_page_of_the_docs():
    linked = {Path(target).name for target, _ in LINK.findall(README.read_text()) if target.startswith("docs/")}
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages <= linked, f"docs pages the README does not link: {sorted(pages - linked)}"


def test_the_state_diagram_draws_exactly_the_machines_transitions():
    text = (DOCS / "how-rollouts-work.md").read_text()
    diagram = text[text.index("stateDiagram-v2") : text.index("```", text.index("stateDiagram-v2"))]
    drawn = set(re.findall(r"^\s+([A-Z_]+) --> ([A-Z_]+)", diagram, re.M))
    declared = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert drawn == declared, {"drawn, not in the machine": drawn - declared, "missing": declared - drawn}
