"""Cost levers of observability: the X-Ray sampling rule of the API, the log levels of every function, which EMF
metrics the handlers publish, and the optional dashboard.

Tracing stays on (API Gateway stage tracing, Lambda active tracing); what is recorded is set by an X-Ray sampling rule
for the API's stage: by default no reservoir and 5 % of requests, which at the design load (51k requests/day) records
~77k traces a month - inside X-Ray's free 100k - where X-Ray's default rule (1 request/s + 5 %) would record nearly
every request (~$7/month). Handlers load the X-Ray SDK only for sampled requests (``runtime/tracing.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_xray as xray
from constructs import Construct

from .tokens import unresolved

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
SystemLogLevel = Literal["DEBUG", "INFO", "WARN"]
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
#: The search function writes each search.completed event as an INFO line: it never logs above INFO.
SEARCH_MAX_LOG_LEVEL: LogLevel = "INFO"


@dataclass(frozen=True)
class ObservabilityOptions:
    """What is traced and logged (and so what CloudWatch and X-Ray bill)."""

    trace_sampling_rate: float = 0.05
    """Share of API requests traced after the reservoir (0..1). Default 5 %."""
    trace_reservoir_per_second: int = 0
    """Requests traced per second before the rate applies (X-Ray's own default rule has 1). Default 0."""
    trace_sampling_priority: int = 1000
    """Priority of the sampling rule among the account's rules (1..9999; X-Ray's default rule is 10000)."""
    log_level: LogLevel = "INFO"
    """Application log level of the functions (Powertools). The search function never goes above INFO, the level
    of its search.completed event lines."""
    system_log_level: SystemLogLevel = "WARN"
    """Lambda platform log level: WARN drops the START/END/REPORT lines of every invocation (~0.3 KB each); the same
    figures are in Lambda's own CloudWatch metrics. Use INFO to keep them."""

    detailed_metrics: bool = False
    """Publish every EMF metric (SearchRequest, SearchLatency, CacheBypass, the booking counts, CacheInvalidations) and
    not only the ones an alarm or the hit ratio reads (CacheHit, CacheMiss, CacheStale, CacheError, CircuitOpen).
    Each metric name is a CloudWatch custom metric ($0.30 a month, prorated by the hours it has data); the detailed
    ones repeat what API Gateway and Lambda publish for free. Default False (~$0.90 instead of ~$3.30 a month)."""
    dashboard: bool = False
    """Create a CloudWatch dashboard ($3 a month; an account's first three are free). Default False: the alarms are
    the guarantee, and the API Gateway, Lambda and ElastiCache consoles graph the same metrics."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the prop and the fix. A token (known at deploy time only) is not checked, as
        aws-cdk-lib does: the sampling rule takes it as it is."""
        rate, reservoir, priority = (self.trace_sampling_rate, self.trace_reservoir_per_second,
                                     self.trace_sampling_priority)  # fmt: skip
        if not unresolved(rate) and not 0 <= rate <= 1:
            raise ValueError(
                f"observability.trace_sampling_rate must be within 0..1 (a share, 0.05 = 5 %), "
                f"got {self.trace_sampling_rate}"
            )
        if not unresolved(reservoir) and reservoir < 0:
            raise ValueError(
                f"observability.trace_reservoir_per_second must be >= 0, got {self.trace_reservoir_per_second}"
            )
        if not unresolved(priority) and not 1 <= priority <= 9999:
            raise ValueError(
                f"observability.trace_sampling_priority must be within 1..9999, got {self.trace_sampling_priority}"
            )
        if self.log_level not in _LOG_LEVELS:
            raise ValueError(f"observability.log_level must be one of {', '.join(_LOG_LEVELS)}, got {self.log_level!r}")
        if self.system_log_level not in _SYSTEM_LOG_LEVELS:
            raise ValueError(
                f"observability.system_log_level must be one of {', '.join(_SYSTEM_LOG_LEVELS)}, "
                f"got {self.system_log_level!r}"
            )


def sampling_rule(
    scope: Construct, options: ObservabilityOptions, *, rest_api_name: str, stage_name: str
) -> xray.CfnSamplingRule:
    """The X-Ray sampling rule of the API's stage (service name ``{api-name}/{stage-name}``)."""
    digest = hashlib.sha256(scope.node.path.encode()).hexdigest()[:16]
    return xray.CfnSamplingRule(
        scope,
        "TraceSampling",
        sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
            rule_name=f"cba-{digest}",  # at most 32 characters, unique per construct path
            priority=options.trace_sampling_priority,
            fixed_rate=options.trace_sampling_rate,
            reservoir_size=options.trace_reservoir_per_second,
            service_name=f"{rest_api_name}/{stage_name}",
            service_type="AWS::ApiGateway::Stage",
            host="*",
            http_method="*",
            url_path="*",
            resource_arn="*",
            version=1,
        ),
    )


def application_log_level(options: ObservabilityOptions, *, search: bool = False) -> str:
    """The application (Powertools) log level of a function: ``options.log_level``, at most INFO for the search
    function (its search.completed events are INFO lines)."""
    level: str = options.log_level
    if search and _LOG_LEVELS.index(level) > _LOG_LEVELS.index(SEARCH_MAX_LOG_LEVEL):
        level = SEARCH_MAX_LOG_LEVEL
    return level


def detailed_metrics_flag(options: ObservabilityOptions) -> str:
    """The handlers' ``EMF_DETAILED_METRICS`` environment value."""
    return "true" if options.detailed_metrics else "false"


def system_log_level(options: ObservabilityOptions) -> lambda_.SystemLogLevel:
    """The Lambda platform log level of every function."""
    return lambda_.SystemLogLevel(options.system_log_level)
