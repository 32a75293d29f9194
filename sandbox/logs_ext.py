"""Endpoint containers writing to CloudWatch Logs, and FilterLogEvents by stream prefix (sandbox only).

- SageMaker sends each real-time endpoint's container output to the log group
  ``/aws/sagemaker/Endpoints/<endpoint>``, one stream per instance, ``<variant>/<instance id>``
  ("Log Amazon SageMaker AI Events with Amazon CloudWatch"). When the simulated SageMaker
  completes a create or an update (sandbox/sagemaker_ext.py ``on_complete``), each variant of
  the new config writes its start-up lines; a failure that carries a ``log`` line (a container
  that fails its health check, say) writes it on the new variants' streams instead.
- FilterLogEvents ``logStreamNamePrefix`` ("Filters the results to include only events from log
  streams that have names starting with this prefix"; FilterLogEvents API reference): moto
  5.2.5 ignores it and searches every stream.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from moto.logs.models import logs_backends
from moto.logs.responses import LogsResponse
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

from .sagemaker_ext import EndpointSimulator, Transition

STARTED = ("Starting the inference server", "Model loaded; listening on 8080", "GET /ping 200")


class ContainerLogs:
    def __init__(self, simulator: EndpointSimulator) -> None:
        self.simulator = simulator
        self._saved: Any = None

    def install(self) -> ContainerLogs:
        self.simulator.on_complete.append(self.write)
        self._saved = LogsResponse.filter_log_events
        original = self._saved

        def filter_log_events(response: LogsResponse) -> str:
            prefix = response._get_param("logStreamNamePrefix")
            if not prefix or response._get_param("logStreamNames"):
                return str(original(response))
            backend = logs_backends[response.current_account][response.region]
            group = backend.groups.get(response._get_param("logGroupName"))
            names = [n for n in (group.streams if group else {}) if n.startswith(prefix)]
            if not names:  # moto reads an empty list as "every stream"
                return json.dumps({"events": [], "searchedLogStreams": []})
            events, next_token, searched = backend.filter_log_events(
                response._get_param("logGroupName"),
                names,
                response._get_param("startTime"),
                response._get_param("endTime"),
                response._get_param("limit"),
                response._get_param("nextToken"),
                response._get_param("filterPattern"),
                response._get_param("interleaved", False),
            )
            return json.dumps({"events": events, "nextToken": next_token, "searchedLogStreams": searched})

        LogsResponse.filter_log_events = filter_log_events  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self.write in self.simulator.on_complete:
            self.simulator.on_complete.remove(self.write)
        if self._saved is not None:
            LogsResponse.filter_log_events = self._saved  # type: ignore[method-assign]
            self._saved = None

    def write(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, transition: Transition) -> None:
        """What the containers of the config the endpoint moved to (or failed to) wrote."""
        if transition.kind not in ("create", "config") or not transition.config_name:
            return
        config = backend.endpoint_configs.get(transition.config_name)
        if config is None:
            return
        failure = transition.failure
        serving = {v["VariantName"] for v in endpoint.production_variants} if failure else set()
        logs = logs_backends[backend.account_id][backend.region_name]
        group = f"/aws/sagemaker/Endpoints/{endpoint.endpoint_name}"
        if group not in logs.groups:
            logs.create_log_group(group, {})
        at = int(self.simulator.clock().timestamp() * 1000)
        for variant in config.production_variants:
            name = variant["VariantName"]
            if failure is not None and (name in serving and transition.kind == "config"):
                continue  # kept serving on the old fleet: nothing new to say
            instance = "i-" + hashlib.sha256(f"{transition.config_name}/{name}".encode()).hexdigest()[:17]
            stream = f"{name}/{instance}"
            logs.ensure_log_stream(group, stream)
            lines = list(STARTED) if failure is None else [STARTED[0], failure.log or failure.reason]
            logs.put_log_events(group, stream, [{"timestamp": at, "message": line} for line in lines])
