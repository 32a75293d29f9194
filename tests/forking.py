"""os.fork for the tests that fork the whole process (the crash matrix, the operator paths)."""

from __future__ import annotations

import os
import warnings


def fork() -> int:
    """os.fork, without Python 3.12's warning about other threads. In a pytest-xdist worker
    (make test), execnet's thread that receives the controller's messages is one; the children
    never use it (each runs on the forking thread, saves what it must to a file and leaves with
    os._exit), and the scenarios run on that one thread (the faults harness replaces the
    controller's decision pool: tests/faults/harness.py)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"This process \(pid=\d+\) is multi-threaded", DeprecationWarning)
        return os.fork()
