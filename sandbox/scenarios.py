"""Scenario files: YAML lists of steps run on the sandbox, with expectations and a timeline."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from rollout_core.models import Rollout, Target

from .gateway import CLIENT, OPERATOR, VIEWER
from .sagemaker_ext import Failure
from .stack import START, TABLE, Delivery, Sandbox
from .template import ROOT
from .traffic_ext import VariantProfile

BUILTIN = Path(__file__).resolve().parent / "scenarios"
SAMPLE_BUCKET = "sandbox-sample-payloads"  # SamplePayloadBucket of scenarios with ``samples: true``
SAMPLES = {f"rows-{n}.csv": f"{n},0.5,{n * 7}\n".encode() for n in (1, 2, 3)}
# History events of judging the candidate, shown in the timeline (smoke.py, analysis.py).
JUDGING_EVENTS = frozenset(
    {"smoke test", "smoke test passed", "smoke test failed", "smoke test skipped", "analysis", "holding"}
)
DURATION = re.compile(r"^(\d+)\s*([smh])$")
UNITS = {"s": 1, "m": 60, "h": 3600}


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollout: str | None = None  # package label
    phase: str | None = None
    reason_contains: str | None = None
    weights: dict[str, int] | None = None  # package label -> % of endpoint traffic
    endpoint_status: str | None = None
    endpoint_exists: bool | None = None
    live_rollouts: int | None = None
    http_status: int | None = None  # of the last invoke / submit_job answer
    response_contains: str | None = None
    job: str | None = None  # job label
    job_status: str | None = None
    job_mode: str | None = None
    failure_contains: str | None = None
    notified: str | None = None  # an EventBridge detail-type announced so far (e.g. "Rollout Paused")
    paused: bool | None = None
    instances: dict[str, int] | None = None  # package label -> instances of its variant, exactly
    instance_types: dict[str, str] | None = None  # package label -> its variant's instance type (issue 17)
    rollouts: int | None = None  # how many rollouts the package (``rollout``) has had
    history_contains: str | None = None  # a reason in the rollout's history contains this
    # SageMaker's async test notifications delivered so far (distinct SNS messages)
    test_notifications: int | None = None
    # issue 17: the rollout's own candidate alarms: metric -> state (or MISSING: it does not exist)
    candidate_alarms: dict[str, str] | None = None
    reason_matches: str | None = None  # a regular expression the rollout's reason matches
    analysis: str | None = None  # the rollout's latest canary analysis verdict: PASS, FAIL, INCONCLUSIVE
    user_requests: dict[str, int] | None = None  # package label -> users' requests its variant got, exactly
    # package label -> InvokeEndpoint calls that named its variant in TargetVariant (the smoke test)
    targeted_requests: dict[str, int] | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    target: dict[str, Any] = Field(default_factory=dict)
    endpoint_update_seconds: float = 120
    # How long a model/config SageMaker has just created stays invisible to the calls that use
    # it (CreateEndpoint API reference: eventually consistent read). 0: visible at once.
    lookup_delay_seconds: float = 0
    # The account's endpoint instance quotas (Service Quotas), per type; unset types keep the
    # sandbox's defaults (sandbox/quotas_ext.py). SageMaker enforces them.
    quota: dict[str, int] = Field(default_factory=dict)
    # Users' traffic: {rps: 20, v2: {error_rate: 0.03, latency_ms: 140}} (per package label, the
    # fields of sandbox.traffic_ext.VariantProfile); every endpoint gets 20 rps of 100 ms, no error,
    # when the scenario says nothing.
    traffic: dict[str, Any] = Field(default_factory=dict)
    samples: bool = False  # every package registered carries sample payloads (SamplePayloadUrl)
    steps: list[dict[str, Any]]

    def full_target(self) -> Target:
        base: dict[str, Any] = {
            "model_package_group": "churn-model",
            "endpoint_name": "churn-endpoint",
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "guard_alarms": ["sagemaker-rollout-churn-5xx"],
        }
        return Target.model_validate({**base, **self.target})


def seconds(value: str | int | float) -> float:
    if isinstance(value, int | float):
        return float(value)
    match = DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use 30s, 5m, 1h)")
    return int(match.group(1)) * UNITS[match.group(2)]


@dataclass
class Result:
    name: str
    timeline: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rollouts: list[dict[str, Any]] = field(default_factory=list)
    endpoint_changes: list[tuple[str, str]] = field(default_factory=list)
    final_weights: dict[str, int] | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


class Runner:
    """Runs one scenario on a fresh sandbox."""

    def __init__(self, scenario: Scenario, deliver_each: int = 1) -> None:
        self.scenario = scenario
        self.deliver_each = deliver_each
        self.target = scenario.full_target()
        self.result = Result(scenario.name)
        self.packages: dict[str, str] = {}  # label -> model package ARN
        self.jobs: dict[str, str] = {}  # label -> job id
        self.manual: dict[str, str] = {}  # package label -> id of its latest manual rollout
        self.announced: list[str] = []  # EventBridge detail-types seen
        self.last_response: dict[str, Any] = {}
        self._seen: dict[str, tuple[str, int]] = {}
        self.traffic = dict(scenario.traffic)
        self._labels: dict[str, str] = {}  # variant -> package label (cached)
        self._judged: set[tuple[str, str, str, str]] = set()  # judging history entries shown

    # --- running --------------------------------------------------------------------------

    def run(self) -> Result:
        parameters = {
            "EndpointName": self.target.endpoint_name,
            "ModelPackageGroupName": self.target.model_package_group,
        }
        if self.scenario.samples:
            parameters["SamplePayloadBucket"] = SAMPLE_BUCKET
        with Sandbox(
            update_seconds=self.scenario.endpoint_update_seconds,
            parameters=parameters,
            deliver_each=self.deliver_each,
            lookup_seconds=self.scenario.lookup_delay_seconds,
            quotas=self.scenario.quota,
            rps=float(self.traffic.get("rps", 20)),
        ) as sandbox:
            self.sandbox = sandbox
            sandbox.traffic.profile = self._profile
            sandbox.put_target(self.target.model_dump_json(), self.target.model_package_group)
            for alarm in self.target.guard_alarms:
                sandbox.create_alarm(alarm)
            for number, step in enumerate(self.scenario.steps, 1):
                try:
                    self._step(step)
                except AssertionError as exc:
                    self.result.failures.append(f"step {number} {json.dumps(step, default=str)}: {exc}")
                    self._line("expect", f"FAILED: {exc}")
                    break
            self.result.rollouts = [self._rollout_summary(r) for r in self._all_rollouts()]
            self.result.endpoint_changes = list(sandbox.simulator.calls)
            self.result.final_weights = self._weights()
        return self.result

    def _step(self, step: dict[str, Any]) -> None:
        if len(step) != 1:
            raise ValueError(f"a step has exactly one key: {step}")
        ((kind, arg),) = step.items()
        if kind in ("pause", "resume", "promote", "abort"):
            self._steer(kind, str(arg))
            return
        handler = getattr(self, f"_step_{kind}", None)
        if handler is None:
            raise ValueError(f"unknown step {kind!r}")
        handler(arg)

    # --- steps: the model registry, alarms, SageMaker's behaviour -------------------------

    def _step_approve(self, arg: Any) -> None:
        arn = self._package(str(arg))
        self._line("registry", f"{arg} approved")
        self._deliveries(self.sandbox.set_approval(arn, "Approved"))

    def _step_register(self, arg: Any) -> None:
        self._package(str(arg))
        self._line("registry", f"{arg} registered (pending approval)")

    def _step_reject(self, arg: Any) -> None:
        self._line("registry", f"{arg} rejected")
        self._deliveries(self.sandbox.set_approval(self._package(str(arg)), "Rejected"))

    def _step_alarm(self, arg: dict[str, str]) -> None:
        self._line("cloudwatch", f"{arg['name']} -> {arg['state']}")
        self._deliveries(self.sandbox.set_alarm(arg["name"], arg["state"]))

    def _step_candidate_alarm(self, arg: dict[str, str]) -> None:
        """{rollout: v2, metric: 5xx, state: ALARM}: one of the candidate's own alarms changes."""
        rollout = self._rollout(arg["rollout"])
        assert rollout is not None and arg["metric"] in rollout.candidate_alarms, f"no {arg['metric']} alarm"
        name = rollout.candidate_alarms[arg["metric"]]
        self._line("cloudwatch", f"{name} -> {arg['state']}")
        self._deliveries(self.sandbox.set_alarm(name, arg["state"]))

    def _step_wait(self, arg: Any) -> None:
        """Minute by minute: SageMaker finishes what is due, events flow, schedules fire."""
        sandbox = self.sandbox
        end = sandbox.now + timedelta(seconds=seconds(arg))
        while sandbox.now < end:
            sandbox.now = min(end, sandbox.now + timedelta(seconds=60))
            sandbox.publish_traffic()
            sandbox.simulator.advance()
            sandbox.jobs.advance()
            self._deliveries(sandbox.deliver_endpoint_events())
            self._deliveries(sandbox.evaluate_alarms())
            self._deliveries(sandbox.tick())
            if int((sandbox.now - START).total_seconds()) % 300 == 0:
                self._deliveries(sandbox.tick("JobSweep"))
            self._deliveries(sandbox.deliver_endpoint_events())

    def _step_tick(self, arg: Any) -> None:
        self._deliveries(self.sandbox.tick())

    def _step_fail_next_update(self, arg: Any) -> None:
        """A FailureReason, or {reason, status}: where the failed update leaves the endpoint
        (InService on its previous config, Failed, or UpdateRollbackFailed)."""
        failure = Failure(**arg) if isinstance(arg, dict) else Failure(str(arg))
        self.sandbox.simulator.fail_next[self.target.endpoint_name] = failure
        self._line("sagemaker", f"the endpoint's next update will fail ({failure.status}): {failure.reason}")

    def _step_autoscale(self, arg: Any) -> None:
        """Application Auto Scaling moves the serving variant to ``arg`` instances."""
        self._line("autoscaling", f"serving variant to {arg} instances")
        self._deliveries(self.sandbox.autoscale(self.target.endpoint_name, int(arg)))

    def _step_autoscale_before_next_update(self, arg: Any) -> None:
        """Autoscaling starts (to ``arg`` instances) just as the rollout's next update arrives."""
        self.sandbox.simulator.autoscale_before_next[self.target.endpoint_name] = int(arg)
        self._line("autoscaling", f"will scale the serving variant to {arg} as the next update arrives")

    def _step_scaling_policy(self, arg: dict[str, Any]) -> None:
        """The serving variant gets a scalable target ({min, max}) and a target-tracking policy
        with ``scale_in_cooldown`` seconds (what a user sets up, e.g. a bad one for doctor)."""
        sm = self.sandbox.client("sagemaker")
        variant = sm.describe_endpoint(EndpointName=self.target.endpoint_name)["ProductionVariants"][0]["VariantName"]
        rid = f"endpoint/{self.target.endpoint_name}/variant/{variant}"
        aas = self.sandbox.client("application-autoscaling")
        dimension = "sagemaker:variant:DesiredInstanceCount"
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=rid,
            ScalableDimension=dimension,
            MinCapacity=int(arg.get("min", 1)),
            MaxCapacity=int(arg.get("max", 4)),
        )
        aas.put_scaling_policy(
            PolicyName=str(arg.get("name", "invocations-per-instance")),
            ServiceNamespace="sagemaker",
            ResourceId=rid,
            ScalableDimension=dimension,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "ScaleInCooldown": int(arg.get("scale_in_cooldown", 300)),
            },
        )
        self._line("autoscaling", f"{variant}: scalable target and a policy {arg}")

    def _step_doctor(self, arg: Any) -> None:
        """GET /v1/endpoints/{endpoint}/doctor as the rollout viewer (issue 17); the answer is
        the last response (expect http_status / response_contains)."""
        endpoint = str(arg or self.target.endpoint_name)
        response = self.sandbox.api("GET", f"/v1/endpoints/{endpoint}/doctor", principal=VIEWER)
        self.last_response = response
        found = json.loads(response["body"]).get("findings", []) if response["statusCode"] == 200 else []
        summary = "; ".join(f"{f['severity']} {f['message']}" for f in found) or "no finding"
        self._line("api", f"doctor {endpoint} -> {response['statusCode']}: {summary}")

    def _step_edit(self, arg: Any) -> None:
        """Someone edits the package's description: SageMaker announces a state change that is
        not an approval (UpdatedModelPackageFields names what changed)."""
        self._line("registry", f"{arg} description edited")
        self._deliveries(self.sandbox.edit_package(self._package(str(arg)), "reviewed again"))

    def _step_traffic(self, arg: dict[str, Any]) -> None:
        """Users' traffic changes from now on (merged over what the scenario said)."""
        self.traffic.update(arg)
        self.sandbox.traffic.rps = float(self.traffic.get("rps", 20))
        self._line("traffic", ", ".join(f"{k}={v}" for k, v in arg.items()))

    def _step_fail_container(self, arg: dict[str, Any]) -> None:
        """The package's container answers every request with an error (its status and message)."""
        from rollout_core import naming

        variant = naming.variant_name(naming.rollout_id(self._package(str(arg["package"]))))
        status, message = int(arg.get("status", 500)), str(arg.get("message", "the container failed"))
        self.sandbox.jobs.failing_variants[(self.target.endpoint_name, variant)] = (status, message)
        self._line("sagemaker", f"{arg['package']}'s container will answer {status}: {message}")

    def _profile(self, endpoint: str, variant: str) -> VariantProfile:
        if variant not in self._labels:
            self._labels[variant] = self._label(variant).rstrip("*")
        spec = self.traffic.get(self._labels[variant])
        return VariantProfile(**spec) if isinstance(spec, dict) else VariantProfile()

    def _step_fail_next_async(self, arg: Any) -> None:
        self.sandbox.jobs.fail_next_async[str(self.target.inference.async_endpoint_name)] = str(arg)
        self._line("sagemaker", f"the next async inference will fail: {arg}")

    def _step_fail_next_transform(self, arg: Any) -> None:
        self.sandbox.jobs.fail_next_transform = str(arg)
        self._line("sagemaker", f"the next transform job will fail: {arg}")

    def _step_event(self, arg: Any) -> None:
        event = json.loads((ROOT / str(arg)).read_text())
        self._line("eventbridge", f"raw event from {arg}")
        self._deliveries(self.sandbox.deliver(event))

    def _step_expect(self, arg: dict[str, Any]) -> None:
        self._expect(Expectation.model_validate(arg))
        self._line("expect", "ok: " + ", ".join(f"{k}={v}" for k, v in arg.items()))

    # --- steps: the APIs --------------------------------------------------------------------

    def _steer(self, action: str, label: str) -> None:
        rollout = self._rollout(label)
        assert rollout is not None, f"no rollout for {label}"
        response = self.sandbox.api("POST", f"/v1/rollouts/{rollout.rollout_id}/{action}", principal=OPERATOR)
        self.last_response = response
        self._line("operator", f"{action} {label} -> {response['statusCode']}")
        self._after_action()

    def _step_start(self, arg: Any) -> None:
        body = json.dumps({"model_package_arn": self._package(str(arg))})
        response = self.sandbox.api(
            "POST", "/v1/rollouts", body, {"Content-Type": "application/json"}, principal=OPERATOR
        )
        self.last_response = response
        if response["statusCode"] == 201:
            self.manual[str(arg)] = json.loads(response["body"])["rollout_id"]
        self._line("operator", f"start {arg} by hand -> {response['statusCode']}")
        self._after_action()

    def _step_invoke(self, arg: dict[str, Any]) -> None:
        self._invoke(arg)

    def _step_submit_job(self, arg: dict[str, Any]) -> None:
        self._submit_job(arg)

    def _invoke(self, arg: dict[str, Any]) -> None:
        """POST a payload of ``bytes`` bytes to the real-time route."""
        endpoint = arg.get("endpoint", self.target.endpoint_name)
        body = b"1" * int(arg["bytes"])
        headers = {"Content-Type": arg.get("content_type", "text/csv")}
        response = self.sandbox.api("POST", f"/v1/endpoints/{endpoint}/invocations", body, headers, principal=CLIENT)
        self.last_response = response
        self._line("api", f"invoke {endpoint} with {len(body)} bytes -> {response['statusCode']}")

    def _submit_job(self, arg: dict[str, Any]) -> None:
        """POST /v1/jobs, then upload ``bytes`` bytes to the presigned URL (as a client would)."""
        request = {k: v for k, v in arg.items() if k in ("mode", "split_type", "content_type", "accept")}
        request.setdefault("content_type", "text/csv")
        request["target"] = self.target.model_package_group
        headers = {"Content-Type": "application/json"}
        response = self.sandbox.api("POST", "/v1/jobs", json.dumps(request), headers, principal=CLIENT)
        self.last_response = response
        created = json.loads(response["body"])
        if response["statusCode"] != 201:
            self._line("api", f"job {arg['label']} refused: {response['statusCode']} {created.get('message')}")
            return
        self.jobs[arg["label"]] = created["job_id"]
        self._line("api", f"job {arg['label']} created ({created['mode']}), uploading {arg['bytes']} bytes")
        self._deliveries(self._upload(created["upload"], b"1,2\n" * (int(arg["bytes"]) // 4)))

    def _upload(self, upload: dict[str, Any], data: bytes) -> list[Delivery]:
        before = len(self.sandbox.deliveries)
        self.sandbox.upload(upload, data)
        return self.sandbox.deliveries[before:]

    def _job_view(self, label: str) -> dict[str, Any]:
        response = self.sandbox.api("GET", f"/v1/jobs/{self.jobs[label]}", principal=CLIENT)
        view: dict[str, Any] = json.loads(response["body"])
        return view

    def _package(self, label: str) -> str:
        if label not in self.packages:
            samples = SAMPLES if self.scenario.samples else None
            self.packages[label] = self.sandbox.register_package(self.target.model_package_group, samples)
        return self.packages[label]

    # --- observing ------------------------------------------------------------------------

    def _all_rollouts(self) -> list[Rollout]:
        ddb = self.sandbox.client("dynamodb")
        items = ddb.scan(
            TableName=TABLE, FilterExpression="sk = :r", ExpressionAttributeValues={":r": {"S": "ROLLOUT"}}
        )
        rollouts = [Rollout.model_validate_json(i["body"]["S"]) for i in items["Items"]]
        return sorted(rollouts, key=lambda r: r.created_at)

    def _label(self, rollout_id_or_variant: str) -> str:
        from rollout_core import naming

        for label, arn in self.packages.items():
            rid = naming.rollout_id(arn)
            if rollout_id_or_variant in (rid, naming.variant_name(rid)):
                return label
        for label, rid in self.manual.items():
            if rollout_id_or_variant in (rid, naming.variant_name(rid)):
                return f"{label}*"  # a manual start of that package
        labels = {arn: label for label, arn in self.packages.items()}
        for rollout in self._all_rollouts():  # a package approved again: a rollout id of its own
            rid = rollout.rollout_id
            if rollout_id_or_variant in (rid, naming.variant_name(rid)) and rollout.model_package_arn in labels:
                return labels[rollout.model_package_arn]
        return rollout_id_or_variant

    def _rollout(self, label: str) -> Rollout | None:
        """The package's latest rollout (a manual start of it, if any)."""
        arn = self.packages.get(label)
        mine = [r for r in self._all_rollouts() if r.model_package_arn == arn]
        return mine[-1] if mine else None

    def _instances(self) -> dict[str, int]:
        """Instances per package label, as DescribeEndpoint says (CurrentInstanceCount)."""
        described = self.sandbox.client("sagemaker").describe_endpoint(EndpointName=self.target.endpoint_name)
        return {self._label(v["VariantName"]): v["CurrentInstanceCount"] for v in described["ProductionVariants"]}

    def _instance_types(self) -> dict[str, str]:
        """Instance type per package label, from the endpoint's current config."""
        sm = self.sandbox.client("sagemaker")
        config = sm.describe_endpoint(EndpointName=self.target.endpoint_name)["EndpointConfigName"]
        variants = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        return {self._label(v["VariantName"]): v["InstanceType"] for v in variants}

    def _weights(self) -> dict[str, int] | None:
        weights = self.sandbox.endpoint_weights(self.target.endpoint_name)
        return None if weights is None else {self._label(v): p for v, p in weights.items()}

    def _deliveries(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            changed = self._changes()
            if "Records" in delivery.event:  # an SNS delivery
                what = "SNS " + delivery.event["Records"][0]["Sns"]["TopicArn"].rsplit(":", 1)[-1]
            else:
                what = delivery.event["detail-type"]
            status = delivery.event.get("detail", {}).get("EndpointStatus") or delivery.event.get("detail", {}).get(
                "TransformJobStatus"
            )
            if status:
                what += f" ({status})"
            if delivery.error:
                self.result.failures.append(f"{delivery.function} raised {delivery.error}")
                self._line(delivery.function, f"<- {what}: ERROR {delivery.error}")
            elif changed or what != "Scheduled Event":
                self._line(delivery.function, f"<- {what}")
            for line in changed:
                self._line("rollout", line)
        self._notifications()

    def _after_action(self) -> None:
        for line in self._changes():
            self._line("rollout", line)
        self._notifications()

    def _notifications(self) -> None:
        """What the stack announced (read back from SQS subscribers), in the timeline."""
        _, events = self.sandbox.notifications()
        for event in events:
            self.announced.append(event["detail-type"])
            self._line("notification", f"{event['detail-type']}: {event['detail'].get('text', '')}"[:160])

    def _changes(self) -> list[str]:
        lines = []
        for rollout in self._all_rollouts():
            for entry in rollout.history:  # the smoke test and the canary analysis's verdicts
                mark = (rollout.rollout_id, entry.at.isoformat(), entry.event, entry.reason)
                if entry.event in JUDGING_EVENTS and mark not in self._judged:
                    self._judged.add(mark)
                    lines.append(f"{self._label(rollout.rollout_id)} {entry.event}: {entry.reason}")
            key = (rollout.phase.value, rollout.step_index)
            if self._seen.get(rollout.rollout_id) == key:
                continue
            self._seen[rollout.rollout_id] = key
            step = f" {rollout.current_step_percent}%" if rollout.phase.value in ("SHIFTING", "BAKING") else ""
            last = rollout.reason if rollout.phase.terminal else (rollout.history[-1].reason if rollout.history else "")
            lines.append(f"{self._label(rollout.rollout_id)} {rollout.phase.value}{step}: {last}")
        return lines

    def _line(self, source: str, text: str) -> None:
        offset = self.sandbox.now - START
        total = int(offset.total_seconds())
        stamp = f"+{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
        weights = self._weights()
        shown = "no endpoint" if weights is None else " ".join(f"{k}={v}%" for k, v in sorted(weights.items()))
        status = self.sandbox.endpoint_status(self.target.endpoint_name) or "-"
        self.result.timeline.append(
            {"time": stamp, "source": source, "text": text, "endpoint": status, "weights": weights or {}}
        )
        self._printed = getattr(self, "_printed", [])
        self._printed.append(f"{stamp}  {source:<26} {text}  [{status}: {shown}]")

    def lines(self) -> list[str]:
        return getattr(self, "_printed", [])

    # --- expectations ---------------------------------------------------------------------

    def _expect(self, want: Expectation) -> None:
        self._expect_rollout(want)
        self._expect_endpoint(want)
        self._expect_api(want)

    def _expect_rollout(self, want: Expectation) -> None:
        """Expectations on the package ``want.rollout``'s latest rollout."""
        if want.rollout is None:
            for needs in (
                "phase",
                "reason_contains",
                "rollouts",
                "history_contains",
                "paused",
                "reason_matches",
                "analysis",
                "candidate_alarms",
            ):
                assert getattr(want, needs) is None, f"{needs} needs rollout"
            return
        rollout = self._rollout(want.rollout)
        assert rollout is not None, f"no rollout for {want.rollout}"
        if want.phase is not None:
            assert rollout.phase.value == want.phase, f"{want.rollout} is {rollout.phase.value}, expected {want.phase}"
        if want.reason_contains is not None:
            assert want.reason_contains in rollout.reason, f"reason {rollout.reason!r} lacks {want.reason_contains!r}"
        if want.rollouts is not None:
            arn = self.packages.get(want.rollout)
            count = len([r for r in self._all_rollouts() if r.model_package_arn == arn])
            assert count == want.rollouts, f"{want.rollout} has {count} rollouts, expected {want.rollouts}"
        if want.history_contains is not None:
            reasons = [h.reason for h in rollout.history]
            assert any(want.history_contains in r for r in reasons), f"no history reason has {want.history_contains!r}"
        if want.paused is not None:
            assert rollout.paused == want.paused, f"paused={rollout.paused}"
        if want.candidate_alarms is not None:
            names = rollout.candidate_alarms
            found = self.sandbox.client("cloudwatch").describe_alarms(AlarmNames=sorted(names.values()))
            states = {a["AlarmName"]: a["StateValue"] for a in found["MetricAlarms"]}
            seen = {metric: states.get(name, "MISSING") for metric, name in names.items()}
            assert seen == want.candidate_alarms, f"candidate alarms {seen}, expected {want.candidate_alarms}"
        if want.reason_matches is not None:
            assert re.search(want.reason_matches, rollout.reason), f"reason {rollout.reason!r} does not match"
        if want.analysis is not None:
            verdict = rollout.analysis.verdict.value if rollout.analysis else None
            assert verdict == want.analysis, f"latest analysis {verdict}, expected {want.analysis}"

    def _expect_endpoint(self, want: Expectation) -> None:
        """Expectations on the endpoint, the store and what was announced."""
        if want.weights is not None:
            assert self._weights() == want.weights, f"weights {self._weights()}, expected {want.weights}"
        if want.endpoint_status is not None:
            status = self.sandbox.endpoint_status(self.target.endpoint_name)
            assert status == want.endpoint_status, f"endpoint {status}, expected {want.endpoint_status}"
        if want.endpoint_exists is not None:
            exists = self.sandbox.endpoint_status(self.target.endpoint_name) is not None
            assert exists == want.endpoint_exists, f"endpoint exists={exists}"
        if want.instance_types is not None:
            types = self._instance_types()
            assert types == want.instance_types, f"instance types {types}, expected {want.instance_types}"
        if want.instances is not None:
            instances = self._instances()
            assert instances == want.instances, f"instances {instances}, expected {want.instances}"
        if want.notified is not None:
            self._notifications()
            assert want.notified in self.announced, f"{want.notified!r} not announced (saw {self.announced})"
        targeted: dict[tuple[str, str], int] = {}
        for call in self.sandbox.jobs.invocations:
            if call.get("target_variant"):
                key = (call["endpoint"], call["target_variant"])
                targeted[key] = targeted.get(key, 0) + 1
        for wanted, seen in (
            (want.user_requests, self.sandbox.traffic.user_requests),
            (want.targeted_requests, targeted),
        ):
            if wanted is not None:
                got: dict[str, int] = {}
                for (_, variant), count in seen.items():
                    label = self._label(variant).rstrip("*")
                    got[label] = got.get(label, 0) + count
                for label, count in wanted.items():
                    assert got.get(label, 0) == count, (
                        f"{label}'s variant got {got.get(label, 0)} requests, expected {count}"
                    )
        if want.live_rollouts is not None:
            live = [r for r in self._all_rollouts() if r.live]
            assert len(live) == want.live_rollouts, f"{len(live)} live rollouts, expected {want.live_rollouts}"

    def _expect_api(self, want: Expectation) -> None:
        """Expectations on the last API answer and on jobs."""
        if want.http_status is not None:
            got = self.last_response.get("statusCode")
            assert got == want.http_status, f"HTTP {got}, expected {want.http_status}"
        if want.response_contains is not None:
            raw = self.last_response.get("body") or ""
            text = base64.b64decode(raw).decode(errors="replace") if self.last_response.get("isBase64Encoded") else raw
            assert want.response_contains in text, f"response {text[:200]!r} lacks {want.response_contains!r}"
        if want.job is not None:
            view = self._job_view(want.job)
            for field_name, expected in (("status", want.job_status), ("mode", want.job_mode)):
                if expected is not None:
                    assert view[field_name] == expected, (
                        f"job {want.job} {field_name} {view[field_name]}, expected {expected}"
                    )
            if want.failure_contains is not None:
                assert want.failure_contains in (view["failure_reason"] or ""), (
                    f"job failure {view['failure_reason']!r}"
                )
            if want.job_status == "SUCCEEDED":
                assert view["output"] and view["output"]["url"], "a finished job has a download link"
        if want.test_notifications is not None:
            seen = {
                d.event["Records"][0]["Sns"]["MessageId"]
                for d in self.sandbox.deliveries
                if "Records" in d.event and '"TestNotification"' in d.event["Records"][0]["Sns"]["Message"]
            }
            assert len(seen) == want.test_notifications, (
                f"{len(seen)} test notifications delivered, expected {want.test_notifications}"
            )

    def _rollout_summary(self, rollout: Rollout) -> dict[str, Any]:
        return {
            "package": self._label(rollout.rollout_id),
            "rollout_id": rollout.rollout_id,
            "phase": rollout.phase.value,
            "step": rollout.current_step_percent,
            "reason": rollout.reason,
            "history": [h.model_dump(mode="json") for h in rollout.history],
        }


def load(path: Path) -> Scenario:
    return Scenario.model_validate(yaml.safe_load(path.read_text()))


def builtin_files() -> list[Path]:
    return sorted(BUILTIN.glob("*.yaml"))
