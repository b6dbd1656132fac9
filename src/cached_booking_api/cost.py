"""A monthly cost estimate of what the construct deploys, from a dated list-price file (``data/prices-*.json``).

It is a model, not a bill: per-request figures (Lambda duration, request units, bytes per log line) are stated in
``Assumptions`` so they can be checked and changed. The comparison is the same workload on the design this replaces:
a NAT gateway and two provisioned Redis nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "data" / "prices-us-east-1.json"
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class Assumptions:
    """Per-request figures of the model (measured locally where possible; see the README)."""

    hit_ratio: float = 0.8
    search_hit_seconds: float = 0.010
    search_miss_seconds: float = 0.060
    booking_seconds: float = 0.150
    function_gb: float = 0.5
    miss_read_units: float = 180.0  # 1 Query + 350 eventually consistent keys (50 listings x 7 nights) at 0.5 RRU
    booking_write_units: float = 14.0  # transaction (x2) of 3 nights + booking + outbox + check, idempotency put/update
    booking_read_units: float = 2.0
    ecpu_per_hit: float = 8.0  # one MGET of a ~7 KB entry
    ecpu_per_miss: float = 20.0
    log_bytes_per_request: float = 2500.0  # handler JSON lines + EMF + API access log
    event_bytes: float = 5120.0  # Firehose bills each record rounded up to 5 KB
    alarm_metrics: int = 30
    cache_gb: float = 0.1
    nat_gb_per_request: float = 0.00002  # ~20 KB through NAT per request in the NAT design


@dataclass
class Estimate:
    """Monthly USD by service, for one design."""

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


def estimate(
    searches_per_day: float,
    bookings_per_day: float,
    *,
    cache_mode: str = "serverless",
    engine: str = "valkey",
    prices: dict[str, Any] | None = None,
    assumptions: Assumptions | None = None,
) -> Estimate:
    """The construct's monthly cost for a workload."""
    p, a = prices or load_prices(), assumptions or Assumptions()
    searches, bookings = searches_per_day * DAYS_PER_MONTH, bookings_per_day * DAYS_PER_MONTH
    requests = searches + bookings
    hits, misses = searches * a.hit_ratio, searches * (1 - a.hit_ratio)
    estimate_ = Estimate(f"CachedSearchApi, {cache_mode} {engine}")
    lines = estimate_.lines
    lines["API Gateway (REST)"] = requests / 1e6 * p["api_gateway_rest_per_million"]
    seconds = hits * a.search_hit_seconds + misses * a.search_miss_seconds + bookings * a.booking_seconds
    invocations = requests + searches / 50 + bookings  # + forwarder batches + stream consumer batches
    lines["Lambda (arm64)"] = (seconds * a.function_gb * p["lambda_arm_gb_second"]
                               + invocations / 1e6 * p["lambda_requests_per_million"])  # fmt: skip
    read_units = misses * a.miss_read_units + bookings * a.booking_read_units
    lines["DynamoDB (on-demand, PITR)"] = (
        read_units / 1e6 * p["dynamodb_read_request_units_per_million"]
        + bookings * a.booking_write_units / 1e6 * p["dynamodb_write_request_units_per_million"]
        + 1.0 * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"])  # ~1 GB of listings and bookings
    )
    lines[f"ElastiCache ({cache_mode} {engine})"] = cache_cost(p, a, cache_mode, engine, hits, misses)
    log_gb = requests * a.log_bytes_per_request / 1e9
    lines["CloudWatch (logs, alarms, dashboard)"] = (
        log_gb * (p["cloudwatch_logs_ingest_gb"] + p["cloudwatch_logs_storage_gb_month"])
        + a.alarm_metrics * p["cloudwatch_alarm_metric_month"]
        + p["cloudwatch_dashboard_month"]
    )
    lines["EventBridge (events, Pipe)"] = (requests / 1e6 * p["eventbridge_events_per_million"]
                                           + bookings / 1e6 * p["pipes_requests_per_million"])  # fmt: skip
    lines["Firehose + S3 (analytics)"] = (requests * a.event_bytes / 1e9 * p["firehose_gb"]
                                          + requests * 1000 / 1e9 * p["s3_standard_gb_month"]
                                          + DAYS_PER_MONTH * 288 / 1000 * p["s3_put_per_thousand"])  # fmt: skip
    lines["X-Ray"] = max(0.0, requests - p["xray_free_traces_month"]) / 1e6 * p["xray_traces_per_million"]
    return estimate_


def cache_cost(p: dict[str, Any], a: Assumptions, mode: str, engine: str, hits: float, misses: float) -> float:
    """Monthly cost of the cache."""
    if mode == "provisioned":
        return float(2 * p["elasticache_node_hour"]["cache.t4g.small"][engine] * HOURS_PER_MONTH)
    gb = max(a.cache_gb, p[f"elasticache_serverless_{engine}_min_gb"])
    ecpus = hits * a.ecpu_per_hit + misses * a.ecpu_per_miss
    return float(gb * p[f"elasticache_serverless_{engine}_gb_hour"] * HOURS_PER_MONTH
                 + ecpus / 1e6 * p[f"elasticache_serverless_{engine}_ecpu_per_million"])  # fmt: skip


def nat_design(searches_per_day: float, bookings_per_day: float, prices: dict[str, Any] | None = None,
               assumptions: Assumptions | None = None) -> Estimate:  # fmt: skip
    """The same workload on the replaced design: one NAT gateway and two cache.t4g.small Redis nodes."""
    p, a = prices or load_prices(), assumptions or Assumptions()
    base = estimate(searches_per_day, bookings_per_day, cache_mode="provisioned", engine="redis", prices=p,
                    assumptions=a)  # fmt: skip
    requests = (searches_per_day + bookings_per_day) * DAYS_PER_MONTH
    base.design = "replaced: NAT + 2 Redis nodes"
    base.lines["NAT gateway"] = (p["nat_gateway_hour"] * HOURS_PER_MONTH
                                 + requests * a.nat_gb_per_request * p["nat_gateway_gb"])  # fmt: skip
    return base


def render(estimates: list[Estimate], prices: dict[str, Any]) -> str:
    """A side-by-side monthly table."""
    services = list(dict.fromkeys(name for e in estimates for name in e.lines))
    width = max(len(s) for s in services) + 2
    header = f"{'USD / month':{width}}" + "".join(f"{e.design[:34]:>36}" for e in estimates)
    rows = [header, "-" * len(header)]
    for service in services:
        rows.append(f"{service:{width}}" + "".join(f"{e.lines.get(service, 0.0):>36.2f}" for e in estimates))
    rows.append("-" * len(header))
    rows.append(f"{'total':{width}}" + "".join(f"{e.total:>36.2f}" for e in estimates))
    rows.append(f"(list prices {prices['region']} as of {prices['as_of']}; a model, not a bill: see cost.Assumptions)")
    return "\n".join(rows)
