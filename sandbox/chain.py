"""Environments in a chain: one stack per environment on one world, sharing one Model Registry.

``Chain`` deploys template.yaml once per environment, with the parameters a samconfig.toml
section would give it (``RolloutSource``, ``SoakSeconds``, ``PromotionGate``, the account ids),
into one account (the single-account set-up samconfig.toml shows) or one account each with the
registry in an account of its own (``separate_accounts``). Across accounts, moto holds one
backend per account (sandbox/world.py), and the sandbox applies what CloudFormation would
create from the templates:
- each stack's EventBridge bus policies (``AWS::Events::EventBusPolicy``) and forwarding rules
  (``ForwardMilestonesRule``, ``ForwardGuardAlarmsRule``), resolved for its parameters;
- registry/template.yaml in the registry's account: its forwarding rule of approvals and
  rejections, and the model package group's resource policy (sandbox/registry_share.py reads
  packages across accounts only as that policy allows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout_core.models import Target

from . import template as tpl
from .iam_policy import statements_of
from .registry_share import RegistryShare
from .stack import Sandbox
from .world import ACCOUNT, REGION, Forwarder, World

REGISTRY_TEMPLATE = tpl.ROOT / "registry" / "template.yaml"
# The accounts of a cross-account chain: the registry's, then one per environment, in order.
REGISTRY_ACCOUNT = "111111111111"
ENVIRONMENT_ACCOUNTS = ("222222222222", "333333333333", "444444444444", "555555555555")


@dataclass
class Environment:
    """One environment of the chain: its stack's name, parameters, target and account."""

    name: str
    target: Target
    parameters: dict[str, str] = field(default_factory=dict)
    account: str = ACCOUNT


class Chain:
    """The stacks of several environments on one world. Use as a context manager."""

    def __init__(
        self,
        environments: list[Environment],
        *,
        registry_account: str = ACCOUNT,
        update_seconds: float = 120,
        deliver_each: int = 1,
        lookup_seconds: float = 0,
        rps: float = 20.0,
    ) -> None:
        self.world = World(
            update_seconds=update_seconds, deliver_each=deliver_each, lookup_seconds=lookup_seconds, rps=rps
        )
        self.environments = {env.name: env for env in environments}
        self.registry_account = registry_account
        self.stacks = {
            env.name: Sandbox(
                world=self.world,
                environment=env.name,
                account=env.account,
                registry_account=registry_account,
                parameters=self._parameters(env),
            )
            for env in environments
        }
        self.share = RegistryShare()

    @property
    def registry(self) -> Sandbox:
        """A stack to work the Model Registry through (its registry is the chain's)."""
        return next(iter(self.stacks.values()))

    def _parameters(self, env: Environment) -> dict[str, str]:
        parameters = {
            "Environment": env.name,
            "EndpointName": env.target.endpoint_name,
            "ModelPackageGroupName": env.target.model_package_group,
            "RolloutSource": env.target.source,
            "SoakSeconds": str(env.target.soak_seconds),
            "PromotionGate": env.target.gate.value,
            "GuardAlarmNames": ",".join(env.target.guard_alarms),
            **env.parameters,
        }
        if self.registry_account != env.account:
            parameters["RegistryAccountId"] = self.registry_account
        upstream = self.environments.get(env.target.upstream or "")
        if upstream is not None and upstream.account != env.account:
            parameters["UpstreamAccountId"] = upstream.account
        downstream = [e for e in self.environments.values() if e.target.upstream == env.name]
        if downstream and downstream[0].account != env.account:
            parameters["DownstreamAccountId"] = downstream[0].account
        return parameters

    def __enter__(self) -> Chain:
        self.world.start()
        self.share.install()
        for name, stack in self.stacks.items():
            stack.__enter__()
            target = self.environments[name].target
            stack.put_target(target.model_dump_json(), target.model_package_group)
            for alarm in target.guard_alarms:
                stack.create_alarm(alarm)
            self._deploy_cross_account(stack)
        if any(stack.account != self.registry_account for stack in self.stacks.values()):
            self._deploy_registry_template()
        return self

    def __exit__(self, *exc: object) -> None:
        for stack in reversed(list(self.stacks.values())):
            stack.__exit__(*exc)
        self.share.uninstall()
        self.world.stop()

    # --- what CloudFormation creates across accounts ------------------------------------------

    def _deploy_cross_account(self, stack: Sandbox) -> None:
        """The stack's bus policies and forwarding rules, as its parameters make them."""
        pseudo = {"AWS::StackName": stack.stack_name, "AWS::Region": REGION, "AWS::AccountId": stack.account}
        values = {**stack.parameters, **pseudo, "AWS::Partition": "aws"}
        for logical_id, resource in stack.template["Resources"].items():
            if not tpl.deployed(resource, stack.template, values):
                continue
            props = tpl.resolve(resource.get("Properties", {}), stack.template, values)
            if resource["Type"] == "AWS::Events::EventBusPolicy":
                self.world.bus_policies.setdefault(stack.account, []).extend(
                    statements_of(f"{stack.stack_name}/{logical_id}", {"Statement": [props["Statement"]]})
                )
            elif resource["Type"] == "AWS::Events::Rule":
                self._add_forwarder(f"{stack.stack_name}/{logical_id}", stack.account, props)

    def _deploy_registry_template(self) -> None:
        """registry/template.yaml in the registry's account, for the chain's group and accounts."""
        template = tpl.load_template(REGISTRY_TEMPLATE)
        groups = {env.target.model_package_group for env in self.environments.values()}
        accounts = sorted({env.account for env in self.environments.values()} - {self.registry_account})
        for group in sorted(groups):
            values = {
                **tpl.parameter_defaults(template),
                "ModelPackageGroupName": group,
                "EnvironmentAccountIds": ",".join(accounts),
                "AWS::StackName": f"sagemaker-rollout-registry-{group}",
                "AWS::Region": REGION,
                "AWS::AccountId": self.registry_account,
                "AWS::Partition": "aws",
            }
            values = _list_parameters(template, values)
            for logical_id, resource in template["Resources"].items():
                if not tpl.deployed(resource, template, values):
                    continue
                props = tpl.resolve(resource.get("Properties", {}), template, values)
                if resource["Type"] == "AWS::Events::Rule":
                    self._add_forwarder(f"registry/{logical_id}", self.registry_account, props)
                elif resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
                    document = props["ModelPackageGroupPolicy"]
                    self.share.policies[(self.registry_account, group)] = statements_of(
                        f"registry/{logical_id}", document
                    )

    def _add_forwarder(self, name: str, account: str, props: dict[str, Any]) -> None:
        for target in props.get("Targets", []):
            arn = str(target["Arn"])
            if ":event-bus/" in arn:
                self.world.forwarders.append(Forwarder(name, account, props["EventPattern"], arn.split(":")[4]))


def _list_parameters(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """CommaDelimitedList parameters as the lists CloudFormation hands to Ref."""
    out = dict(values)
    for name, spec in template.get("Parameters", {}).items():
        if spec.get("Type") == "CommaDelimitedList" and isinstance(out.get(name), str):
            out[name] = [v for v in str(out[name]).split(",") if v]
    return out


def separate_accounts(names: list[str]) -> dict[str, str]:
    """Environment name -> its own account, for a chain across accounts."""
    return dict(zip(names, ENVIRONMENT_ACCOUNTS, strict=False))
