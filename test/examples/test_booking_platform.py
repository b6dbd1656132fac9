"""The booking-platform example (examples/booking_platform) tested as an example: the app a user runs synthesizes,
with no unacknowledged cdk-nag finding (AwsSolutions + Serverless) and a clean cfn-lint, and prints what it promises.

The construct's own tests (test/infrastructure) build their own stacks; changing the example changes only these."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test.conftest import ROOT
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


def test_the_js_baseline_of_the_synth_bench_builds_the_same_platform(example_app: Synthesized, tmp_path: Path) -> None:
    """Issue 10.3 compares the example's synth with bench/js-synth/platform.js, the same platform written in
    JavaScript with aws-cdk-lib's L2 constructs: the comparison is honest only while both build as many resources of
    each CloudFormation type (it once lacked the outbox publisher and the inventory consumer: 152 vs 165)."""
    js_app = ROOT / "bench" / "js-synth"
    if not (js_app / "node_modules" / "aws-cdk-lib").is_dir():
        pytest.skip("the JS baseline is not installed: make bench/js-synth/node_modules/.installed (make test does)")
    sys.path.insert(0, str(ROOT / "bench"))
    import perf_bench

    bundle = tmp_path / "0123abcd"  # any directory stands for the handler bundle: the synth only stages it
    bundle.mkdir()
    (bundle / "index.py").write_text("")
    done = subprocess.run(perf_bench.js_platform(str(tmp_path / "out"), bundle), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    js_template = json.loads((tmp_path / "out" / "BookingPlatform.template.json").read_text())
    assert perf_bench.parity_problems(example_app.template, js_template) == []
    assert sum(perf_bench.resource_types(js_template).values()) == len(example_app.template["Resources"])


def test_the_example_costs_at_most_10_dollars_a_month_idle_with_its_encrypted_alarm_topic(
    example_app: Synthesized,
) -> None:
    """Issue 10.2: idle at most $10 a month, design load (50k searches + 1k bookings a day) at most $25, priced from the
    example's own template (`cached-booking-api cost --template`), with the same guarantees.

    The alarm topic keeps its customer managed key ($1/month): Amazon SNS developer guide, "Enable compatibility
    between event sources from AWS services and encrypted topics"
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services): "Several AWS
    services publish events to Amazon SNS topics. To allow these event sources to work with encrypted topics, you must
    perform the following steps. 1. Use a customer managed KMS." -- the AWS managed key (alias/aws/sns) cannot be
    given to cloudwatch.amazonaws.com, and an unencrypted topic fails cdk-nag's AwsSolutions-SNS2. The saving is in
    the alarms' metrics instead (test/infrastructure/test_monitoring.py)."""
    from cached_booking_api.tools import cost

    deployment = cost.Deployment.from_template(example_app.template_path)
    assert deployment.kms_keys == 1
    idle, design = cost.estimate(0, 0, deployment=deployment), cost.estimate(50_000, 1_000, deployment=deployment)
    assert idle.total <= 10.0, cost.render([idle], cost.load_prices())
    assert design.total <= 25.0, cost.render([design], cost.load_prices())
    assert deployment.alarm_metrics == 24  # the construct's 23 and the inventory dead-letter queue's
