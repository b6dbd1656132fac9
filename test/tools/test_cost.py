"""The cost estimate: arithmetic on the shipped prices, idle floor, sampling, scale, template input, bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cached_booking_api.tools import cli, cost

pytestmark = pytest.mark.fast


def test_idle_floor_is_only_the_fixed_costs() -> None:
    prices = cost.load_prices()
    idle = cost.estimate(0, 0)
    minimum_cache = 0.1 * prices["elasticache_serverless_valkey_gb_hour"] * cost.HOURS_PER_MONTH
    assert idle.lines["ElastiCache"] == pytest.approx(minimum_cache)
    assert idle.lines["API Gateway (REST requests)"] == 0 and idle.lines["X-Ray (traces recorded)"] == 0
    assert idle.lines["CloudWatch custom metrics (EMF)"] == 0  # EMF metrics cost only in hours they are published
    fixed = minimum_cache + cost.Deployment().alarm_metrics * 0.10 + 0.45  # no dashboard by default
    assert idle.total == pytest.approx(fixed)
    assert cost.estimate(0, 0, deployment=cost.Deployment(dashboards=1)).total == pytest.approx(fixed + 3.00)


def test_design_load_and_idle_meet_the_issue_10_goals() -> None:
    """Issue 10.2: at 50k searches + 1k bookings a day <= $25 a month, idle <= $10, without free tiers."""
    assert cost.estimate(50_000, 1_000).total <= 25
    assert cost.estimate(0, 0).total <= 10


def test_a_cache_miss_reads_what_the_inventory_bench_measures() -> None:
    """bench/inventory_bench.py: 50 listings x 7 nights = 2 Queries, 3.5 read units (the 0.1.0 layout: 176)."""
    assert cost.Assumptions().miss_read_units == 3.5
    reads = cost.estimate(50_000, 0).lines["DynamoDB reads (cache misses, bookings)"]
    assert reads == pytest.approx(50_000 * 30 * (1 - cost.Assumptions().hit_ratio) * 3.5 / 1e6 * 0.125)


def test_custom_metrics_are_billed_for_the_hours_they_have_data() -> None:
    """CloudWatch prorates custom metrics by the hour: busy metrics count whole, failure-only ones by incident hours,
    none at idle; detailed metrics add the request counts and latencies."""
    default, detailed = cost.Deployment(), cost.Deployment(detailed_metrics=True)
    assert default.custom_metric_months(0, 0) == 0
    busy = default.custom_metric_months(50_000, 1_000)
    assert 3 <= busy < 3.1  # CacheHit, CacheMiss, CacheStale + failure-only metrics at 1 % of hours
    assert detailed.custom_metric_months(50_000, 1_000) > busy + 7
    assert cost.Deployment(always_published_filters=1).custom_metric_months(1, 0) > 1
    line = "CloudWatch custom metrics (EMF)"
    assert cost.estimate(50_000, 1_000).lines[line] == pytest.approx(busy * 0.30)


def test_the_hit_ratio_default_is_the_measured_one_and_misses_drive_dynamodb() -> None:
    """Issue 10.4: the model assumed 80 % hits; the default is what bench/hit_ratio_bench.py measures at the design
    load with bookings (57.2 % since the cache holds data written through from the stream, issue 9.5)."""
    assert cost.Assumptions().hit_ratio == 0.572
    low, high = (cost.estimate(50_000, 1_000, assumptions=cost.Assumptions(hit_ratio=r)) for r in (0.572, 0.95))
    reads = "DynamoDB reads (cache misses, bookings)"
    misses = 50_000 * 30 * (1 - 0.572)
    expected = (misses * cost.Assumptions().miss_read_units + 30_000 * 2 + 3_000 + 15_000) / 1e6 * 0.125  # DELETE, GET
    assert low.lines[reads] == pytest.approx(expected)
    assert low.lines[reads] > 2 * high.lines[reads]


def test_xray_is_charged_for_sampled_traces_only() -> None:
    """Issue 10.4: X-Ray was charged for every request although traces are sampled."""
    requests = 51_000 * 30
    assert cost.traced_requests(requests, 0.05, 0) == pytest.approx(0.05 * requests)
    reservoir = cost.SECONDS_PER_MONTH  # X-Ray's default rule: 1/s first, then 5 %: at 0.6 req/s that is all of them
    assert cost.traced_requests(requests, 0.05, 1) == pytest.approx(requests)
    assert cost.traced_requests(10 * reservoir, 0.05, 1) == pytest.approx(reservoir + 0.05 * 9 * reservoir)
    cheap = cost.estimate(50_000, 1_000).lines["X-Ray (traces recorded)"]
    default_rule = cost.Deployment(trace_reservoir_per_second=1)
    assert cost.estimate(50_000, 1_000, deployment=default_rule).lines["X-Ray (traces recorded)"] > 8 * cheap


def test_free_tier_is_applied_only_when_asked() -> None:
    with_dashboard = cost.Deployment(dashboards=1)
    paid = cost.estimate(50_000, 1_000, deployment=with_dashboard)
    free = cost.estimate(50_000, 1_000, deployment=with_dashboard, free_tier=True)
    assert paid.lines["CloudWatch dashboards"] == 3.0 and free.lines["CloudWatch dashboards"] == 0.0
    assert free.total < paid.total


def test_costs_grow_with_traffic_and_beat_the_nat_design() -> None:
    small, large = cost.estimate(50_000, 1_000), cost.estimate(5_000_000, 100_000)
    assert all(large.lines[name] >= small.lines[name] for name in small.lines)
    assert small.lines["API Gateway (REST requests)"] == pytest.approx(
        51_600 * 30 / 1e6 * 3.50
    )  # + 100 DELETE, 500 GET
    nat = cost.nat_design(50_000, 1_000)
    assert nat.total - small.total > 60  # NAT hours and two nodes
    assert cost.estimate(0, 0, cache_mode="provisioned").lines["ElastiCache"] == pytest.approx(2 * 0.0256 * 730)


def test_cost_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "--searches-per-day", "50000", "--bookings-per-day", "1000"]) == 0
    out = capsys.readouterr().out
    assert "hit ratio 57.2% (measured, bench/hit_ratio_bench.py)" in out
    assert "ElastiCache" in out and "NAT gateway" in out and "total" in out
    assert "as of 2026-11-01" in out
    fixed = out[out.index("fixed and per-metric cost") :]
    for alarm in cost.DEFAULT_ALARMS:  # every alarm: its cost and what it guards
        assert f"alarm {alarm.name} ({alarm.metrics} metric" in fixed and alarm.guards in fixed
    for metric in cost.Deployment().custom_metrics:
        assert f"metric {metric.name} (" in fixed and metric.purpose in fixed
    assert "SearchLatency" not in fixed and not any(line.startswith("dashboard") for line in fixed.splitlines())


def test_scale_prints_the_bill_at_10x_and_100x_line_by_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "--scale"]) == 0
    out = capsys.readouterr().out
    scaled = out[out.rindex("USD / month") :]
    header = scaled.splitlines()[0]
    assert header.split()[-6:] == ["1x", "load", "10x", "load", "100x", "load"]
    api = next(line for line in scaled.splitlines() if line.startswith("API Gateway (REST requests)"))
    assert [float(v) for v in api.split()[-3:]] == [5.42, 54.18, 541.8]  # 51,600 requests a day, x10, x100


def test_price_file_is_dated_and_names_its_sources() -> None:
    prices = cost.load_prices()
    assert prices["as_of"] == "2026-11-01"
    assert {"api_gateway", "lambda", "dynamodb", "elasticache", "cloudwatch", "xray"} <= set(prices["sources"])
    assert all(url.startswith("https://aws.amazon.com/") for url in prices["sources"].values())


def test_bad_input_is_refused_with_a_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["cost", "--hit-ratio", "1.5"]) == 2
    assert "--hit-ratio" in capsys.readouterr().err
    partial = tmp_path / "prices.json"
    partial.write_text(json.dumps({"region": "x"}))
    assert cli.main(["cost", "--prices", str(partial)]) == 2
    assert "missing price(s): as_of" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{\n oops")
    assert cli.main(["cost", "--prices", str(broken)]) == 2
    assert "line 2" in capsys.readouterr().err
    assert cli.main(["cost", "--template", str(broken)]) == 2
    assert "broken.json: not valid JSON (line 2" in capsys.readouterr().err
    assert cli.main(["cost", "--template", str(tmp_path / "none.json")]) == 2
    assert "no such template" in capsys.readouterr().err
    partial.write_text("[]")
    assert cli.main(["cost", "--template", str(partial)]) == 2
    assert "not a CloudFormation template" in capsys.readouterr().err


def test_regulated_lever_prices_each_choice(capsys: pytest.CaptureFixture[str]) -> None:
    """regulated=True (README "Regulated workloads"): two customer managed keys, KMS requests, 35 daily AWS Backup
    copies of the tables, a WAF web ACL; the default deployment prices none of them."""
    prices = cost.load_prices()
    assert not any("regulated" in line for line in cost.estimate(50_000, 1_000).lines)
    deployment = cost.Deployment(regulated=True, kms_keys=cost.REGULATED_KMS_KEYS)
    lines = cost.estimate(50_000, 1_000, deployment=deployment).lines
    events, requests = 51_100 * 30, 51_600 * 30  # searches, bookings, cancellations; and booking reads (no event)
    assert lines["KMS keys"] == 2 * prices["kms_key_month"] == 2.0
    assert lines["KMS requests (regulated)"] == pytest.approx((100_000 + 2 * events) / 10_000 * 0.03)
    assert lines["AWS Backup, 35 daily copies (regulated)"] == pytest.approx(35 * 1.0 * 0.10)
    assert lines["WAF web ACL, 2 rules, requests (regulated)"] == pytest.approx(5 + 2 + requests / 1e6 * 0.60)
    idle = cost.estimate(0, 0, deployment=deployment).lines
    assert (
        idle["KMS requests (regulated)"] == pytest.approx(0.30)
        and idle["WAF web ACL, 2 rules, requests (regulated)"] == 7
    )
    assert cli.main(["cost", "--regulated"]) == 0
    out = capsys.readouterr().out
    assert "AWS Backup, 35 daily copies (regulated)" in out and "KMS keys" in out


def test_the_outbox_publisher_is_priced_for_every_booking_and_cancellation_event() -> None:
    """The Pipe invokes the outbox publisher (256 MB) synchronously for each batch of outbox items: booking.confirmed
    and booking.cancelled (one booking in ten is cancelled, Assumptions). Its invocations and duration are in the
    Lambda line, its events in the Pipe's requests."""
    p, a, d = cost.load_prices(), cost.Assumptions(), cost.Deployment()
    assert d.publisher_gb == 0.25 and a.cancellations_per_booking == 0.1
    bookings = 1_000 * 30
    events = bookings * 1.1
    invocations = events / a.outbox_events_per_invocation
    lines = cost.estimate(0, 1_000).lines
    cancellations = bookings * 0.1  # DELETE /bookings/{id}: priced in test_cancellations_are_priced_as_delete_requests
    reads = bookings * 0.5  # GET /bookings/{id}: test_booking_reads_are_priced_as_get_requests_without_events
    expected = (
        bookings * a.booking_seconds * d.booking_gb
        + cancellations * a.cancellation_seconds * d.booking_gb
        + reads * a.booking_read_seconds * d.booking_gb
        + invocations * a.publisher_seconds * 0.25
    ) * p["lambda_arm_gb_second"] + (events + reads + events + invocations) / 1e6 * p[
        "lambda_requests_per_million"
    ]  # API requests (POST, DELETE, GET), stream batches, publisher
    assert lines["Lambda (arm64 duration, requests)"] == pytest.approx(expected)
    assert lines["EventBridge (events, Pipe)"] == pytest.approx(
        events / 1e6 * p["eventbridge_events_per_million"] + events / 1e6 * p["pipes_requests_per_million"]
    )
    bigger = cost.estimate(0, 1_000, deployment=cost.Deployment(publisher_gb=1.0)).lines
    assert bigger["Lambda (arm64 duration, requests)"] - lines["Lambda (arm64 duration, requests)"] == pytest.approx(
        invocations * a.publisher_seconds * 0.75 * p["lambda_arm_gb_second"]
    )


