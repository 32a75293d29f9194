"""What every stack of a sandbox shares: moto, the simulated AWS behaviour, the clock, EventBridge.

One ``World`` holds one or more stacks (sandbox/stack.py), each in an AWS account:
- **moto** keeps one backend per account and finds the account from the request's access key
  (moto's ``get_account_id_from``: keys of IAM users it holds map to their account). Each
  account gets such a key here; a stack's functions and clients sign with their account's.
- **EventBridge**: one default bus per account. An event lands on the bus of the account it
  was put in (``account`` field) and goes to every rule of that bus whose pattern matches, as
  the template declares them (sandbox/template.py). Rules whose target is another account's
  bus (``Forwarder``: the registry template's, a stack's ForwardMilestones) put the event on
  that bus, unchanged, if the bus's resource policy allows the sending account those events
  ("Permissions for event buses in Amazon EventBridge"); a refused one is kept in
  ``refused``, as EventBridge would dead-letter it.
- Our own events (source ``sagemaker-rollout``) are put by the functions through the real
  PutEvents; an SQS queue on a rule of each account's bus (a *tap*) reads them back, then they
  are delivered like any other event.
- The SageMaker, Application Auto Scaling and S3/job simulators, the instance quotas (kept per
  account), CloudWatch alarm states and the containers' CloudWatch Logs, CloudWatch's metric data
  (sandbox/cloudwatch_ext.py) with the functions' EMF metrics in it (sandbox/emf_ext.py), users'
  traffic on every account's real-time endpoints
  (sandbox/traffic_ext.py), the clock and the stopwatch are shared.

Deliveries are synchronous and in order: what a handler causes (endpoint state changes, our
milestones) is delivered before ``deliver`` returns.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

from . import peek
from .alarms_ext import AlarmStates
from .autoscaling_ext import AutoscalingSimulator
from .cloudwatch_ext import MetricStore
from .emf_ext import EmfSink
from .iam_policy import Access, Statement, explicitly_allows, explicitly_denies
from .jobs_ext import JobsSimulator
from .logs_ext import ContainerLogs
from .quotas_ext import InstanceQuotas
from .sagemaker_ext import EndpointSimulator
from .traffic_ext import TrafficSimulator

if TYPE_CHECKING:
    from .stack import Delivery, Sandbox

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: the access key "testing" maps to it
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TAP_RULE = "sandbox-rollout-events"
CUSTOM_SOURCE = "sagemaker-rollout"


@dataclass(frozen=True)
class Forwarder:
    """An EventBridge rule whose target is the default bus of another account."""

    name: str
    account: str  # the bus the rule is on
    pattern: dict[str, Any]
    target_account: str

    def matches(self, event: dict[str, Any]) -> bool:
        from .template import Route

        return Route("", self.name, self.pattern).matches(event)


@dataclass
class World:
    update_seconds: float = 120
    deliver_each: int = 1  # >1: every event arrives that many times (at-least-once)
    server_url: str | None = None  # a moto server (python -m sandbox serve); None: in-process mock
    work_seconds: float = 60
    lookup_seconds: float = 0
    rps: float = 20.0  # users' requests a second on every real-time endpoint (0: none)
    now: datetime = START
    stacks: list[Sandbox] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    forwarders: list[Forwarder] = field(default_factory=list)
    # account -> the statements of its default bus's resource policy (who may put what)
    bus_policies: dict[str, list[Statement]] = field(default_factory=dict)
    announced: list[dict[str, Any]] = field(default_factory=list)  # every event of ours put, in order
    refused: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (forwarder, why, event)
    active: Sandbox | None = None  # the stack whose environment the process has now

    def __post_init__(self) -> None:
        self.simulator = EndpointSimulator(
            clock=lambda: self.now, update_seconds=self.update_seconds, lookup_seconds=self.lookup_seconds
        )
        self.autoscaling = AutoscalingSimulator()
        # issue 17: per-account instance quotas (Service Quotas and their enforcement), alarm
        # states as CloudWatch sets them, the endpoint containers' CloudWatch Logs.
        self.quotas = InstanceQuotas(self.simulator)
        self.alarm_states = AlarmStates(clock=lambda: self.now)
        self.container_logs = ContainerLogs(self.simulator)
        self.jobs = JobsSimulator(clock=lambda: self.now, work_seconds=self.work_seconds)
        self.simulator.on_start.append(self.jobs.announce_test_notification)  # async test notifications
        # CloudWatch's metric data (percentiles included), and users' traffic on the real-time
        # endpoints with the per-variant metrics SageMaker publishes for it (``rps``; 0: none).
        self.metrics = MetricStore()
        self.emf = EmfSink(self.metrics, clock=lambda: self.now)  # the functions' EMF into CloudWatch
        self.traffic = TrafficSimulator(
            self.metrics,
            clock=lambda: self.now,
            rps=self.rps,
            failing=lambda endpoint, variant: (self.jobs.failing_variants.get((endpoint, variant)) or (None,))[0],
            sampling=self.simulator.sampling,  # a shadow variant's copy of the requests (issue 13)
        )
        # What a call to a model takes, on the sandbox's stopwatch (rollout_core.clock.monotonic):
        # each InvokeEndpoint moves it on by the simulated latency, so timings are reproducible.
        self.stopwatch = 0.0
        self.jobs.on_invoke.append(self._invoked)
        self.metrics.before_read.append(self.publish_traffic)  # the clock may have jumped
        self._mock = mock_aws()
        self._saved_env: dict[str, str | None] = {}
        self._keys: dict[str, tuple[str, str]] = {}
        self._clients: dict[tuple[str, str], Any] = {}  # (service, account) -> the sandbox's own client
        self._taps: dict[str, str] = {}
        self._inbox: list[tuple[dict[str, Any], str]] = []  # our events read off the taps, not delivered yet
        self.started = False

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        from rollout_core import clock

        common = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "POWERTOOLS_SERVICE_NAME": "sagemaker-rollout",
            "POWERTOOLS_METRICS_NAMESPACE": "SageMakerRollout",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING"),
        }
        if self.server_url:
            common["AWS_ENDPOINT_URL"] = self.server_url
        self.setenv(common)
        if not self.server_url:
            self._mock.start()
        self.simulator.install()
        self.autoscaling.install()
        self.quotas.install()
        self.alarm_states.install()
        self.container_logs.install()
        self.jobs.install()
        self.metrics.install()
        self.emf.install()
        clock.set_source(lambda: self.now)
        clock.set_timer(lambda: self.stopwatch)
        self.started = True

    def stop(self) -> None:
        from rollout_core import clock

        from .stack import new_execution_environment

        clock.set_source(None)
        clock.set_timer(None)
        new_execution_environment()
        self.emf.uninstall()
        self.metrics.uninstall()
        self._clients.clear()
        self.jobs.uninstall()
        self.container_logs.uninstall()
        self.alarm_states.uninstall()
        self.quotas.uninstall()
        self.autoscaling.uninstall()
        self.simulator.uninstall()
        if not self.server_url:
            self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        self.started = False

    def setenv(self, values: dict[str, str]) -> None:
        """Set process environment variables, remembering what to restore at ``stop``."""
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    # --- accounts -------------------------------------------------------------------------

    def credentials(self, account: str) -> tuple[str, str]:
        """An access key of ``account`` (moto maps it to that account's backends)."""
        if account == ACCOUNT:
            return "testing", "testing"
        if account not in self._keys:
            from moto.iam.models import iam_backends

            iam = iam_backends[account]["aws"]
            iam.create_user(region_name=REGION, user_name="sandbox", path="/", tags=[])
            key = iam.create_access_key(user_name="sandbox")
            self._keys[account] = (key.access_key_id, key.secret_access_key)
        return self._keys[account]

    def client(self, service: str, account: str = ACCOUNT) -> Any:
        """The sandbox's own client (not the functions') for ``service`` in ``account``, made once
        per world: creating a boto3 client costs ~15 ms, and the scenarios ask for one at every
        observation (measured: 40 % of a scenario's time went into client creation)."""
        if (service, account) not in self._clients:
            key, secret = self.credentials(account)
            self._clients[(service, account)] = boto3.client(  # type: ignore[call-overload]
                service, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret
            )
        return self._clients[(service, account)]

    def tap(self, account: str) -> None:
        """An SQS queue on a rule for our events on ``account``'s bus (once per account)."""
        if account in self._taps:
            return
        sqs, events = self.client("sqs", account), self.client("events", account)
        url = sqs.create_queue(QueueName=f"sandbox-rollout-events-{account}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=TAP_RULE, EventPattern=json.dumps({"source": [CUSTOM_SOURCE]}))
        events.put_targets(Rule=TAP_RULE, Targets=[{"Id": "queue", "Arn": arn}])
        self._taps[account] = url

    def activate(self, stack: Sandbox) -> None:
        """The process runs as ``stack`` now: its environment and its functions' cached clients."""
        if self.active is stack:
            return
        self.setenv(stack.env)
        stack.install_wiring()
        self.active = stack

    # --- EventBridge ------------------------------------------------------------------------

    def deliver(self, event: dict[str, Any], bus: str | None = None) -> list[Delivery]:
        """Put ``event`` on ``bus`` (default: its account's) and deliver it and all it causes."""
        done: list[Delivery] = []
        queue: list[tuple[dict[str, Any], str]] = [(event, bus or _account_of(event))]
        while queue:
            current, on = queue.pop(0)
            for stack in list(self.stacks):
                if stack.account == on:
                    done += stack.receive(current)
            queue += [(current, target) for target in self._forward(current, on)]
            queue += self.pending()
        return done

    def pending(self) -> list[tuple[dict[str, Any], str]]:
        """What the simulated services and our functions announced since the last look."""
        found = [(e, _account_of(e)) for e in self.simulator.drain() + self.jobs.drain()]
        self.collect()
        found += self._inbox
        self._inbox = []
        return found

    def collect(self) -> None:
        """Read our events off every account's tap: kept in ``announced`` (notifications) and
        delivered by the next ``pending``."""
        for account, url in self._taps.items():
            if peek.queue_is_empty(account, REGION, url):  # nothing announced: skip the empty ReceiveMessage
                continue
            sqs = self.client("sqs", account)
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    event = json.loads(message["Body"])
                    # What moto leaves out or gets from the wall clock: the envelope's account (the
                    # bus's: "Amazon EventBridge events") and its time (when EventBridge took it:
                    # now, on the sandbox's clock, as deliveries are immediate here).
                    event["account"] = account
                    event["time"] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
                    self.announced.append(event)
                    self._inbox.append((event, account))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def deliver_pending(self) -> list[Delivery]:
        done: list[Delivery] = []
        for event, bus in self.pending():
            done += self.deliver(event, bus)
        return done

    def _forward(self, event: dict[str, Any], bus: str) -> list[str]:
        """Accounts whose bus a forwarding rule of ``bus`` puts ``event`` on (policy permitting)."""
        targets = []
        for rule in self.forwarders:
            if rule.account != bus or not rule.matches(event):
                continue
            why = self.bus_refuses(rule.target_account, bus, event)
            if why:
                self.refused.append((rule.name, why, event))
            else:
                targets.append(rule.target_account)
        return targets

    def bus_refuses(self, account: str, sender: str, event: dict[str, Any]) -> str | None:
        """Why ``account``'s default bus refuses ``event`` from ``sender`` (None: it takes it).

        A bus takes events of its own account; another account's only where its resource
        policy allows that account events:PutEvents with the event's source and detail-type.
        """
        if account == sender:
            return None
        bus_arn = f"arn:aws:events:{REGION}:{account}:event-bus/default"
        conditions = (
            ("events:source", str(event.get("source", ""))),
            ("events:detail-type", str(event.get("detail-type", ""))),
            ("aws:PrincipalAccount", sender),
        )
        access = Access("events:PutEvents", bus_arn, conditions)
        principal = f"arn:aws:iam::{sender}:root"
        statements = self.bus_policies.get(account, [])
        if explicitly_denies(statements, access, principal):
            return f"the bus of {account} denies {sender} events:PutEvents"
        if not explicitly_allows(statements, access, principal):
            return (
                f"no statement of the bus policy of {account} allows {sender} to put "
                f"{event.get('source')} / {event.get('detail-type')}"
            )
        return None

    # --- users' traffic ------------------------------------------------------------------

    def _invoked(self, endpoint: str, variant: str, status: int) -> None:
        self.stopwatch += self.traffic.record(endpoint, variant, status)

    def publish_traffic(self) -> None:
        """Users' requests of the minutes gone by on every stack's account, as per-variant
        metrics (before endpoints move on)."""
        from moto.sagemaker.models import sagemaker_backends

        accounts = dict.fromkeys(stack.account for stack in self.stacks) or {ACCOUNT: None}
        self.traffic.advance(*(sagemaker_backends[account][REGION] for account in accounts))

    # --- time -------------------------------------------------------------------------------

    def advance(self, seconds: float, tick_every: float = 60, each: Callable[[], None] | None = None) -> None:
        """Move the clock: endpoint transitions complete, every stack's schedules fire."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.now = min(end, self.now + timedelta(seconds=tick_every))
            self.publish_traffic()
            self.simulator.advance()
            self.jobs.advance()
            self.deliver_pending()
            for stack in list(self.stacks):
                stack.evaluate_alarms()
                stack.tick()
                if int((self.now - START).total_seconds()) % 300 == 0:
                    stack.tick("JobSweep")  # rate(5 minutes)
            self.deliver_pending()
            if each is not None:
                each()


def _account_of(event: dict[str, Any]) -> str:
    """The account whose bus an event is on (an SNS message: its topic's account)."""
    if "account" in event:
        return str(event["account"])
    records = event.get("Records") or [{}]
    topic = str(records[0].get("Sns", {}).get("TopicArn", ""))
    return topic.split(":")[4] if topic.count(":") >= 5 else ACCOUNT
