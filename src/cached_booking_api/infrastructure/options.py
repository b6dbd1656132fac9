"""Option groups of ``CachedSearchApi``: frozen dataclasses, validated when the construct is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import Duration

from ..runtime.settings import CacheConnectionSettings, CacheTimings, CircuitBreakerSettings
from .tokens import unresolved

CacheMode = Literal["serverless", "provisioned"]
CacheEngine = Literal["valkey", "redis"]


def _fail(prop: str, problem: str, fix: str) -> ValueError:
    return ValueError(f"{prop}: {problem}. {fix}")


def _token(value: object) -> bool:
    """Whether ``value`` is known at deploy time only (a ``CfnParameter``'s value, another resource's attribute, a
    ``Duration`` of one): CloudFormation resolves it, so it is not checked here, as aws-cdk-lib does
    (``Token.is_unresolved``). In Python a number token is a float such as -1.89e+289: never compare it."""
    if value is None:
        return False
    if isinstance(value, Duration):
        return bool(value.is_unresolved())
    return unresolved(value)


def _literal(prop: str, value: object, derived: str) -> None:
    """Refuse a token for a prop the construct derives other numbers from (CloudFormation has no arithmetic)."""
    if _token(value):
        raise _fail(prop, f"cannot be a token: the construct derives {derived} from it when it synthesizes",
                    "Give a number (a literal, or a context value).")  # fmt: skip


def _token_duration_in(prop: str, value: Duration | None, unit: str) -> None:
    """A token duration is passed on as it is, in the unit the consumer reads: it cannot be converted."""
    if value is None or not _token(value):
        return
    try:
        value.to_seconds() if unit == "seconds" else value.to_milliseconds()
    except Exception as exc:  # jsii: "Duration must be specified as 'Duration.<unit>()' here since its value ..."
        raise _fail(prop, f"a token duration cannot be converted to {unit}",
                    f"Give Duration.{'millis' if unit == 'milliseconds' else unit}(token).") from exc  # fmt: skip


@dataclass(frozen=True)
class CacheOptions:
    """The ElastiCache cache in front of DynamoDB. Always TLS in transit, encrypted at rest, IAM authentication."""

    mode: CacheMode = "serverless"
    """``serverless`` (default: scales itself, ~$6/month minimum, cluster-mode) or ``provisioned`` (a Multi-AZ
    replication group with automatic failover)."""
    engine: CacheEngine = "valkey"
    """``valkey`` (default, Redis-compatible and cheaper) or ``redis``."""
    ttl: Duration | None = None
    """How long a search result is fresh (default: ``CacheTimings.ttl_seconds``, 5 minutes; ±10 % jitter is
    added)."""
    stale_window: Duration | None = None
    """How long after expiry a result may still be served while it is refreshed or when DynamoDB fails (default:
    ``CacheTimings.stale_seconds``, 10 minutes)."""
    negative_ttl: Duration | None = None
    """How long an empty result is cached (default: ``CacheTimings.negative_ttl_seconds``, 30 seconds)."""
    circuit_failure_threshold: int = CircuitBreakerSettings.failure_threshold
    """Consecutive cache failures after which searches stop calling the cache for ``circuit_cooldown`` (default 3)."""
    circuit_cooldown: Duration | None = None
    """How long an open circuit breaker bypasses the cache before one trial call (default:
    ``CircuitBreakerSettings.cooldown_seconds``, 30 seconds)."""
    timeout_ms: int = CacheConnectionSettings.timeout_ms
    """Socket timeout of every cache call, in milliseconds (default 50). A slower cache is bypassed."""
    connect_timeout_ms: int = CacheConnectionSettings.connect_timeout_ms
    """Timeout of setting a cache connection up, in milliseconds (default 1000): TCP connect, TLS handshake, AUTH with
    the IAM token and, in cluster mode, CLUSTER SLOTS. Separate from ``timeout_ms`` so that a cold container on a real
    network does not open the circuit breaker before its first command."""
    expected_peak_searches_per_second: float = 10.0
    """Serverless only: the peak search rate you expect (default 10/s, i.e. ~50k searches a day with a 15x peak over
    the daily average). The ECPU/s and data storage caps are derived from it with 5x headroom, and the cache alarms at
    75 % of each cap (see ``cache.serverless_limits``). Raise it with your traffic instead of hand-tuning the caps."""
    max_data_storage_gb: int | None = None
    """Serverless only: the data storage limit in GB (a cost cap). Default: derived from
    ``expected_peak_searches_per_second``."""
    max_ecpu_per_second: int | None = None
    """Serverless only: the ECPU/s limit (a cost cap; above it ElastiCache throttles). Default: derived from
    ``expected_peak_searches_per_second``."""
    node_type: str = "cache.t4g.small"
    """Provisioned only: the node type (default ``cache.t4g.small``)."""
    replicas: int = 1
    """Provisioned only: read replicas (at least 1, for Multi-AZ failover; default 1)."""
    port: int = 6380
    """Provisioned only: the port (default 6380; the default Redis port 6379 is refused)."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the prop and the fix when a combination is invalid."""
        if self.mode not in ("serverless", "provisioned"):
            raise _fail("cache.mode", f"{self.mode!r} is not a cache mode", "Use 'serverless' or 'provisioned'.")
        if self.engine not in ("valkey", "redis"):
            raise _fail("cache.engine", f"{self.engine!r} is not an engine", "Use 'valkey' or 'redis'.")
        if not _token(self.timeout_ms) and not 5 <= self.timeout_ms <= 1000:
            raise _fail("cache.timeout_ms", f"{self.timeout_ms} is out of range", "Use 5 to 1000 milliseconds.")
        least = 50 if _token(self.timeout_ms) else max(self.timeout_ms, 50)
        if not _token(self.connect_timeout_ms) and not least <= self.connect_timeout_ms <= 10_000:
            raise _fail("cache.connect_timeout_ms", f"{self.connect_timeout_ms} is out of range",
                        "Use 50 to 10000 milliseconds, and no less than timeout_ms.")  # fmt: skip
        if self.mode == "provisioned":
            if not _token(self.replicas) and self.replicas < 1:
                raise _fail("cache.replicas", "provisioned mode needs at least one replica for Multi-AZ failover",
                            "Set replicas >= 1.")  # fmt: skip
            if not _token(self.port) and (self.port == 6379 or not 1024 <= self.port <= 65535):
                raise _fail("cache.port", f"{self.port} is the default Redis port or out of range",
                            "Use a port from 1024 to 65535 other than 6379 (default 6380).")  # fmt: skip
        else:
            _literal("cache.max_ecpu_per_second", self.max_ecpu_per_second, "its alarm threshold (75 %)")
            _literal("cache.max_data_storage_gb", self.max_data_storage_gb, "its alarm threshold (75 %)")
            if self.max_ecpu_per_second is None or self.max_data_storage_gb is None:
                _literal("cache.expected_peak_searches_per_second", self.expected_peak_searches_per_second,
                         "the ECPU/s and data storage caps")  # fmt: skip
            if self.max_data_storage_gb is None:
                _literal("cache.ttl", self.ttl, "the data storage cap (unless max_data_storage_gb is given)")
                _literal("cache.stale_window", self.stale_window,
                         "the data storage cap (unless max_data_storage_gb is given)")  # fmt: skip
            if not _token(self.expected_peak_searches_per_second) and not (
                0 < self.expected_peak_searches_per_second <= 1_000_000
            ):
                raise _fail("cache.expected_peak_searches_per_second", "must be above 0",
                            "Give your expected peak search rate per second (up to 1000000).")  # fmt: skip
            if self.max_data_storage_gb is not None and not 1 <= self.max_data_storage_gb <= 5000:
                raise _fail("cache.max_data_storage_gb", "out of range", "Use 1 to 5000 GB.")
            if self.max_ecpu_per_second is not None and not 1000 <= self.max_ecpu_per_second <= 15_000_000:
                raise _fail("cache.max_ecpu_per_second", "out of range", "Use 1000 to 15000000.")
        for name in ("ttl", "stale_window", "negative_ttl", "circuit_cooldown"):
            value: Duration | None = getattr(self, name)
            _token_duration_in(f"cache.{name}", value, "seconds")  # the function reads whole seconds
            if value is not None and not _token(value) and value.to_milliseconds() < 1000:
                raise _fail(f"cache.{name}", "must be at least 1 second", "Use Duration.seconds(n) with n >= 1.")
        if not _token(self.circuit_failure_threshold) and not 1 <= self.circuit_failure_threshold <= 1000:
            raise _fail("cache.circuit_failure_threshold", f"{self.circuit_failure_threshold} is out of range",
                        "Use 1 to 1000 consecutive failures (default 3).")  # fmt: skip

    def timings(self) -> CacheTimings:
        """The search function's cache timings (the defaults of ``CacheTimings`` for what is not given)."""
        given = {"ttl_seconds": self.ttl, "stale_seconds": self.stale_window, "negative_ttl_seconds": self.negative_ttl}
        return CacheTimings(**{name: value.to_seconds() for name, value in given.items() if value is not None})

    def circuit_breaker(self) -> CircuitBreakerSettings:
        """The search function's circuit breaker."""
        cooldown = {} if self.circuit_cooldown is None else {"cooldown_seconds": self.circuit_cooldown.to_seconds()}
        return CircuitBreakerSettings(failure_threshold=self.circuit_failure_threshold, **cooldown)