def test_the_inbound_inventory_consumer_is_priced_when_deployed() -> None:
    """With inventory_sources the construct deploys the inventory.updated consumer (256 MB): each event is an
    inbound custom event on the bus, one invocation (a GetItem and one transaction of the receipt and the month
    items: transactional writes count twice)."""
    p, a = cost.load_prices(), cost.Assumptions()
    consumer = cost.Deployment(inventory_consumer_gb=0.25)
    events = 2_000 * 30
    without = cost.estimate(50_000, 1_000, deployment=consumer).lines
    with_events = cost.estimate(50_000, 1_000, deployment=consumer, inventory_events_per_day=2_000).lines
    added = {name: with_events[name] - without[name] for name in without}
    assert added["Lambda (arm64 duration, requests)"] == pytest.approx(
        events * a.inventory_event_seconds * 0.25 * p["lambda_arm_gb_second"]
        + events / 1e6 * p["lambda_requests_per_million"]
    )
    assert a.inventory_event_write_units == 6.0 and a.inventory_event_read_units == 1.0
    assert added["DynamoDB writes, storage, PITR"] == pytest.approx(
        events * 6 / 1e6 * p["dynamodb_write_request_units_per_million"]
    )
    assert added["DynamoDB reads (cache misses, bookings)"] == pytest.approx(
        events / 1e6 * p["dynamodb_read_request_units_per_million"]
    )
    assert added["EventBridge (events, Pipe)"] == pytest.approx(events / 1e6 * p["eventbridge_events_per_million"])
    assert sum(added.values()) > 0 and all(v >= 0 for v in added.values())
    with pytest.raises(ValueError, match="inventory_sources"):
        cost.estimate(50_000, 1_000, inventory_events_per_day=2_000)  # the defaults deploy no consumer


