"""Table stream → search cache: writes what each listing can sell through to its destination's month, and bumps the
catalogue generation of every destination whose listings changed (runtime/cache.py, runtime/invalidation_scopes.py).

Runs in the VPC (it talks to the cache). A failure raises, so Lambda retries the batch (bisecting it) and finally
sends it to the on-failure destination; searches meanwhile keep being served from what the cache holds until its TTL.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import metric_names
from ..cache import SearchCache
from ..emf import leveled_metrics
from ..invalidation_scopes import cache_changes
from ..redis_client import LazyClient
from ..settings import InvalidationSettings

logger = Logger()
metrics = leveled_metrics()


@cache
def search_cache() -> SearchCache:
    """The process-wide cache client. Default timings: a hash it creates (no marker: never served before a fill, whose
    own expiry replaces it) expires after the default TTL + stale window."""
    settings = InvalidationSettings.from_environment()
    return SearchCache(LazyClient(settings.cache.redis_settings()))


def invalidate(records: list[dict[str, Any]], cache_: SearchCache) -> set[tuple[str, str]]:
    """Write the records' changes through to the cache; returns the scopes changed, ``(destination tag, yyyy-mm or
    ALL_NIGHTS)``. The one entry point for every path that changes inventory or listings (Lambda, local mode, bench).

    Records are applied in order: DynamoDB Streams delivers the records of one item in the order of its writes, and
    the event source mapping keeps that order per partition key, so the last value written is the newest."""
    changes = cache_changes(records)
    cache_.write_through(changes.month_writes, changes.destinations)
    return changes.scopes


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point (DynamoDB stream event source mapping)."""
    scopes = invalidate(event.get("Records", []), search_cache())
    metrics.add_metric(name=metric_names.CACHE_INVALIDATIONS, unit=MetricUnit.Count, value=len(scopes))
    destinations = len({tag for tag, _ in scopes})
    logger.info(
        "invalidated",
        extra={"scopes": len(scopes), "destinations": destinations, "records": len(event.get("Records", []))},
    )
    return {"invalidated": len(scopes)}
