"""Crash-consistency harness: a scenario on the sandbox, with one fault at the k-th AWS call of the product.

Faults go through botocore's own event hooks on the real clients, on moto (sandbox/calls.py):

- an *error* fault answers every HTTP attempt of the k-th call with an error response from a
  ``before-send`` handler, so the client's real retry logic (standard mode,
  ``total_max_attempts``) runs on it and, once it gives up, the product sees the ClientError;
- a *crash* raises ``Crash`` (a BaseException: no ``except Exception`` of the product or of
  Powertools catches it) from an ``after-call`` handler: the process died right after the
  k-th call returned. The harness catches it around the handler, starts a new execution
  environment (module state and cached clients are gone) and delivers the event again, as
  Lambda's retry of a failed asynchronous invocation would.

A failed invocation (the handler raised) is delivered again up to twice (EventInvokeConfig
MaximumRetryAttempts: 2). Then the scenario goes on, and the clock runs until every rollout
has settled.

How a matrix of faults stays fast (``Matrix``):

1. the *baseline*: the scenario once without a fault, recording every product call with its
   *position* (``position()``: the code path it is on, i.e. the function, its trigger, the
   state the invocation started from (the endpoint, and each unsettled rollout's phase, the
   outcome a rollback pursues, whether it has a baseline, autoscaling or clean-up left) and
   every call the invocation made; and where on that path) and a snapshot of the whole state
   after every minute (tests/faults/observe.py);
2. the *forking run*: the scenario again; right before each call chosen for a fault, the
   process forks once per fault kind (``os.fork``: the child has the whole in-memory moto
   state as it is at that moment) and the child goes on with the fault armed. So a faulted
   run never repeats the scenario up to its fault;
3. a child whose state after a minute equals the baseline's at the same minute (the
   contents of rollouts without their histories, locks, idempotency records, the endpoint's
   variants, configs, models, pending SageMaker transitions, scaling targets and policies,
   the milestones announced: ``observe.snapshot``) has *converged*: the scenario is
   deterministic, so from there on it is the baseline, whose end is checked on its own. The
   child stops there and reports what it did until then (``converge=False``, or
   ``FAULTS_NO_CONVERGENCE=1`` for the whole matrix, runs children to the end instead; the
   matrix test does so for a sample of positions to check the shortcut).
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.endpoint
from botocore.awsrequest import AWSResponse

from rollout_core import decision_pool, naming
from rollout_core.aws.autoscaling import DIMENSION, NAMESPACE, resource_id
from rollout_core.models import Rollout
from sandbox.calls import BaseListener, Call, error_response, hooks
from sandbox.stack import REGION, TABLE, LambdaContext, Sandbox
from tests.forking import fork

from .observe import (
    Injected,
    Outcome,
    accepted,
    announced,
    locks_and_phases,
    pages,
    rollout_states,
    scaling_state,
    snapshot,
)
from .scenarios import (
    ALARM,
    SCALING,
    SCALING_POLICY,
    SETTLE_LIMIT,
    STEP_ALARM,
    STEP_POLICY,
    TARGET,
    UPDATE_SECONDS,
    Mailbox,
    Scenario,
)

# --- faults ----------------------------------------------------------------------------------


class Crash(BaseException):
    """The Lambda process died (timeout, out of memory, host failure) right after an AWS call."""


class Converged(BaseException):
    """A faulted run's state is the baseline's again (see the module docstring)."""


@dataclass(frozen=True)
class ErrorFault:
    name: str
    status: int
    code: str
    message: str
    retried: bool  # botocore's standard retry mode tries it again (up to total_max_attempts)


ERROR_FAULTS = {
    f.name: f
    for f in (
        ErrorFault("throttling", 400, "ThrottlingException", "Rate exceeded", retried=True),
        ErrorFault("unavailable", 503, "ServiceUnavailable", "Service is unavailable, please retry", retried=True),
        ErrorFault(
            "limit",
            400,
            "ResourceLimitExceeded",
            "The account-level service limit 'ml.m5.large for endpoint usage' is 2 Instances",
            retried=False,
        ),
        ErrorFault(
            "in_progress",
            400,
            "ValidationException",
            'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-endpoint".',
            retried=False,
        ),
    )
}
CRASH = "crash"
FAULT_KINDS = (*ERROR_FAULTS, CRASH)
# After these the same requests are simply made again, so the outcome must not change. (The
# product treats "Cannot update in-progress endpoint" as transient, as SageMaker intends.)
TRANSIENT_KINDS = frozenset({"throttling", "unavailable", "in_progress", CRASH})
LAMBDA_RETRIES = 2  # EventInvokeConfig MaximumRetryAttempts in template.yaml
T = TypeVar("T")
R = TypeVar("R")
MAX_IN_FLIGHT = 2  # positions whose faulted runs (one process per fault kind) run alongside the parent


class _FastSleep:
    """botocore.endpoint's ``time`` with a no-op ``sleep``: retries back off instantly."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# --- recording calls, forking, injecting ---------------------------------------------------------


