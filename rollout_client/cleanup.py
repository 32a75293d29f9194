"""``python -m rollout_client cleanup --stack NAME``: what this tool created in SageMaker, deleted.

The stack's functions create models, endpoint configs and endpoints (and, for step scaling,
CloudWatch alarms) that outlive the stack and, for endpoints, keep billing. This finds them by
the tool's naming and its tag (``sagemaker-rollout:managed``, set on everything it creates)
under the stack's managed prefix, prints the plan, and with ``--yes`` deletes them: models and
configs no endpoint uses; with ``--endpoints`` also the endpoints (then, once SageMaker has
deleted them, their configs and models). It runs with the caller's own AWS credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TAG_KEY = "sagemaker-rollout:managed"  # rollout_core.aws.sagemaker.TAG_KEY (the client stands alone)


@dataclass
class Plan:
    prefix: str
    endpoints: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    in_use: set[str] = field(default_factory=set)  # configs and models a live endpoint uses

    def lines(self, with_endpoints: bool) -> list[str]:
        """The plan as text: what would be deleted, what is kept and why."""
        out = [f"managed prefix: {self.prefix}"]
        for name in self.endpoints:
            out.append(f"  {'delete' if with_endpoints else 'keep  '} endpoint {name}")
        for kind, names in (("config", self.configs), ("model", self.models)):
            for name in names:
                keep = name in self.in_use and not with_endpoints
                out.append(f"  {'keep  ' if keep else 'delete'} {kind:<8} {name}{'  (in use)' if keep else ''}")
        out += [f"  delete alarm    {name}" for name in self.alarms]
        return out


def stack_prefix(cloudformation: Any, stack: str) -> str:
    """The stack's managed prefix: ManagedEndpointPrefix, or EndpointName when it is empty."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    return str(parameters.get("ManagedEndpointPrefix") or parameters["EndpointName"])


def _ours(sagemaker: Any, arn: str) -> bool:
    tags = sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
    return any(t["Key"] == TAG_KEY for t in tags)


def _listed(sagemaker: Any, operation: str, key: str, name_key: str, arn_key: str, prefix: str) -> list[str]:
    names = []
    for page in sagemaker.get_paginator(operation).paginate(NameContains=prefix):
        for item in page[key]:
            if item[name_key].startswith(prefix) and _ours(sagemaker, item[arn_key]):
                names.append(item[name_key])
    return sorted(names)


def plan(sagemaker: Any, cloudwatch: Any, prefix: str) -> Plan:
    found = Plan(prefix=prefix)
    found.endpoints = _listed(sagemaker, "list_endpoints", "Endpoints", "EndpointName", "EndpointArn", prefix)
    found.configs = _listed(
        sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn", prefix
    )
    found.models = _listed(sagemaker, "list_models", "Models", "ModelName", "ModelArn", prefix)
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        found.alarms += [a["AlarmName"] for a in page["MetricAlarms"] if "-scaling-" in a["AlarmName"]]
    # Configs and models this tool made for a prefix are used by endpoints of that prefix only.
    for page in sagemaker.get_paginator("list_endpoints").paginate(NameContains=prefix):
        for endpoint in page["Endpoints"]:
            config = sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])["EndpointConfigName"]
            found.in_use.add(config)
            described = sagemaker.describe_endpoint_config(EndpointConfigName=config)
            found.in_use |= {v["ModelName"] for v in described.get("ProductionVariants", []) if v.get("ModelName")}
    return found


def apply(
    sagemaker: Any,
    cloudwatch: Any,
    found: Plan,
    with_endpoints: bool,
    wait_deleted: Callable[[str], None],
    say: Callable[[str], None],
) -> None:
    """Delete what ``found`` lists (endpoints only ``with_endpoints``), in an order SageMaker takes."""
    if with_endpoints:
        for name in found.endpoints:
            sagemaker.delete_endpoint(EndpointName=name)
            say(f"deleting endpoint {name}")
        for name in found.endpoints:
            wait_deleted(name)  # its config and models are in use until it is gone
            say(f"endpoint {name} deleted")
        found = plan(sagemaker, cloudwatch, found.prefix)
    for name in found.configs:
        if name not in found.in_use:
            sagemaker.delete_endpoint_config(EndpointConfigName=name)
            say(f"deleted config {name}")
    for name in found.models:
        if name not in found.in_use:
            sagemaker.delete_model(ModelName=name)
            say(f"deleted model {name}")
    if found.alarms:
        cloudwatch.delete_alarms(AlarmNames=found.alarms)
        say(f"deleted alarms {', '.join(found.alarms)}")


def endpoint_waiter(sagemaker: Any) -> Callable[[str], None]:
    """Wait until SageMaker has deleted an endpoint (its botocore waiter: endpoint_deleted)."""
    waiter = sagemaker.get_waiter("endpoint_deleted")
    return lambda name: waiter.wait(EndpointName=name)
