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

from sandbox.gateway import CLIENT, OPERATOR, Principal

ROOT = Path(__file__).resolve().parents[2]
# Credentials AWS clients pick up before the ones given here: none may leak into a test.
_CREDENTIAL_CHAIN = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE")
_BASE = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_CHAIN}
# The served sandbox's own credentials (its functions' calls to the moto server).
ENV = {**_BASE, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def signing_as(principal: Principal) -> dict[str, str]:
    """The environment of a client that signs its API requests as ``principal``."""
    return {**_BASE, **principal.environment, "AWS_DEFAULT_REGION": "us-east-1"}


CLIENT_ENV = signing_as(CLIENT)  # the inference client's caller policy
OPERATOR_ENV = signing_as(OPERATOR)  # the rollout operator's


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