@dataclass
class Invocation:
    function: str
    trigger: str  # e.g. "SageMaker Endpoint State Change IN_SERVICE", "Scheduled Event"
    state: tuple[str, ...]  # the endpoint and the unsettled rollouts when it started (observe.rollout_states)
    ops: list[str] = field(default_factory=list)  # the calls it made, in order
    indexes: list[int] = field(default_factory=list)  # their k (the run's numbering)


def position(invocation: Invocation, n: int) -> tuple[Any, ...]:
    """Where the n-th call of an invocation is: on which code path (the function, what
    triggered it, the state it started from, and every call it made: the path), and where on
    it. Two calls at one position are the same call of the same code path on the same kind of
    state; a path that goes on differently (a tick that removes the candidate, not the one that
    restored the weights) is another path, its calls other positions."""
    return (invocation.function, invocation.trigger, invocation.state, tuple(invocation.ops), n)


class _Listener(BaseListener):
    def __init__(self, run: Run) -> None:
        self.run = run

    def on_call(self, call: Call) -> None:
        if call.function is not None:
            self.run.on_product_call(call)

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        fault = call.extra.get("fault")
        if fault is None:
            return None
        return error_response(call, fault.status, fault.code, fault.message)

    def on_result(self, call: Call) -> None:
        injected = self.run.injected
        if injected is None or call.extra.get("index") != injected.index:
            return
        injected.attempts, injected.status = call.attempts, call.status
        injected.sleeps = len(self.run.sleeper.slept)
        if injected.kind == CRASH:
            raise Crash(f"the process died right after call {injected.index} ({call.action})")


