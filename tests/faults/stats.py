"""Counts of the faults the matrix injected, printed at the end of the pytest run (conftest.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

injected: Counter[tuple[str, str]] = Counter()  # (scenario, kind) -> faulted runs
converged: Counter[str] = Counter()  # kind -> runs that converged to the fault-free state
positions: set[tuple[Any, ...]] = set()
delivery: Counter[str] = Counter()  # event-delivery variations run (test_delivery.py)
# scenario -> {mutating, faulted, earlier, calls, faulted_calls} (test_crash_matrix.coverage)
coverage: dict[str, dict[str, int]] = {}
shortcut_checked: Counter[str] = Counter()  # scenario -> converged runs also run to the end


def record(outcome: Any) -> None:
    inj = outcome.injected
    if inj is None:
        return
    injected[(outcome.scenario, inj.kind)] += 1
    positions.add((inj.function, inj.action, repr(inj.position)))
    if outcome.converged_at is not None:
        converged[inj.kind] += 1


def lines() -> list[str]:
    if not injected and not delivery:
        return []
    total = sum(injected.values())
    kinds = Counter[str]()
    scenarios = Counter[str]()
    for (scenario, kind), n in injected.items():
        kinds[kind] += n
        scenarios[scenario] += n
    out = []
    if injected:
        out += [
            f"fault injection: {total} faulted runs over {len(scenarios)} scenarios, "
            f"{len(positions)} call positions x {len(kinds)} fault kinds",
            "  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
            f"  converged back to the fault-free state (then checked as it): {sum(converged.values())}; "
            f"run again to the end to check that shortcut: {sum(shortcut_checked.values())}",
            "  mutating calls faulted per scenario (in it + at the same position in an earlier one / all):",
        ]
        for scenario, n in scenarios.items():
            c = coverage.get(scenario)
            if c is None:
                continue
            out.append(
                f"    {scenario}: {c['faulted']} + {c['earlier']} / {c['mutating']} mutating calls; "
                f"{c['faulted_calls']} of its {c['calls']} calls faulted, {n} faulted runs"
            )
    if delivery:
        out.append("event delivery (scenario runs): " + ", ".join(f"{k} {n}" for k, n in sorted(delivery.items())))
    return out
