"""The booking-platform example (examples/booking_platform) tested as an example: the app a user runs synthesizes,
with no unacknowledged cdk-nag finding (AwsSolutions + Serverless) and a clean cfn-lint, and prints what it promises.

The construct's own tests (test/infrastructure) build their own stacks; changing the example changes only these."""

from __future__ import annotations

import pytest

from test.examples.conftest import Synthesized, cfn_lint, synthesize_example


@pytest.fixture(scope="module")
def example_app() -> Synthesized:
    """The example's own ``build_app``, synthesized once for this module (test/examples/conftest.py)."""
    return synthesize_example("booking_platform")


def test_the_example_has_no_unacknowledged_nag_findings(example_app: Synthesized) -> None:
    assert example_app.nag_findings == []


def test_the_example_passes_cfn_lint(example_app: Synthesized) -> None:
    assert cfn_lint(example_app.template_path) == ""


def test_the_example_outputs_the_url_the_key_id_and_the_table(example_app: Synthesized) -> None:
    assert set(example_app.template["Outputs"]) >= {"ApiUrl", "ApiKeyId", "TableName"}


def test_the_example_sends_alarms_to_its_encrypted_topic(example_app: Synthesized) -> None:
    [topic_id] = example_app.resources("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in example_app.template["Resources"][topic_id]["Properties"]
    alarms = example_app.resources("AWS::CloudWatch::Alarm").values()
    assert alarms and all(alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for alarm in alarms)


def test_the_example_delivers_search_and_booking_events_to_the_partner_queue(example_app: Synthesized) -> None:
    [queue_id] = [k for k in example_app.resources("AWS::SQS::Queue") if k.startswith("PartnerQueue")]
    rules_to_partner = [
        rule for rule in example_app.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]} for t in rule["Properties"].get("Targets", []))
    ]  # fmt: skip
    detail_types = sorted(str(rule["Properties"]["EventPattern"].get("detail-type")) for rule in rules_to_partner)
    assert len(rules_to_partner) == 2, detail_types
