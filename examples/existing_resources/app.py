"""A team's existing VPC, DynamoDB table, EventBridge bus and alarm topic, brought to ``CachedSearchApi``.

The team's platform already runs a VPC (private subnets with a NAT gateway, as most do), a bookings table, an event
bus other systems listen on, and the SNS topic on-call reads. This app creates none of them: it looks the VPC up
(``Vpc.from_lookup``; the answer is cached in ``cdk.context.json``), imports the table with its stream and indexes
(``Table.from_table_attributes``), the bus (``EventBus.from_event_bus_name``) and the topic, and hands them to the
construct, which grants its functions only what each needs on them.

Every identifier comes from ``cdk.json``'s ``context`` (keys ``existing:*``): replace them there, or pass
``-c existing:vpcId=vpc-...`` to ``cdk``. Synthesize with ``cdk synth`` (cdk.json here) or ``python app.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from cached_booking_api import CachedSearchApi
from cached_booking_api.runtime.schema import GLOBAL_SECONDARY_INDEXES

#: The context keys this app reads (cdk.json), each with what it names.
SETTINGS = {
    "existing:account": "the AWS account the stack deploys to (Vpc.from_lookup needs a concrete account)",
    "existing:region": "the region the stack deploys to (likewise)",
    "existing:vpcId": "the team's VPC (its private subnets host the cache and the search function)",
    "existing:vpcHasDynamoDbEndpoint": "true when the VPC's private route tables already route to a DynamoDB "
    "gateway endpoint (a second one on the same route table fails at deploy)",
    "existing:tableName": "the bookings table (key schema, stream, indexes, TTL: cached_booking_api.runtime.schema)",
    "existing:tableStreamArn": "the table's stream ARN (NEW_AND_OLD_IMAGES), e.g. from 'aws dynamodb describe-table'",
    "existing:eventBusName": "the team's EventBridge bus",
    "existing:alarmTopicArn": "the SNS topic the alarms notify",
}


def setting(scope: Construct, key: str) -> Any:
    """A context value of ``SETTINGS``; a clear error when it is missing."""
    value = scope.node.try_get_context(key)
    if value is None or value == "":
        raise ValueError(f"{key}: not set. Set it in cdk.json's context, or pass -c {key}=... to cdk; it is "
                         f"{SETTINGS[key]}.")  # fmt: skip
    return value


class ExistingResourcesStack(cdk.Stack):
    """``CachedSearchApi`` on the team's VPC, table, bus and alarm topic (all looked up or imported, none created)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The lookup runs once, with credentials, at the first `cdk synth`; its answer is cached in cdk.context.json
        # (commit it, so later synths and CI need no AWS access). Drop that entry to look the VPC up again.
        vpc = ec2.Vpc.from_lookup(self, "TeamVpc", vpc_id=setting(self, "existing:vpcId"))
        # An imported table exposes neither its stream nor its indexes unless given: the construct's outbox pipe and
        # cache invalidation read the stream, and the search function's grants name the indexes.
        table = dynamodb.Table.from_table_attributes(
            self,
            "TeamTable",
            table_name=setting(self, "existing:tableName"),
            table_stream_arn=setting(self, "existing:tableStreamArn"),
            global_indexes=[index.name for index in GLOBAL_SECONDARY_INDEXES],
        )
        bus = events.EventBus.from_event_bus_name(self, "TeamBus", setting(self, "existing:eventBusName"))
        alarm_topic = sns.Topic.from_topic_arn(self, "TeamAlarms", setting(self, "existing:alarmTopicArn"))

        self.api = CachedSearchApi(
            self,
            "BookingApi",
            vpc=vpc,
            vpc_has_dynamodb_endpoint=str(setting(self, "existing:vpcHasDynamoDbEndpoint")).lower() == "true",
            table=table,
            event_bus=bus,
            alarm_topic=alarm_topic,
            # API Gateway's CloudWatch role is one per account and region: the team's account has it already.
            api_cloud_watch_role=False,
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        cdk.CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id)


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
    env = cdk.Environment(account=setting(app, "existing:account"), region=setting(app, "existing:region"))
    ExistingResourcesStack(app, "BookingOnTeamPlatform", env=env)
    return app


if __name__ == "__main__":
    build_app().synth()
