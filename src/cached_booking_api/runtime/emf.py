"""Which EMF metrics the handlers publish: the ones an alarm or the hit ratio reads always, the others on request.

Every metric name is a CloudWatch custom metric, billed $0.30 a month prorated by the hours in which it has data. The
construct sets ``EMF_DETAILED_METRICS`` from ``ObservabilityOptions.detailed_metrics`` (default ``false``): then a
handler publishes only ``ALARMED`` and drops the rest (request counts and latencies that API Gateway and Lambda already
publish for free, the booking counts the analytics sink also holds). Standard library only at import: the construct
reads ``DETAILED_METRICS_ENV`` from here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import metric_names

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

DETAILED_METRICS_ENV = "EMF_DETAILED_METRICS"
"""``true``: publish every metric; anything else (or unset): only ``ALARMED``."""

ALARMED = frozenset(
    {
        metric_names.CACHE_HIT,
        metric_names.CACHE_MISS,
        metric_names.CACHE_STALE,
        metric_names.CACHE_ERROR,
        metric_names.CIRCUIT_OPEN,
    }
)
"""Read by the construct's alarms (CacheErrors, CacheCircuitOpen) or the cache hit ratio."""


def detailed() -> bool:
    """Whether this function publishes every metric (read per call: tests and the local mode may change it)."""
    return os.environ.get(DETAILED_METRICS_ENV, "").strip().lower() == "true"


def leveled_metrics() -> Metrics:
    """A Powertools ``Metrics`` that drops the metrics outside ``ALARMED`` unless ``EMF_DETAILED_METRICS=true``."""
    import warnings

    from aws_lambda_powertools import Metrics

    # An invocation that published nothing (a booking without detailed metrics) is not a mistake here.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    class LeveledMetrics(Metrics):
        def add_metric(self, name: str, unit: Any, value: float, resolution: Any = 60) -> None:
            if name in ALARMED or detailed():
                super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    return LeveledMetrics()