def test_a_template_tells_the_publisher_and_inventory_consumer_memory(tmp_path: Path) -> None:
    def function(module: str, memory: int) -> dict[str, object]:
        handler = f"cached_booking_api.runtime.handlers.{module}.handler"
        return {"Type": "AWS::Lambda::Function", "Properties": {"Handler": handler, "MemorySize": memory}}

    template = tmp_path / "stack.template.json"
    template.write_text(json.dumps({"Resources": {"Pub": function("outbox_publisher", 512)}}))
    read = cost.Deployment.from_template(template)
    assert (read.publisher_gb, read.inventory_consumer_gb) == (0.5, 0.0)
    template.write_text(json.dumps({"Resources": {"Pub": function("outbox_publisher", 256),
                                                  "Inv": function("inventory_updates", 384)}}))  # fmt: skip
    read = cost.Deployment.from_template(template)
    assert (read.publisher_gb, read.inventory_consumer_gb) == (0.25, 0.375)


def test_cost_command_prices_inventory_events(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["cost", "--inventory-events-per-day", "2000"]) == 0
    out = capsys.readouterr().out
    assert "2,000 inventory events/day" in out
    template = tmp_path / "stack.template.json"
    template.write_text(json.dumps({"Resources": {}}))
    assert cli.main(["cost", "--template", str(template), "--inventory-events-per-day", "10"]) == 2
    assert "inventory_sources" in capsys.readouterr().err
    assert cli.main(["cost", "--inventory-events-per-day", "-1"]) == 2
    assert "--inventory-events-per-day" in capsys.readouterr().err


