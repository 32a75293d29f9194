"""The imperative shell: gather observations, decide, save, act. Handlers call this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from . import (
    clock,
    commands,
    decision_pool,
    decisions,
    errors,
    history,
    machine,
    naming,
    promotion,
    promotion_service,
    rollout_metrics,
)
from .aws.alarms import AlarmGateway, AlarmReadings
from .aws.autoscaling import AutoscalingGateway
from .aws.clients import error_code
from .aws.logs import ContainerLogs
from .aws.notify import Notifier
from .aws.quotas import QuotaGateway
from .aws.sagemaker import RetryLater, SageMakerGateway
from .aws.store import ConflictError, RolloutStore
from .aws.targets import TargetRepository
from .canary_models import RunSmokeTest, SmokeResult
from .judging import Judges
from .models import (
    AlarmState,
    ApplyAutoscaling,
    DeleteCandidateAlarms,
    Observations,
    Phase,
    PutCandidateAlarms,
    Rollout,
    SuspendAutoscaling,
    Target,
    Trigger,
)
from .observing import Observer

logger = Logger(child=True)

CREATE_RETRIES = 3


@dataclass
class RolloutService:
    store: RolloutStore
    sagemaker: SageMakerGateway
    alarms: AlarmGateway
    autoscaling: AutoscalingGateway
    targets: TargetRepository
    notifier: Notifier | None = None
    quotas: QuotaGateway | None = None  # the quota pre-flight (preflight.py); None: skipped
    alarm_prefix: str = ""  # AlarmNamePrefix: the candidate's own alarms are named with it
    logs: ContainerLogs | None = None  # the candidate container's log, read when a change failed
    judges: Judges | None = None  # the controller's: metrics of a bake, the smoke test (judging.py)
    decision_workers: int = decision_pool.DECISION_WORKERS

    @staticmethod
    def now() -> datetime:
        return clock.now()

    # --- approvals ----------------------------------------------------------------------

    def approve(
        self, model_package_group: str, model_package_arn: str, approved_at: datetime | None = None
    ) -> Rollout | None:
        """Start a rollout of an approved package (superseding the endpoint's live one).

        ``approved_at`` is when the registry recorded this approval (the event's
        LastModifiedTime). Duplicates of one approval map to one rollout; a package approved
        again after its rollout (e.g. rejected, then approved) rolls out again.
        """
        target = self.targets.get(model_package_group)
        if target is None:
            logger.info("no target for model package group; ignored", extra={"group": model_package_group})
            return None
        if target.upstream is not None:  # issue 11: it follows another environment, not the registry
            logger.info("target follows an upstream environment; approval ignored", extra={"source": target.source})
            return None
        if self.sagemaker.approval_status(model_package_arn) == "Rejected":
            # Events can arrive out of order: an approval delivered after the package's
            # rejection must not roll out a rejected package.
            logger.info("model package was rejected since; approval ignored", extra={"package": model_package_arn})
            return None
        salt = ""
        first = self.store.get(naming.rollout_id(model_package_arn))
        if first is not None and approved_at is not None and approved_at > (first.approved_at or first.created_at):
            # Approved again after the approval its first rollout was made for: a new approval,
            # not a duplicate (duplicates carry the same time), so a rollout of its own.
            salt = f"approved-{approved_at.isoformat()}"
        if target.waits:  # issue 11: a manual gate first (promotion_service.py)
            reached = approved_at or self.now()
            reason = "model package approved"
            return promotion_service.arrive(
                self, target, model_package_arn, reached_at=reached, salt=salt, trigger="approval", reason=reason
            )
        return self.start(target, model_package_arn, salt=salt, approved_at=approved_at)

    def start(
        self,
        target: Target,
        model_package_arn: str,
        salt: str = "",
        reason: str = "model package approved",
        approved_at: datetime | None = None,
        trigger: Trigger = "approval",
    ) -> Rollout | None:
        """Record a rollout of ``model_package_arn`` on the target and take the endpoint.

        ``salt`` distinguishes a manual start (a redeploy, or a rollback to an earlier
        version) from the approval of the same package, which keeps its own rollout id.
        """
        for _ in range(CREATE_RETRIES):
            now = self.now()
            candidate = machine.new_rollout(
                target,
                model_package_arn,
                now,
                salt=salt,
                reason=reason,
                approved_at=approved_at,
                alarm_prefix=self.alarm_prefix,
                trigger=trigger,
            )
            existing = self.store.get(candidate.rollout_id)
            if existing is not None:
                logger.info("rollout already recorded", extra={"rollout_id": existing.rollout_id})
                return self.advance(existing.rollout_id)
            owner_id = self.store.lock_owner(target.endpoint_name)
            owner = self.store.get(owner_id) if owner_id else None
            superseded = None
            if owner is not None and owner.live:
                superseded = machine.stop(owner, Phase.SUPERSEDED, f"superseded by {model_package_arn}", now)
                waits_for = owner.rollout_id
                if superseded is not owner and owner.phase is Phase.PENDING and owner.predecessor_id:
                    # The owner was itself waiting (for a first deployment or a promotion to
                    # finish) and is superseded before its turn: the new rollout waits for that
                    # one, which still moves traffic, not for the owner, which ends at once.
                    waits_for = owner.predecessor_id
                candidate = machine.new_rollout(
                    target,
                    model_package_arn,
                    now,
                    salt=salt,
                    reason=reason,
                    predecessor_id=waits_for,
                    approved_at=approved_at,
                    alarm_prefix=self.alarm_prefix,
                    trigger=trigger,
                )
            try:
                created = self.store.create(
                    candidate,
                    stale_owner=owner_id,
                    superseded=superseded if superseded is not owner else None,
                )
            except ConflictError:
                logger.info("lost a race for the endpoint; reading again", extra={"endpoint": target.endpoint_name})
                continue
            rollout_metrics.count("RolloutsStarted")
            logger.info("rollout recorded", extra=self._keys(created))
            if owner is not None and owner.live:
                self.advance(owner.rollout_id)
            return self.advance(created.rollout_id)
        raise ConflictError(f"could not record a rollout for {model_package_arn} after {CREATE_RETRIES} tries")

    def command(self, rollout_id: str, action: str, who: str = "operator") -> Rollout:
        """pause | resume | promote | abort; raises CommandRefused when it does not apply."""
        for _ in range(CREATE_RETRIES):
            rollout = self.store.get(rollout_id)
            if rollout is None:
                raise KeyError(rollout_id)
            changed = commands.command(rollout, action, self.now(), who)
            try:
                self.store.save(changed)
            except ConflictError:
                continue
            logger.info("operator command", extra={**self._keys(rollout), "command": action, "who": who})
            return self.advance(rollout_id) or changed
        raise ConflictError(f"could not apply {action} to rollout {rollout_id}")

    def reject(self, model_package_arn: str) -> list[Rollout]:
        """Abort every live rollout of ``model_package_arn`` (approvals and manual starts alike)."""
        if self.sagemaker.approval_status(model_package_arn) != "Rejected":
            # A rejection delivered after the package was approved again is out of date.
            logger.info("model package is no longer rejected; rejection ignored", extra={"package": model_package_arn})
            return []
        live = [r for r in self.store.live() if r.live and r.model_package_arn == model_package_arn]
        if not live:
            logger.info("rejected package has no live rollout", extra={"package": model_package_arn})
        stopped = [self.stop(r.rollout_id, Phase.ABORTED, f"model package rejected: {model_package_arn}") for r in live]
        return [r for r in stopped if r is not None]

    def stop(self, rollout_id: str, outcome: Phase, reason: str) -> Rollout | None:
        for _ in range(CREATE_RETRIES):
            rollout = self.store.get(rollout_id)
            if rollout is None:
                return None
            stopped = machine.stop(rollout, outcome, reason, self.now())
            if stopped is rollout:
                return rollout
            try:
                self.store.save(stopped)
            except ConflictError:
                continue
            return self.advance(rollout_id)
        raise ConflictError(f"could not stop rollout {rollout_id}")

    # --- advancing ----------------------------------------------------------------------

    def advance_live(
        self,
        endpoint_name: str | None = None,
        alarm_name: str | None = None,
        fired: dict[str, tuple[datetime, str]] | None = None,
    ) -> list[Rollout]:
        """One decision for every live rollout (of one endpoint / guarded by one alarm).

        ``fired`` maps alarm names to (time, reason) of an ALARM event: a rollout that
        started before that time rolls back even if the alarm is OK again by now.
        """
        # The live index holds ids only: each rollout is one GetItem, DECISION_WORKERS at a time.
        loaded = decision_pool.concurrently(self.store.get, list(self.store.live_ids()), self.decision_workers)
        rollouts = [r for r in loaded if r is not None and not r.settled]
        if endpoint_name is not None:
            rollouts = [r for r in rollouts if r.endpoint_name == endpoint_name]
        if alarm_name is not None:
            # issue 11: a WAITING rollout soaks under its upstream's guard alarms (promotion.py).
            rollouts = [r for r in rollouts if alarm_name in r.guard_alarm_names or promotion.watches(r, alarm_name)]
        readings = self.alarms.read({name for r in rollouts for name in r.guard_alarm_names})
        # Rollouts of one endpoint are decided in order by one worker (a successor waits for its
        # predecessor); endpoints are decided concurrently, DECISION_WORKERS at a time.
        by_endpoint: dict[str, list[Rollout]] = {}
        for rollout in rollouts:
            by_endpoint.setdefault(rollout.endpoint_name, []).append(rollout)
        decided = decision_pool.concurrently(
            lambda group: self._advance_endpoint(group, readings, fired),
            list(by_endpoint.values()),
            self.decision_workers,
        )
        return [r for group in decided for r in group]

    def _advance_endpoint(
        self, group: list[Rollout], readings: AlarmReadings, fired: dict[str, tuple[datetime, str]] | None
    ) -> list[Rollout]:
        """One decision for each live rollout of one endpoint, in order; never raises."""
        results = []
        for index, loaded in enumerate(group):
            rollout = loaded
            if index:
                # Deciding an earlier rollout of this endpoint may have moved this one (its
                # successor): read it again. Any other change since the first read makes the
                # conditional save below fail, so nothing is done on a stale rollout.
                rollout = self.store.get(loaded.rollout_id) or loaded
            seen = AlarmReadings(dict(readings.states), dict(readings.reasons), dict(readings.since))
            for name, (at, reason) in (fired or {}).items():
                if at >= promotion_service.alarm_since(rollout):
                    seen.states[name], seen.reasons[name], seen.since[name] = AlarmState.ALARM, reason, at
            try:
                results.append(self._advance_loaded(rollout, seen))
            except Exception:
                # One rollout's trouble (AccessDenied on its endpoint, an unexpected shape, an
                # error that outlived the client's retries) must not hold back the others: the
                # next tick decides it again.
                logger.exception("could not decide a rollout; next tick retries", extra=self._keys(rollout))
                rollout_metrics.count("RolloutDecisionErrors")
                results.append(rollout)
        return results

    def advance(self, rollout_id: str) -> Rollout | None:
        rollout = self.store.get(rollout_id)
        if rollout is None:
            return None
        return self._advance_loaded(rollout, None)

    def _advance_loaded(self, rollout: Rollout, readings: AlarmReadings | None) -> Rollout:
        if rollout.settled:
            return rollout
        if rollout.phase is Phase.WAITING:  # issue 11: soak and gate; no AWS reads (promotion_service.py)
            states, reasons = (readings.states, readings.reasons) if readings else (None, None)
            return promotion_service.advance_waiting(self, rollout, states, reasons)
        if rollout.phase is Phase.PENDING and rollout.predecessor_id:
            predecessor = self.store.get(rollout.predecessor_id)
            if predecessor is not None and predecessor.live:
                return rollout  # its turn comes when the predecessor finishes
        now = self.now()
        obs = self.observe(rollout, readings)
        if self.judges is not None:  # issue 12: a bake's metrics, and the smoke test may be asked for
            obs = self.judges.observe(rollout, obs, now)
        decided, actions = machine.decide(rollout, obs, now)
        if decided == rollout and not actions:
            # Nothing to decide, but a command may have queued a milestone to announce.
            return self._announce_and_finish(rollout) if rollout.outbox else rollout
        saved = rollout
        if decided != rollout:
            try:
                saved = self.store.save(decided)  # before acting: a concurrent decision loses here
            except ConflictError:
                logger.info("another decision won; nothing done", extra=self._keys(rollout))
                return self.store.get(rollout.rollout_id) or rollout
            logger.info(
                "decided",
                extra={**self._keys(saved), "phase": saved.phase.value, "actions": [a.kind for a in actions]},
            )
        if self.judges is not None:
            self.judges.published(saved, now)
        for action in actions:
            smoke: SmokeResult | None = None
            try:
                if isinstance(action, RunSmokeTest):  # issue 12: the result is folded in below
                    assert self.judges is not None
                    smoke = self.judges.run_smoke_test(action)
                elif isinstance(action, SuspendAutoscaling | ApplyAutoscaling):
                    self.autoscaling.execute(action)
                elif isinstance(action, PutCandidateAlarms | DeleteCandidateAlarms):
                    self.alarms.execute(action)
                else:
                    self.sagemaker.execute(action, saved.rollout_id)
            except (ClientError, RetryLater) as exc:
                code, message = error_code(exc) if isinstance(exc, ClientError) else (RetryLater.code, str(exc))
                logger.warning("action failed", extra={**self._keys(saved), "action": action.kind, "code": code})
                saved = self.store.save(errors.on_action_error(saved, action, code, message, self.now()))
                break
            if smoke is not None:  # outside the try: a failed save is not the smoke test's error
                assert self.judges is not None
                saved = self.judges.fold_smoke_test(self.store, saved, smoke, self.now())
        else:
            saved = self._announce_and_finish(saved)
        rollout_metrics.timings(rollout, saved, self.now())
        if saved.needs_attention and not rollout.needs_attention:
            rollout_metrics.count("RolloutsNeedAttention")
            logger.error("gave up: left to do by hand", extra={**self._keys(saved), "left": saved.needs_attention})
        if saved.phase != rollout.phase:
            self._on_phase_change(rollout, saved)
        if any(isinstance(a, RunSmokeTest) for a in actions) and saved.live:
            return self._advance_loaded(saved, readings)  # its outcome decides at once
        return saved

    def _announce_and_finish(self, saved: Rollout) -> Rollout:
        """Publish queued milestones and acknowledge finishing actions, in one write."""
        done = saved
        if saved.outbox and self.notifier is not None:
            try:
                self.notifier.publish(saved.outbox)
                done = history.announced(done)
            except Exception:  # kept on the rollout: the next decision publishes again
                logger.exception("notification failed; will retry", extra=self._keys(saved))
        elif saved.outbox:
            done = history.announced(done)  # no notifier configured: nothing to announce to
        if done.finishing:
            done = decisions.finished(done, self.now())
        if done == saved:
            return saved
        try:
            return self.store.save(done)
        except ConflictError:  # someone else moved it on; they announce what is left
            return self.store.get(saved.rollout_id) or saved

    def _on_phase_change(self, before: Rollout, after: Rollout) -> None:
        rollout_metrics.outcome(after.phase)
        if after.phase is Phase.SUCCEEDED:
            self.store.set_serving_model(after)
        logger.info(
            "phase changed",
            extra={**self._keys(after), "from": before.phase.value, "to": after.phase.value, "reason": after.reason},
        )
        if after.phase.terminal:
            # The endpoint may now belong to a successor waiting for this one.
            owner = self.store.lock_owner(after.endpoint_name)
            if owner and owner != after.rollout_id:
                self.advance(owner)

    def observe(self, rollout: Rollout, readings: AlarmReadings | None = None) -> Observations:
        """What the world looks like for this rollout's next decision (observing.py)."""
        observer = Observer(self.sagemaker, self.alarms, self.autoscaling, self.quotas, self.logs)
        return observer.observe(rollout, self.now(), readings)

    @staticmethod
    def _keys(rollout: Rollout) -> dict[str, str]:
        return {"rollout_id": rollout.rollout_id, "endpoint": rollout.endpoint_name}
