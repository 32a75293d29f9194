"""SageMaker's async test notifications: sent on every change of an async endpoint, ignored."""

from __future__ import annotations

import json

from sandbox.stack import Sandbox
from tests.conftest import load_event

TEST_MESSAGE = {"eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "TestNotification"}


def test_the_sample_test_notification_is_ignored_on_both_topics(serving_stack: Sandbox):
    for topic in ("Success", "Error"):
        event = load_event("sns_async_test_notification.json")
        assert json.loads(event["Records"][0]["Sns"]["Message"]) == TEST_MESSAGE
        event["Records"][0]["Sns"]["TopicArn"] = serving_stack.routes_topic("AsyncResultsFunction", topic)
        (delivery,) = serving_stack.deliver(event)
        assert delivery.function == "AsyncResultsFunction"
        assert delivery.error is None, topic
        assert delivery.result == {"jobs": []}


def _delivered_tests(stack: Sandbox) -> list[str]:
    return [
        d.event["Records"][0]["Sns"]["TopicArn"]
        for d in stack.deliveries
        if "Records" in d.event and json.loads(d.event["Records"][0]["Sns"]["Message"]) == TEST_MESSAGE
    ]


def test_every_change_of_the_async_endpoint_announces_one_per_topic(serving_stack: Sandbox):
    success = serving_stack.routes_topic("AsyncResultsFunction", "Success")
    error = serving_stack.routes_topic("AsyncResultsFunction", "Error")
    topics = [success, error]
    # The twin's CreateEndpoint (first deployment); the real-time endpoint's own changes send none.
    assert serving_stack.jobs.test_notifications == [("churn-endpoint-async", success), ("churn-endpoint-async", error)]
    assert sorted(_delivered_tests(serving_stack)) == sorted(topics)
    sm = serving_stack.client("sagemaker")
    variant = sm.describe_endpoint(EndpointName="churn-endpoint-async")["ProductionVariants"][0]["VariantName"]
    sm.update_endpoint_weights_and_capacities(
        EndpointName="churn-endpoint-async",
        DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": 2}],
    )
    serving_stack.deliver_endpoint_events()
    assert len(serving_stack.jobs.test_notifications) == 4
    assert sorted(_delivered_tests(serving_stack)) == sorted([*topics, *topics])
    assert not [d for d in serving_stack.deliveries if d.error], "a test notification failed a function"
