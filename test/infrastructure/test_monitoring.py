"""The alarm set's fixed cost, alarm by alarm (issue 10.2): CloudWatch bills an alarm per metric it reads, so every
alarm reads as few metrics as its guarantee needs, and no alarm is kept whose every consequence another alarm raises.

Each rule below quotes the AWS documentation it relies on. The README's "Cost" section has the alarm table."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from cached_booking_api.runtime import schema
from cached_booking_api.tools import cost
from test.infrastructure.conftest import ROOT, Synthesized

RUNTIME = ROOT / "src" / "cached_booking_api" / "runtime"


def alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Alarm name (``Monitoring<Name>``, hash dropped) → its properties."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items():
        name = logical_id.split("Monitoring", 1)[-1][:-8]
        found[name] = alarm["Properties"]
    return found


def metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads (what CloudWatch bills it by): its one metric, or each MetricStat of its math."""
    if "Metrics" not in alarm:
        return [{"Metric": {"MetricName": alarm["MetricName"], "Dimensions": alarm.get("Dimensions", [])},
                 "Stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic")}]  # fmt: skip
    return [query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query]


def dimension_names(stat: dict[str, Any]) -> set[str]:
    return {d["Name"] for d in stat["Metric"].get("Dimensions", [])}


def test_the_api_5xx_rate_alarm_reads_one_metric(default_stack: Synthesized) -> None:
    """Amazon API Gateway developer guide, "Amazon API Gateway dimensions and metrics"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html), 5XXError:
    "The Sum statistic represents this metric, namely, the total count of the 5XXError errors in the given period. The
    Average statistic represents the 5XXError error rate, namely, the total count of the 5XXError errors divided by
    the total number of requests during the period. The denominator corresponds to the Count metric (below)."

    Amazon CloudWatch user guide, "Optimizing and reducing costs of CloudWatch alarms"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_billing.html): "If you create a metric
    alarm that contains a metric math expression, which references multiple metrics, you incur a cost for each
    alarm-metric that's referenced in the metric math expression."

    So the rate is one metric (its Average, times 100 for a percentage threshold), not 5XXError / Count (two). An
    Average is an average of something here only in name: it is the rate the alarm means."""
    alarm = alarms(default_stack)["Api5xxRate"]
    [stat] = metric_stats(alarm)
    assert (stat["Metric"]["MetricName"], stat["Stat"]) == ("5XXError", "Average")
    assert dimension_names(stat) == {"ApiName", "Stage"}
    [expression] = [q for q in alarm["Metrics"] if "Expression" in q]
    assert expression["Expression"] == f"100 * {[q for q in alarm['Metrics'] if 'MetricStat' in q][0]['Id']}"
    assert alarm["Threshold"] == 1  # AlarmOptions.api_5xx_rate_percent, still a percentage


def test_no_alarm_reads_an_average_other_than_a_documented_rate(default_stack: Synthesized) -> None:
    """Alarms are on rates and percentiles, never on averages of durations or sizes: the one Average read is API
    Gateway's 5XXError, whose Average is the 5xx rate (previous test)."""
    averages = [(name, stat["Metric"]["MetricName"]) for name, alarm in alarms(default_stack).items()
                for stat in metric_stats(alarm) if stat["Stat"] == "Average"]  # fmt: skip
    assert averages == [("Api5xxRate", "5XXError")]


def test_dynamodb_throttle_alarms_read_the_table_s_events_and_the_requests_that_touch_its_indexes(
    default_stack: Synthesized,
) -> None:
    """Amazon DynamoDB developer guide, "DynamoDB Metrics and dimensions"
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html; stored copy:
    awsdocs/amazon-dynamodb-developer-guide, doc_source/metrics-dimensions.md):

    ReadThrottleEvents: "A single request can result in multiple events. For example, a `BatchGetItem` that reads 10
    items is processed as 10 `GetItem` events. For each event, `ReadThrottleEvents` is incremented by one if that event
    is throttled." ... "The `TableName` dimension returns the `ReadThrottleEvents` for the table, but not for any
    global secondary indexes." (WriteThrottleEvents: the same for writes.)

    ThrottledRequests: "`ThrottledRequests` is incremented by one if any event within a request exceeds a provisioned
    throughput limit. For example, if you update an item in a table with global secondary indexes, there are multiple
    events—a write to the table, and a write to each index. If one or more of these events are throttled, then
    `ThrottledRequests` is incremented by one." ... "In a batch request (`BatchGetItem` or `BatchWriteItem`),
    `ThrottledRequests` is incremented only if *every* request in the batch is throttled." Dimensions: `TableName,
    Operation`.

    So the table's ReadThrottleEvents/WriteThrottleEvents (TableName only) catch a throttled table event of every
    operation, partial batches included (ThrottledRequests per operation missed those, and DeleteItem and
    TransactGetItems were not alarmed at all); what they leave out is an index's own events. The indexes are read
    only by Query (next test): ThrottledRequests for Query counts a Query throttled on any index. They are written
    at run time only by transactions (next test): ThrottledRequests for TransactWriteItems counts a transaction
    throttled on any index. Four metrics ($0.40) where seven ($0.70) caught less."""
    found = alarms(default_stack)
    reads, writes = metric_stats(found["DynamoDbThrottles"]), metric_stats(found["DynamoDbWriteThrottles"])

    def shape(stats: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(s["Metric"]["MetricName"], ",".join(sorted(dimension_names(s))), s["Stat"]) for s in stats}

    assert shape(reads) == {("ReadThrottleEvents", "TableName", "Sum"), ("ThrottledRequests", "Operation,TableName",
                                                                         "Sum")}  # fmt: skip
    assert shape(writes) == {("WriteThrottleEvents", "TableName", "Sum"),
                             ("ThrottledRequests", "Operation,TableName", "Sum")}  # fmt: skip
    operations = {d["Value"] for s in reads + writes for d in s["Metric"]["Dimensions"] if d["Name"] == "Operation"}
    assert operations == {"Query", "TransactWriteItems"}
    assert schema.GLOBAL_SECONDARY_INDEXES  # the reason the per-index requests are watched at all


