"""Issue 9 in the construct: booking.cancelled delivered through the existing outbox Pipe (9.3), the inbound
inventory.updated consumer with its allowed sources, DLQ and alarm (9.4), the cancellation cut-off prop, and no third
reader of the table stream (9.6)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from moto import mock_aws

from cached_booking_api import CachedSearchApi
from cached_booking_api.runtime import config
from cached_booking_api.runtime.inventory_contract import inventory_event_pattern
from cached_booking_api.runtime.outbox import PIPE_FILTER_PATTERN
from test.infrastructure.conftest import INVENTORY_SOURCES, MINIMAL, Stacks, Synthesized
from test.infrastructure.test_security import as_list, logical_id, role_statements


def actions_of(synth: Synthesized, role_part: str) -> set[str]:
    role = logical_id(synth, "AWS::IAM::Role", role_part)
    return {action for s in role_statements(synth, role) for action in as_list(s["Action"])}


def function_of(synth: Synthesized, path_part: str) -> dict[str, Any]:
    found: dict[str, Any] = synth.template["Resources"][logical_id(synth, "AWS::Lambda::Function", path_part)]
    return found


# -- 9.3: booking.cancelled through the same Pipe ------------------------------------------------------------------
def test_the_outbox_pipe_passes_both_detail_types_to_the_publisher(events_stack: Synthesized) -> None:
    """Amazon EventBridge user guide, "Amazon EventBridge Pipes input transformation": input transformers "can be free
    text, a JSON path to the event payload, or a JSON object that includes inline JSON paths to the event payload" -
    one template per Pipe, so one fixed set of keys, while booking.confirmed and booking.cancelled have different
    fields. The Pipe therefore filters outbox inserts of both detail types and hands them, synchronously, to the
    publisher function, which puts each on the bus as its own detail type with exactly its contract's fields."""
    pipe = events_stack.one("AWS::Pipes::Pipe")["Properties"]
    source = pipe["SourceParameters"]
    assert json.loads(source["FilterCriteria"]["Filters"][0]["Pattern"]) == PIPE_FILTER_PATTERN
    assert PIPE_FILTER_PATTERN["dynamodb"]["NewImage"]["detailType"] == {
        "S": ["booking.confirmed", "booking.cancelled"]
    }
    assert "Arn" in source["DynamoDBStreamParameters"]["DeadLetterConfig"]
    publisher = logical_id(events_stack, "AWS::Lambda::Function", "OutboxPublisher")
    assert pipe["Target"] == {"Fn::GetAtt": [publisher, "Arn"]}
    assert pipe["TargetParameters"] == {"LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}}
    environment = events_stack.template["Resources"][publisher]["Properties"]["Environment"]["Variables"]
    assert environment[config.EVENT_SOURCE] == "booking.platform" and config.EVENT_BUS_NAME in environment
    assert "VpcConfig" not in events_stack.template["Resources"][publisher]["Properties"]


def test_the_pipe_role_may_invoke_the_publisher_and_the_publisher_only_put_booking_events(
    events_stack: Synthesized,
) -> None:
    """Amazon EventBridge user guide, "Amazon EventBridge Pipes targets": "EventBridge PIpes uses the IAM role that
    you specify on the pipe for enrichment and target calls using the IAM principal pipes.amazonaws.com." - the
    Pipe's role holds lambda:InvokeFunction on the publisher (and no events:PutEvents any more); the publisher's
    role puts events on the bus only with the construct's source and the two booking detail types ("To grant access
    to specific sources and types of events, use the events:source and events:detail-type condition keys", "Using
    IAM policy conditions in Amazon EventBridge")."""
    assert actions_of(events_stack, "OutboxRole") == {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
        "lambda:InvokeFunction", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
    }  # fmt: skip
    publisher = logical_id(events_stack, "AWS::Lambda::Function", "OutboxPublisher")
    invoke = [s for s in role_statements(events_stack, logical_id(events_stack, "AWS::IAM::Role", "OutboxRole"))
              if "lambda:InvokeFunction" in as_list(s["Action"])]  # fmt: skip
    assert {"Fn::GetAtt": [publisher, "Arn"]} in as_list(invoke[0]["Resource"])
    [put] = [s for s in role_statements(events_stack, logical_id(events_stack, "AWS::IAM::Role", "OutboxPublisherRole"))
             if "events:PutEvents" in as_list(s["Action"])]  # fmt: skip
    assert put["Condition"] == {
        "StringEquals": {
            "events:source": "booking.platform",
            "events:detail-type": ["booking.confirmed", "booking.cancelled"],
        }
    }
    assert put["Resource"] == {"Fn::GetAtt": [logical_id(events_stack, "AWS::Events::EventBus", "Bus"), "Arn"]}
    assert not any(a.startswith("dynamodb:") for a in actions_of(events_stack, "OutboxPublisherRole"))


# -- 9.4: inbound inventory.updated ------------------------------------------------------------------------------
def test_the_inbound_rule_takes_inventory_updated_from_the_allowed_sources_only(events_stack: Synthesized) -> None:
    """Amazon EventBridge user guide, "Event pattern syntax" (eb-create-pattern.html): "In an event pattern, the value
    to match is in a JSON array, surrounded by square brackets ("[", "]") so that you can provide multiple values."
    and "For an event pattern to match an event, the event must contain all the field names listed in the event
    pattern." - the rule lists the allowed sources and the one detail type; moto's EventBridge applies the very
    pattern the template holds: an allowed source reaches the target, any other source does not."""
    rules = [r["Properties"] for r in events_stack.resources("AWS::Events::Rule").values()
             if r["Properties"].get("EventPattern", {}).get("detail-type") == ["inventory.updated"]]  # fmt: skip
    [rule] = rules
    assert rule["EventPattern"] == inventory_event_pattern(INVENTORY_SOURCES)
    with mock_aws():
        events, sqs = boto3.client("events", "us-east-1"), boto3.client("sqs", "us-east-1")
        events.create_event_bus(Name="bus")
        queue = sqs.create_queue(QueueName="consumer")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="inbound", EventBusName="bus", EventPattern=json.dumps(rule["EventPattern"]))
        events.put_targets(Rule="inbound", EventBusName="bus", Targets=[{"Id": "c", "Arn": arn}])
        detail = json.dumps({"eventId": "e1", "listingId": "lis-1", "nights": {"2030-01-01": 2}})
        for source in ("pms.example", "someone.else", "booking.platform"):
            events.put_events(Entries=[{"Source": source, "DetailType": "inventory.updated", "Detail": detail,
                                        "EventBusName": "bus"}])  # fmt: skip
        events.put_events(Entries=[{"Source": "pms.example", "DetailType": "booking.confirmed", "Detail": detail,
                                    "EventBusName": "bus"}])  # fmt: skip
        bodies = [
            json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        ]
    assert [(b["source"], b["detail-type"]) for b in bodies] == [("pms.example", "inventory.updated")]


