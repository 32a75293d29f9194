"""A chain across accounts on the sandbox: the registry in an account of its own, each environment in
its own; approvals and milestones travel only as registry/template.yaml and template.yaml's bus
policies and forwarding rules let them (sandbox/chain.py). Run once (the built-in chain scenario
covers duplicate deliveries)."""

from __future__ import annotations

import yaml

from sandbox.scenario_format import Scenario
from sandbox.scenarios import Runner

CHAIN = """
name: across accounts
endpoint_update_seconds: 60
accounts: separate
environments:
  dev:
    target: {plan: {steps: [50, 100], bake_seconds: 60}}
  staging:
    source: after:dev
    target: {plan: {steps: [50, 100], bake_seconds: 60}}
steps:
  - approve: v1
  - expect: {env: dev, rollout: v1, phase: PROVISIONING}
  - expect: {env: staging, live_rollouts: 0}
  - wait: 2m
  - expect: {env: dev, rollout: v1, phase: SUCCEEDED, weights: {v1: 100}}
  - wait: 2m
  - expect: {env: staging, rollout: v1, phase: SUCCEEDED, weights: {v1: 100}}
  - approve: v2
  - expect: {env: dev, rollout: v2, phase: PROVISIONING}
  - reject: v2
  - expect: {env: dev, rollout: v2, phase: ROLLING_BACK, reason_contains: rejected}
  - wait: 3m
  - expect: {env: staging, weights: {v1: 100}, versions: {v2: {staging: never reached}}}
"""


def test_a_chain_across_accounts_follows_the_registry_account_and_the_upstream_account():
    result = Runner(Scenario.model_validate(yaml.safe_load(CHAIN))).run()
    assert result.passed, "\n".join(result.failures)
