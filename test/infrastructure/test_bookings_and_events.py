"""Issue-3 properties of the construct: booking routes, least-privilege roles, the outbox Pipe, the stream consumer,
the analytics sink; and, with moto's EventBridge, that the rules the construct deploys deliver the events."""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto import mock_aws

from cached_booking_api.runtime.invalidation_scopes import STREAM_FILTER_PATTERNS
from cached_booking_api.runtime.outbox import PIPE_FILTER_PATTERN
from test.infrastructure.conftest import Synthesized
from test.infrastructure.test_aws_rules import render_gateway_template
from test.infrastructure.test_security import as_list, logical_id, role_statements


def actions_of(synth: Synthesized, role_part: str) -> set[str]:
    role = logical_id(synth, "AWS::IAM::Role", role_part)
    return {action for s in role_statements(synth, role) for action in as_list(s["Action"])}


def test_booking_routes_validate_body_and_idempotency_header(example: Synthesized) -> None:
    methods = [m["Properties"] for m in example.resources("AWS::ApiGateway::Method").values()]
    [post] = [m for m in methods if m["HttpMethod"] == "POST"]
    assert post["ApiKeyRequired"] is True
    assert post["RequestParameters"] == {"method.request.header.Idempotency-Key": True}
    model = example.template["Resources"][post["RequestModels"]["application/json"]["Ref"]]["Properties"]["Schema"]
    assert set(model["required"]) == {"listingId", "checkIn", "checkOut", "guests", "customer"}
    assert model["properties"]["customer"]["properties"]["email"]["pattern"]
    assert model["additionalProperties"] is False
    by_id = [m for m in methods if m.get("RequestParameters") == {"method.request.path.bookingId": True}]
    assert sorted(m["HttpMethod"] for m in by_id) == ["DELETE", "GET"]  # read and cancel
    assert all(m["ApiKeyRequired"] is True for m in by_id)


def test_gateway_errors_use_the_contract_format(example: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in example.resources("AWS::ApiGateway::GatewayResponse").values()
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


def test_booking_role_has_only_the_transaction_and_idempotency_actions(example: Synthesized) -> None:
    role = logical_id(example, "AWS::IAM::Role", "BookingRole")
    statements = role_statements(example, role)
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
    actions = actions_of(example, "BookingRole")
    assert not any(a in actions for a in ("dynamodb:Scan", "dynamodb:Query", "elasticache:Connect", "events:PutEvents"))
    function = example.template["Resources"][logical_id(example, "AWS::Lambda::Function", "BookingFunction")][
        "Properties"
    ]
    assert "VpcConfig" not in function and function["Timeout"] <= 15


def test_outbox_pipe_reads_the_stream_and_dead_letters(example: Synthesized) -> None:
    """Its filter, target and roles: test_events_delivery.py (both booking detail types)."""
    pipe = example.one("AWS::Pipes::Pipe")["Properties"]
    table = logical_id(example, "AWS::DynamoDB::Table", "DataTable")
    assert pipe["Source"] == {"Fn::GetAtt": [table, "StreamArn"]}
    source = pipe["SourceParameters"]
    assert json.loads(source["FilterCriteria"]["Filters"][0]["Pattern"]) == PIPE_FILTER_PATTERN
    assert "Arn" in source["DynamoDBStreamParameters"]["DeadLetterConfig"]
    queues = [q["Properties"] for q in example.resources("AWS::SQS::Queue").values()]
    assert all(q.get("SqsManagedSseEnabled") or q.get("KmsMasterKeyId") for q in queues)


def test_stream_consumer_is_filtered_bisects_and_reads_only_the_stream_and_cache(example: Synthesized) -> None:
    mapping = example.one("AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert "OnFailure" in mapping["DestinationConfig"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == list(STREAM_FILTER_PATTERNS)
    actions = actions_of(example, "InvalidationConsumerRole")
    dynamodb_actions = {a for a in actions if a.startswith("dynamodb:")}
    assert dynamodb_actions == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
    assert "elasticache:Connect" in actions
    assert not any(a.startswith(("events:", "s3:")) for a in actions)


def test_analytics_bucket_is_encrypted_private_tls_only_and_tiered(example: Synthesized) -> None:
    buckets = example.resources("AWS::S3::Bucket")
    bucket = buckets[logical_id(example, "AWS::S3::Bucket", "AnalyticsBucket")]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    transitions = bucket["LifecycleConfiguration"]["Rules"][0]["Transitions"]
    assert [t["StorageClass"] for t in transitions] == ["STANDARD_IA", "GLACIER_IR"]
    policies = [p["Properties"] for p in example.resources("AWS::S3::BucketPolicy").values()]
    denies_plain_http = [
        s for p in policies for s in p["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]  # fmt: skip
    assert len(denies_plain_http) == 2  # the analytics bucket and its access-log bucket


def test_firehose_role_is_scoped_to_the_bucket_prefixes(example: Synthesized) -> None:
    role = logical_id(example, "AWS::IAM::Role", "AnalyticsRole")
    writes = [s for s in role_statements(example, role) if "s3:PutObject" in as_list(s["Action"])]
    [statement] = writes
    resources = json.dumps(statement["Resource"])
    assert "/events/*" in resources and "/errors/*" in resources and '"/*"' not in resources
    stream = example.one("AWS::KinesisFirehose::DeliveryStream")["Properties"]
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"
    assert destination["CompressionFormat"] == "GZIP"
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}


def test_every_rule_target_has_a_dead_letter_queue_and_retry_policy(example: Synthesized) -> None:
    rules = example.resources("AWS::Events::Rule").values()
    assert len(rules) == 4  # search.completed → partner, booking.* → partner, analytics, inventory.updated → consumer
    for rule in rules:
        for target in rule["Properties"]["Targets"]:
            assert "Arn" in target["DeadLetterConfig"] and "MaximumRetryAttempts" in target["RetryPolicy"]


def test_deployed_rules_deliver_booking_and_search_events(example: Synthesized) -> None:
    """The rules' patterns, as synthesized, put into moto's EventBridge with an SQS target each."""
    patterns = {
        logical: json.loads(json.dumps(rule["Properties"]["EventPattern"]))
        for logical, rule in example.resources("AWS::Events::Rule").items()
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