def _client_calls(path: Path) -> set[str]:
    """Methods called on a boto3 client (``client.x(...)``, ``self.client.x(...)``, ``self._client.x(...)``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name.lstrip("_").endswith("client"):
                found.add(node.func.attr)
    return found


def test_indexes_are_read_only_by_query_and_written_at_run_time_only_by_transactions() -> None:
    """What the two ThrottledRequests metrics above rely on. Reads of an index: the one module that names an index in
    a request (``repository``; ``schema`` names them in the table's definition) calls DynamoDB only with ``query``,
    and nothing scans. Writes: outside the loader (which runs on the operator's machine, where boto3 retries a throttle
    and then reports it on the command line), the runtime's only DynamoDB writes are ``transact_write_items``
    (bookings, cancellations, inventory events); Powertools' idempotency records live in their own table. A
    change here must change the alarms."""
    writes = {"put_item", "update_item", "delete_item", "batch_write_item", "batch_writer"}
    naming_an_index = {path.name for path in RUNTIME.rglob("*.py") if '"IndexName"' in path.read_text("utf-8")}
    assert naming_an_index == {"repository.py", "schema.py"}
    assert _client_calls(RUNTIME / "repository.py") == {"query"}
    calls = {path.name: _client_calls(path) for path in RUNTIME.rglob("*.py")}
    assert not any("scan" in methods for methods in calls.values())
    plain_writes = {f"{name}:{m}" for name, methods in calls.items() if name != "loader.py" for m in methods & writes}
    assert plain_writes == set(), plain_writes
    assert {"booking_service.py", "inventory_events.py"} <= {n for n, m in calls.items() if "transact_write_items" in m}


def test_alarms_whose_every_consequence_has_its_own_alarm_are_gone(alarm_topic_stack: Synthesized) -> None:
    """The invalidation consumer's and the forwarder's Errors alarms ($0.10 each) are gone: a failure either recovers
    on retry (nothing lost, searches stale for seconds) or ends in a dead-letter queue whose alarm rings, and a
    consumer that keeps failing falls behind the stream, which InvalidationIteratorAge rings on after a minute.

    AWS Lambda developer guide, "Asynchronous invocation", "Adding a destination"
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html#invocation-async-destinations):
    "To retain records of asynchronous invocations, add a destination to your function. You can choose to send
    either successful or failed invocations to a destination." -- the forwarder (invoked asynchronously by its log
    subscription) sends failed invocations, after its retries, to its dead-letter queue.

    AWS Lambda developer guide, "Using Lambda with DynamoDB" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html):
    "To retain discarded events, you can configure the event source mapping to send details about failed batches to
    an SQS queue or SNS topic." -- the invalidation consumer's failed batches (after retries and bisection) go to its
    failure queue.

    Each of those queues has an alarm; the test checks the wiring that makes the Errors alarms redundant."""
    found = alarms(alarm_topic_stack)
    assert "InvalidationErrors" not in found and "ForwarderErrors" not in found
    assert {"InvalidationIteratorAge", "InvalidationDeadLetters", "ForwarderDeadLetters"} <= set(found)
    [mapping] = [m["Properties"] for m in alarm_topic_stack.resources("AWS::Lambda::EventSourceMapping").values()
                 if "DestinationConfig" in m["Properties"] and "Stream" in json.dumps(m["Properties"])]  # fmt: skip
    failure_queue = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    forwarder_configs = [c["Properties"] for c in alarm_topic_stack.resources("AWS::Lambda::EventInvokeConfig").values()
                         if "Forwarder" in json.dumps(c["Properties"]["FunctionName"])]  # fmt: skip
    [forwarder_queue] = [c["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] for c in forwarder_configs]
    watched = {d["Value"]["Fn::GetAtt"][0] for a in found.values() for s in metric_stats(a)
               for d in s["Metric"].get("Dimensions", []) if d["Name"] == "QueueName"}  # fmt: skip
    assert {failure_queue, forwarder_queue} <= watched, (failure_queue, forwarder_queue, watched)


def test_the_cost_model_s_default_alarms_read_what_the_construct_creates(default_stack: Synthesized) -> None:
    """``cached-booking-api cost`` without ``--template`` prices the construct's alarms at their real metric count:
    23 metrics ($2.30) at the defaults, was 29 ($2.90)."""
    read = cost.Deployment.from_template(default_stack.template_path)
    assert sorted((a.name, a.metrics) for a in read.alarms) == sorted((a.name, a.metrics) for a in cost.DEFAULT_ALARMS)
    assert cost.Deployment().alarm_metrics == read.alarm_metrics == 23
