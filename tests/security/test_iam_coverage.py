"""IAM coverage: every AWS call each function made during the test session is granted, and nothing more.

tests/security/recorder.py records the calls (botocore ``before-call``, keyed by the function the
sandbox ran) while the integration, e2e and fault tests run; this module runs after all of them.
If the session did not include the integration and e2e suites, it runs them first (in a
subprocess) to record their calls.

For each AWS::Serverless::Function of template.yaml (new functions are covered as they are
added), on the template as aws-sam-translator expands it (SAM policy templates become plain
statements):
- every recorded call maps to its IAM action(s) (tests/security/iam.py) and the function's role
  allows each on the resource the call names, with the call's condition keys;
- every action and every resource a statement grants is used by a recorded call of a function
  that holds it (a customer managed policy shared by several functions counts the calls of all
  of them), unless ALLOWED_UNUSED says why not;
- "*" is granted only for actions that have no resource types, or with a reason (STAR_OK);
- AWS managed policies are only the ones SAM attaches for the Lambda runtime (RUNTIME_POLICIES);
- every client the product uses sets its retry mode and ``total_max_attempts``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from typing import Any

import pytest

from sandbox.template import load_template

from . import summary
from .conftest import ROOT
from .iam import Access, Evaluator, Statement, action_matches, allows, environment_names, resource_matches
from .recorder import MARKER, RECORDER, SUITES, Recorder

pytestmark = pytest.mark.iam_coverage

# Actions a policy may grant although no recorded call names them: each with its reason.
ALLOWED_UNUSED = {
    "iam:CreateServiceLinkedRole": (
        "Application Auto Scaling creates its service-linked role for SageMaker endpoints on the "
        "first RegisterScalableTarget in an account, with the caller's permissions; there is no "
        "call of ours to record (and moto never needs it)."
    ),
    "sagemaker:DescribeModelPackage": (
        "CreateModel with PrimaryContainer.ModelPackageName reads the model package on the "
        "caller's behalf (authorisation-only, no call of its own)."
    ),
    "sqs:SendMessage": (
        "EventInvokeConfig's on-failure destination: Lambda itself sends the failed asynchronous "
        "invocation to the queue with the function's execution role."
    ),
}
# Granted on "*": allowed only for these actions, each with its reason.
STAR_OK = {
    "sagemaker:ListModels": "no resource types (Service Authorization Reference)",
    "sagemaker:ListEndpointConfigs": "no resource types",
    "sagemaker:ListEndpoints": "no resource types",
    "servicequotas:ListServiceQuotas": "no resource types",
    "sagemaker:ListTransformJobs": "no resource types",
    "application-autoscaling:DescribeScalableTargets": "no resource types",
    "application-autoscaling:DescribeScalingPolicies": "no resource types",
    "cloudwatch:PutMetricData": "no resource types",
    "cloudwatch:DescribeAlarms": (
        "alarm ARNs are supported, but CloudWatch returns composite alarms only to callers whose "
        "DescribeAlarms permission is on '*' (template.yaml, ReadGuardAlarms)"
    ),
}
# AWS managed policies SAM attaches for the runtime, not for our code.
RUNTIME_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
        "the Lambda runtime writes the function's logs (logs:CreateLogGroup/CreateLogStream/PutLogEvents)"
    ),
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
        "Tracing: Active; the X-Ray daemon of the Lambda runtime sends the segments"
    ),
}


def _functions() -> list[str]:
    resources = load_template()["Resources"]
    return [name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorder:
    if RECORDER.covers(SUITES):
        forked = RECORDER.merge_children()
        summary.lines.append(f"IAM: calls of {forked} forked (faulted) runs recorded as well")
        return RECORDER
    out = tmp_path_factory.mktemp("iam") / "recorded.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:cacheprovider", "-x"],
        cwd=ROOT,
        env={**os.environ, "IAM_RECORD_OUT": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.exists(), f"recording {SUITES} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    merged = Recorder()
    merged.merge(out)
    for (fn, ctx), found in RECORDER.accesses.items():
        merged.accesses[(fn, ctx)].update(found)
    for fn, names in RECORDER.unmapped.items():
        merged.unmapped[fn].update(names)
    for key, configs in RECORDER.retries.items():
        merged.retries[key].update(configs)
    for fn, n in RECORDER.calls.items():
        merged.calls[fn] += n
    merged.paths |= RECORDER.paths
    return merged


def _evaluators(translated: dict[str, Any], recorded: Recorder) -> dict[tuple[str, Any], Evaluator]:
    raw = load_template()
    out = {}
    for fn, ctx in recorded.accesses:
        parameters, env = dict(ctx[0]), dict(ctx[1])
        names, learnt = environment_names(raw, fn, env)
        out[(fn, ctx)] = Evaluator(translated, {**parameters, **learnt}, names)
    return out


def test_every_function_was_exercised(recorded: Recorder):
    missing = [fn for fn in _functions() if not recorded.calls.get(fn)]
    assert not missing, f"no test invoked {missing} through the sandbox: their AWS calls cannot be checked"


def test_every_operator_command_and_job_route_was_driven_in_every_state(recorded: Recorder):
    """tests/integration/test_operator_paths.py drives each one, so its calls are checked below."""
    from tests.integration.test_operator_paths import EXPECTED_PATHS

    driven = recorded.paths & EXPECTED_PATHS
    by_function = {fn: sum(1 for f, _, _ in driven if f == fn) for fn in sorted({f for f, _, _ in driven})}
    summary.lines.append(
        f"IAM: {len(driven)} (function, phase or job state, command or route) paths driven: "
        + ", ".join(f"{fn} {n}" for fn, n in by_function.items())
    )
    assert driven == EXPECTED_PATHS, sorted(EXPECTED_PATHS - driven)


def test_every_recorded_call_has_a_known_iam_authorisation(recorded: Recorder):
    unmapped = {fn: sorted(names) for fn, names in recorded.unmapped.items() if names}
    assert not unmapped, f"add these operations to tests/security/iam.py: {unmapped}"


def test_every_call_is_allowed_by_the_functions_policy(translated: dict[str, Any], recorded: Recorder):
    denied = []
    checked = 0
    for (fn, ctx), evaluator in _evaluators(translated, recorded).items():
        statements, _ = evaluator.statements(fn)
        for access in sorted(recorded.accesses[(fn, ctx)], key=repr):
            checked += 1
            if not allows(statements, access):
                conditions = f" with {dict(access.conditions)}" if access.conditions else ""
                denied.append(f"{fn}: {access.action} on {access.resource}{conditions}")
    assert not denied, "AccessDenied on the first real deploy:\n" + "\n".join(sorted(set(denied)))
    distinct = {(fn, a.action) for (fn, _), found in recorded.accesses.items() for a in found}
    summary.lines.append(
        f"IAM: {checked} recorded (function, action, resource) accesses allowed; "
        f"{len(distinct)} distinct (function, action) pairs over {len(_functions())} functions"
    )


def _holders(evaluator: Evaluator, statement: Statement, fn: str) -> list[str]:
    """Functions whose calls count as uses of ``statement`` (all holders of a shared policy)."""
    if "/" in statement.source:  # an inline policy of fn's own role
        return [fn]
    return evaluator.holders(statement.source) or [fn]


def test_nothing_is_granted_that_no_function_calls(translated: dict[str, Any], recorded: Recorder):
    by_function: dict[str, set[Access]] = defaultdict(set)
    for (fn, _), found in recorded.accesses.items():
        by_function[fn] |= found
    unused: set[str] = set()
    for (fn, _), evaluator in _evaluators(translated, recorded).items():
        statements, _ = evaluator.statements(fn)
        for st in statements:
            if st.effect != "Allow":
                continue
            used = [a for holder in _holders(evaluator, st, fn) for a in by_function[holder] if st.grants(a)]
            holders = ", ".join(_holders(evaluator, st, fn))
            for action in st.actions:
                if "*" in action:
                    unused.add(f"{st.source} {st.sid}: wildcard action {action}")
                elif action not in ALLOWED_UNUSED and not any(action_matches(action, a.action) for a in used):
                    unused.add(f"{st.source} {st.sid}: {action} (held by {holders})")
            if set(st.actions) <= set(ALLOWED_UNUSED):
                continue
            for resource in st.resources:
                if not any(resource_matches(resource, a.resource) for a in used):
                    unused.add(f"{st.source} {st.sid}: resource {resource} for {list(st.actions)} (held by {holders})")
    assert not unused, "granted but never called (remove, or say why in ALLOWED_UNUSED):\n" + "\n".join(sorted(unused))


def test_star_resources_only_where_aws_allows_nothing_narrower(translated: dict[str, Any], recorded: Recorder):
    problems = set()
    for (fn, _), evaluator in _evaluators(translated, recorded).items():
        statements, _ = evaluator.statements(fn)
        for st in statements:
            if st.effect == "Allow" and "*" in st.resources:
                problems |= {f"{st.source} {st.sid}: {a} on *" for a in st.actions if a not in STAR_OK}
    assert not problems, "\n".join(sorted(problems))


def test_aws_managed_policies_are_only_the_runtimes(translated: dict[str, Any], recorded: Recorder):
    attached = set()
    for (fn, _), evaluator in _evaluators(translated, recorded).items():
        attached |= set(evaluator.statements(fn)[1])
    assert attached <= set(RUNTIME_POLICIES), sorted(attached - set(RUNTIME_POLICIES))


def test_every_client_sets_retry_mode_and_total_max_attempts(recorded: Recorder):
    bad = []
    for (fn, service), configs in recorded.retries.items():
        for config in configs:
            retries = json.loads(config) or {}
            if retries.get("mode") != "standard" or not isinstance(retries.get("total_max_attempts"), int):
                bad.append(f"{fn} {service}: retries={retries}")
    assert not bad, "\n".join(sorted(set(bad)))
    assert recorded.retries, "no call was recorded"


def test_this_module_runs_last(request: pytest.FixtureRequest):
    items = request.session.items
    mine = [i for i in items if i.get_closest_marker(MARKER) is not None]
    assert items[-len(mine) :] == mine
