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


@dataclass(frozen=True)
class Assumptions:
    """Per-request figures of the model and where each comes from."""

    hit_ratio: float = 0.44
    """Measured: bench/local_bench.py P4 - the real handler on a Zipf(1.1) trace over 20k distinct queries at 50k
    searches/day, TTL 300 s: 44.2 % of searches answered from the cache (an ideal TTL cache: 44.3 %)."""
    listings_per_search: int = 50
    """Listings of the searched destination (bench P2's destination)."""
    nights_per_search: float = 3.4
    """Mean stay of the P4 trace (1, 2, 3, 4 or 7 nights)."""
    search_hit_seconds: float = 0.010
    search_miss_seconds: float = 0.060
    booking_seconds: float = 0.150
    booking_write_units: float = 14.0  # transaction (x2) of 3 nights + booking + outbox + check, idempotency put/update
    booking_read_units: float = 2.0
    ecpu_per_hit: float = 2.0  # one GET of a compressed entry (~2.2 KB; 1 ECPU per KB), README "Scaling"
    ecpu_per_miss: float = 12.0  # README "Scaling": 9 commands, the entry written and read back
    app_log_bytes_per_search: float = 900.0  # the search.completed line + one EMF document
    app_log_bytes_per_booking: float = 1200.0
    platform_log_bytes_per_invocation: float = 350.0  # START/END/REPORT (JSON), dropped at system log level WARN
    access_log_bytes_per_request: float = 450.0  # API Gateway JSON access log line
    flow_log_bytes_per_request: float = 60.0
    event_bytes: float = 5120.0  # Firehose bills each record rounded up to 5 KB
    data_gb: float = 1.0  # listings, inventory and bookings in the table
    cache_gb: float = 0.1
    nat_gb_per_request: float = 0.00002  # ~20 KB through NAT per request in the NAT design

    @property
    def miss_read_units(self) -> float:
        """Read units of one cache-miss search: one Query of the destination's listings, then one eventually
        consistent BatchGetItem read (0.5 RRU per item under 4 KB) per listing-night."""
        query = math.ceil(self.listings_per_search * 0.3 / 4) * 0.5  # ~0.3 KB per listing item
        return query + self.listings_per_search * self.nights_per_search * 0.5


