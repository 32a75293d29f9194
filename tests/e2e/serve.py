"""Start ``python -m sandbox serve`` in a child process for the client and CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
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
    """The server's ready line: {"api": URL, "approved_package": ARN, ...}.

    The server's stderr goes to a file and its stdout is read to the end by a thread: a pipe
    nobody reads fills up and blocks the server mid-write (it holds the sandbox's lock then)."""
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--port", "0", *extra],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            proc.wait(timeout=10)
            stderr.seek(0)
            raise AssertionError(f"sandbox serve did not start: {stderr.read()}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        try:
            yield json.loads(line)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            stderr.seek(0)
            if said := stderr.read():  # e.g. a failed pump round's traceback, kept in pytest's report
                print(f"sandbox serve's stderr:\n{said[-8000:]}", file=sys.stderr)
