"""Issue-3 properties of the construct: booking routes, least-privilege roles, the outbox Pipe, the stream consumer,
the analytics sink (on the construct with its defaults); and, with moto's EventBridge, that the rules the construct
deploys deliver the events (on the stack with every rule: event targets and inventory sources)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cached_booking_api.runtime.invalidation_scopes import STREAM_FILTER_PATTERNS
from cached_booking_api.runtime.outbox import PIPE_FILTER_PATTERN
from test.infrastructure.conftest import Stacks, Synthesized
from test.infrastructure.test_aws_rules import render_gateway_template
from test.infrastructure.test_security import as_list, logical_id, role_statements


def actions_of(synth: Synthesized, role_part: str) -> set[str]:
    role = logical_id(synth, "AWS::IAM::Role", role_part)
    return {action for s in role_statements(synth, role) for action in as_list(s["Action"])}


def test_booking_routes_validate_body_and_idempotency_header(default_stack: Synthesized) -> None:
    methods = [m["Properties"] for m in default_stack.resources("AWS::ApiGateway::Method").values()]
    [post] = [m for m in methods if m["HttpMethod"] == "POST"]
    assert post["ApiKeyRequired"] is True
    assert post["RequestParameters"] == {"method.request.header.Idempotency-Key": True}
    model = default_stack.template["Resources"][post["RequestModels"]["application/json"]["Ref"]]["Properties"][
        "Schema"
    ]
    assert set(model["required"]) == {"listingId", "checkIn", "checkOut", "guests", "customer"}
    assert model["properties"]["customer"]["properties"]["email"]["pattern"]
    assert model["additionalProperties"] is False


def test_booking_by_id_routes_read_and_cancel_with_an_api_key(default_stack: Synthesized) -> None:
    methods = [m["Properties"] for m in default_stack.resources("AWS::ApiGateway::Method").values()]
    by_id = [m for m in methods if m.get("RequestParameters") == {"method.request.path.bookingId": True}]
    assert sorted(m["HttpMethod"] for m in by_id) == ["DELETE", "GET"]  # read and cancel
    assert all(m["ApiKeyRequired"] is True for m in by_id)


def test_gateway_errors_use_the_contract_format(default_stack: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in default_stack.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    for response_type in (
        "BAD_REQUEST_BODY",
        "BAD_REQUEST_PARAMETERS",
        "INVALID_API_KEY",
        "THROTTLED",
        "QUOTA_EXCEEDED",
    ):
        body = json.loads(render_gateway_template(responses[response_type]["ResponseTemplates"]["application/json"]))
        assert set(body["error"]) == {"code", "message", "details"}


def test_booking_role_has_only_the_transaction_and_idempotency_actions(default_stack: Synthesized) -> None:
    role = logical_id(default_stack, "AWS::IAM::Role", "BookingRole")
    statements = role_statements(default_stack, role)
    by_table: dict[str, set[str]] = {}
    for statement in statements:
        for resource in as_list(statement["Resource"]):
            text = json.dumps(resource)
            if "DynamoDB" in text or "Table" in text:
                key = "idempotency" if "IdempotencyTable" in text else "table"
                by_table.setdefault(key, set()).update(as_list(statement["Action"]))
    assert by_table["table"] == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    }
    assert by_table["idempotency"] == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    actions = actions_of(default_stack, "BookingRole")
    assert not any(a in actions for a in ("dynamodb:Scan", "dynamodb:Query", "elasticache:Connect", "events:PutEvents"))


def test_the_booking_function_runs_outside_the_vpc_within_15_seconds(default_stack: Synthesized) -> None:
    function = default_stack.template["Resources"][
        logical_id(default_stack, "AWS::Lambda::Function", "BookingFunction")
    ]["Properties"]
    assert "VpcConfig" not in function and function["Timeout"] <= 15


def test_outbox_pipe_reads_the_stream_and_dead_letters(default_stack: Synthesized) -> None:
    """Its filter, target and roles: test_events_delivery.py (both booking detail types)."""
    pipe = default_stack.one("AWS::Pipes::Pipe")["Properties"]
    table = logical_id(default_stack, "AWS::DynamoDB::Table", "DataTable")
    assert pipe["Source"] == {"Fn::GetAtt": [table, "StreamArn"]}
    source = pipe["SourceParameters"]
    assert json.loads(source["FilterCriteria"]["Filters"][0]["Pattern"]) == PIPE_FILTER_PATTERN
    assert "Arn" in source["DynamoDBStreamParameters"]["DeadLetterConfig"]


def test_the_construct_s_queues_are_encrypted(default_stack: Synthesized) -> None:
    queues = [q["Properties"] for q in default_stack.resources("AWS::SQS::Queue").values()]
    assert all(q.get("SqsManagedSseEnabled") or q.get("KmsMasterKeyId") for q in queues)


def test_stream_consumer_is_filtered_bisects_and_reads_only_the_stream_and_cache(default_stack: Synthesized) -> None:
    mapping = default_stack.one("AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert "OnFailure" in mapping["DestinationConfig"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == list(STREAM_FILTER_PATTERNS)
    actions = actions_of(default_stack, "InvalidationConsumerRole")
    dynamodb_actions = {a for a in actions if a.startswith("dynamodb:")}
    assert dynamodb_actions == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
    assert "elasticache:Connect" in actions
    assert not any(a.startswith(("events:", "s3:")) for a in actions)


def test_the_stream_consumer_reads_one_batch_per_shard_at_a_time(default_stack: Synthesized) -> None:
    """The cache is written through from the stream, and the last write must be the newest one: the consumer relies on
    seeing an item's records in order. DynamoDB Streams: "For each item that is modified in a DynamoDB table, the
    stream records appear in the same sequence as the actual modifications to the item." AWS Lambda FAQ: "The Amazon
    Kinesis and DynamoDB Streams records sent to your AWS Lambda function are strictly serialized, per shard. This
    means that if you put two records in the same shard, Lambda guarantees that your Lambda function will be
    successfully invoked with the first record before it is invoked with the second record." That holds with one
    batch per shard at a time: ParallelizationFactor left at its default of 1 ("The number of batches to process
    concurrently from each shard. The default value is 1.", Lambda API reference)."""
    mapping = default_stack.one("AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping.get("ParallelizationFactor", 1) == 1
    assert mapping["StartingPosition"] in ("TRIM_HORIZON", "LATEST")


def test_analytics_bucket_is_encrypted_private_tls_only_and_tiered(default_stack: Synthesized) -> None:
    buckets = default_stack.resources("AWS::S3::Bucket")
    bucket = buckets[logical_id(default_stack, "AWS::S3::Bucket", "AnalyticsBucket")]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    transitions = bucket["LifecycleConfiguration"]["Rules"][0]["Transitions"]
    assert [t["StorageClass"] for t in transitions] == ["STANDARD_IA", "GLACIER_IR"]
    policies = [p["Properties"] for p in default_stack.resources("AWS::S3::BucketPolicy").values()]
    denies_plain_http = [
        s for p in policies for s in p["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]  # fmt: skip
    assert len(denies_plain_http) == 2  # the analytics bucket and its access-log bucket


def test_firehose_role_is_scoped_to_the_bucket_prefixes(default_stack: Synthesized) -> None:
    role = logical_id(default_stack, "AWS::IAM::Role", "AnalyticsRole")
    writes = [s for s in role_statements(default_stack, role) if "s3:PutObject" in as_list(s["Action"])]
    [statement] = writes
    resources = json.dumps(statement["Resource"])
    assert "/events/*" in resources and "/errors/*" in resources and '"/*"' not in resources
    stream = default_stack.one("AWS::KinesisFirehose::DeliveryStream")["Properties"]
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"
    assert destination["CompressionFormat"] == "GZIP"
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}


#: The rules of each minimal stack: the analytics rule always; a rule per event-target prop; the inbound rule with
#: inventory_sources.
RULES = {"default": 1, "events": 4, "alarm-topic": 2}


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_target_has_a_dead_letter_queue_and_retry_policy(stacks: Stacks, name: str) -> None:
    rules = stacks[name].resources("AWS::Events::Rule").values()
    assert len(rules) == RULES[name]  # events: search.completed → target, booking.* → target, analytics, inventory
    for rule in rules:
        for target in rule["Properties"]["Targets"]:
            assert "Arn" in target["DeadLetterConfig"] and "MaximumRetryAttempts" in target["RetryPolicy"]


def test_deployed_rules_deliver_booking_and_search_events(events_stack: Synthesized) -> None:
    """The rules' patterns, as synthesized, put into moto's EventBridge with an SQS target each."""
    patterns = {
        logical: json.loads(json.dumps(rule["Properties"]["EventPattern"]))
        for logical, rule in events_stack.resources("AWS::Events::Rule").items()
    }
    detail = {
        "eventId": "e1", "bookingId": "bk_1", "listingId": "lis-1", "checkIn": "2027-01-01", "checkOut": "2027-01-03",
        "guests": 2, "totalPrice": 25800, "currency": "EUR", "createdAt": "2026-11-25T00:00:00Z",
    }  # fmt: skip
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="bus")
        queues: dict[str, str] = {}
        for logical, pattern in patterns.items():
            url = sqs.create_queue(QueueName=logical[:70])["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=logical[:60], EventBusName="bus", EventPattern=json.dumps(pattern))
            events.put_targets(Rule=logical[:60], EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
            queues[logical] = url
        entries = [
            ("booking.platform", "booking.confirmed", detail),
            ("booking.platform", "search.completed", {"queryHash": "q"}),
            ("someone.else", "booking.confirmed", {}),
        ]
        events.put_events(
            Entries=[
                {"Source": source, "DetailType": kind, "Detail": json.dumps(data), "EventBusName": "bus"}
                for source, kind, data in entries
            ]
        )
        received: dict[str, list[str]] = {}
        for logical, url in queues.items():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            received[logical] = sorted(json.loads(m["Body"])["detail-type"] for m in messages)
            for message in messages:
                body: dict[str, Any] = json.loads(message["Body"])
                if body["detail-type"] == "booking.confirmed":
                    assert body["detail"] == detail
    by_kind = {
        next(k for k in ("Analytics", "BookingEvents", "SearchCompleted", "InventoryEvents") if k in logical): got
        for logical, got in received.items()
    }
    assert by_kind == {
        "Analytics": ["booking.confirmed", "search.completed"],
        "BookingEvents": ["booking.confirmed"],
        "SearchCompleted": ["search.completed"],
        "InventoryEvents": [],  # only inventory.updated of the allowed sources (test_events_delivery.py)
    }