@dataclass(frozen=True)
class Partner:
    """A client system: its own API key and usage plan (throttle and quota apply to its key only)."""

    name: str
    """A short name (letters, digits, '-', '_'): names the key and the plan."""
    rate_limit: float = 100
    """Steady-state requests per second of this partner's key (default 100)."""
    burst_limit: int = 200
    """Burst capacity of this partner's key (default 200)."""
    quota_limit: int | None = None
    """Optional number of requests per ``quota_period``."""
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    """Period of the quota (default DAY)."""


@dataclass(frozen=True)
class ThrottleOptions:
    """Throttling: stage and per-method limits from the expected total load, and one usage plan per partner key.

    API Gateway applies stage and method limits to all clients together, usage-plan limits to each API key: the stage
    limit is sized from ``expected_peak_rps`` (with headroom), every partner's plan stays below it, and ``POST
    /bookings`` gets its own lower method limit.
    """

    rate_limit: float = 100
    """Steady-state requests per second of the default key's usage plan (when ``partners`` is empty; default 100)."""
    burst_limit: int = 200
    """Burst capacity of the default key's usage plan (default 200)."""
    quota_limit: int | None = None
    """Optional number of requests per ``quota_period`` for the default key."""
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    """Period of the quota (default DAY)."""
    expected_peak_rps: float = 250
    """The expected peak load of all clients together, in requests per second (default 250: ~50k searches/day
    averages under 1 rps; 250 is the design's 100x with a peak factor). The stage limit is twice this, its burst twice
    that (default 500 rps / burst 1000)."""
    booking_rate_limit: float | None = None
    """Stage-wide method limit of ``POST /bookings`` in requests per second (default: a tenth of the stage limit)."""
    partners: tuple[Partner, ...] = ()
    """Partner systems, each with its own API key and usage plan. Default: one key with ``rate_limit``,
    ``burst_limit`` and the quota above."""

    @property
    def stage_rate_limit(self) -> float:
        """The stage-wide rate: twice the expected peak."""
        return self.expected_peak_rps * 2

    @property
    def stage_burst_limit(self) -> int:
        """The stage-wide burst: twice the stage rate."""
        return max(1, int(self.stage_rate_limit * 2))

    @property
    def booking_method_rate_limit(self) -> float:
        """The ``POST /bookings`` method rate (stage-wide)."""
        return self.booking_rate_limit if self.booking_rate_limit is not None else max(1.0, self.stage_rate_limit / 10)

    @property
    def effective_partners(self) -> tuple[Partner, ...]:
        """The partners, or the one default key when none is listed."""
        if self.partners:
            return self.partners
        return (Partner("default", self.rate_limit, self.burst_limit, self.quota_limit, self.quota_period),)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the prop and the fix when a value is invalid."""
        derived = "the stage and per-method limits"
        for name in ("rate_limit", "burst_limit", "expected_peak_rps", "booking_rate_limit"):
            _literal(f"throttle.{name}", getattr(self, name), derived)
        if self.rate_limit <= 0 or self.burst_limit < 1:
            raise _fail(
                "throttle", "rate_limit and burst_limit must be positive", "E.g. rate_limit=100, burst_limit=200."
            )
        if self.burst_limit < self.rate_limit:
            raise _fail("throttle.burst_limit", "is below rate_limit", "Set burst_limit >= rate_limit.")
        if self.quota_limit is not None and not _token(self.quota_limit) and self.quota_limit < 1:
            raise _fail("throttle.quota_limit", "must be at least 1", "Leave it None for no quota.")
        if self.quota_period not in ("DAY", "WEEK", "MONTH"):
            raise _fail("throttle.quota_period", f"{self.quota_period!r} is not a period", "Use DAY, WEEK or MONTH.")
        if self.expected_peak_rps <= 0:
            raise _fail("throttle.expected_peak_rps", "must be positive", "E.g. 250 (requests/s, all clients).")
        if self.booking_rate_limit is not None and not 0 < self.booking_rate_limit <= self.stage_rate_limit:
            raise _fail("throttle.booking_rate_limit", f"must be above 0 and at most the stage limit "
                        f"({self.stage_rate_limit:g} rps)", "Lower it, or raise expected_peak_rps.")  # fmt: skip
        names: set[str] = set()
        for index, partner in enumerate(self.effective_partners):
            prop = f"throttle.partners[{index}]" if self.partners else "throttle"
            if not partner.name or not partner.name.replace("-", "").replace("_", "").isalnum():
                raise _fail(f"{prop}.name", f"{partner.name!r} is not a valid name", "Use letters, digits, - and _.")
            if partner.name in names:
                raise _fail(f"{prop}.name", f"{partner.name!r} is listed twice", "Give each partner its own name.")
            names.add(partner.name)
            _literal(f"{prop}.rate_limit", partner.rate_limit, "the per-method limits of its plan")
            _literal(f"{prop}.burst_limit", partner.burst_limit, "the per-method limits of its plan")
            if partner.rate_limit <= 0 or partner.burst_limit < max(1, partner.rate_limit):
                raise _fail(f"{prop}.burst_limit", "rate must be positive and burst at least the rate",
                            "E.g. rate_limit=100, burst_limit=200.")  # fmt: skip
            if partner.rate_limit > self.stage_rate_limit or partner.burst_limit > self.stage_burst_limit:
                raise _fail(f"{prop}.rate_limit", f"{partner.rate_limit:g} rps / burst {partner.burst_limit} is above "
                            f"the stage limit ({self.stage_rate_limit:g} rps / burst {self.stage_burst_limit}), which "
                            "all clients share", "Lower it, or raise throttle.expected_peak_rps.")  # fmt: skip
            if partner.quota_limit is not None and not _token(partner.quota_limit) and partner.quota_limit < 1:
                raise _fail(f"{prop}.quota_limit", "must be at least 1", "Leave it None for no quota.")
            if partner.quota_period not in ("DAY", "WEEK", "MONTH"):
                raise _fail(
                    f"{prop}.quota_period", f"{partner.quota_period!r} is not a period", "Use DAY, WEEK or MONTH."
                )


@dataclass(frozen=True)
class AlarmOptions:
    """Alarm thresholds. Rates and percentiles, never averages."""

    api_5xx_rate_percent: float = 1.0
    """API 5xx responses as a percentage of requests over 5 minutes (default 1 %)."""
    api_p99_latency: Duration | None = None
    """API p99 latency (default 2 seconds)."""
    search_error_rate_percent: float = 1.0
    """Search function errors as a percentage of invocations (default 1 %)."""
    booking_error_rate_percent: float = 1.0
    """Booking function errors as a percentage of invocations (default 1 %)."""
    invalidation_iterator_age: Duration | None = None
    """How far the cache invalidation consumer may fall behind the table stream before it alarms (default 1 minute:
    searches serve stale availability for that long)."""
    api_throttled_rate_percent: float = 1.0
    """API 429 answers (throttled by a usage plan or the stage) as a percentage of requests (default 1 %)."""
    cache_errors_per_5_minutes: int = 50
    """Cache call failures per 5 minutes (EMF ``CacheError``, default 50)."""
    evaluation_periods: int = 3
    """5-minute periods evaluated (default 3); ``datapoints_to_alarm`` of them must breach."""
    datapoints_to_alarm: int = 2
    """Breaching periods that raise the alarm (default 2)."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the prop and the fix when a value is invalid."""
        for name in ("api_5xx_rate_percent", "search_error_rate_percent", "booking_error_rate_percent",
                     "api_throttled_rate_percent"):  # fmt: skip
            value = getattr(self, name)
            if not _token(value) and not 0 < value <= 100:
                raise _fail(f"alarms.{name}", f"{value} is not a percentage", "Use a value in (0, 100].")
        for name in ("api_p99_latency", "invalidation_iterator_age"):  # alarm thresholds in milliseconds
            _token_duration_in(f"alarms.{name}", getattr(self, name), "milliseconds")
        age = self.invalidation_iterator_age
        if age is not None and not _token(age) and age.to_seconds() < 1:
            raise _fail("alarms.invalidation_iterator_age", "must be at least 1 second", "E.g. Duration.minutes(1).")
        if not _token(self.cache_errors_per_5_minutes) and self.cache_errors_per_5_minutes < 1:
            raise _fail("alarms.cache_errors_per_5_minutes", "must be at least 1", "E.g. 50.")
        periods, datapoints = self.evaluation_periods, self.datapoints_to_alarm
        if _token(periods) or _token(datapoints):  # what can be checked: a literal one is at least 1
            if any(not _token(value) and value < 1 for value in (periods, datapoints)):
                raise _fail("alarms.datapoints_to_alarm", "must be between 1 and evaluation_periods",
                            "E.g. evaluation_periods=3, datapoints_to_alarm=2.")  # fmt: skip
        elif not 1 <= datapoints <= periods:
            raise _fail("alarms.datapoints_to_alarm", "must be between 1 and evaluation_periods",
                        "E.g. evaluation_periods=3, datapoints_to_alarm=2.")  # fmt: skip
