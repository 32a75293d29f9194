"""IAM coverage: every AWS call each function made during the test session is granted, and nothing more.

tests/security/recorder.py records the calls (botocore ``before-call``, keyed by the function the
sandbox ran) while the integration, e2e and fault tests run; this module runs after all of them.
If the session did not include the integration and e2e suites, it reads what an earlier session
recorded (``IAM_RECORDED``: ``make test`` runs the suites on xdist's workers first), or runs them
first (in a subprocess) to record their calls.

For each AWS::Serverless::Function of template.yaml (new functions are covered as they are
added), on the template as aws-sam-translator expands it (SAM policy templates become plain
statements):
- every recorded call maps to its IAM action(s) (tests/security/iam.py) and the function's role
  allows each on the resource the call names, with the call's condition keys;
- every (action, resource) pair a statement grants is used by a recorded call of a function
  that holds it (a customer managed policy shared by several functions counts the calls of all
  of them), unless ALLOWED_UNUSED says why not for that action on that one resource; a pair
  whose resource is not of a type the action is authorised on grants nothing (tests/security/sar.py);
- the policy the stack hands to the SageMaker execution role (ModelJobsAccessPolicy) allows every
  call SageMaker makes as that role in the job tests (reading inputs, writing outputs,
  publishing results: sandbox/jobs_ext.py records them), and grants nothing else;
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
from pathlib import Path
from typing import Any

import pytest

from sandbox.template import load_template

from . import sar, summary
from .conftest import ROOT
from .iam import Access, Evaluator, Statement, action_matches, allows, environment_names, resource_matches
from .recorder import MARKER, RECORDER, SUITES, Recorder, load_records

pytestmark = pytest.mark.iam_coverage

# (action, resource) grants a policy may hold although no recorded call uses them: each with the
# resource it may be granted on (a template expression, resolved per deployment) and the reason.
ALLOWED_UNUSED: dict[str, tuple[Any, str]] = {
    "iam:CreateServiceLinkedRole": (
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
            "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
        },
        "Application Auto Scaling creates its service-linked role for SageMaker endpoints on the "
        "first RegisterScalableTarget in an account, with the caller's permissions; there is no "
        "call of ours to record (and moto never needs it).",
    ),
    "sqs:SendMessage": (
        {"Fn::GetAtt": ["FunctionFailureQueue", "Arn"]},
        "EventInvokeConfig's on-failure destination: Lambda itself sends the failed asynchronous "
        "invocation to the queue with the function's execution role.",
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
    "cloudwatch:GetMetricData": "no resource types (the controller's canary analysis, judging.py)",
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


class RecordingFailed(AssertionError):
    """The suites whose calls the IAM test needs did not all pass: what they recorded is partial."""


def record_suites(suites: tuple[str, ...], out: Path) -> Recorder:
    """Run ``suites`` in a subprocess that records their calls; all of them must pass (a suite
    stopped by a failure records only part of the calls, and the checks would pass on less)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *suites, "-q", "-p", "no:cacheprovider", "-x"],
        cwd=ROOT,
        env={**os.environ, "IAM_RECORD_OUT": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        raise RecordingFailed(
            f"recording {suites} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    recorder = Recorder()
    recorder.merge(out)
    return recorder


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorder:
    earlier = os.environ.get("IAM_RECORDED")
    if earlier:  # make test: the suites ran before, in xdist's workers (IAM_RECORD_DIR)
        merged = load_records(Path(earlier))
        summary.lines.append(f"IAM: calls recorded by {len(merged.ran)} test files of the earlier session")
        return merged
    if RECORDER.covers(SUITES):
        forked = RECORDER.merge_children()
        summary.lines.append(f"IAM: calls of {forked} forked (faulted) runs recorded as well")
        return RECORDER
    merged = record_suites(SUITES, tmp_path_factory.mktemp("iam") / "recorded.json")
    for (fn, ctx), found in RECORDER.accesses.items():
        merged.accesses[(fn, ctx)].update(found)
    for fn, names in RECORDER.unmapped.items():
        merged.unmapped[fn].update(names)
    for key, configs in RECORDER.retries.items():
        merged.retries[key].update(configs)
    for fn, n in RECORDER.calls.items():
        merged.calls[fn] += n
    for ctx, found in RECORDER.role_accesses.items():
        merged.role_accesses[ctx].update(found)
    merged.paths |= RECORDER.paths
    return merged


def test_a_recording_whose_suites_fail_is_refused(tmp_path: Path):
    """A partial recording (a suite stopped at its first failure) must not pass as a whole one."""
    canary = Path(__file__).with_name("fixtures") / "recording_canary.py"
    with pytest.raises(RecordingFailed, match="exit 1"):
        record_suites((str(canary.relative_to(ROOT)),), tmp_path / "recorded.json")
    assert (tmp_path / "recorded.json").exists(), "the canary session did write its (partial) record"


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


def unused_grants(st: Statement, used: list[Access], allowed: dict[str, str]) -> list[str]:
    """Every (action, resource) pair ``st`` grants that no access in ``used`` needs.

    A pair whose resource is not of a type the action is authorised on grants nothing and is
    left out (the Service Authorization Reference: sagemaker:CreateModel on an endpoint ARN).
    ``allowed``: action -> the one resource it may be granted on unused (ALLOWED_UNUSED).
    """
    found = []
    for action in st.actions:
        if "*" in action:
            found.append(f"wildcard action {action}")
            continue
        for resource in st.resources:
            if not sar.grants_anything(action, resource) or allowed.get(action) == resource:
                continue
            if not any(action_matches(action, a.action) and resource_matches(resource, a.resource) for a in used):
                found.append(f"{action} on {resource}")
    return found


def test_nothing_is_granted_that_no_function_calls(translated: dict[str, Any], recorded: Recorder):
    """Every grant of template.yaml is used in at least one deployment the tests ran.

    The template is one text for every environment, so a grant is one (statement, action,
    resource) of it, resolved per deployment: it is used when, in some deployment, a call of a
    function that holds it needs it on that deployment's resource. A grant only one environment
    of the chain needs (prod's gate, staging's upstream reads) is used there and idle elsewhere,
    and is still needed in the template.
    """
    by_function: dict[str, set[Access]] = defaultdict(set)
    for (fn, _), found in recorded.accesses.items():
        by_function[fn] |= found
    # (policy, sid, action, resource's position in the statement) -> where it went unused
    idle: dict[tuple[str, str, str, int], set[str]] = defaultdict(set)
    used_somewhere: set[tuple[str, str, str, int]] = set()
    pairs = 0
    for (fn, _), evaluator in _evaluators(translated, recorded).items():
        statements, _ = evaluator.statements(fn)
        allowed = {action: str(evaluator.resolve(expr)) for action, (expr, _) in ALLOWED_UNUSED.items()}
        for st in statements:
            if st.effect != "Allow":
                continue
            holders = _holders(evaluator, st, fn)
            used = [a for holder in holders for a in by_function[holder] if st.grants(a)]
            pairs += len(st.actions) * len(st.resources)
            unused = set(unused_grants(st, used, allowed))
            for action in st.actions:
                for position, resource in enumerate(st.resources):
                    key = (st.source, st.sid, action, position)
                    text = f"wildcard action {action}" if "*" in action else f"{action} on {resource}"
                    if text in unused:
                        idle[key].add(f"{st.source} {st.sid}: {text} (held by {', '.join(holders)})")
                    elif "*" not in action:
                        used_somewhere.add(key)
    never = sorted(line for key, lines in idle.items() if key not in used_somewhere for line in lines)
    assert not never, "granted but never called (remove, or say why in ALLOWED_UNUSED):\n" + "\n".join(never)
    summary.lines.append(
        f"IAM: every granted (action, resource) of the template is used ({len(used_somewhere)} grants, "
        f"{pairs} pairs resolved over all deployments)"
    )


# The customer managed policy the stack hands to the SageMaker execution role (README: attach
# the ModelJobsAccessPolicyArn output to SageMakerExecutionRoleArn).
EXECUTION_ROLE_POLICY = "ModelJobsAccessPolicy"
# Like ALLOWED_UNUSED, for what SageMaker does as that role.
EXECUTION_ROLE_ALLOWED_UNUSED: dict[str, tuple[Any, str]] = {
    "s3:AbortMultipartUpload": (
        {"Fn::Sub": "${JobsBucket.Arn}/outputs/*"},
        "SageMaker writes results in multipart uploads and aborts one it cannot finish (the "
        "asynchronous inference prerequisites' example policy grants it); the sandbox writes "
        "each result in one PutObject, so no recorded access uses it.",
    ),
}


def test_the_execution_role_policy_allows_what_sagemaker_does_and_nothing_more(
    translated: dict[str, Any], recorded: Recorder
):
    """Async inference and batch transform run as the execution role: reading the inputs,
    writing the outputs, publishing async results. Every such access is allowed, and every
    (action, resource) the policy grants is used by one."""
    assert recorded.role_accesses, "no job test made SageMaker read or write as the execution role"
    raw = load_template()
    every = set().union(*recorded.role_accesses.values())
    denied, unused = set(), set()
    for (parameters, env), found in recorded.role_accesses.items():
        names: dict[str, str] = {}
        learnt: dict[str, str] = {}
        for fn in _functions():
            more_names, more_parameters = environment_names(raw, fn, dict(env))
            names |= more_names
            learnt |= more_parameters
        evaluator = Evaluator(translated, {**dict(parameters), **learnt}, names)
        statements = evaluator.managed_policy(EXECUTION_ROLE_POLICY)
        allowed = {a: str(evaluator.resolve(expr)) for a, (expr, _) in EXECUTION_ROLE_ALLOWED_UNUSED.items()}
        denied |= {f"{a.action} on {a.resource} {dict(a.conditions)}" for a in found if not allows(statements, a)}
        for st in statements:
            unused |= {f"{st.sid}: {u}" for u in unused_grants(st, [a for a in every if st.grants(a)], allowed)}
    assert not denied, "SageMaker would get AccessDenied as the execution role:\n" + "\n".join(sorted(denied))
    assert not unused, "granted to the execution role but never needed:\n" + "\n".join(sorted(unused))
    actions = sorted({a.action for a in every})
    summary.lines.append(f"IAM: {len(every)} execution-role accesses of SageMaker allowed ({', '.join(actions)})")


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