def test_the_consumer_dead_letters_at_both_hops_and_is_alarmed(alarm_topic_stack: Synthesized) -> None:
    """Amazon EventBridge user guide, "How EventBridge retries delivering events": "If an event isn't delivered after
    all retry attempts are exhausted, the event is dropped and EventBridge doesn't continue to process it." and "To
    avoid losing events after they fail to be delivered to a target, configure a dead-letter queue (DLQ) to receive
    all failed events." - the rule's target has a DLQ and a retry policy. Lambda API reference,
    PutFunctionEventInvokeConfig: "By default, Lambda retries an asynchronous invocation twice if the function returns
    an error. [...] When an event fails all processing attempts or stays in the asynchronous invocation queue for too
    long, Lambda discards it." and AWS::Lambda::EventInvokeConfig OnFailure: "To retain records of unsuccessful
    asynchronous invocations, you can configure an Amazon SNS topic, Amazon SQS queue, [...] as the destination." -
    the function's on-failure destination is the same queue, which an alarm watches (and notifies the alarm topic)."""
    consumer = logical_id(alarm_topic_stack, "AWS::Lambda::Function", "InventoryEventsConsumer")
    dlq = logical_id(alarm_topic_stack, "AWS::SQS::Queue", "InventoryEventsDlq")
    [rule] = [r["Properties"] for r in alarm_topic_stack.resources("AWS::Events::Rule").values()
              if r["Properties"].get("EventPattern", {}).get("detail-type") == ["inventory.updated"]]  # fmt: skip
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [consumer, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    [invoke_config] = [c["Properties"] for c in alarm_topic_stack.resources("AWS::Lambda::EventInvokeConfig").values()
                       if c["Properties"]["FunctionName"] == {"Ref": consumer}]  # fmt: skip
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq, "Arn"]}
    assert invoke_config["MaximumRetryAttempts"] == 2
    alarms = [a["Properties"] for a in alarm_topic_stack.resources("AWS::CloudWatch::Alarm").values()]
    watching = [a for a in alarms if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}
                in a.get("Dimensions", [])]  # fmt: skip
    assert watching and watching[0]["AlarmActions"], "the inventory DLQ alarm notifies the alarm topic"
    queue_policies = [p["Properties"] for p in alarm_topic_stack.resources("AWS::SQS::QueuePolicy").values()
                      if {"Ref": dlq} in p["Properties"]["Queues"]]  # fmt: skip
    principals = [s.get("Principal") for p in queue_policies for s in p["PolicyDocument"]["Statement"]]
    assert {"Service": "events.amazonaws.com"} in principals  # the rule may dead-letter into it


