"""`doctor` (issue 17 item 5): each finding from the facts read, with its severity and fix."""

from __future__ import annotations

from rollout_core import doctor
from rollout_core.doctor import Facts, ScalingPolicy, Severity, VariantScaling
from rollout_core.models import AlarmState, InstanceQuota

HEALTHY = Facts(
    endpoint="churn",
    quotas={"ml.m5.large": InstanceQuota(instance_type="ml.m5.large", quota=10, in_use=2)},
    need={"ml.m5.large": 2},
    scaling=[
        VariantScaling(
            variant="v-1",
            registered=True,
            min_capacity=1,
            max_capacity=4,
            policies=[ScalingPolicy(name="tt", policy_type="TargetTrackingScaling", scale_in_cooldown=300)],
        )
    ],
    guard_alarms={"churn-5xx": AlarmState.OK},
    largest_request_bytes=1024.0,
)


def found(**changes: object) -> list[tuple[Severity, str, str]]:
    findings = doctor.diagnose(HEALTHY.model_copy(update=changes))
    assert all(f.fix and "\n" not in f.fix for f in findings)  # a one-line fix each
    return [(f.severity, f.check, f.message) for f in findings]


def test_a_healthy_endpoint_has_no_finding_and_exits_0():
    assert doctor.diagnose(HEALTHY) == []
    assert doctor.exit_code([]) == 0


def test_quota_short_for_the_next_rollout_is_high_and_exits_1():
    quota = {"ml.m5.large": InstanceQuota(instance_type="ml.m5.large", quota=3, in_use=2)}
    (severity, check, message), *_ = found(quotas=quota)
    assert (severity, check) == (Severity.HIGH, "quota") and "needs 2 more" in message
    assert doctor.exit_code(doctor.diagnose(HEALTHY.model_copy(update={"quotas": quota}))) == 1
    exact = {"ml.m5.large": InstanceQuota(instance_type="ml.m5.large", quota=4, in_use=2)}
    assert [(s, c) for s, c, _ in found(quotas=exact)] == [(Severity.LOW, "quota")]


def test_autoscaling_that_never_scales_in_or_never_runs():
    bad = VariantScaling(
        variant="v-1",
        registered=True,
        min_capacity=3,
        max_capacity=3,
        policies=[
            ScalingPolicy(name="slow", policy_type="TargetTrackingScaling", scale_in_cooldown=3600),
            ScalingPolicy(name="steps", policy_type="StepScaling"),
            ScalingPolicy(name="wired", policy_type="StepScaling", alarms=["a"]),
        ],
    )
    messages = [m for s, c, m in found(scaling=[bad, VariantScaling(variant="v-2", registered=False)])]
    assert any("MinCapacity = MaxCapacity = 3" in m for m in messages)
    assert any("policy slow waits 3600s" in m for m in messages)
    assert any("step scaling policy steps has no alarm" in m for m in messages)
    assert not any("wired" in m for m in messages)
    assert any("variant v-2 has no autoscaling" in m for m in messages)
    assert [s for s, *_ in found(scaling=[bad])] == [Severity.MEDIUM] * 3


def test_guard_alarms_missing_is_high_insufficient_data_is_medium():
    alarms = {"gone": None, "quiet": AlarmState.INSUFFICIENT_DATA, "ok": AlarmState.OK}
    assert [(s, m.split(" ")[2]) for s, _, m in found(guard_alarms=alarms)] == [
        (Severity.HIGH, "gone"),
        (Severity.MEDIUM, "quiet"),
    ]


def test_failed_updates_and_payloads_near_the_limit():
    got = found(
        failed_updates=["health check failed: ModuleNotFoundError"],
        largest_request_bytes=5.5 * 1024 * 1024,
        requests_413=7,
    )
    assert [(s, c) for s, c, _ in got] == [(Severity.MEDIUM, "failed_updates")] + [(Severity.MEDIUM, "payloads")] * 2
    # sizes in decimal MB, as RealtimeLimitBytes' 4.5 MB (5.5 MiB is 5.8 MB; 6 MiB is 6.3 MB)
    assert "ModuleNotFoundError" in got[0][2] and "5.8 MB" in got[1][2] and "7 requests got 413" in got[2][2]
    assert "near the real-time limit of 6.3 MB" in got[1][2]
    assert found(largest_request_bytes=4.0 * 1024 * 1024) == []  # 4 MB: not near 6 MB


def test_payloads_are_near_the_apis_own_real_time_limit():
    """The API's RealtimeLimitBytes (4.5 MB by default) is the limit a request meets first."""
    (finding,) = found(largest_request_bytes=4_000_000, realtime_limit_bytes=4_500_000)
    assert finding[2] == "the largest request in the last day was 4.0 MB, near the real-time limit of 4.5 MB"
    assert found(largest_request_bytes=3_500_000, realtime_limit_bytes=4_500_000) == []  # 78 %


def test_the_cli_exits_1_on_a_high_finding_only():
    import argparse
    import io

    from rich.console import Console

    from rollout_client import doctor_cli

    class Client:
        def __init__(self, findings: list[doctor.Finding]) -> None:
            self.findings = findings

        def doctor(self, endpoint: str) -> dict[str, object]:
            listed = [f.model_dump(mode="json") for f in self.findings]
            return {"endpoint": endpoint, "findings": listed, "high": doctor.exit_code(self.findings) == 1}

    args = argparse.Namespace(endpoint="churn", json=False)
    high = doctor.diagnose(HEALTHY.model_copy(update={"guard_alarms": {"gone": None}}))
    out = Console(file=io.StringIO(), width=200)
    assert doctor_cli.run(args, Client(high), out) == 1  # type: ignore[arg-type]
    assert "guard alarm gone does not exist" in out.file.getvalue()  # type: ignore[attr-defined]
    assert doctor_cli.run(args, Client([]), Console(file=io.StringIO())) == 0  # type: ignore[arg-type]
