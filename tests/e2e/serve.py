"""Start ``python -m sandbox serve`` in a child process for the client and CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def served(*extra: str) -> Iterator[dict[str, Any]]:
    """The server's ready line: {"api": URL, "approved_package": ARN, ...}."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", *extra],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"sandbox serve did not start: {proc.stderr.read() if proc.stderr else ''}")
    try:
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
