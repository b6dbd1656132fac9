"""A partner integration around ``CachedSearchApi``: booking events out to a partner, inventory updates in.

Out: every ``booking.confirmed`` and ``booking.cancelled`` goes to

- an SQS queue this stack owns and the partner's account reads (``booking_event_targets``, the construct's own
  ``booking.*`` rule, which refuses targets without a dead-letter queue and a retry policy), and
- the partner's HTTPS webhook, through an EventBridge API destination (a rule of this app on the construct's bus,
  the two detail types named, rate-limited, authorized with an API key kept in Secrets Manager).

In: the partner's account may put ``inventory.updated`` events with its own ``source`` on the construct's bus (a bus
policy), and the construct applies them (``inventory_sources``): capacity changes, never below what is booked, once
per event id.

Everything partner-specific comes from ``cdk.json``'s ``context`` (keys ``partner:*``). Synthesize with ``cdk synth``
(cdk.json here) or ``python app.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cached_booking_api import CachedSearchApi
from cached_booking_api.runtime.inventory_contract import INVENTORY_UPDATED
from cached_booking_api.runtime.outbox import BOOKING_CANCELLED, BOOKING_CONFIRMED

#: The ``source`` of the construct's events (its ``event_source`` prop; the webhook rule matches it).
BOOKING_SOURCE = "booking.platform"
#: The booking events the partner's webhook contract names (a new ``booking.*`` type reaches it only when added here).
WEBHOOK_DETAIL_TYPES = [BOOKING_CONFIRMED, BOOKING_CANCELLED]

#: The context keys this app reads (cdk.json), each with what it names.
SETTINGS = {
    "partner:accountId": "the partner's AWS account (it reads the booking queue and puts inventory.updated events)",
    "partner:eventSource": "the EventBridge source of the partner's inventory.updated events, e.g. partner.acme",
    "partner:webhookUrl": "the partner's HTTPS endpoint for booking events",
    "partner:webhookRateLimitPerSecond": "the most webhook calls per second the partner accepts",
    "partner:apiKeySecretName": "the Secrets Manager secret holding the partner's webhook API key (a plain string)",
}


def setting(scope: Construct, key: str) -> Any:
    """A context value of ``SETTINGS``; a clear error when it is missing."""
    value = scope.node.try_get_context(key)
    if value is None or value == "":
        raise ValueError(f"{key}: not set. Set it in cdk.json's context, or pass -c {key}=... to cdk; it is "
                         f"{SETTINGS[key]}.")  # fmt: skip
    return value


def partner_settings(scope: Construct) -> dict[str, Any]:
    """The ``partner:*`` settings, checked: a ValueError names the setting and the fix."""
    account = str(setting(scope, "partner:accountId"))
    if not re.fullmatch(r"\d{12}", account):
        raise ValueError(f"partner:accountId: {account!r} is not an AWS account id (12 digits).")
    url = str(setting(scope, "partner:webhookUrl"))
    if not url.startswith("https://"):
        # "EventBridge API destinations are HTTPS endpoints that you can invoke as the target of an event bus rule"
        # (EventBridge User Guide, "API destinations as targets").
        raise ValueError(f"partner:webhookUrl: {url!r} is not an HTTPS URL. API destinations call HTTPS endpoints "
                         "only: use https://...")  # fmt: skip
    rate = setting(scope, "partner:webhookRateLimitPerSecond")
    if isinstance(rate, bool) or not str(rate).isdigit() or int(rate) < 1:
        raise ValueError(f"partner:webhookRateLimitPerSecond: {rate!r} is not allowed. Give a whole number of "
                         "calls per second, at least 1: what the partner's endpoint accepts.")  # fmt: skip
    return {
        "account": account,
        "source": str(setting(scope, "partner:eventSource")),
        "url": url,
        "rate": int(rate),
        "secret_name": str(setting(scope, "partner:apiKeySecretName")),
    }


def dead_letter_queue(scope: Construct, construct_id: str, *, of: str) -> sqs.Queue:
    """An encrypted, TLS-only dead-letter queue (14 days to look at what failed)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
    reason = f"This queue is the dead-letter queue of {of}; a dead-letter queue of its own would only move the problem."
    for rule in ("AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"):
        cdk.Validations.of(queue).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
    return queue


