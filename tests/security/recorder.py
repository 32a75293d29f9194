"""pytest plugin: record every AWS call each sandbox function makes during the whole test session.

Registered from tests/conftest.py. Calls are seen through botocore's hooks (sandbox/calls.py)
and keyed by the function the sandbox was running (sandbox.stack.CURRENT_FUNCTION), together
with the deployment they were made in: the stack that ran the function (sandbox.stack.CURRENT_STACK;
several stacks share a world in a chain, sandbox/chain.py), its template parameters with its
account and stack name, and the functions' environment. test_iam_coverage.py checks each call
against that function's policy as that stack's parameters resolve it.
Calls made in forked processes (the fault matrix's faulted runs: error paths, retries after a
crash) count too: each forked process saves what it recorded when it ends (``on_exit``) and
``merge_children()`` adds it to the session's record.

``IAM_RECORD_OUT=<file>`` writes what was recorded there when the session ends (the IAM test
uses it to record the integration and e2e suites when they are not part of its own session).
``IAM_RECORD_DIR=<dir>`` makes every process of the session (each pytest-xdist worker) write
its record there, with the test files it ran and how many tests failed; ``make test`` then runs
the IAM test in a session of its own with ``IAM_RECORDED=<dir>`` (``load_records``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from sandbox.calls import BaseListener, Call, hooks
from sandbox.stack import CURRENT_STACK, Sandbox

from .iam import Access, Unmapped, accesses

Context = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]  # (parameters, environment)
MARKER = "iam_coverage"
# The suites whose calls the IAM test needs (the delivery tests run every fault-matrix scenario).
SUITES = ("tests/integration", "tests/e2e", "tests/faults/test_delivery.py")


@dataclass
class Recorder(BaseListener):
    accesses: dict[tuple[str, Context], set[Access]] = field(default_factory=lambda: defaultdict(set))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # function -> calls seen
    unmapped: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    retries: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    # What SageMaker did as the execution role (sandbox/jobs_ext.py JobsSimulator.role_calls).
    role_accesses: dict[Context, set[Access]] = field(default_factory=lambda: defaultdict(set))
    collected: set[str] = field(default_factory=set)  # test files of this session
    active: list[Sandbox] = field(default_factory=list)
    children_dir: Path | None = None  # where forked processes save what they recorded
    forked: bool = False  # this process is a fork of the session's (it records its own calls only)
    children_merged: int = 0
    # (function, state, command or route) paths the tests drove on purpose (test_operator_paths.py)
    paths: set[tuple[str, str, str]] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)  # test files with a test that ran in this process
    failed: int = 0  # tests of this process that failed (a record of a failed run is partial)

    # --- listening -----------------------------------------------------------------------

    def on_call(self, call: Call) -> None:
        if call.function is None:
            return
        self.retries[(call.function, call.service)].add(json.dumps(call.retries, sort_keys=True))
        self._record(call)

    def on_presign(self, call: Call) -> None:
        if call.function is not None:
            self._record(call)

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        return None

    def _record(self, call: Call) -> None:
        assert call.function is not None
        self.calls[call.function] += 1
        # The stack whose function runs now (a chain has several); the last one entered when a
        # caller did not say (code that invokes a handler outside Sandbox.handlers).
        stack = CURRENT_STACK.get() or (self.active[-1] if self.active else None)
        try:
            found = accesses(call, stack.account) if stack is not None else accesses(call)
        except Unmapped as exc:
            self.unmapped[call.function].add(str(exc))
            return
        self.accesses[(call.function, self._context(stack))].update(found)

    def record_role_calls(self, sandbox: Sandbox) -> None:
        """Keep what SageMaker did as the execution role in ``sandbox`` (when it is left)."""
        found = {Access(action, resource, conditions) for action, resource, conditions in sandbox.jobs.role_calls}
        if found:
            self.role_accesses[self._context(sandbox)].update(found)

    @staticmethod
    def _context(stack: Sandbox | None) -> Context:
        """The deployment a call was made in: the stack's parameters, with the pseudo parameters
        its policies resolve (account, stack name), and the functions' environment."""
        parameters = (
            {**stack.parameters, "AWS::AccountId": stack.account, "AWS::StackName": stack.stack_name}
            if stack is not None
            else {}
        )
        env = {k: v for k, v in os.environ.items() if k.isupper() and not k.startswith(("AWS_", "POWERTOOLS_"))}
        return tuple(sorted(parameters.items())), tuple(sorted(env.items()))

    # --- saving and merging --------------------------------------------------------------

    def dump(self, path: Path) -> None:
        data = {
            "accesses": [
                [fn, [list(map(list, ctx[0])), list(map(list, ctx[1]))], [_access(a) for a in found]]
                for (fn, ctx), found in self.accesses.items()
            ],
            "calls": self.calls,
            "unmapped": {k: sorted(v) for k, v in self.unmapped.items()},
            "retries": [[fn, service, sorted(v)] for (fn, service), v in self.retries.items()],
            "role_accesses": [
                [[list(map(list, ctx[0])), list(map(list, ctx[1]))], [_access(a) for a in found]]
                for ctx, found in self.role_accesses.items()
            ],
            "paths": sorted(self.paths),
            "ran": sorted(self.ran),
            "failed": self.failed,
        }
        path.write_text(json.dumps(data))

    def merge(self, path: Path) -> None:
        data = json.loads(path.read_text())
        for fn, (params, env), found in data["accesses"]:
            ctx = (tuple(tuple(p) for p in params), tuple(tuple(e) for e in env))
            self.accesses[(fn, ctx)].update(Access(a[0], a[1], tuple(tuple(c) for c in a[2]), a[3]) for a in found)
        for fn, n in data["calls"].items():
            self.calls[fn] += n
        for fn, names in data["unmapped"].items():
            self.unmapped[fn].update(names)
        for fn, service, configs in data["retries"]:
            self.retries[(fn, service)].update(configs)
        for (params, env), found in data.get("role_accesses", []):
            ctx = (tuple(tuple(p) for p in params), tuple(tuple(e) for e in env))
            self.role_accesses[ctx].update(Access(a[0], a[1], tuple(tuple(c) for c in a[2]), a[3]) for a in found)
        self.paths.update((fn, state, what) for fn, state, what in data.get("paths", []))
        self.ran.update(data.get("ran", []))
        self.failed += data.get("failed", 0)

    # --- forked processes ------------------------------------------------------------------

    def after_fork(self) -> None:
        """In a forked process: start empty, so that only this process's own calls are saved."""
        self.accesses, self.calls = defaultdict(set), defaultdict(int)
        self.unmapped, self.retries = defaultdict(set), defaultdict(set)
        self.role_accesses = defaultdict(set)
        self.paths, self.ran, self.failed = set(), set(), 0
        self.forked = True

    def on_exit(self) -> None:
        if self.forked and self.children_dir is not None and self.calls:
            self.dump(self.children_dir / f"{os.getpid()}.json")

    def merge_children(self) -> int:
        """Add what forked processes saved (once); returns how many there were."""
        if self.children_dir is None:
            return 0
        saved = sorted(self.children_dir.glob("*.json"))
        for path in saved:
            self.merge(path)
            path.unlink()
        self.children_merged += len(saved)
        return self.children_merged

    def covers(self, suites: tuple[str, ...] = SUITES) -> bool:
        return all(any(path.startswith(suite) for path in self.collected) for suite in suites)


