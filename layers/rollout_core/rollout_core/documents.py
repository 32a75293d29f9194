"""Stored documents (a rollout's or a job's JSON body in DynamoDB) across releases.

Each document carries ``schema_version``; one written before versions existed is version 1
(the release of 2026-11: tests/fixtures/stored holds items it wrote). Reading:

- an older version is upgraded, step by step, to the current one (``_UPGRADES``);
- a newer version (a stack rolled back to an older release, or two releases side by side
  during a deploy) is read by dropping the fields this release does not know, recursively, and
  logged: the rollout goes on with what this release understands.

Schema versions: 1 (no field), 2 (2026-12: schema_version itself; every field added since
has a default, so the upgrade only stamps the version), 3 (2026-12, issue 12: the plan's
``smoke_test`` and ``analysis``, on by default; a rollout stored before has neither and keeps
the plan it started with: both are written as disabled), 4 (2026-12, issue 13: ``plan.shadow``,
the ``shadow`` record (with its ``type_attempt``) and the SHADOWING phase; all optional, so the
upgrade only stamps the version, and a release of version 3 reads a version-4 rollout without
them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from .jobs import Job
from .models import Rollout

logger = Logger(child=True)

SCHEMA_VERSION = 4
Model = TypeVar("Model", bound=BaseModel)

# version -> the function that turns a document of that version into the next one
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: lambda doc: {**doc, "schema_version": 2},
    2: lambda doc: {**_judging_off(doc), "schema_version": 3},
    3: lambda doc: {**doc, "schema_version": 4},
}


def _judging_off(doc: dict[str, Any]) -> dict[str, Any]:
    """A rollout started before judging existed does not start judging half-way (its plan has
    no smoke_test or analysis: they are written as disabled). Jobs have no plan: unchanged."""
    target = doc.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("plan"), dict):
        return doc
    plan = {"smoke_test": {"enabled": False}, "analysis": {"enabled": False}, **target["plan"]}
    return {**doc, "target": {**target, "plan": plan}}


def load_rollout(body: str) -> Rollout:
    return _load(Rollout, body)


def load_job(body: str) -> Job:
    return _load(Job, body)


def _load(model: type[Model], body: str) -> Model:
    doc: dict[str, Any] = json.loads(body)
    version = int(doc.get("schema_version", 1))
    while version < SCHEMA_VERSION:
        doc = _UPGRADES[version](doc)
        version = int(doc["schema_version"])
    if version > SCHEMA_VERSION:
        logger.warning(
            "document of a newer release: fields this release does not know are ignored",
            extra={"schema_version": version, "reads": SCHEMA_VERSION, "kind": model.__name__},
        )
        doc = {**known_fields(model, doc), "schema_version": SCHEMA_VERSION}
    return model.model_validate(doc)


def known_fields(model: type[BaseModel], doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the keys ``model`` does not declare, in nested models too."""
    kept = {}
    for name, value in doc.items():
        field = model.model_fields.get(name)
        if field is None:
            continue
        kept[name] = _known_value(field.annotation, value)
    return kept


def _known_value(annotation: Any, value: Any) -> Any:
    if isinstance(value, dict):
        for candidate in (annotation, *get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return known_fields(candidate, value)
    if isinstance(value, list) and get_origin(annotation) is list:
        (item,) = get_args(annotation) or (Any,)
        return [_known_value(item, v) for v in value]
    return value