class PartnerIntegrationStack(cdk.Stack):
    """``CachedSearchApi`` with booking events to a partner's queue and webhook, and inventory updates from it."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        partner = partner_settings(self)

        # -- out, 1: a queue this stack owns, read by the partner's account ---------------------------------------
        # "For Lambda, Amazon SNS, Amazon SQS, and Amazon CloudWatch Logs resources, EventBridge uses resource-based
        # policies" (EventBridge User Guide, "Using resource-based policies"): targets.SqsQueue adds the queue policy
        # (events.amazonaws.com, sqs:SendMessage, aws:SourceArn = the rule) and no role. SSE-SQS, not a customer
        # managed key: a KMS key's policy would have to let EventBridge and the partner's account use it.
        self.partner_queue_dlq = dead_letter_queue(self, "PartnerQueueDlq", of="the partner queue")
        self.partner_queue = sqs.Queue(
            self,
            "PartnerQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.partner_queue_dlq, max_receive_count=5),
        )
        self.partner_queue.grant_consume_messages(iam.AccountPrincipal(partner["account"]))
        self.rule_delivery_dlq = dead_letter_queue(self, "PartnerDeliveryDlq", of="the booking rules' partner targets")

        # -- the API: booking.* to the partner queue (the construct's rule); the partner's inventory.updated in -----
        self.api = CachedSearchApi(
            self,
            "BookingApi",
            event_source=BOOKING_SOURCE,
            booking_event_targets=[
                targets.SqsQueue(self.partner_queue, dead_letter_queue=self.rule_delivery_dlq, retry_attempts=8)
            ],
            inventory_sources=[partner["source"]],
        )
        # The partner's account puts events on this bus directly (PutEvents with the bus ARN), only its own source
        # and only inventory.updated: "The following example policy grants the account 111122223333 permission to
        # publish events to the central-event-bus in account 123456789012, but only for events with a source value
        # set to com.exampleCorp.webStore" (EventBridge User Guide, "Example policy: Send events to a custom bus in
        # a different account"). ForAllValues: every entry of one PutEvents call must match.
        statement = iam.PolicyStatement(
            sid="PartnerInventoryUpdates",
            principals=[iam.AccountPrincipal(partner["account"])],
            actions=["events:PutEvents"],
            resources=[self.api.event_bus.event_bus_arn],
            conditions={
                "ForAllValues:StringEquals": {
                    "events:source": [partner["source"]],
                    "events:detail-type": [INVENTORY_UPDATED],
                }
            },
        )
        bus = self.api.event_bus
        assert isinstance(bus, events.EventBus)  # the construct's own bus (no event_bus= given)
        bus.add_to_resource_policy(statement)  # an AWS::Events::EventBusPolicy with this statement

        # -- out, 2: the partner's webhook, through an API destination ---------------------------------------------
        # "When you configure the authorization settings and create a connection, it creates a secret in AWS Secrets
        # Manager to securely store the authorization information" (EventBridge User Guide, "Connections"). The API
        # key reaches the connection as a CloudFormation dynamic reference to your own secret: never in the
        # template, never in this code.
        connection = events.Connection(
            self,
            "PartnerConnection",
            description="The partner's webhook: API key from Secrets Manager",
            authorization=events.Authorization.api_key(
                "x-api-key", cdk.SecretValue.secrets_manager(partner["secret_name"])
            ),
        )
        # "If you set the invocation rate maximum to a value lower the rate necessary to send all events received on
        # to the destination HTTP endpoint, some events may not be delivered within the 24-hour retry window. [...]
        # consider using a dead-letter queue" (EventBridge API Reference, InvocationRateLimitPerSecond): 24 h of
        # retries (EventBridge's maximum), then the dead-letter queue.
        self.webhook = events.ApiDestination(
            self,
            "PartnerWebhook",
            connection=connection,
            endpoint=partner["url"],
            http_method=events.HttpMethod.POST,
            rate_limit_per_second=partner["rate"],
            description="booking.confirmed and booking.cancelled to the partner",
        )
        self.webhook_rule = events.Rule(
            self,
            "BookingEventsToPartnerWebhook",
            event_bus=self.api.event_bus,
            description="booking.confirmed and booking.cancelled to the partner's webhook",
            event_pattern=events.EventPattern(source=[BOOKING_SOURCE], detail_type=WEBHOOK_DETAIL_TYPES),
            targets=[
                targets.ApiDestination(
                    self.webhook,
                    # The partner's body: the type and the event's fields (eventId: deliveries are at least once).
                    event=events.RuleTargetInput.from_object(
                        {"type": events.EventField.detail_type, "data": events.EventField.from_path("$.detail")}
                    ),
                    dead_letter_queue=self.rule_delivery_dlq,
                    retry_attempts=185,
                    max_event_age=cdk.Duration.hours(24),
                )
            ],
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        cdk.CfnOutput(self, "PartnerQueueUrl", value=self.partner_queue.queue_url)
        cdk.CfnOutput(self, "PartnerQueueArn", value=self.partner_queue.queue_arn)
        cdk.CfnOutput(self, "EventBusArn", value=self.api.event_bus.event_bus_arn)


def cli_context() -> dict[str, Any]:
    """The context ``cdk synth`` passes (this folder's cdk.json, then cdk.context.json), for ``python app.py``; the
    CLI itself passes it in ``CDK_CONTEXT_JSON``, which ``cdk.App`` reads."""
    if "CDK_CONTEXT_JSON" in os.environ:
        return {}
    folder = Path(__file__).resolve().parent
    context: dict[str, Any] = dict(json.loads((folder / "cdk.json").read_text()).get("context", {}))
    if (folder / "cdk.context.json").exists():
        context.update(json.loads((folder / "cdk.context.json").read_text()))
    return context


def build_app(app: cdk.App | None = None) -> cdk.App:
    """The example app (tests pass their own ``App`` with this folder's context and bundling skipped)."""
    app = app or cdk.App(context=cli_context())
    PartnerIntegrationStack(app, "PartnerIntegration")
    return app


if __name__ == "__main__":
    build_app().synth()
