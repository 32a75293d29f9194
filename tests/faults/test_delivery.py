"""Event delivery as EventBridge really does it: twice, out of order, late, lost, and concurrently.

Each variation runs every scenario of the crash matrix and must end exactly where in-order
delivery ends (every event delivered twice is also covered for the built-in scenarios, with
full histories, by tests/e2e). Two approvals for one endpoint at the same moment are
interleaved deterministically (moto is not thread-safe): one thread is paused inside the store
between its reads and its transaction while the other runs.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from rollout_core.models import Phase, Rollout
from sandbox.calls import BaseListener, Call, hooks
from sandbox.stack import LambdaContext, Sandbox

from . import stats
from .checks import check_end
from .harness import CRASH, Run, record_baseline, run_matrix
from .observe import Outcome
from .scenarios import ALARM, SCENARIOS, TARGET, Late, LostEndpointEvents, Mailbox, Reordered, Scenario, Twice

MAILBOXES = [Twice, Reordered, Late, LostEndpointEvents]
# Delivered twice or out of order, the same changes happen in the same order. Late or lost
# events only move decisions to a later tick, which may change what has to be undone (a
# rejection arriving late can find the promotion under way): the outcome must still be the same.
SAME_CHANGES = {Twice.name, Reordered.name}
ALARM_FLAPS = Scenario(
    "alarm_flaps",
    (
        ("approve", "v1"),
        ("wait", 120),
        ("approve", "v2"),
        ("wait", 180),
        ("alarm", "ALARM"),  # ALARM, then OK at once: the events may arrive in either order
        ("alarm", "OK"),
        ("wait", 300),
    ),
    {"v1": Phase.SUCCEEDED, "v2": Phase.ROLLED_BACK},
    serving="v1",
)
ALL = {**SCENARIOS, ALARM_FLAPS.name: ALARM_FLAPS}


@pytest.fixture(scope="module")
def in_order() -> dict[str, Outcome]:
    return {name: Run(scenario).execute() for name, scenario in ALL.items()}


@pytest.mark.parametrize("mailbox", MAILBOXES, ids=lambda m: m.name)
@pytest.mark.parametrize("name", list(ALL))
def test_delivery_reaches_the_in_order_outcome(name: str, mailbox: type[Mailbox], in_order: dict[str, Outcome]):
    scenario, expected = ALL[name], in_order[name]
    got = Run(scenario, mailbox=mailbox()).execute()
    stats.delivery[mailbox.name] += 1
    # A package whose rejection overtook its approval never starts: the same as ABORTED.
    never_started = {
        label for label, phase in scenario.expected.items() if phase is Phase.ABORTED and label not in got.phases
    }
    wanted = {label: phase for label, phase in scenario.expected.items() if label not in never_started}
    assert check_end(got, wanted, set(), None) == []
    assert got.phases == {k: v for k, v in expected.phases.items() if k not in never_started}
    assert got.serving_label == expected.serving_label == scenario.serving
    assert (got.models, got.configs) == (expected.models, expected.configs)
    twice = [a for a, n in Counter(tuple(a) for a in got.accepted).items() if n > 1]
    assert not twice, f"done twice: {twice}"
    if mailbox.name in SAME_CHANGES and not never_started:
        assert got.accepted == expected.accepted
        assert got.endpoint_changes == expected.endpoint_changes


def test_an_alarm_that_is_ok_again_still_rolls_back_whatever_the_order(in_order: dict[str, Outcome]):
    """ALARM then OK, delivered OK first: the late ALARM event still counts (it is newer than the rollout)."""
    got = Run(ALARM_FLAPS, mailbox=Reordered()).execute()
    assert got.phases["v2"] == Phase.ROLLED_BACK.value
    assert ALARM in got.reasons["v2"]
    assert in_order[ALARM_FLAPS.name].phases["v2"] == Phase.ROLLED_BACK.value


def test_a_lock_left_by_a_crash_does_not_block_the_next_rollout():
    """The process dies between the final write of a rollout and the release of its endpoint lock."""
    scenario = SCENARIOS["second_version_to_100"]
    baseline = record_baseline(scenario)
    # The first lock release: v1's first deployment has just been written SUCCEEDED.
    release = next(
        k
        for k, (fn, _, _, ops, n) in enumerate(baseline.positions, 1)
        if fn == "RolloutControllerFunction" and ops[n] == "dynamodb:DeleteItem"
    )
    (outcome,) = run_matrix(scenario, baseline, {release - 1: (CRASH,)}, converge=False)
    assert outcome.error is None, outcome.error
    assert outcome.crashes == 1
    # The crash did leave the lock behind: v1 is written SUCCEEDED and still holds the endpoint.
    (left,) = outcome.after_crash
    v1 = outcome.candidates["v1"]["rollout_id"]
    assert left["locks"] == {f"ENDPOINT#{TARGET.endpoint_name}": v1}
    assert left["phases"] == {v1: "SUCCEEDED"}
    # And it blocked nothing: v2 took the endpoint over and rolled out.
    assert outcome.phases == {"v1": "SUCCEEDED", "v2": "SUCCEEDED"}
    assert outcome.serving_label == "v2"
    assert outcome.locks == {} or set(outcome.locks.values()) <= {v1, outcome.candidates["v2"]["rollout_id"]}


# --- two approvals at the same moment -------------------------------------------------------------


class Pause(BaseListener):
    """Holds the thread named ``thread`` right before its first call of ``action`` (or, with
    ``after``, right before the call that follows it)."""

    def __init__(self, thread: str, action: str, after: bool = False) -> None:
        self.thread, self.action, self.after = thread, action, after
        self.armed = not after
        self.done = False
        self.paused = threading.Event()
        self.resume = threading.Event()

    def on_call(self, call: Call) -> None:
        if threading.current_thread().name != self.thread or self.done:
            return
        if self.armed and (self.after or call.action == self.action):
            self.done = True
            self.paused.set()
            assert self.resume.wait(30), "never resumed"
        elif call.action == self.action:
            self.armed = True

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        return None


def _rollouts(sandbox: Sandbox) -> list[Rollout]:
    from tests.integration.helpers import rollouts

    return rollouts()


def _owner(sandbox: Sandbox) -> str | None:
    ddb = sandbox.client("dynamodb")
    from sandbox.stack import TABLE

    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"ENDPOINT#{TARGET.endpoint_name}"}, "sk": {"S": "LOCK"}})
    owner: str | None = item.get("Item", {}).get("rollout_id", {}).get("S")
    return owner


def _one_owner(sandbox: Sandbox) -> None:
    """At most one rollout acts on the endpoint, and it is the lock's owner."""
    rollouts = _rollouts(sandbox)
    acting = [r for r in rollouts if r.live and r.phase is not Phase.PENDING]
    assert len(acting) <= 1, [(r.rollout_id, r.phase) for r in acting]
    live = [r for r in rollouts if r.live]
    if live:
        owner = _owner(sandbox)
        assert owner in {r.rollout_id for r in live}, (owner, [(r.rollout_id, r.phase) for r in live])
        assert sum(r.rollout_id == owner for r in live) == 1


