"""Running scenario files (their format: scenario_format.py) on the sandbox: the steps, the
expectations and a timeline.

A scenario runs one stack, or (``environments:``) a chain of them, one per environment, sharing
one registry and one clock (sandbox/chain.py); steps and expectations then name the environment
they address (``env:``, or ``v2@prod``), and the timeline interleaves every environment's lines.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rollout_core.models import Rollout

from . import peek
from .chain import REGISTRY_ACCOUNT, Chain, Environment, separate_accounts
from .gateway import CLIENT, OPERATOR, VIEWER, Principal
from .sagemaker_ext import Failure
from .scenario_format import Expectation, Scenario, seconds
from .stack import START, Delivery, Sandbox
from .template import ROOT
from .traffic_ext import VariantProfile
from .world import REGION

SAMPLE_BUCKET = "sandbox-sample-payloads"  # SamplePayloadBucket of scenarios with ``samples: true``
SAMPLES = {f"rows-{n}.csv": f"{n},0.5,{n * 7}\n".encode() for n in (1, 2, 3)}
# History events of judging the candidate, shown in the timeline (smoke.py, analysis.py).
JUDGING_EVENTS = frozenset(
    {"smoke test", "smoke test passed", "smoke test failed", "smoke test skipped", "analysis", "holding"}
)


@dataclass
class Result:
    name: str
    timeline: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rollouts: list[dict[str, Any]] = field(default_factory=list)
    endpoint_changes: list[tuple[str, str]] = field(default_factory=list)
    final_weights: Any = None  # one stack: package label -> %; a chain: environment -> that

    @property
    def passed(self) -> bool:
        return not self.failures


class Runner:
    """Runs one scenario on a fresh sandbox."""

    def __init__(self, scenario: Scenario, deliver_each: int = 1) -> None:
        self.scenario = scenario
        self.deliver_each = deliver_each
        self.chained = bool(scenario.environments)
        names = list(scenario.environments) or [""]
        self.targets = {env: scenario.full_target(env or None) for env in names}
        self.default = names[0]
        self.target = self.targets[self.default]
        self.result = Result(scenario.name)
        self.packages: dict[str, str] = {}  # label -> model package ARN
        self.jobs: dict[str, str] = {}  # label -> job id
        self.manual: dict[str, str] = {}  # package label -> id of its latest manual rollout
        self.announced: list[str] = []  # EventBridge detail-types seen
        self.last_response: dict[str, Any] = {}
        self._seen: dict[tuple[str, str], tuple[str, int]] = {}
        self.served: dict[str, list[dict[str, int]]] = {env: [] for env in names}  # weights seen, in order
        self.traffic = dict(scenario.traffic)
        self._labels: dict[tuple[str, str], str] = {}  # (endpoint, variant) -> package label (cached)
        self._judged: set[tuple[str, str, str, str, str]] = set()  # judging history entries shown
        self._documents: dict[str, Rollout] = {}  # stored rollout document -> parsed (see _parsed)

    # --- running --------------------------------------------------------------------------

    def run(self) -> Result:
        with self._world() as world:
            self.stacks: dict[str, Sandbox] = world.stacks if isinstance(world, Chain) else {"": world}
            self.sandbox = self.stacks[self.default]
            self.sandbox.traffic.profile = self._profile
            for stack in self.stacks.values():  # the scenario's quotas, in every account (issue 17)
                stack.quotas.of(stack.account).update(self.scenario.quota)
                if self.scenario.quota_reads_denied:
                    stack.quotas.unreadable.add(stack.account)
            if not self.chained:
                self.sandbox.put_target(self.target.model_dump_json(), self.target.model_package_group)
                for alarm in self.target.guard_alarms:
                    self.sandbox.create_alarm(alarm)
            for number, step in enumerate(self.scenario.steps, 1):
                try:
                    self._step(step)
                except AssertionError as exc:
                    self.result.failures.append(f"step {number} {json.dumps(step, default=str)}: {exc}")
                    self._line("expect", f"FAILED: {exc}")
                    break
            self.result.rollouts = [
                self._rollout_summary(r, env) for env in self.stacks for r in self._all_rollouts(env)
            ]
            self.result.endpoint_changes = list(self.sandbox.simulator.calls)
            weights = {env: self._weights(env) for env in self.stacks}
            self.result.final_weights = weights if self.chained else weights[""]
        return self.result

    def _world(self) -> Chain | Sandbox:
        update, lookup = self.scenario.endpoint_update_seconds, self.scenario.lookup_delay_seconds
        rps = float(self.traffic.get("rps", 20))
        if not self.chained:
            parameters = {
                "EndpointName": self.target.endpoint_name,
                "ModelPackageGroupName": self.target.model_package_group,
            }
            if self.scenario.samples:
                parameters["SamplePayloadBucket"] = SAMPLE_BUCKET
            return Sandbox(
                update_seconds=update,
                parameters=parameters,
                deliver_each=self.deliver_each,
                lookup_seconds=lookup,
                rps=rps,
            )
        assert not self.scenario.samples, "sample payloads are not simulated for a chain"
        separate = self.scenario.accounts == "separate"
        accounts = separate_accounts(list(self.targets)) if separate else {}
        environments = [
            Environment(env, target, account=accounts.get(env, "123456789012")) for env, target in self.targets.items()
        ]
        registry = REGISTRY_ACCOUNT if separate else "123456789012"
        return Chain(
            environments,
            registry_account=registry,
            update_seconds=update,
            deliver_each=self.deliver_each,
            lookup_seconds=lookup,
            rps=rps,
        )

    def _addressed(self, arg: Any) -> tuple[str, str]:
        """(environment, label) of a step's argument: "v2", "v2@prod" or {rollout: v2, env: prod}."""
        if isinstance(arg, dict):
            return str(arg.get("env", self.default)), str(arg["rollout"])
        label, _, env = str(arg).partition("@")
        return (env or self.default), label

    def _env_of_alarm(self, name: str) -> str:
        return next((env for env, t in self.targets.items() if name in t.guard_alarms), self.default)

    def _step(self, step: dict[str, Any]) -> None:
        if len(step) != 1:
            raise ValueError(f"a step has exactly one key: {step}")
        ((kind, arg),) = step.items()
        if kind in ("pause", "resume", "promote", "abort", "approve_gate"):
            self._steer(kind.removesuffix("_gate"), arg)
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
        env = arg.get("env") or self._env_of_alarm(arg["name"])
        self._line("cloudwatch", f"{arg['name']} -> {arg['state']}", env)
        self._deliveries(self.stacks[env].set_alarm(arg["name"], arg["state"]))

    def _step_candidate_alarm(self, arg: dict[str, str]) -> None:
        """{rollout: v2, metric: 5xx, state: ALARM}: one of the candidate's own alarms changes."""
        env = arg.get("env", self.default)
        rollout = self._rollout(arg["rollout"], env)
        assert rollout is not None and arg["metric"] in rollout.candidate_alarms, f"no {arg['metric']} alarm"
        name = rollout.candidate_alarms[arg["metric"]]
        self._line("cloudwatch", f"{name} -> {arg['state']}", env)
        self._deliveries(self.stacks[env].set_alarm(name, arg["state"]))

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
            for stack in self.stacks.values():
                self._deliveries(stack.evaluate_alarms())
                self._deliveries(stack.tick())
                if int((sandbox.now - START).total_seconds()) % 300 == 0:
                    self._deliveries(stack.tick("JobSweep"))
            self._deliveries(sandbox.deliver_endpoint_events())

    def _step_tick(self, arg: Any) -> None:
        for stack in self.stacks.values():
            self._deliveries(stack.tick())

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

        rid = naming.rollout_id(self._package(str(arg["package"])))
        status, message = int(arg.get("status", 500)), str(arg.get("message", "the container failed"))
        for variant in (naming.variant_name(rid), naming.shadow_variant_name(rid)):  # as a shadow too
            self.sandbox.jobs.failing_variants[(self.target.endpoint_name, variant)] = (status, message)
        self._line("sagemaker", f"{arg['package']}'s container will answer {status}: {message}")

    def _profile(self, endpoint: str, variant: str) -> VariantProfile:
        if (endpoint, variant) not in self._labels:
            env = next((e for e, t in self.targets.items() if t.endpoint_name == endpoint), self.default)
            self._labels[(endpoint, variant)] = self._label(variant, env).rstrip("*")
        spec = self.traffic.get(self._labels[(endpoint, variant)])
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

    def _steer(self, action: str, arg: Any) -> None:
        env, label = self._addressed(arg)
        rollout = self._rollout(label, env)
        assert rollout is not None, f"no rollout for {label}"
        stack = self.stacks[env]
        path = f"/v1/rollouts/{rollout.rollout_id}/{action}"
        response = stack.api("POST", path, principal=self._principal(OPERATOR, env))
        self.last_response = response
        self._line("operator", f"{action} {label} -> {response['statusCode']}", env)
        self._after_action()

    def _principal(self, principal: Principal, env: str) -> Principal:
        """The test principal, in the account of ``env``'s stack (a chain across accounts)."""
        from dataclasses import replace

        account = self.stacks[env].account
        return principal if principal.account == account else replace(principal, account=account)

    def _step_start(self, arg: Any) -> None:
        env, label = self._addressed(arg)
        body = json.dumps({"model_package_arn": self._package(label)})
        response = self.stacks[env].api(
            "POST",
            "/v1/rollouts",
            body,
            {"Content-Type": "application/json"},
            principal=self._principal(OPERATOR, env),
        )
        self.last_response = response
        if response["statusCode"] == 201:
            self.manual[label] = json.loads(response["body"])["rollout_id"]
        self._line("operator", f"start {label} by hand -> {response['statusCode']}", env)
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

    def _parsed(self, body: str) -> Rollout:
        """A stored rollout document, parsed once (the runner reads the store after every delivery)."""
        if body not in self._documents:
            self._documents[body] = Rollout.model_validate_json(body)
        return self._documents[body]

    def _all_rollouts(self, env: str | None = None) -> list[Rollout]:
        stack = self.stacks[self.default if env is None else env]
        bodies = peek.string_attribute(stack.account, REGION, stack.table, "body", "sk", "ROLLOUT")
        rollouts = [self._parsed(body) for body in bodies]
        return sorted(rollouts, key=lambda r: (r.created_at, r.updated_at))

    def _label(self, rollout_id_or_variant: str, env: str | None = None) -> str:
        from rollout_core import naming

        for label, arn in self.packages.items():
            rid = naming.rollout_id(arn)
            if rollout_id_or_variant in (rid, naming.variant_name(rid), naming.shadow_variant_name(rid)):
                return label
        for label, rid in self.manual.items():
            if rollout_id_or_variant in (rid, naming.variant_name(rid), naming.shadow_variant_name(rid)):
                return f"{label}*"  # a manual start of that package
        labels = {arn: label for label, arn in self.packages.items()}
        for rollout in self._all_rollouts(env):  # a package approved again, or promoted: an id of its own
            rid = rollout.rollout_id
            if (
                rollout_id_or_variant in (rid, naming.variant_name(rid), naming.shadow_variant_name(rid))
                and rollout.model_package_arn in labels
            ):
                return labels[rollout.model_package_arn]
        return rollout_id_or_variant

    def _rollout(self, label: str, env: str | None = None) -> Rollout | None:
        """The package's latest rollout (a manual start of it, if any)."""
        arn = self.packages.get(label)
        mine = [r for r in self._all_rollouts(env) if r.model_package_arn == arn]
        return mine[-1] if mine else None

    def _instances(self, env: str | None = None) -> dict[str, int]:
        """Instances per package label, as DescribeEndpoint says (CurrentInstanceCount)."""
        env = self.default if env is None else env
        described = self.stacks[env].client("sagemaker").describe_endpoint(EndpointName=self.targets[env].endpoint_name)
        return {self._label(v["VariantName"], env): v["CurrentInstanceCount"] for v in described["ProductionVariants"]}

    def _instance_types(self, env: str | None = None) -> dict[str, str]:
        """Instance type per package label, from the endpoint's current config."""
        env = self.default if env is None else env
        sm = self.stacks[env].client("sagemaker")
        config = sm.describe_endpoint(EndpointName=self.targets[env].endpoint_name)["EndpointConfigName"]
        variants = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        return {self._label(v["VariantName"], env): v["InstanceType"] for v in variants}

    def _weights(self, env: str | None = None) -> dict[str, int] | None:
        env = self.default if env is None else env
        weights = self.stacks[env].endpoint_weights(self.targets[env].endpoint_name)
        return None if weights is None else {self._label(v, env): p for v, p in weights.items()}

    def _deliveries(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            env = delivery.stack if self.chained else ""
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
                self._line(delivery.function, f"<- {what}: ERROR {delivery.error}", env)
            elif changed or what != "Scheduled Event":
                self._line(delivery.function, f"<- {what}", env)
            for changed_env, line in changed:
                self._line("rollout", line, changed_env)
        self._notifications()

    def _after_action(self) -> None:
        for env, line in self._changes():
            self._line("rollout", line, env)
        self._notifications()

    def _notifications(self) -> None:
        """What the stacks announced (read back from SQS subscribers), in the timeline."""
        for env, stack in self.stacks.items():
            _, events = stack.notifications()
            for event in events:
                self.announced.append(event["detail-type"])
                self._line("notification", f"{event['detail-type']}: {event['detail'].get('text', '')}"[:160], env)

    def _changes(self) -> list[tuple[str, str]]:
        lines = []
        for env in self.stacks:
            for rollout in self._all_rollouts(env):
                for entry in rollout.history:  # the smoke test and the canary analysis's verdicts
                    mark = (env, rollout.rollout_id, entry.at.isoformat(), entry.event, entry.reason)
                    if entry.event in JUDGING_EVENTS and mark not in self._judged:
                        self._judged.add(mark)
                        lines.append((env, f"{self._label(rollout.rollout_id, env)} {entry.event}: {entry.reason}"))
                key = (rollout.phase.value, rollout.step_index)
                if self._seen.get((env, rollout.rollout_id)) == key:
                    continue
                self._seen[(env, rollout.rollout_id)] = key
                step = f" {rollout.current_step_percent}%" if rollout.phase.value in ("SHIFTING", "BAKING") else ""
                last = (
                    rollout.reason
                    if rollout.phase.terminal
                    else (rollout.history[-1].reason if rollout.history else "")
                )
                lines.append((env, f"{self._label(rollout.rollout_id, env)} {rollout.phase.value}{step}: {last}"))
        return lines

    def _line(self, source: str, text: str, env: str | None = None) -> None:
        offset = self.sandbox.now - START
        total = int(offset.total_seconds())
        stamp = f"+{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
        shown_envs = [env] if env is not None else list(self.stacks)
        views = []
        for name in shown_envs:
            weights = self._weights(name)
            self.served[name].append(weights or {})
            shown = "no endpoint" if weights is None else " ".join(f"{k}={v}%" for k, v in sorted(weights.items()))
            status = self.stacks[name].endpoint_status(self.targets[name].endpoint_name) or "-"
            views.append((name, status, weights or {}, shown))
        where = f"[{env}] " if self.chained and env else ""
        endpoint = " | ".join(f"{n + ': ' if self.chained else ''}{status}: {shown}" for n, status, _, shown in views)
        first = views[0]
        self.result.timeline.append(
            {"time": stamp, "env": env, "source": source, "text": text, "endpoint": first[1], "weights": first[2]}
        )
        self._printed = getattr(self, "_printed", [])
        self._printed.append(f"{stamp}  {where}{source:<26} {text}  [{endpoint}]")

    def lines(self) -> list[str]:
        return getattr(self, "_printed", [])

    # --- expectations ---------------------------------------------------------------------

    def _expect(self, want: Expectation) -> None:
        env = self.default if want.env is None else want.env
        assert env in self.stacks, f"no environment {env!r}"
        self._env = env
        self._expect_rollout(want)
        self._expect_endpoint(want)
        self._expect_api(want)
        self._expect_chain(want)

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
                "shadow_analysis",
            ):
                assert getattr(want, needs) is None, f"{needs} needs rollout"
            return
        rollout = self._rollout(want.rollout, self._env)
        assert rollout is not None, f"no rollout for {want.rollout}"
        if want.phase is not None:
            assert rollout.phase.value == want.phase, f"{want.rollout} is {rollout.phase.value}, expected {want.phase}"
        if want.reason_contains is not None:
            assert want.reason_contains in rollout.reason, f"reason {rollout.reason!r} lacks {want.reason_contains!r}"
        if want.rollouts is not None:
            arn = self.packages.get(want.rollout)
            count = len([r for r in self._all_rollouts(self._env) if r.model_package_arn == arn])
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
        if want.configs is not None:
            stack = self.stacks[self._env]
            listed = stack.client("sagemaker").list_endpoint_configs(NameContains=rollout.rollout_id, MaxResults=100)
            left = sorted(c["EndpointConfigName"].split(rollout.rollout_id, 1)[1] for c in listed["EndpointConfigs"])
            assert left == sorted(want.configs), f"configs left {left}, expected {sorted(want.configs)}"
        if want.reason_matches is not None:
            assert re.search(want.reason_matches, rollout.reason), f"reason {rollout.reason!r} does not match"
        if want.analysis is not None:
            verdict = rollout.analysis.verdict.value if rollout.analysis else None
            assert verdict == want.analysis, f"latest analysis {verdict}, expected {want.analysis}"
        if want.shadow_analysis is not None:
            report = rollout.shadow.analysis if rollout.shadow else None
            verdict = report.verdict.value if report else None
            assert verdict == want.shadow_analysis, f"shadow analysis {verdict}, expected {want.shadow_analysis}"

    def _expect_endpoint(self, want: Expectation) -> None:
        """Expectations on the endpoint, the store and what was announced."""
        env, stack, endpoint = self._env, self.stacks[self._env], self.targets[self._env].endpoint_name
        if want.weights is not None:
            weights = self._weights(env)
            assert weights == want.weights, f"weights {weights}, expected {want.weights}"
        if want.endpoint_status is not None:
            status = stack.endpoint_status(endpoint)
            assert status == want.endpoint_status, f"endpoint {status}, expected {want.endpoint_status}"
        if want.endpoint_exists is not None:
            exists = stack.endpoint_status(endpoint) is not None
            assert exists == want.endpoint_exists, f"endpoint exists={exists}"
        if want.instance_types is not None:
            types = self._instance_types(env)
            assert types == want.instance_types, f"instance types {types}, expected {want.instance_types}"
        if want.instances is not None:
            instances = self._instances(env)
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
                for (on, variant), count in seen.items():
                    if on != endpoint:  # another environment's endpoint (a chain)
                        continue
                    label = self._label(variant, env).rstrip("*")
                    got[label] = got.get(label, 0) + count
                for label, count in wanted.items():
                    assert got.get(label, 0) == count, (
                        f"{label}'s variant got {got.get(label, 0)} requests, expected {count}"
                    )
        if want.shadow is not None:
            described = self.sandbox.client("sagemaker").describe_endpoint(EndpointName=self.target.endpoint_name)
            shadows = [self._label(v["VariantName"]).rstrip("*") for v in described.get("ShadowProductionVariants", [])]
            assert shadows == ([] if want.shadow == "none" else [want.shadow]), f"shadow variants {shadows}"
        for label, count in (want.mirrored_at_least or {}).items():
            copies = sum(
                n for (_, v), n in self.sandbox.traffic.mirrored.items() if self._label(v).rstrip("*") == label
            )
            assert copies >= count, f"{label}'s shadow was sent {copies} copies of requests, expected at least {count}"
        if want.live_rollouts is not None:
            live = [r for r in self._all_rollouts(env) if r.live]
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

    def _expect_chain(self, want: Expectation) -> None:
        """Expectations across environments: the versions view, and what served after what."""
        if want.versions is not None:
            for label, by_env in want.versions.items():
                for env, state in by_env.items():
                    got = self._version_state(label, env)
                    assert got == state, f"{label} is {got!r} in {env} (GET /v1/versions), expected {state!r}"
        if want.never_after is not None:
            older, newer = want.never_after["older"], want.never_after["newer"]
            for env, seen in self.served.items():
                since = next((n for n, w in enumerate(seen) if w.get(newer, 0) == 100), None)
                if since is not None:
                    late = [w for w in seen[since:] if w.get(older, 0) > 0]
                    assert not late, f"{older} served in {env} after {newer} had: {late[0]}"

    def _version_state(self, label: str, env: str) -> str:
        """The version's state in ``env`` as the rollout API's versions route says (a viewer)."""
        stack = self.stacks[env]
        group = self.targets[env].model_package_group
        response = stack.api("GET", f"/v1/versions?group={group}", principal=self._principal(VIEWER, env))
        assert response["statusCode"] == 200, response
        rows = json.loads(response["body"])["versions"]
        row = next((r for r in rows if r["model_package_arn"] == self.packages.get(label)), None)
        return "never reached" if row is None else str(row["state"])

    def _rollout_summary(self, rollout: Rollout, env: str = "") -> dict[str, Any]:
        return {
            "env": env,
            "package": self._label(rollout.rollout_id, env),
            "rollout_id": rollout.rollout_id,
            "phase": rollout.phase.value,
            "step": rollout.current_step_percent,
            "reason": rollout.reason,
            "history": [h.model_dump(mode="json") for h in rollout.history],
        }