def test_cancellations_are_priced_as_delete_requests() -> None:
    """``DELETE /bookings/{id}``: one booking in ten is cancelled (Assumptions.cancellations_per_booking, the share
    the outbox publisher and the CancellationRequest metric already assumed). Each is an API request, a bookings
    function invocation (a strongly consistent GetItem of the booking, then one TransactWriteItems: the booking
    marked, the nights given back, the outbox event; transactional writes count twice), a stream batch for the
    invalidation consumer, a booking.cancelled on the bus and in the analytics sink, and its log lines."""
    p, a, d = cost.load_prices(), cost.Assumptions(), cost.Deployment()
    assert (a.cancellation_read_units, a.cancellation_write_units) == (1.0, 6.0)
    bookings = 1_000 * 30
    cancellations = bookings * a.cancellations_per_booking
    with_, without = (cost.estimate(0, 1_000, assumptions=replace(a, cancellations_per_booking=c)).lines
                      for c in (a.cancellations_per_booking, 0.0))  # fmt: skip
    added = {name: with_[name] - without[name] for name in with_}
    assert added["API Gateway (REST requests)"] == pytest.approx(
        cancellations / 1e6 * p["api_gateway_rest_per_million"]
    )
    publisher = cancellations / a.outbox_events_per_invocation  # its booking.cancelled, already priced before
    assert added["Lambda (arm64 duration, requests)"] == pytest.approx(
        (cancellations * a.cancellation_seconds * d.booking_gb + publisher * a.publisher_seconds * d.publisher_gb)
        * p["lambda_arm_gb_second"]
        + (cancellations + cancellations + publisher) / 1e6 * p["lambda_requests_per_million"]  # API, stream, Pipe
    )
    assert added["DynamoDB reads (cache misses, bookings)"] == pytest.approx(
        cancellations * 1.0 / 1e6 * p["dynamodb_read_request_units_per_million"]
    )
    assert added["DynamoDB writes, storage, PITR"] == pytest.approx(
        cancellations * 6.0 / 1e6 * p["dynamodb_write_request_units_per_million"]
    )
    assert added["EventBridge (events, Pipe)"] == pytest.approx(
        cancellations / 1e6 * (p["eventbridge_events_per_million"] + p["pipes_requests_per_million"])
    )
    assert added["CloudWatch Logs (ingestion, storage)"] > 0 and added["Firehose + S3 (analytics)"] > 0
    assert all(v >= 0 for v in added.values())