@pytest.fixture
def two_pending_approvals() -> Iterator[tuple[Sandbox, dict[str, Any], dict[str, Any], dict[str, str]]]:
    params = {"EndpointName": TARGET.endpoint_name, "ModelPackageGroupName": TARGET.model_package_group}
    with Sandbox(update_seconds=60, parameters=params) as sandbox:
        sandbox.put_target(TARGET.model_dump_json(), TARGET.model_package_group)
        sandbox.create_alarm(ALARM)
        v1 = sandbox.register_package(TARGET.model_package_group)
        sandbox.set_approval(v1, "Approved")
        sandbox.advance(180)
        v2, v3 = (sandbox.register_package(TARGET.model_package_group) for _ in range(2))

        def approve_both() -> None:
            sandbox.set_approval(v2, "Approved")
            sandbox.set_approval(v3, "Approved")

        events = sandbox.captured(approve_both)
        yield sandbox, events[0], events[1], {"v1": v1, "v2": v2, "v3": v3}


def _handle(sandbox: Sandbox, event: dict[str, Any], errors: list[BaseException]) -> None:
    try:
        sandbox.handlers["ModelApprovalFunction"](event, LambdaContext("ModelApprovalFunction"))
    except BaseException as exc:
        errors.append(exc)


@pytest.mark.parametrize(
    "after",
    [
        # A has read the endpoint's lock (and the rollout it names) and is about to take it.
        False,
        # A holds the lock and has recorded its rollout, but has not acted on the endpoint yet.
        True,
    ],
    ids=["between-read-and-transaction", "after-transaction-before-acting"],
)
def test_two_approvals_for_one_endpoint_at_the_same_moment(two_pending_approvals, after: bool):
    sandbox, first, second, arns = two_pending_approvals
    pause = hooks.subscribe(Pause("approval-A", "dynamodb:TransactWriteItems", after=after))
    errors: list[BaseException] = []
    try:
        a = threading.Thread(target=_handle, args=(sandbox, first, errors), name="approval-A")
        b = threading.Thread(target=_handle, args=(sandbox, second, errors), name="approval-B")
        a.start()
        assert pause.paused.wait(30), "A never reached its pause"
        b.start()
        b.join(30)  # B runs to completion while A is held (one thread at a time talks to moto)
        _one_owner(sandbox)
        pause.resume.set()
        a.join(30)
    finally:
        pause.resume.set()
        hooks.unsubscribe(pause)
    assert not errors, errors
    _one_owner(sandbox)
    for _ in range(40):
        sandbox.advance(60)
        _one_owner(sandbox)
    by_arn = {r.model_package_arn: r for r in _rollouts(sandbox)}
    phases = {label: by_arn[arn].phase for label, arn in arns.items()}
    assert phases["v1"] is Phase.SUCCEEDED
    assert sorted([phases["v2"], phases["v3"]]) == [Phase.SUCCEEDED, Phase.SUPERSEDED], phases
    winner = next(by_arn[arns[label]] for label in ("v2", "v3") if phases[label] is Phase.SUCCEEDED)
    assert sandbox.endpoint_weights(TARGET.endpoint_name) == {winner.candidate.variant_name: 100}
    assert all(r.settled for r in by_arn.values())
    stats.delivery["concurrent approvals"] += 1