def _is_xdist_controller(session: pytest.Session) -> bool:
    """The controller of an xdist run: its workers record; it only sees their reports."""
    return getattr(session.config.option, "numprocesses", None) not in (None, 0) and not hasattr(
        session.config, "workerinput"
    )


def load_records(directory: Path) -> Recorder:
    """What the processes of an earlier session recorded (``IAM_RECORD_DIR``), merged. Refused
    unless every one of SUITES ran and no test failed: a partial record would pass on less."""
    merged = Recorder()
    records = sorted(directory.glob("*.json"))
    for path in records:
        merged.merge(path)
    missing = [suite for suite in SUITES if not any(path.startswith(suite) for path in merged.ran)]
    if not records or missing or merged.failed:
        raise AssertionError(
            f"the record in {directory} is partial: {len(records)} processes, suites not run {missing}, "
            f"{merged.failed} tests failed; run the suites again (make test)"
        )
    return merged


def _access(a: Access) -> list[Any]:
    return [a.action, a.resource, [list(c) for c in a.conditions], a.implied]


RECORDER = Recorder()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: runs after every other test (it reads what they recorded)")
    hooks.subscribe(RECORDER)
    RECORDER.children_dir = Path(tempfile.mkdtemp(prefix="iam-record-"))
    os.register_at_fork(after_in_child=RECORDER.after_fork)
    enter, leave = Sandbox.__enter__, Sandbox.__exit__

    def entered(self: Sandbox) -> Sandbox:
        result = enter(self)
        RECORDER.active.append(self)
        return result

    def left(self: Sandbox, *exc: object) -> None:
        if self in RECORDER.active:
            RECORDER.record_role_calls(self)  # while the sandbox's environment is still set
            RECORDER.active.remove(self)
        leave(self, *exc)

    Sandbox.__enter__ = entered  # type: ignore[method-assign]
    Sandbox.__exit__ = left  # type: ignore[method-assign]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    RECORDER.collected = {
        Path(str(item.path)).relative_to(root).as_posix() for item in items if Path(str(item.path)).is_relative_to(root)
    }
    items.sort(key=lambda item: item.get_closest_marker(MARKER) is not None)  # stable: the rest keep their order


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if RECORDER.forked:
        return
    if report.when == "call" or report.outcome == "failed":
        RECORDER.ran.add(report.nodeid.split("::", 1)[0])
    if report.outcome == "failed":
        RECORDER.failed += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    if RECORDER.forked:
        return
    out = os.environ.get("IAM_RECORD_OUT")
    if out:
        RECORDER.merge_children()
        RECORDER.dump(Path(out))
    directory = os.environ.get("IAM_RECORD_DIR")
    if directory and not _is_xdist_controller(session):
        RECORDER.merge_children()
        Path(directory).mkdir(parents=True, exist_ok=True)
        RECORDER.dump(Path(directory) / f"{os.getpid()}.json")
    if RECORDER.children_dir is not None:
        shutil.rmtree(RECORDER.children_dir, ignore_errors=True)
