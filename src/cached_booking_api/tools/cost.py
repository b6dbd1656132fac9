"""A monthly cost estimate of what the construct deploys, from a dated list-price file (``data/prices-*.json``).

It is a model, not a bill. Its inputs are the workload, ``Assumptions`` (per-request figures, each saying where it
comes from) and ``Deployment`` (what is deployed: cache, memory, sampling rule, log levels, alarm metrics, dashboards),
which is either the construct's defaults or read from a synthesized template (``Deployment.from_template``), so a user
prices their actual configuration. The comparison is the same workload on the design this replaces: a NAT gateway and
two provisioned Redis nodes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "prices-us-east-1.json"
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 30
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86_400
SCALES = (1, 10, 100)
#: Memory of the inbound inventory.updated consumer the construct deploys with ``inventory_sources``
#: (infrastructure/inventory_inbound.py).
INVENTORY_CONSUMER_GB = 0.25


@dataclass(frozen=True)
class Assumptions:
    """Per-request figures of the model and where each comes from."""

    hit_ratio: float = 0.572
    """Measured: bench/hit_ratio_bench.py at the design load (0.58 searches/s, 50 destinations x 30 listings, check-in
    dates up to 120 days ahead both Zipf, 1 booking per 50 searches through the real stream consumer, TTL 300 s
    +- 10 %; 20,000 searches): 57.2 % of searches answered from the cache, the same with bookings as without, since the
    cache holds each destination's catalogue and month availability and bookings are written through (97.6 % at 100x).
    bench/local_bench.py P4's trace (Zipf(1.1) over 20k queries) measures 44 %: pass ``--hit-ratio`` for your own
    traffic."""
    miss_read_units: float = 3.5
    """Measured: bench/inventory_bench.py - a cache-miss search over 50 listings x 7 nights is 2 requests (the
    destination's listings Query + one inventory-index Query of the stay's month items) consuming 3.5 read units
    (ReturnConsumedCapacity on DynamoDB Local, eventually consistent); the 0.1.0 layout (one item per listing-night,
    BatchGetItem) consumed 176. A month item holds every night of its month, so shorter stays read no less: 7 nights
    (a stay that may span two months) is the conservative figure."""
    search_hit_seconds: float = 0.010
    search_miss_seconds: float = 0.060
    booking_seconds: float = 0.150
    booking_write_units: float = 14.0  # transaction (x2) of 3 nights + booking + outbox + check, idempotency put/update
    booking_read_units: float = 2.0
    cancellations_per_booking: float = 0.1
    """Assumed: one booking in ten is cancelled (the same share as the ``CancellationRequest`` metric below). Each is a
    ``DELETE /bookings/{id}`` (an API request and a bookings function invocation), a stream batch for the invalidation
    consumer, and a ``booking.cancelled`` through the same outbox, Pipe and publisher, the bus and the analytics
    sink."""
    reads_per_booking: float = 0.5
    """Assumed: half a ``GET /bookings/{id}`` per booking (the same share as the ``BookingRead`` metric below): an API
    request and a bookings function invocation with one strongly consistent ``GetItem`` (< 4 KB: 1 read unit). It
    writes nothing: no event, no stream batch, nothing for the analytics sink."""
    booking_read_seconds: float = 0.03  # assumed: one GetItem (warm)
    cancellation_seconds: float = 0.08
    """Assumed: one cancellation (warm): a ``GetItem`` of the booking and one ``TransactWriteItems``, as an
    ``inventory.updated`` event is."""
    cancellation_read_units: float = 1.0  # the booking, one strongly consistent GetItem (< 4 KB)
    cancellation_write_units: float = 6.0
    """The cancellation's transaction (runtime/booking_service.py ``_cancel_transaction``): the booking marked, the
    stay's month item(s) given back, the outbox event (< 1 KB each; one month for a typical stay), each written twice
    as transactional writes are: 2 x (1 + 1 + 1)."""
    publisher_seconds: float = 0.05
    """Assumed: one outbox publisher invocation (warm) is one ``PutEvents`` call of its batch, ~50 ms."""
    outbox_events_per_invocation: float = 1.0
    """Assumed: the Pipe invokes the publisher as soon as records arrive (batches of at most 10, no batching window);
    below a booking a second nearly every batch holds one event, and it is counted so at every scale (an upper
    bound)."""
    inventory_event_seconds: float = 0.08
    """Assumed: one ``inventory.updated`` (warm): a ``GetItem`` of the listing and one ``TransactWriteItems``."""
    inventory_event_write_units: float = 6.0
    """The event's transaction: the receipt (< 1 KB) and its month items (< 1 KB each; 1-2 months for a typical
    event), each written twice as transactional writes are: 2 x (1 + 2)."""
    inventory_event_read_units: float = 1.0  # the listing's destination, one strongly consistent GetItem (< 4 KB)
    ecpu_per_hit: float = 7.0
    """Measured (test_cache_timelines' 50-listing test, INFO commandstats + total_net_output_bytes on redis-server): a
    hit of a 50-listing destination over a month boundary is 3 commands (one MGET, two HGETALLs) and 6.4 KB out, >= 6.3
    ECPU at 1 ECPU per command and per KB; rounded up."""
    ecpu_per_miss: float = 30.0
    """Measured the same way: that destination's miss is 23 commands (read, lock, re-read, WATCH, MGET, one
    MULTI/DEL/HSET/PEXPIRE per month/EXEC with the catalogue SET, the unlock's WATCH/GET/MULTI/DEL/EXEC) and 11.6 KB
    out, plus two multi-field HSETs of ~2-3 KB in: >= 24 ECPU; rounded up."""
    app_log_bytes_per_search: float = 900.0  # the search.completed line + one EMF document
    app_log_bytes_per_booking: float = 1200.0
    platform_log_bytes_per_invocation: float = 350.0  # START/END/REPORT (JSON), dropped at system log level WARN
    access_log_bytes_per_request: float = 450.0  # API Gateway JSON access log line
    flow_log_bytes_per_request: float = 60.0
    event_bytes: float = 5120.0  # Firehose bills each record rounded up to 5 KB
    data_gb: float = 1.0  # listings, inventory and bookings in the table
    cache_gb: float = 0.1
    nat_gb_per_request: float = 0.00002  # ~20 KB through NAT per request in the NAT design


@dataclass(frozen=True)
class Alarm:
    """One CloudWatch alarm: billed per metric it reads (a metric-math alarm counts each of its metrics)."""

    name: str
    metrics: int
    guards: str
    """What it watches, in a few words (the template's AlarmDescription when read from a template)."""


#: The construct's alarms at its defaults (serverless cache, analytics on), with what each guards. Tests:
#: test/infrastructure/test_monitoring.py (names and metric counts against the construct's template; why each alarm
#: reads the metrics it does) and test/infrastructure/test_observability.py.
DEFAULT_ALARMS: tuple[Alarm, ...] = (
    Alarm(
        "Api5xxRate", 1, "API 5xx responses as a share of requests: what clients see (5XXError's Average is the rate)"
    ),
    Alarm("ApiLatencyP99", 1, "API p99 latency: slow answers, whatever their cause"),
    Alarm("ApiThrottled", 2, "API 429s as a share of requests: clients refused by the throttles"),
    Alarm("SearchErrorRate", 2, "search function errors as a share of invocations"),
    Alarm("SearchThrottles", 1, "search function out of concurrency"),
    Alarm(
        "BookingErrorRate", 2, "booking function errors as a share of invocations (2 % of requests: unseen in 5xx %)"
    ),
    Alarm("InvalidationIteratorAge", 1, "invalidation over a minute behind the stream (stale availability)"),
    Alarm("DynamoDbThrottles", 2, "table refusing reads: table read events of any operation, Query on any index"),
    Alarm("DynamoDbWriteThrottles", 2, "table refusing writes: table write events, transactions on any index"),
    Alarm("CacheCircuitOpen", 1, "cache breaker open: every search on DynamoDB"),
    Alarm("CacheErrors", 1, "cache calls failing or timing out"),
    Alarm("CacheEcpuNearLimit", 1, "serverless cache at 75 % of its ECPU/s cap (throttling next)"),
    Alarm("CacheStorageNearLimit", 1, "serverless cache at 75 % of its storage cap (evictions next)"),
    Alarm("CacheThrottledCommands", 1, "serverless cache throttling commands"),
    Alarm("OutboxDeadLetters", 1, "booking events the outbox Pipe could not deliver"),
    Alarm("ForwarderDeadLetters", 1, "search events the forwarder gave up on (its failures end here)"),
    Alarm("InvalidationDeadLetters", 1, "stream batches the invalidation consumer gave up on (its failures end here)"),
    Alarm("AnalyticsDeadLetters", 1, "events the analytics rule could not put on Firehose"),
)
#: Alarms the construct adds with a prop: ``inventory_sources`` (the inbound consumer's dead-letter queue) and
#: ``regulated=True`` (the bus's dead-letter queue). Named in a template's lines; never priced without ``--template``.
OPTIONAL_ALARMS: tuple[Alarm, ...] = (
    Alarm("InventoryEventsDeadLetters", 1, "inventory.updated events not applied (both hops end here)"),
    Alarm("BusDeadLetters", 1, "events the bus could not deliver to a target"),
)


@dataclass(frozen=True)
class CustomMetric:
    """One custom metric: $0.30 a month, prorated by the hours in which it receives data (CloudWatch pricing)."""

    name: str
    source: str
    detailed: bool
    """Published only with ``ObservabilityOptions(detailed_metrics=True)``."""
    per_search: float = 0.0
    """Datapoints per search (per booking below): an hour is billed when it has at least one."""
    per_booking: float = 0.0
    incident_hours: float = 0.0
    """Share of the hours with traffic in which a failure-only metric has data (assumed: ~7 hours a month)."""
    purpose: str = ""

    def billed_months(self, searches_per_hour: float, bookings_per_hour: float) -> float:
        """The month's share this metric is billed for: the chance an hour has at least one datapoint."""
        if searches_per_hour + bookings_per_hour <= 0:
            return 0.0
        rate = self.per_search * searches_per_hour + self.per_booking * bookings_per_hour
        return max(self.incident_hours, 1 - math.exp(-rate))


_INCIDENT = 0.01
#: Every custom metric the construct can publish: the EMF metrics of the handlers (one dimension set each: the
#: function's ``service``; never a per-destination or per-client dimension) and the access log's metric filter.
CUSTOM_METRICS: tuple[CustomMetric, ...] = (
    CustomMetric("CacheHit", "search", False, per_search=0.572, purpose="hit ratio: the search bill's driver"),
    CustomMetric("CacheMiss", "search", False, per_search=0.428, purpose="hit ratio"),
    CustomMetric("CacheStale", "search", False, per_search=0.01, purpose="hit ratio (stale answers are hits)"),
    CustomMetric("CacheError", "search", False, incident_hours=_INCIDENT, purpose="alarm CacheErrors"),
    CustomMetric("CircuitOpen", "search", False, incident_hours=_INCIDENT, purpose="alarm CacheCircuitOpen"),
    CustomMetric(
        "<prefix>-search-api-429",
        "access log metric filter",
        False,
        incident_hours=_INCIDENT,
        purpose="alarm ApiThrottled (no default value: data only in hours with a 429)",
    ),  # fmt: skip
    CustomMetric("SearchRequest", "search", True, per_search=1, purpose="= API Count of GET /search"),
    CustomMetric("SearchLatency", "search", True, per_search=1, purpose="= API Latency / Lambda Duration"),
    CustomMetric("CacheBypass", "search", True, incident_hours=_INCIDENT, purpose="searches without the cache"),
    CustomMetric("BookingRequest", "bookings", True, per_booking=1, purpose="= API Count of POST /bookings"),
    CustomMetric("BookingConfirmed", "bookings", True, per_booking=0.9, purpose="business count (also analytics)"),
    CustomMetric("BookingRead", "bookings", True, per_booking=0.5, purpose="GET /bookings/{id} count"),
    CustomMetric("CancellationRequest", "bookings", True, per_booking=0.1, purpose="DELETE count"),
    CustomMetric("BookingCancelled", "bookings", True, per_booking=0.1, purpose="business count (also analytics)"),
    CustomMetric("CacheInvalidations", "invalidation", True, per_booking=1, purpose="generation bumps"),
)


@dataclass(frozen=True)
class Deployment:
    """What is deployed, as far as the bill is concerned. Defaults: the construct's defaults."""

    cache_mode: str = "serverless"
    engine: str = "valkey"
    node_type: str = "cache.t4g.small"
    cache_nodes: int = 2
    search_gb: float = 0.5
    booking_gb: float = 0.5
    publisher_gb: float = 0.25
    """The outbox publisher (the Pipe's target that puts ``booking.confirmed``/``booking.cancelled`` on the bus)."""
    inventory_consumer_gb: float = 0.0
    """The inbound ``inventory.updated`` consumer; 0: not deployed (the construct deploys it with
    ``inventory_sources``, ``INVENTORY_CONSUMER_GB``)."""
    trace_sampling_rate: float = 0.05
    trace_reservoir_per_second: float = 0.0
    system_log_level: str = "WARN"
    log_retention_days: int = 30
    """Retention of the log groups (``log_retention`` prop, default one month): months of logs kept in storage."""
    alarms: tuple[Alarm, ...] = DEFAULT_ALARMS
    dashboards: int = 0
    """``ObservabilityOptions(dashboard=True)`` adds one ($3/month; the alarms above are the guarantee)."""
    detailed_metrics: bool = False
    """``ObservabilityOptions(detailed_metrics=True)`` publishes every EMF metric, not only the alarmed ones."""
    always_published_filters: int = 0
    """Metric filters with a default value (data in every hour with log traffic): the construct's has none."""
    kms_keys: int = 0
    interface_endpoints: int = 0
    nat_gateways: int = 0
    regulated: bool = False
    """``regulated=True``: adds ``regulated_lines`` (KMS requests, AWS Backup, WAF); its two keys are in
    ``kms_keys``."""
    source: str = "construct defaults"

    @property
    def alarm_metrics(self) -> int:
        """Metrics read by the alarms: what CloudWatch bills them by."""
        return sum(alarm.metrics for alarm in self.alarms)

    @property
    def custom_metrics(self) -> tuple[CustomMetric, ...]:
        """The custom metrics this deployment publishes (at most; rare ones are billed only in hours with data)."""
        return tuple(m for m in CUSTOM_METRICS if self.detailed_metrics or not m.detailed)

    def custom_metric_months(self, searches_per_day: float, bookings_per_day: float) -> float:
        """Custom metrics billed in a month at this load (each prorated by the hours it has data)."""
        per_hour = (searches_per_day / 24, bookings_per_day / 24)
        months = sum(m.billed_months(*per_hour) for m in self.custom_metrics)
        return months + (self.always_published_filters if searches_per_day + bookings_per_day else 0)

    @classmethod
    def from_template(cls, path: Path) -> Deployment:
        """Read a synthesized CloudFormation template (``cdk.out/<Stack>.template.json``)."""
        try:
            template = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path}: no such template (synthesize first: cdk synth)") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        resources = template.get("Resources") if isinstance(template, dict) else None
        if not isinstance(resources, dict):
            raise ValueError(f"{path}: not a CloudFormation template (no Resources)")
        by_type: dict[str, list[dict[str, Any]]] = {}
        alarms: list[Alarm] = []
        for logical_id, resource in resources.items():
            properties = resource.get("Properties") or {}
            by_type.setdefault(resource.get("Type", ""), []).append(properties)
            if resource.get("Type") == "AWS::CloudWatch::Alarm":
                alarms.append(Alarm(_alarm_name(logical_id), _alarm_metrics(properties),
                                    str(properties.get("AlarmDescription", ""))))  # fmt: skip
        found: dict[str, Any] = {"source": str(path), "alarms": tuple(alarms)}
        if by_type.get("AWS::ElastiCache::ServerlessCache"):
            found.update(cache_mode="serverless", engine=str(by_type["AWS::ElastiCache::ServerlessCache"][0]
                                                             .get("Engine", "valkey")).lower())  # fmt: skip
        elif by_type.get("AWS::ElastiCache::ReplicationGroup"):
            group = by_type["AWS::ElastiCache::ReplicationGroup"][0]
            nodes = group.get("NumCacheClusters") or (1 + int(group.get("ReplicasPerNodeGroup", 1)))
            found.update(cache_mode="provisioned", engine=str(group.get("Engine", "valkey")).lower(),
                         node_type=group.get("CacheNodeType", "cache.t4g.small"), cache_nodes=int(nodes))  # fmt: skip
        for function in by_type.get("AWS::Lambda::Function", []):
            handler = str(function.get("Handler", ""))
            gb = float(function.get("MemorySize", 128)) / 1024
            if handler.endswith("handlers.search.handler"):
                found["search_gb"] = gb
                found["system_log_level"] = (function.get("LoggingConfig") or {}).get("SystemLogLevel", "INFO")
                variables = (function.get("Environment") or {}).get("Variables") or {}
                found["detailed_metrics"] = str(variables.get(DETAILED_METRICS_ENV, "true")).lower() == "true"
            elif handler.endswith("handlers.bookings.handler"):
                found["booking_gb"] = gb
            elif handler.endswith("handlers.outbox_publisher.handler"):
                found["publisher_gb"] = gb
            elif handler.endswith("handlers.inventory_updates.handler"):
                found["inventory_consumer_gb"] = gb
        rules = by_type.get("AWS::XRay::SamplingRule", [])
        if rules:
            rule = rules[0].get("SamplingRule") or {}
            found.update(trace_sampling_rate=float(rule.get("FixedRate", 0.05)),
                         trace_reservoir_per_second=float(rule.get("ReservoirSize", 1)))  # fmt: skip
        else:  # X-Ray's default rule: the first request each second and 5 % of any additional requests
            found.update(trace_sampling_rate=0.05, trace_reservoir_per_second=1.0)
        retention = [
            int(g["RetentionInDays"]) for g in by_type.get("AWS::Logs::LogGroup", []) if "RetentionInDays" in g
        ]
        found["log_retention_days"] = max(retention) if retention else 3653  # no retention: kept (10 years priced)
        found["always_published_filters"] = sum(
            1 for f in by_type.get("AWS::Logs::MetricFilter", []) for t in f.get("MetricTransformations") or []
            if "DefaultValue" in t
        )  # fmt: skip
        found["dashboards"] = len(by_type.get("AWS::CloudWatch::Dashboard", []))
        found["kms_keys"] = len(by_type.get("AWS::KMS::Key", []))
        found["nat_gateways"] = len(by_type.get("AWS::EC2::NatGateway", []))
        found["regulated"] = bool(by_type.get("AWS::Backup::BackupPlan"))
        found["interface_endpoints"] = sum(
            len(e.get("SubnetIds") or [1]) for e in by_type.get("AWS::EC2::VPCEndpoint", [])
            if e.get("VpcEndpointType") == "Interface"
        )  # fmt: skip
        return replace(cls(), **found)


#: The environment variable the construct sets from ``ObservabilityOptions.detailed_metrics`` (``runtime/emf.py``);
#: absent in templates of versions that published every metric.
DETAILED_METRICS_ENV = "EMF_DETAILED_METRICS"


def _alarm_name(logical_id: str) -> str:
    """The construct's alarm name inside a logical id (``...Monitoring<Name><hash>``), else the logical id."""
    for alarm in DEFAULT_ALARMS + OPTIONAL_ALARMS:
        if alarm.name in logical_id:
            return alarm.name
    return logical_id


def _alarm_metrics(alarm: dict[str, Any]) -> int:
    """Billed metrics of one alarm: 1 for a plain alarm, each queried metric of a metric-math alarm."""
    queries = alarm.get("Metrics")
    if queries:
        return sum(1 for query in queries if "MetricStat" in query)
    return 1


@dataclass
class Estimate:
    """Monthly USD by line, for one design."""

    design: str
    lines: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Sum of every line."""
        return sum(self.lines.values())


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    """The price file, with a clear error for a missing or malformed one."""
    try:
        prices: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such price file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    missing = [key for key in json.loads(PRICES.read_text(encoding="utf-8")) if key not in prices]
    if missing:
        raise ValueError(f"{path}: missing price(s): {', '.join(missing)}")
    return prices


def traced_requests(requests: float, rate: float, reservoir_per_second: float) -> float:
    """Requests an X-Ray sampling rule records in a month: the reservoir each second, then ``rate`` of the rest
    (requests assumed evenly spread over the month)."""
    reservoir = min(requests, reservoir_per_second * SECONDS_PER_MONTH)
    return reservoir + rate * (requests - reservoir)


def estimate(
    searches_per_day: float,
    bookings_per_day: float,
    *,
    cache_mode: str | None = None,
    engine: str | None = None,
    prices: dict[str, Any] | None = None,
    assumptions: Assumptions | None = None,
    deployment: Deployment | None = None,
    free_tier: bool = False,
    inventory_events_per_day: float = 0.0,
) -> Estimate:
    """The construct's monthly cost for a workload. ``free_tier`` applies the always-free X-Ray and CloudWatch tiers
    (only true if nothing else in the account uses them). ``inventory_events_per_day``: inbound ``inventory.updated``
    events, priced on the deployment's inventory consumer (``ValueError`` when it deploys none)."""
    p, a, d = prices or load_prices(), assumptions or Assumptions(), deployment or Deployment()
    d = replace(d, cache_mode=cache_mode or d.cache_mode, engine=engine or d.engine)
    if inventory_events_per_day and not d.inventory_consumer_gb:
        raise ValueError(
            "inventory events: this deployment has no inventory.updated consumer (the construct deploys one with "
            "inventory_sources)"
        )
    searches, bookings = searches_per_day * DAYS_PER_MONTH, bookings_per_day * DAYS_PER_MONTH
    inventory_events = inventory_events_per_day * DAYS_PER_MONTH
    cancellations = bookings * a.cancellations_per_booking  # DELETE /bookings/{id}
    reads = bookings * a.reads_per_booking  # GET /bookings/{id}
    events = searches + bookings + cancellations  # search.completed, booking.confirmed, booking.cancelled
    requests = events + reads  # API requests
    hits, misses = searches * a.hit_ratio, searches * (1 - a.hit_ratio)
    outbox_events = bookings + cancellations  # through the Pipe to the publisher
    publisher_invocations = outbox_events / a.outbox_events_per_invocation
    estimate_ = Estimate(f"CachedSearchApi ({d.cache_mode} {d.engine})")
    lines = estimate_.lines
    lines["API Gateway (REST requests)"] = requests / 1e6 * p["api_gateway_rest_per_million"]
    gb_seconds = ((hits * a.search_hit_seconds + misses * a.search_miss_seconds) * d.search_gb
                  + bookings * a.booking_seconds * d.booking_gb
                  + cancellations * a.cancellation_seconds * d.booking_gb
                  + reads * a.booking_read_seconds * d.booking_gb
                  + publisher_invocations * a.publisher_seconds * d.publisher_gb
                  + inventory_events * a.inventory_event_seconds * d.inventory_consumer_gb)  # fmt: skip
    # forwarder batches of search events, stream consumer batches (a booking's or a cancellation's writes), the outbox
    # publisher, the inventory consumer
    async_invocations = searches / 50 + bookings + cancellations + publisher_invocations + inventory_events
    invocations = requests + async_invocations
    lines["Lambda (arm64 duration, requests)"] = (gb_seconds * p["lambda_arm_gb_second"]
                                                  + invocations / 1e6 * p["lambda_requests_per_million"])  # fmt: skip
    read_units = (misses * a.miss_read_units + bookings * a.booking_read_units
                  + cancellations * a.cancellation_read_units + reads * 1.0  # a read: one GetItem < 4 KB
                  + inventory_events * a.inventory_event_read_units)  # fmt: skip
    lines["DynamoDB reads (cache misses, bookings)"] = read_units / 1e6 * p["dynamodb_read_request_units_per_million"]
    write_units = (bookings * a.booking_write_units + cancellations * a.cancellation_write_units
                   + inventory_events * a.inventory_event_write_units)  # fmt: skip
    lines["DynamoDB writes, storage, PITR"] = write_units / 1e6 * p[
        "dynamodb_write_request_units_per_million"
    ] + a.data_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"])
    lines["ElastiCache"] = cache_cost(p, a, d, hits, misses)
    platform = a.platform_log_bytes_per_invocation if d.system_log_level != "WARN" else 0.0
    log_gb = (searches * a.app_log_bytes_per_search + (bookings + cancellations) * a.app_log_bytes_per_booking
              + invocations * platform
              + requests * (a.access_log_bytes_per_request + a.flow_log_bytes_per_request)) / 1e9  # fmt: skip
    free_logs = p["cloudwatch_free_logs_gb"] if free_tier else 0
    stored_months = max(1.0, d.log_retention_days / DAYS_PER_MONTH)  # steady state: retention's worth is stored
    lines["CloudWatch Logs (ingestion, storage)"] = (max(0.0, log_gb - free_logs) * p["cloudwatch_logs_ingest_gb"]
                                                     + log_gb * stored_months
                                                     * p["cloudwatch_logs_storage_gb_month"])  # fmt: skip
    metrics = d.custom_metric_months(searches_per_day, bookings_per_day)  # billed for the hours they have data
    lines["CloudWatch custom metrics (EMF)"] = (
        max(0.0, metrics - (p["cloudwatch_free_custom_metrics"] if free_tier else 0))
        * p["cloudwatch_custom_metric_month"]
    )
    lines["CloudWatch alarms (per alarm metric)"] = (
        max(0, d.alarm_metrics - (p["cloudwatch_free_alarm_metrics"] if free_tier else 0))
        * p["cloudwatch_alarm_metric_month"]
    )
    lines["CloudWatch dashboards"] = (
        max(0, d.dashboards - (p["cloudwatch_free_dashboards"] if free_tier else 0)) * p["cloudwatch_dashboard_month"]
    )
    lines["EventBridge (events, Pipe)"] = ((events + inventory_events) / 1e6 * p["eventbridge_events_per_million"]
                                           + outbox_events / 1e6 * p["pipes_requests_per_million"])  # fmt: skip
    lines["Firehose + S3 (analytics)"] = (events * a.event_bytes / 1e9 * p["firehose_gb"]
                                          + events * 1000 / 1e9 * p["s3_standard_gb_month"]
                                          + (DAYS_PER_MONTH * 288 / 1000 * p["s3_put_per_thousand"]
                                             if events else 0))  # fmt: skip
    # API requests follow the API stage's rule; asynchronous invocations Lambda's own (1/s + 5 %).
    traces = (traced_requests(requests, d.trace_sampling_rate, d.trace_reservoir_per_second)
              + traced_requests(async_invocations, 0.05, 1.0))  # fmt: skip
    free_traces = p["xray_free_traces_month"] if free_tier else 0
    lines["X-Ray (traces recorded)"] = max(0.0, traces - free_traces) / 1e6 * p["xray_traces_per_million"]
    if d.regulated:
        lines.update(regulated_lines(searches, bookings, p, a))
    if d.kms_keys:
        lines["KMS keys"] = d.kms_keys * p["kms_key_month"]
    if d.interface_endpoints:
        lines["VPC interface endpoints"] = d.interface_endpoints * p["vpc_interface_endpoint_hour"] * HOURS_PER_MONTH
    if d.nat_gateways:
        lines["NAT gateway"] = d.nat_gateways * p["nat_gateway_hour"] * HOURS_PER_MONTH
    return estimate_


#: ``regulated=True``: its customer managed keys (logs; tables, queues, bus, bucket, backups), $1 a month each.
REGULATED_KMS_KEYS = 2
#: Daily AWS Backup recovery points kept (35 days): each is a full copy of the tables.
REGULATED_BACKUP_COPIES = 35
#: KMS requests a month that do not grow with traffic (assumed): DynamoDB, CloudWatch Logs, SQS and S3 (Bucket Key)
#: cache data keys for minutes, so calls follow active callers and time, not requests.
REGULATED_KMS_REQUESTS_FIXED = 100_000
#: KMS requests per event on the bus and per analytics delivery (assumed upper bound: EventBridge documents no data
#: key caching for a customer managed key).
REGULATED_KMS_REQUESTS_PER_EVENT = 2.0
#: Rules of the web ACL you bring (assumed: the AWS managed core rule set and known bad inputs), if it serves this
#: API alone; a shared web ACL costs this API only its requests.
REGULATED_WAF_RULES = 2


def regulated_lines(searches: float, bookings: float, p: dict[str, Any], a: Assumptions) -> dict[str, float]:
    """What ``regulated=True`` adds beyond its keys (``Deployment.kms_keys``), for a month of ``searches`` and
    ``bookings``. Reserved concurrency, versioning (Firehose writes new objects only) and empty dead-letter queues
    cost nothing; the bus dead-letter alarm ($0.10) is counted with the alarms when priced from a template."""
    events = searches + bookings * (1 + a.cancellations_per_booking)  # on the bus and to the analytics sink
    requests = events + bookings * a.reads_per_booking  # API requests (WAF), booking reads included
    kms_requests = REGULATED_KMS_REQUESTS_FIXED + events * REGULATED_KMS_REQUESTS_PER_EVENT
    return {
        "KMS requests (regulated)": kms_requests / 10_000 * p["kms_requests_per_10k"],
        "AWS Backup, 35 daily copies (regulated)": REGULATED_BACKUP_COPIES * a.data_gb * p["dynamodb_backup_gb_month"],
        "WAF web ACL, 2 rules, requests (regulated)": (
            p["waf_web_acl_month"]
            + REGULATED_WAF_RULES * p["waf_rule_month"]
            + requests / 1e6 * p["waf_requests_per_million"]
        ),  # fmt: skip
    }


def cache_cost(p: dict[str, Any], a: Assumptions, d: Deployment, hits: float, misses: float) -> float:
    """Monthly cost of the cache."""
    if d.cache_mode == "provisioned":
        return float(d.cache_nodes * p["elasticache_node_hour"][d.node_type][d.engine] * HOURS_PER_MONTH)
    gb = max(a.cache_gb, p[f"elasticache_serverless_{d.engine}_min_gb"])
    ecpus = hits * a.ecpu_per_hit + misses * a.ecpu_per_miss
    return float(gb * p[f"elasticache_serverless_{d.engine}_gb_hour"] * HOURS_PER_MONTH
                 + ecpus / 1e6 * p[f"elasticache_serverless_{d.engine}_ecpu_per_million"])  # fmt: skip


def nat_design(searches_per_day: float, bookings_per_day: float, prices: dict[str, Any] | None = None,
               assumptions: Assumptions | None = None) -> Estimate:  # fmt: skip
    """The same workload on the replaced design: one NAT gateway, two cache.t4g.small Redis nodes, X-Ray's default
    sampling rule, platform logs kept, every metric published and a dashboard."""
    p, a = prices or load_prices(), assumptions or Assumptions()
    replaced = Deployment(cache_mode="provisioned", engine="redis", trace_reservoir_per_second=1.0,
                          system_log_level="INFO", dashboards=1, detailed_metrics=True)  # fmt: skip
    base = estimate(searches_per_day, bookings_per_day, prices=p, assumptions=a, deployment=replaced)
    per_booking = 1 + a.cancellations_per_booking + a.reads_per_booking  # POST, DELETE and GET requests
    requests = (searches_per_day + bookings_per_day * per_booking) * DAYS_PER_MONTH
    base.design = "replaced: NAT + 2 Redis nodes"
    base.lines["NAT gateway"] = (p["nat_gateway_hour"] * HOURS_PER_MONTH
                                 + requests * a.nat_gb_per_request * p["nat_gateway_gb"])  # fmt: skip
    return base


def render(estimates: list[Estimate], prices: dict[str, Any]) -> str:
    """A side-by-side monthly table."""
    services = list(dict.fromkeys(name for e in estimates for name in e.lines))
    width = max(len(s) for s in services) + 2
    columns = [max(12, len(e.design) + 2) for e in estimates]
    header = f"{'USD / month':{width}}" + "".join(f"{e.design:>{c}}" for e, c in zip(estimates, columns, strict=True))
    rows = [header, "-" * len(header)]
    for service in services:
        rows.append(f"{service:{width}}" + "".join(f"{e.lines.get(service, 0.0):>{c}.2f}"
                                                   for e, c in zip(estimates, columns, strict=True)))  # fmt: skip
    rows.append("-" * len(header))
    rows.append(f"{'total':{width}}" + "".join(f"{e.total:>{c}.2f}" for e, c in zip(estimates, columns, strict=True)))
    rows.append(f"(list prices {prices['region']} as of {prices['as_of']}; a model, not a bill: see cost.Assumptions)")
    return "\n".join(rows)


def render_fixed(deployment: Deployment, prices: dict[str, Any], searches_per_day: float,
                 bookings_per_day: float, assumptions: Assumptions | None = None) -> str:  # fmt: skip
    """The monthly cost that does not follow the requests, line by line, each with what it is there for: the cache's
    minimum, every alarm (what it guards), the dashboard, every custom metric (what reads it) and the table's storage.
    Free tiers are not applied."""
    p, a = prices, assumptions or Assumptions()
    rows: list[tuple[str, float, str]] = []
    if deployment.cache_mode == "serverless":
        minimum = p[f"elasticache_serverless_{deployment.engine}_min_gb"]
        rows.append((f"cache: serverless {deployment.engine} minimum ({minimum:g} GB stored)",
                     max(a.cache_gb, minimum) * p[f"elasticache_serverless_{deployment.engine}_gb_hour"]
                     * HOURS_PER_MONTH, "the cache itself: TLS, IAM auth, Multi-AZ, scales itself"))  # fmt: skip
    else:
        rows.append((f"cache: {deployment.cache_nodes} x {deployment.node_type} ({deployment.engine})",
                     cache_cost(p, a, deployment, 0, 0), "replication group, Multi-AZ failover"))  # fmt: skip
    rows.append((f"table storage + point-in-time recovery ({a.data_gb:g} GB)",
                 a.data_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"]),
                 "the data and its 35-day restore window"))  # fmt: skip
    for alarm in deployment.alarms:
        rows.append((f"alarm {alarm.name} ({alarm.metrics} metric{'s' if alarm.metrics > 1 else ''})",
                     alarm.metrics * p["cloudwatch_alarm_metric_month"], alarm.guards))  # fmt: skip
    for _ in range(deployment.dashboards):
        rows.append(("dashboard", p["cloudwatch_dashboard_month"],
                     "one view of the alarms and metrics (opt-in: ObservabilityOptions(dashboard=True))"))  # fmt: skip
    per_hour = (searches_per_day / 24, bookings_per_day / 24)
    for metric in deployment.custom_metrics:
        share = metric.billed_months(*per_hour)
        rows.append((f"metric {metric.name} ({metric.source}, {share:.0%} of hours)",
                     share * p["cloudwatch_custom_metric_month"], metric.purpose))  # fmt: skip
    width = max(len(name) for name, _, _ in rows) + 2
    lines = [f"{'fixed and per-metric cost, USD / month':{width}}{'':>8}  what it is there for",
             "-" * (width + 60)]  # fmt: skip
    lines += [f"{name:{width}}{usd:>8.2f}  {why}" for name, usd, why in rows]
    lines.append("-" * (width + 60))
    lines.append(f"{'total':{width}}{sum(usd for _, usd, _ in rows):>8.2f}  (metrics at "
                 f"{searches_per_day:,.0f} searches + {bookings_per_day:,.0f} bookings a day)")  # fmt: skip
    return "\n".join(lines)
