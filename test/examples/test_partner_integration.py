"""The partner-integration example (examples/partner_integration): booking events out to a partner's queue and to its
webhook through an EventBridge API destination, inventory updates in from the partner's account. Synthesizes with no
unacknowledged cdk-nag finding and a clean cfn-lint; each rule below is what makes the example what it claims."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from test.examples.conftest import Synthesized, cfn_lint, example_context, load_example, synthesize_example

CONTEXT = example_context("partner_integration")
PARTNER_ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{CONTEXT['partner:accountId']}:root"]]}


@pytest.fixture(scope="module")
def example_app() -> Synthesized:
    """The example, synthesized once for this module with its cdk.json."""
    return synthesize_example("partner_integration")


def logical_id(synthesized: Synthesized, resource_type: str, prefix: str) -> str:
    """The one logical id of a type that starts with ``prefix``."""
    [found] = [key for key in synthesized.resources(resource_type) if key.startswith(prefix)]
    return found


def queue_policy_of(synthesized: Synthesized, queue_id: str) -> list[dict[str, Any]]:
    """The statements of the queue policy attached to ``queue_id``."""
    [policy] = [
        p for p in synthesized.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]  # fmt: skip
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def rule_with_target(synthesized: Synthesized, target_id: str) -> dict[str, Any]:
    """The one rule with a target whose ARN is ``target_id``'s."""
    [rule] = [
        r["Properties"] for r in synthesized.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [target_id, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]  # fmt: skip
    return rule


def test_the_example_has_no_unacknowledged_nag_findings(example_app: Synthesized) -> None:
    assert example_app.nag_findings == []


def test_the_example_passes_cfn_lint(example_app: Synthesized) -> None:
    assert cfn_lint(example_app.template_path) == ""


# -- out, 1: the partner's queue -------------------------------------------------------------------------------------
def test_booking_events_reach_the_partner_queue_through_the_constructs_rule_with_a_dlq(
    example_app: Synthesized,
) -> None:
    queue = logical_id(example_app, "AWS::SQS::Queue", "PartnerQueue6")
    rule = rule_with_target(example_app, queue)
    assert rule["EventBusName"] == {"Ref": logical_id(example_app, "AWS::Events::EventBus", "BookingApiEventsBus")}
    assert rule["EventPattern"] == {"source": ["booking.platform"], "detail-type": [{"prefix": "booking."}]}
    [target] = rule["Targets"]
    dlq = logical_id(example_app, "AWS::SQS::Queue", "PartnerDeliveryDlq")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8


def test_eventbridge_may_send_to_the_partner_queue_only_from_that_rule_and_without_a_role(
    example_app: Synthesized,
) -> None:
    """EventBridge User Guide: "For Lambda, Amazon SNS, Amazon SQS, and Amazon CloudWatch Logs resources, EventBridge
    uses resource-based policies." and "For targets that use resource-based policies (Lambda, Amazon SNS, Amazon SQS,
    and Amazon CloudWatch Logs), do not specify a RoleArn in the target configuration." (EventBridge User Guide, "Using
    resource-based policies for Amazon EventBridge")"""
    queue = logical_id(example_app, "AWS::SQS::Queue", "PartnerQueue6")
    rule_id = logical_id(example_app, "AWS::Events::Rule", "BookingApiEventsBookingEventsRule")
    [send] = [
        s for s in queue_policy_of(example_app, queue) if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert "sqs:SendMessage" in send["Action"]
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    [target] = rule_with_target(example_app, queue)["Targets"]
    assert "RoleArn" not in target


def test_the_partner_account_reads_the_queue_and_nothing_more(example_app: Synthesized) -> None:
    queue = logical_id(example_app, "AWS::SQS::Queue", "PartnerQueue6")
    [consume] = [s for s in queue_policy_of(example_app, queue) if s.get("Principal") == {"AWS": PARTNER_ROOT}]
    assert sorted(consume["Action"]) == sorted(["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl",
                                                "sqs:DeleteMessage", "sqs:GetQueueAttributes"])  # fmt: skip
    assert consume["Effect"] == "Allow" and consume["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}


# -- out, 2: the partner's webhook -----------------------------------------------------------------------------------
def test_the_webhook_is_an_https_api_destination_with_the_configured_rate_limit(example_app: Synthesized) -> None:
    """EventBridge User Guide: "EventBridge API destinations are HTTPS endpoints that you can invoke as the target of an
    event bus rule" (EventBridge User Guide, "API destinations as targets"), and "if you set the invocation rate maximum
    to a value lower the rate necessary to send all events [...] some events may not be delivered within the 24-hour
    retry window" (EventBridge API Reference, InvocationRateLimitPerSecond): a rate limit the partner agreed to."""
    destination = example_app.one("AWS::Events::ApiDestination")["Properties"]
    assert destination["InvocationEndpoint"] == CONTEXT["partner:webhookUrl"]
    assert destination["InvocationEndpoint"].startswith("https://")
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationRateLimitPerSecond"] == CONTEXT["partner:webhookRateLimitPerSecond"] == 10


def test_only_booking_confirmed_and_cancelled_reach_the_webhook_retried_for_24_hours_then_dead_lettered(
    example_app: Synthesized,
) -> None:
    destination = logical_id(example_app, "AWS::Events::ApiDestination", "PartnerWebhook")
    rule = rule_with_target(example_app, destination)
    assert rule["EventBusName"] == {"Ref": logical_id(example_app, "AWS::Events::EventBus", "BookingApiEventsBus")}
    assert rule["EventPattern"] == {"source": ["booking.platform"],
                                    "detail-type": ["booking.confirmed", "booking.cancelled"]}  # fmt: skip
    [target] = rule["Targets"]
    dlq = logical_id(example_app, "AWS::SQS::Queue", "PartnerDeliveryDlq")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 24 * 3600, "MaximumRetryAttempts": 185}
    assert target["InputTransformer"]["InputPathsMap"] == {"detail-type": "$.detail-type", "detail": "$.detail"}


def test_eventbridge_invokes_the_webhook_with_a_role_that_may_invoke_only_it(example_app: Synthesized) -> None:
    destination = logical_id(example_app, "AWS::Events::ApiDestination", "PartnerWebhook")
    [target] = rule_with_target(example_app, destination)["Targets"]
    role = target["RoleArn"]["Fn::GetAtt"][0]
    [policy] = [p for p in example_app.resources("AWS::IAM::Policy").values()
                if p["Properties"]["Roles"] == [{"Ref": role}]]  # fmt: skip
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "events:InvokeApiDestination", "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [destination, "Arn"]}}
    ]  # fmt: skip


def test_the_webhook_api_key_comes_from_secrets_manager_never_from_the_template(example_app: Synthesized) -> None:
    """EventBridge User Guide: "When you configure the authorization settings and create a connection, it creates a
    secret in AWS Secrets Manager to securely store the authorization information" (EventBridge User Guide, "Connections
    for API targets"): the key reaches the connection as a dynamic reference to the team's own secret."""
    connection = example_app.one("AWS::Events::Connection")["Properties"]
    assert connection["AuthorizationType"] == "API_KEY"
    api_key = connection["AuthParameters"]["ApiKeyAuthParameters"]
    assert (
        api_key["ApiKeyValue"]
        == f"{{{{resolve:secretsmanager:{CONTEXT['partner:apiKeySecretName']}:SecretString:::}}}}"
    )
    assert example_app.resources("AWS::SecretsManager::Secret") == {}


# -- in: inventory updates from the partner ---------------------------------------------------------------------------
def test_the_partners_inventory_updates_are_routed_to_the_constructs_consumer(example_app: Synthesized) -> None:
    rule = example_app.template["Resources"][logical_id(example_app, "AWS::Events::Rule", "BookingApiInventoryEvents")]
    assert rule["Properties"]["EventPattern"] == {"source": [CONTEXT["partner:eventSource"]],
                                                  "detail-type": ["inventory.updated"]}  # fmt: skip
    [target] = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target and "RetryPolicy" in target


def test_the_partner_account_may_put_only_its_own_inventory_updated_events_on_the_bus(example_app: Synthesized) -> None:
    """EventBridge User Guide: "The following example policy grants the account 111122223333 permission to publish
    events to the central-event-bus in account 123456789012, but only for events with a source value set to
    com.exampleCorp.webStore" (EventBridge User Guide, "Example policy: Send events to a custom bus in a different
    account"): the same, with ForAllValues so that every entry of a PutEvents call must match."""
    bus = logical_id(example_app, "AWS::Events::EventBus", "BookingApiEventsBus")
    policy = example_app.one("AWS::Events::EventBusPolicy")["Properties"]
    assert policy["EventBusName"] == {"Ref": bus}
    statement = policy["Statement"]
    assert statement["Principal"] == {"AWS": PARTNER_ROOT}
    assert statement["Action"] == "events:PutEvents" and statement["Effect"] == "Allow"
    assert statement["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    allowed = {"events:source": [CONTEXT["partner:eventSource"]], "events:detail-type": ["inventory.updated"]}
    assert statement["Condition"] == {"ForAllValues:StringEquals": allowed}


# -- the settings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "partner:webhookUrl",
            "http://hooks.example/v1",
            r"partner:webhookUrl: 'http://hooks.example/v1' is not an HTTPS",
        ),
        ("partner:webhookRateLimitPerSecond", 0, r"partner:webhookRateLimitPerSecond: 0 is not allowed"),
        ("partner:webhookRateLimitPerSecond", "fast", r"partner:webhookRateLimitPerSecond: 'fast' is not allowed"),
        ("partner:accountId", "acme", r"partner:accountId: 'acme' is not an AWS account id"),
        ("partner:apiKeySecretName", None, r"partner:apiKeySecretName: not set\. Set it in cdk\.json's context"),
    ],
)
def test_a_bad_or_missing_setting_is_a_clear_error(key: str, value: object, message: str) -> None:
    context = {k: v for k, v in CONTEXT.items() if k != key} | ({} if value is None else {key: value})
    with pytest.raises(ValueError, match=message):
        load_example("partner_integration").partner_settings(cdk.App(context=context))


def test_python_app_py_gets_the_context_cdk_synth_would_give(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python app.py`` reads this folder's cdk.json; under the CLI (``CDK_CONTEXT_JSON`` set) it adds nothing."""
    module = load_example("partner_integration")
    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)
    assert module.cli_context() == CONTEXT
    monkeypatch.setenv("CDK_CONTEXT_JSON", "{}")
    assert module.cli_context() == {}


def test_the_outputs_are_what_the_partner_needs(example_app: Synthesized) -> None:
    assert set(example_app.template["Outputs"]) >= {"ApiUrl", "PartnerQueueUrl", "PartnerQueueArn", "EventBusArn"}
