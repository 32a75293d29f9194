"""The smoke test: the candidate, in service at weight 0, answers sample payloads before any traffic.

Pure functions on the rollout (the shell runs the invocations: aws/samples.py). The smoke test
is one action, RunSmokeTest, asked for by ``gate`` when PROVISIONING is done and before the
first shift. It is level-triggered and idempotent:

- asking for it is a decision saved (conditional write on the version) before the action runs,
  so of two concurrent triggers only one sends the samples;
- the shell folds the result into the rollout (``finished``); until then the rollout waits;
- a result that never comes (a crash between the save and the fold) or an AWS "try later"
  is asked for again after RETRY_SECONDS, at most MAX_ATTEMPTS times, then the rollout fails:
  the smoke test is never skipped because something went wrong, nor run twice at once.

A failed smoke test ends the rollout FAILED (the candidate leaves; it never had traffic). No
sample (the package has no SamplePayloadUrl and the target names none): skipped, said so in
the history.
"""

from __future__ import annotations

from datetime import datetime

from .canary_models import RunSmokeTest, SmokeResult, SmokeTestRecord
from .decisions import Decision, record_decision
from .history import record
from .models import Observations, Phase, Rollout

# A smoke test asked for and not folded back after this long is asked for again.
RETRY_SECONDS = 120
MAX_ATTEMPTS = 3


def gate(r: Rollout, obs: Observations, now: datetime) -> Decision | str | None:
    """Before the first shift: a decision to take (ask, wait, fail), or None to go on.

    A string is the reason to fail the rollout with (the caller rolls the candidate back).
    """
    plan = r.target.plan.smoke_test
    if not plan.enabled or r.first_deployment:
        return None
    done = r.smoke_test
    if done is not None and done.outcome in ("passed", "skipped"):
        return None
    if done is not None and done.outcome == "failed":
        return f"smoke test failed: {done.reason}"
    if not obs.judging:
        return r, []  # only a shell that can invoke the candidate asks for it (the controller)
    if done is not None and (now - done.requested_at).total_seconds() < RETRY_SECONDS:
        return r, []  # under way
    attempts = done.attempts + 1 if done is not None else 1
    if attempts > MAX_ATTEMPTS:
        return f"smoke test did not complete after {MAX_ATTEMPTS} attempts ({done.reason if done else ''})"
    action = RunSmokeTest(
        endpoint_name=r.endpoint_name,
        variant_name=r.candidate.variant_name,
        model_package_arn=r.model_package_arn,
        samples_s3_uri=plan.samples_s3_uri,
        content_type=plan.content_type,
        latency_budget_ms=plan.latency_budget_ms,
        max_samples=plan.max_samples,
    )
    asked = r.model_copy(
        update={
            "smoke_test": SmokeTestRecord(
                requested_at=now, attempts=attempts, reason=done.reason if done is not None else ""
            )
        }
    )
    why = f"candidate {r.candidate.variant_name} in service at weight 0: sample payloads sent to it directly"
    if attempts > 1:
        why += f" (attempt {attempts} of {MAX_ATTEMPTS})"
    return record_decision(asked, obs, now, "smoke test", why, [action])


def finished(r: Rollout, result: SmokeResult, now: datetime) -> Rollout:
    """Fold what the shell found into the rollout (only into the smoke test it asked for)."""
    pending = r.smoke_test
    if pending is None or pending.outcome is not None or r.phase is not Phase.PROVISIONING:
        return r  # not the smoke test under way (stopped, or already folded)
    if result.outcome == "retry":
        retry = pending.model_copy(update={"reason": result.reason})
        return record(
            r.model_copy(update={"smoke_test": retry}), now, "will retry", f"smoke test: {result.reason}", None, []
        )
    done = pending.model_copy(
        update={
            "outcome": result.outcome,
            "reason": result.reason,
            "source": result.source,
            "samples": result.samples,
            "finished_at": now,
        }
    )
    event = {"passed": "smoke test passed", "failed": "smoke test failed", "skipped": "smoke test skipped"}
    return record(r.model_copy(update={"smoke_test": done}), now, event[result.outcome], result.reason, None, [])


def note(r: Rollout) -> str:
    """What the first shift's reason says about the smoke test."""
    done = r.smoke_test
    if not r.target.plan.smoke_test.enabled:
        return "; smoke test disabled"
    if done is None or done.outcome is None:
        return ""
    return f"; smoke test {done.outcome}"