def test_booking_reads_are_priced_as_get_requests_without_events() -> None:
    """``GET /bookings/{id}``: half a read per booking (Assumptions.reads_per_booking, the share the BookingRead
    metric assumes). Each is an API request and a bookings function invocation with one strongly consistent GetItem;
    it writes nothing, so it puts no event on the bus, feeds no stream batch and sends nothing to the analytics sink."""
    p, a, d = cost.load_prices(), cost.Assumptions(), cost.Deployment()
    assert a.reads_per_booking == 0.5 and a.booking_read_seconds == 0.03
    reads = 1_000 * 30 * 0.5
    with_, without = (cost.estimate(50_000, 1_000, assumptions=replace(a, reads_per_booking=r)).lines
                      for r in (a.reads_per_booking, 0.0))  # fmt: skip
    added = {name: with_[name] - without[name] for name in with_}
    assert added["API Gateway (REST requests)"] == pytest.approx(reads / 1e6 * p["api_gateway_rest_per_million"])
    assert added["Lambda (arm64 duration, requests)"] == pytest.approx(
        reads * a.booking_read_seconds * d.booking_gb * p["lambda_arm_gb_second"]
        + reads / 1e6 * p["lambda_requests_per_million"]
    )
    assert added["DynamoDB reads (cache misses, bookings)"] == pytest.approx(
        reads / 1e6 * p["dynamodb_read_request_units_per_million"]
    )
    assert added["EventBridge (events, Pipe)"] == 0 and added["Firehose + S3 (analytics)"] == 0
    assert added["DynamoDB writes, storage, PITR"] == 0
    assert added["CloudWatch Logs (ingestion, storage)"] > 0 and added["X-Ray (traces recorded)"] > 0
