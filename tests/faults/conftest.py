"""Fault-injection tests: speed-ups for running hundreds of sandbox runs, and a summary of the faults.

Prints how many faults the matrix injected (shown at the end of `make test`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import botocore.loaders
import botocore.session
import pytest

from tests import summaries

from . import stats


@pytest.fixture(autouse=True, scope="session")
def _shared_service_models() -> Iterator[None]:
    """One botocore loader for every session: each cold start would otherwise parse the service
    models again (the product makes a new boto3 Session per client), which is most of a run's time.
    Only how fast models load changes; every call still goes through botocore and moto."""
    original = botocore.session.create_loader
    botocore.session.create_loader = functools.cache(original)
    yield
    botocore.session.create_loader = original


summaries.register("faults covered", stats.lines)
