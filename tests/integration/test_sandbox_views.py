"""The sandbox's own views say "nothing there" only when there is nothing there."""

from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from sandbox.calls import BaseListener, Call, error_response, hooks
from sandbox.stack import Sandbox


class Refuse(BaseListener):
    """Answers every DescribeEndpoint with AccessDeniedException (not retried by botocore)."""

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.operation != "DescribeEndpoint":
            return None
        return error_response(
            call, 400, "AccessDeniedException", "not authorized to perform sagemaker:DescribeEndpoint"
        )


def test_endpoint_status_is_none_only_for_a_missing_endpoint(stack: Sandbox):
    assert stack.endpoint_status("churn-endpoint") is None
    refuse = hooks.subscribe(Refuse())
    try:
        with pytest.raises(ClientError, match="AccessDeniedException"):
            stack.endpoint_status("churn-endpoint")
    finally:
        hooks.unsubscribe(refuse)