def test_the_consumer_role_writes_items_only_and_runs_outside_the_vpc(events_stack: Synthesized) -> None:
    consumer = function_of(events_stack, "InventoryEventsConsumer")["Properties"]
    assert "VpcConfig" not in consumer
    environment = consumer["Environment"]["Variables"]
    assert environment[config.INVENTORY_SOURCES] == ",".join(INVENTORY_SOURCES)
    assert {config.TABLE_NAME, config.DEAD_LETTER_QUEUE_URL} <= set(environment)
    role = logical_id(events_stack, "AWS::IAM::Role", "InventoryEventsConsumerRole")
    table = logical_id(events_stack, "AWS::DynamoDB::Table", "DataTable")
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    table_actions = {
        action for s in role_statements(events_stack, role) for action in as_list(s["Action"])
        if table_arn in as_list(s["Resource"])
    }  # fmt: skip
    assert table_actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    actions = actions_of(events_stack, "InventoryEventsConsumerRole")
    assert not any(a in actions for a in ("dynamodb:Scan", "dynamodb:Query", "dynamodb:DeleteItem", "events:PutEvents"))


# -- 9.6: two readers of the table stream, whatever the variant ---------------------------------------------------
@pytest.mark.parametrize("variant", sorted(MINIMAL))
def test_the_table_stream_keeps_exactly_two_readers(stacks: Stacks, variant: str) -> None:
    """Amazon DynamoDB developer guide, "Change data capture for DynamoDB Streams": "No more than two processes at
    most should be reading from the same stream's shard at the same time. Having more than two readers per shard can
    result in throttling." - every table's stream is read by the invalidation consumer's event source mapping and
    the outbox Pipe, nothing else: cancellations and inbound inventory events reuse both."""
    synth = stacks[variant]
    tables = synth.resources("AWS::DynamoDB::Table")
    streams = {table_id for table_id, t in tables.items() if "StreamSpecification" in t["Properties"]}
    assert streams
    readers: dict[str, list[str]] = {table_id: [] for table_id in streams}
    for mapping_id, mapping in synth.resources("AWS::Lambda::EventSourceMapping").items():
        source = mapping["Properties"]["EventSourceArn"]
        if isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == "StreamArn":
            readers[source["Fn::GetAtt"][0]].append(mapping_id)
    for pipe_id, pipe in synth.resources("AWS::Pipes::Pipe").items():
        source = pipe["Properties"]["Source"]
        if isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == "StreamArn":
            readers[source["Fn::GetAtt"][0]].append(pipe_id)
    assert {table: len(found) for table, found in readers.items()} == {table: 2 for table in streams}


# -- props ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"inventory_sources": ["aws.partner"]}, "inventory_sources[0]"),
        ({"inventory_sources": ["pms.a", "pms.a"]}, "inventory_sources[1]"),
        ({"inventory_sources": [""]}, "inventory_sources[0]"),
        ({"inventory_sources": ["pms a"]}, "inventory_sources[0]"),
        ({"inventory_sources": ["booking.platform"]}, "inventory_sources[0]"),
        ({"inventory_sources": "pms.acme"}, "inventory_sources"),
        ({"cancellation_cutoff": cdk.Duration.days(400)}, "cancellation_cutoff"),
        ({"cancellation_cutoff": cdk.Duration.millis(1500)}, "cancellation_cutoff"),
    ],
)
def test_invalid_event_props_name_the_prop_and_the_fix(props: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "S")
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")) as refused:
        CachedSearchApi(stack, "Api", api_cloud_watch_role=False, **props)
    assert "." in str(refused.value).split(":", 1)[1]  # a problem and a fix, not only a name


def test_without_inventory_sources_there_is_no_inbound_consumer_and_the_cutoff_reaches_bookings() -> None:
    """The cut-off prop lands in the booking function's environment as the runtime reads it
    (``CANCELLATION_CUTOFF_SECONDS``, 409 CANCELLATION_CLOSED after it)."""
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Minimal")
    api = CachedSearchApi(stack, "Api", api_cloud_watch_role=False, cancellation_cutoff=cdk.Duration.hours(48),
                          table_removal_policy=cdk.RemovalPolicy.DESTROY)  # fmt: skip
    assert api.inventory_events_function is None and api.inventory_events_rule is None
    template = app.synth().get_stack_by_name("Minimal").template
    booking = next(r for k, r in template["Resources"].items()
                   if r["Type"] == "AWS::Lambda::Function" and "BookingFunction" in k)  # fmt: skip
    assert booking["Properties"]["Environment"]["Variables"][config.CANCELLATION_CUTOFF_SECONDS] == "172800"
    assert not [r for r in template["Resources"].values()
                if r["Type"] == "AWS::Events::Rule" and "inventory.updated" in json.dumps(r)]  # fmt: skip
    assert isinstance(api.table, dynamodb.Table)