@dataclass(frozen=True)
class Deployment:
    """What is deployed, as far as the bill is concerned. Defaults: the construct's defaults."""

    cache_mode: str = "serverless"
    engine: str = "valkey"
    node_type: str = "cache.t4g.small"
    cache_nodes: int = 2
    search_gb: float = 0.5
    booking_gb: float = 0.5
    trace_sampling_rate: float = 0.05
    trace_reservoir_per_second: float = 0.0
    system_log_level: str = "WARN"
    alarm_metrics: int = 29
    """Metrics watched by the construct's alarms (a metric-math alarm counts each metric it reads), counted from the
    example's template (test_cost.py checks it against the template)."""
    dashboards: int = 1
    custom_metrics: int = 10
    """EMF metric names the handlers emit with one dimension set (service) each: SearchRequest, CacheHit, CacheMiss,
    CacheStale, CacheBypass, CacheError, SearchLatency, CircuitOpen, BookingRequest, BookingConfirmed, BookingRead,
    CacheInvalidations; the rare ones are published in few hours, so ~9 full metrics. Plus 1: the access log's 429
    count (a metric filter's metric is a custom metric too; it feeds the ApiThrottled alarm)."""
    kms_keys: int = 0
    interface_endpoints: int = 0
    nat_gateways: int = 0
    regulated: bool = False
    """``regulated=True``: adds ``regulated_lines`` (KMS requests, AWS Backup, WAF); its two keys are in
    ``kms_keys``."""
    source: str = "construct defaults"

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
        for resource in resources.values():
            by_type.setdefault(resource.get("Type", ""), []).append(resource.get("Properties") or {})
        found: dict[str, Any] = {"source": str(path)}
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
            elif handler.endswith("handlers.bookings.handler"):
                found["booking_gb"] = gb
        rules = by_type.get("AWS::XRay::SamplingRule", [])
        if rules:
            rule = rules[0].get("SamplingRule") or {}
            found.update(trace_sampling_rate=float(rule.get("FixedRate", 0.05)),
                         trace_reservoir_per_second=float(rule.get("ReservoirSize", 1)))  # fmt: skip
        else:  # X-Ray's default rule: the first request each second and 5 % of any additional requests
            found.update(trace_sampling_rate=0.05, trace_reservoir_per_second=1.0)
        found["alarm_metrics"] = sum(_alarm_metrics(alarm) for alarm in by_type.get("AWS::CloudWatch::Alarm", []))
        found["dashboards"] = len(by_type.get("AWS::CloudWatch::Dashboard", []))
        found["kms_keys"] = len(by_type.get("AWS::KMS::Key", []))
        found["nat_gateways"] = len(by_type.get("AWS::EC2::NatGateway", []))
        found["regulated"] = bool(by_type.get("AWS::Backup::BackupPlan"))
        found["interface_endpoints"] = sum(
            len(e.get("SubnetIds") or [1]) for e in by_type.get("AWS::EC2::VPCEndpoint", [])
            if e.get("VpcEndpointType") == "Interface"
        )  # fmt: skip
        return replace(cls(), **found)


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
) -> Estimate:
    """The construct's monthly cost for a workload. ``free_tier`` applies the always-free X-Ray and CloudWatch tiers
    (only true if nothing else in the account uses them)."""
    p, a, d = prices or load_prices(), assumptions or Assumptions(), deployment or Deployment()
    d = replace(d, cache_mode=cache_mode or d.cache_mode, engine=engine or d.engine)
    searches, bookings = searches_per_day * DAYS_PER_MONTH, bookings_per_day * DAYS_PER_MONTH
    requests = searches + bookings
    hits, misses = searches * a.hit_ratio, searches * (1 - a.hit_ratio)
    estimate_ = Estimate(f"CachedSearchApi ({d.cache_mode} {d.engine})")
    lines = estimate_.lines
    lines["API Gateway (REST requests)"] = requests / 1e6 * p["api_gateway_rest_per_million"]
    gb_seconds = ((hits * a.search_hit_seconds + misses * a.search_miss_seconds) * d.search_gb
                  + bookings * a.booking_seconds * d.booking_gb)  # fmt: skip
    async_invocations = searches / 50 + bookings  # forwarder batches of search events, stream consumer batches
    invocations = requests + async_invocations
    lines["Lambda (arm64 duration, requests)"] = (gb_seconds * p["lambda_arm_gb_second"]
                                                  + invocations / 1e6 * p["lambda_requests_per_million"])  # fmt: skip
    read_units = misses * a.miss_read_units + bookings * a.booking_read_units
    lines["DynamoDB reads (cache misses, bookings)"] = read_units / 1e6 * p["dynamodb_read_request_units_per_million"]
    lines["DynamoDB writes, storage, PITR"] = bookings * a.booking_write_units / 1e6 * p[
        "dynamodb_write_request_units_per_million"
    ] + a.data_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"])
    lines["ElastiCache"] = cache_cost(p, a, d, hits, misses)
    platform = a.platform_log_bytes_per_invocation if d.system_log_level != "WARN" else 0.0
    log_gb = (searches * a.app_log_bytes_per_search + bookings * a.app_log_bytes_per_booking
              + invocations * platform
              + requests * (a.access_log_bytes_per_request + a.flow_log_bytes_per_request)) / 1e9  # fmt: skip
    free_logs = p["cloudwatch_free_logs_gb"] if free_tier else 0
    lines["CloudWatch Logs (ingestion, storage)"] = (max(0.0, log_gb - free_logs) * p["cloudwatch_logs_ingest_gb"]
                                                     + log_gb * p["cloudwatch_logs_storage_gb_month"])  # fmt: skip
    metrics = d.custom_metrics if requests else 0  # EMF metrics are billed for the hours they are published
    lines["CloudWatch custom metrics (EMF)"] = (
        max(0, metrics - (p["cloudwatch_free_custom_metrics"] if free_tier else 0))
        * p["cloudwatch_custom_metric_month"]
    )
    lines["CloudWatch alarms (per alarm metric)"] = (
        max(0, d.alarm_metrics - (p["cloudwatch_free_alarm_metrics"] if free_tier else 0))
        * p["cloudwatch_alarm_metric_month"]
    )
    lines["CloudWatch dashboards"] = (
        max(0, d.dashboards - (p["cloudwatch_free_dashboards"] if free_tier else 0)) * p["cloudwatch_dashboard_month"]
    )
    lines["EventBridge (events, Pipe)"] = (requests / 1e6 * p["eventbridge_events_per_million"]
                                           + bookings / 1e6 * p["pipes_requests_per_million"])  # fmt: skip
    lines["Firehose + S3 (analytics)"] = (requests * a.event_bytes / 1e9 * p["firehose_gb"]
                                          + requests * 1000 / 1e9 * p["s3_standard_gb_month"]
                                          + (DAYS_PER_MONTH * 288 / 1000 * p["s3_put_per_thousand"]
                                             if requests else 0))  # fmt: skip
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
    requests = searches + bookings
    kms_requests = REGULATED_KMS_REQUESTS_FIXED + requests * REGULATED_KMS_REQUESTS_PER_EVENT
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
    sampling rule and platform logs kept."""
    p, a = prices or load_prices(), assumptions or Assumptions()
    replaced = Deployment(cache_mode="provisioned", engine="redis", trace_reservoir_per_second=1.0,
                          system_log_level="INFO")  # fmt: skip
    base = estimate(searches_per_day, bookings_per_day, prices=p, assumptions=a, deployment=replaced)
    requests = (searches_per_day + bookings_per_day) * DAYS_PER_MONTH
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