class ExpiredContext(LambdaContext):
    """A retry arrives after the failed invocation's deadline (Lambda retries a failed
    asynchronous invocation a minute, then two, after it ended: "Asynchronous invocation",
    Lambda developer guide; every function's Timeout is at most 60 s in template.yaml), so
    Powertools Idempotency lets it take over an IN_PROGRESS record a crashed invocation left
    behind (its in-progress expiry is the crashed invocation's remaining time)."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 1


def _one_after_another(work: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    return [work(item) for item in items]


class Run:
    """One run of a scenario: the baseline (``baseline=None``), or a forking run (``plan``)."""

    def __init__(
        self,
        scenario: Scenario,
        baseline: Baseline | None = None,
        plan: dict[int, tuple[str, ...]] | None = None,
        converge: bool = True,
        mailbox: Mailbox | None = None,
    ) -> None:
        self.scenario = scenario
        self.mailbox = mailbox or Mailbox()
        self.baseline = baseline
        self.plan = plan or {}
        self.converge = converge
        self.listener = _Listener(self)
        self.sleeper = _FastSleep()
        self.packages: dict[str, str] = {}
        self.calls: list[Call] = []
        self.positions: list[tuple[Any, ...]] = []
        self.invocation: Invocation | None = None
        self.injected: Injected | None = None
        self.child_path: Path | None = None
        self.results: list[Outcome] = []
        self._children: list[tuple[int, int, tuple[str, ...]]] = []  # (pid, k, kinds) of position children
        self._grandchildren: list[int] = []
        self.snapshots: list[str] = []  # baseline: state after each minute
        self.marks: list[tuple[int, int]] = []  # baseline: (len(accepted), len(endpoint changes)) per minute
        self.step_calls: list[int] = []  # calls made before each step of the scenario
        self.minute = 0
        self.crashes = self.redeliveries = self.failed_invocations = 0
        self.after_crash: list[dict[str, dict[str, str]]] = []
        self._clients: dict[str, Any] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="faults-")) if self.plan else Path(tempfile.gettempdir())

    # --- running -------------------------------------------------------------------------

    def execute(self) -> Outcome:
        endpoint_module: Any = botocore.endpoint  # its `time` is the module botocore sleeps with
        real_time = endpoint_module.time
        endpoint_module.time = self.sleeper
        # The controller decides its rollouts here one after another, on this thread: os.fork
        # copies only the thread that calls it, so a fault at a call made in the tick's pool
        # would leave the child without the thread that carries the scenario on (it waited
        # forever). The pool itself: tests/integration/test_controller_concurrency.py, tests/explore.
        real_concurrently = decision_pool.concurrently
        decision_pool.concurrently = _one_after_another
        hooks.subscribe(self.listener)
        try:
            params = {"EndpointName": TARGET.endpoint_name, "ModelPackageGroupName": TARGET.model_package_group}
            with Sandbox(update_seconds=UPDATE_SECONDS, parameters=params) as sandbox:
                self.sandbox = sandbox
                target = self.scenario.target or TARGET  # the same endpoint and group, its own plan
                sandbox.put_target(target.model_dump_json(), TARGET.model_package_group)
                sandbox.create_alarm(ALARM)
                for fn in list(sandbox.handlers):
                    sandbox.handlers[fn] = self._wrap(fn, sandbox.handlers[fn])
                try:
                    for kind, arg in self.scenario.steps:
                        self.step_calls.append(len(self.calls))
                        self._step(kind, arg)
                    self._settle()
                    outcome = self._observe()
                except Converged:
                    outcome = self._progress()
                except BaseException:
                    if self.child_path is None:
                        raise
                    outcome = self._observe_safely(traceback.format_exc())
                if self.child_path is not None:
                    outcome.seconds = time.perf_counter() - self._forked_at
                    self.child_path.write_text(outcome.to_json())
                    hooks.exiting()  # e.g. the IAM recorder keeps this faulted run's calls
                    for pid in self._grandchildren:
                        os.waitpid(pid, 0)
                    os._exit(0)
                return outcome
        finally:
            hooks.unsubscribe(self.listener)
            endpoint_module.time = real_time
            decision_pool.concurrently = real_concurrently

    def _observe_safely(self, error: str) -> Outcome:
        try:
            outcome = self._observe()
        except BaseException:  # pragma: no cover - the state itself is unreadable
            outcome = Outcome.broken(self.scenario.name, self.injected, "")
        outcome.error = error
        return outcome

    # --- product calls: recording, forking, arming -----------------------------------------

    def on_product_call(self, call: Call) -> None:
        index = len(self.calls) + 1
        call.extra["index"] = index
        self.calls.append(call)
        if self.invocation is not None:
            self.invocation.ops.append(call.action)
            self.invocation.indexes.append(index)
        self.positions.append((call.function, "", (), (call.action,), 0))  # set when the invocation ends
        if self.child_path is not None:
            return  # a child injects no further fault
        if self.baseline is not None:
            expected = self.baseline.actions[index - 1] if index <= len(self.baseline.actions) else None
            if expected != call.action:
                raise AssertionError(
                    f"{self.scenario.name}: call {index} is {call.action}, the baseline made {expected}: "
                    "the scenario is not deterministic"
                )
        kinds = self.plan.get(index, ())
        if kinds:
            self._fork(index, call, kinds)

    def _fork(self, index: int, call: Call, kinds: tuple[str, ...]) -> None:
        """Fork one child for this call, which forks one more per further fault kind.

        The parent pays for one fork per position and goes on with its own run at once; each
        process then arms its fault on this very call.
        """
        while len(self._children) >= MAX_IN_FLIGHT:
            self.reap_oldest()
        gc.freeze()  # the parent's objects stay where they are: fewer pages copied on write
        pid = fork()
        if pid:
            self._children.append((pid, index, kinds))
            return
        gc.disable()  # short-lived: no collections touching (and so copying) every page
        self._forked_at = time.perf_counter()
        self._children = []
        mine, self._grandchildren = kinds[0], []
        for kind in kinds[1:]:
            pid = fork()
            if pid == 0:
                mine, self._grandchildren = kind, []
                break
            self._grandchildren.append(pid)
        self.child_path = self._tmp / f"{index}-{mine}.json"
        self.sleeper.slept.clear()
        self.injected = Injected(mine, index, call.action, call.function, list(self.baseline_position(index)))
        if mine in ERROR_FAULTS:
            call.extra["fault"] = ERROR_FAULTS[mine]

    def baseline_position(self, index: int) -> tuple[Any, ...]:
        assert self.baseline is not None
        return self.baseline.positions[index - 1]

    def reap_oldest(self) -> None:
        pid, index, kinds = self._children.pop(0)
        _, status = os.waitpid(pid, 0)
        for kind in kinds:
            path = self._tmp / f"{index}-{kind}.json"
            if path.exists():
                self.results.append(Outcome.from_json(path.read_text()))
                path.unlink()
            else:
                injected = Injected(kind, index, "?", None, [])
                error = f"no report from the faulted run (its process ended with status {status})"
                self.results.append(Outcome.broken(self.scenario.name, injected, error))

    def reap_all(self) -> None:
        while self._children:
            self.reap_oldest()

    # --- steps ---------------------------------------------------------------------------

    def _step(self, kind: str, arg: Any) -> None:
        sb = self.sandbox
        if kind == "approve":
            self._deliver_all(self.sandbox.captured(lambda: sb.set_approval(self._package(arg), "Approved")))
        elif kind == "reject":
            self._deliver_all(self.sandbox.captured(lambda: sb.set_approval(self._package(arg), "Rejected")))
        elif kind == "alarm":
            self._deliver_all(self.sandbox.captured(lambda: sb.set_alarm(ALARM, arg)))
        elif kind == "autoscale":
            self._autoscale(arg)
        elif kind == "wait":
            end = sb.now + timedelta(seconds=float(arg))
            while sb.now < end:
                self._minute()
        else:  # pragma: no cover
            raise ValueError(kind)

    def _autoscale(self, label: str) -> None:
        """The operator puts the serving variant of ``label``'s rollout under autoscaling. A
        variant that is not serving (a non-transient fault failed its deployment) is left as
        it is: the operator has nothing to put under autoscaling."""
        rollout = next((r for r in self._rollouts() if r.model_package_arn == self.packages[label]), None)
        assert rollout is not None, f"{self.scenario.name}: no rollout of {label} to autoscale yet"
        sm = self._client("sagemaker")
        try:
            serving = sm.describe_endpoint(EndpointName=TARGET.endpoint_name)["ProductionVariants"]
        except sm.exceptions.ClientError:
            serving = []
        if rollout.candidate.variant_name not in {v["VariantName"] for v in serving}:
            assert self.child_path is not None, f"{self.scenario.name}: {label} is not serving in the fault-free run"
            return
        target = {"ServiceNamespace": NAMESPACE, "ScalableDimension": DIMENSION}
        target["ResourceId"] = resource_id(TARGET.endpoint_name, rollout.candidate.variant_name)
        aas = self._client("application-autoscaling")
        aas.register_scalable_target(**target, **SCALING)
        aas.put_scaling_policy(**target, **SCALING_POLICY)
        step_arn = aas.put_scaling_policy(**target, **STEP_POLICY)["PolicyARN"]
        self._client("cloudwatch").put_metric_alarm(
            AlarmName=STEP_ALARM,
            Namespace="AWS/SageMaker",
            MetricName="ModelLatency",
            Dimensions=[
                {"Name": "EndpointName", "Value": TARGET.endpoint_name},
                {"Name": "VariantName", "Value": rollout.candidate.variant_name},
            ],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=250000.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[step_arn],
        )

    def _package(self, label: str) -> str:
        if label not in self.packages:
            self.packages[label] = self.sandbox.register_package(TARGET.model_package_group)
        return self.packages[label]

    def _minute(self) -> None:
        sb = self.sandbox
        sb.now = sb.now + timedelta(seconds=60)
        sb.simulator.advance()
        self._deliver_announced()
        self._deliver_all(self.sandbox.captured(sb.evaluate_alarms))  # CloudWatch's own state changes
        for tick in self.sandbox.captured(sb.tick):  # the schedule: never late, never twice
            self._deliver(tick)
        self._deliver_announced()
        for event in self.mailbox.due(sb.now):
            self._deliver(event)
        self._deliver_announced()
        self.minute += 1
        if self.baseline is None:
            self.snapshots.append(snapshot(sb, self.calls))
            self.marks.append((len(accepted(self.calls)), len(sb.simulator.calls)))
        elif self.child_path is not None and self.converge and self._fault_done():
            known = self.baseline.snapshots
            if self.minute <= len(known) and snapshot(sb, self.calls) == known[self.minute - 1]:
                raise Converged

    def _fault_done(self) -> bool:
        return self.injected is not None and len(self.calls) >= self.injected.index

    def _settle(self) -> None:
        for _ in range(SETTLE_LIMIT):
            if not self._unsettled() and not self.sandbox.simulator.pending and not self.mailbox.holding():
                return
            self._minute()

    # --- delivering ----------------------------------------------------------------------

    def _deliver_announced(self) -> None:
        while events := self.sandbox.simulator.drain():
            for event in self.mailbox.post(events, self.sandbox.now):
                self._deliver(event)

    def _deliver_all(self, events: list[dict[str, Any]]) -> None:
        for event in self.mailbox.post(events, self.sandbox.now):
            self._deliver(event)
        self._deliver_announced()

    def _deliver(self, event: dict[str, Any]) -> None:
        for route in self.sandbox.routes:
            if route.matches(event):
                self._invoke(route.function, event)

    def _invoke(self, fn: str, event: dict[str, Any]) -> None:
        """One asynchronous invocation, and Lambda's retries of it if it fails."""
        for attempt in range(1 + LAMBDA_RETRIES):
            if attempt:
                self.redeliveries += 1
            try:
                self.sandbox.handlers[fn](event, ExpiredContext(fn))
                return
            except Crash:
                self.crashes += 1
                self.after_crash.append(locks_and_phases())
                self._cold_start()
            except Exception:
                self.failed_invocations += 1

    def _cold_start(self) -> None:
        """A new execution environment for every function: module state and clients are gone."""
        self.sandbox.cold_start()
        for fn, handler in list(self.sandbox.handlers.items()):
            self.sandbox.handlers[fn] = self._wrap(fn, handler)

    def _wrap(self, fn: str, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            # Only the baseline's positions are used (the plan is made from them).
            states = rollout_states(TARGET.endpoint_name) if self.baseline is None else ()
            self.invocation = invocation = Invocation(fn, _trigger(event), states)
            try:
                return handler(event, context)
            finally:
                self.invocation = None
                for n, index in enumerate(invocation.indexes):
                    self.positions[index - 1] = position(invocation, n)

        return run

    # --- observing -----------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]

    def _items(self) -> list[dict[str, Any]]:
        return list(pages(self._client("dynamodb"), "scan", "Items", TableName=TABLE))

    def _rollouts(self, items: list[dict[str, Any]] | None = None) -> list[Rollout]:
        found = [
            Rollout.model_validate_json(i["body"]["S"]) for i in (items or self._items()) if i["sk"]["S"] == "ROLLOUT"
        ]
        return sorted(found, key=lambda r: r.created_at)

    def _unsettled(self) -> list[str]:
        return [r.rollout_id for r in self._rollouts() if not r.settled]

    def _label(self, arn: str) -> str:
        return next((label for label, a in self.packages.items() if a == arn), arn)

    def _progress(self) -> Outcome:
        """What a converged run did until it converged (its end is the baseline's)."""
        outcome = Outcome.broken(self.scenario.name, self.injected, "")
        outcome.error = None
        outcome.endpoint_changes = [list(c) for c in self.sandbox.simulator.calls]
        outcome.accepted = accepted(self.calls)
        outcome.minutes = outcome.converged_at = self.minute
        outcome.crashes, outcome.redeliveries = self.crashes, self.redeliveries
        outcome.failed_invocations = self.failed_invocations
        return outcome

    def _observe(self) -> Outcome:
        sm = self._client("sagemaker")
        items = self._items()
        rollouts = self._rollouts(items)
        by_variant = {r.candidate.variant_name: self._label(r.model_package_arn) for r in rollouts}
        endpoint, serving_label = None, None
        try:
            described = sm.describe_endpoint(EndpointName=TARGET.endpoint_name)
        except sm.exceptions.ClientError:
            described = None
        if described is not None:
            config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
            weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in described["ProductionVariants"]}
            total = sum(weights.values()) or 1.0
            endpoint = {
                "status": described["EndpointStatus"],
                "config": described["EndpointConfigName"],
                "weights": {k: round(100 * w / total) for k, w in weights.items()},
                "shadows": [v["VariantName"] for v in described.get("ShadowProductionVariants", [])],
                "models": {v["VariantName"]: v["ModelName"] for v in config["ProductionVariants"]},
                "instances": {
                    v["VariantName"]: [v["InstanceType"], v["InitialInstanceCount"]]
                    for v in config["ProductionVariants"]
                },
            }
            if len(weights) == 1:
                serving_label = by_variant.get(next(iter(weights)))
        configs = sorted(
            pages(sm, "list_endpoint_configs", "EndpointConfigs", SortBy="CreationTime", SortOrder="Ascending"),
            key=lambda c: c["CreationTime"],
        )
        prefix = naming.config_prefix(TARGET.endpoint_name)
        return Outcome(
            scenario=self.scenario.name,
            phases={self._label(r.model_package_arn): r.phase.value for r in rollouts},
            reasons={self._label(r.model_package_arn): r.reason for r in rollouts},
            unsettled=[self._label(r.model_package_arn) for r in rollouts if not r.settled],
            endpoint=endpoint,
            serving_label=serving_label,
            candidates={
                self._label(r.model_package_arn): {
                    "rollout_id": r.rollout_id,
                    "variant": r.candidate.variant_name,
                    "model": r.candidate.model_name,
                }
                for r in rollouts
            },
            models=sorted(
                m["ModelName"]
                for m in pages(sm, "list_models", "Models")
                if m["ModelName"].startswith(naming.model_prefix(TARGET.endpoint_name))
            ),
            configs=[c["EndpointConfigName"] for c in configs if c["EndpointConfigName"].startswith(prefix)],
            config_created={c["EndpointConfigName"]: n for n, c in enumerate(configs)},
            endpoint_changes=[list(c) for c in self.sandbox.simulator.calls],
            accepted=accepted(self.calls),
            locks={i["pk"]["S"]: i["rollout_id"]["S"] for i in items if i["sk"]["S"] == "LOCK"},
            minutes=self.minute,
            scaling=scaling_state(),
            announced=announced(self.calls),
            after_crash=self.after_crash,
            crashes=self.crashes,
            redeliveries=self.redeliveries,
            failed_invocations=self.failed_invocations,
            injected=self.injected,
            candidate_alarms=sorted(
                a["AlarmName"]
                for page in self._client("cloudwatch").get_paginator("describe_alarms").paginate()
                for a in page["MetricAlarms"]
                if any(a["AlarmName"] in r.candidate_alarms.values() for r in rollouts)
            ),
        )


def _trigger(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    extra = detail.get("EndpointStatus") or (detail.get("state") or {}).get("value") or ""
    return f"{event.get('detail-type', '?')} {extra or detail.get('ModelApprovalStatus', '')}".strip()


# --- the matrix -----------------------------------------------------------------------------------


@dataclass
class Baseline:
    outcome: Outcome
    actions: list[str]
    positions: list[tuple[Any, ...]]
    snapshots: list[str]
    marks: list[tuple[int, int]]
    step_calls: list[int]  # calls made before each step of the scenario


def record_baseline(scenario: Scenario) -> Baseline:
    run = Run(scenario)
    outcome = run.execute()
    actions = [c.action for c in run.calls]
    return Baseline(outcome, actions, run.positions, run.snapshots, run.marks, run.step_calls)


def run_matrix(
    scenario: Scenario, baseline: Baseline, plan: dict[int, tuple[str, ...]], converge: bool
) -> list[Outcome]:
    """Every (k, fault kind) of ``plan``, each in a child forked right before call k."""
    run = Run(scenario, baseline=baseline, plan=plan, converge=converge)
    try:
        run.execute()
    finally:
        run.reap_all()
        shutil.rmtree(run._tmp, ignore_errors=True)
    return run.results
