"""Table stream → cache invalidation: bumps the generation of every night (or whole destination) that changed.

Runs in the VPC (it talks to the cache). A failure raises, so Lambda retries the batch (bisecting it) and finally
sends it to the on-failure destination; searches meanwhile keep serving until the TTL ends.
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
from ..invalidation_scopes import stale_scopes
from ..redis_client import LazyClient
from ..settings import InvalidationSettings

logger = Logger()
metrics = leveled_metrics()


@cache
def search_cache() -> SearchCache:
    """The process-wide cache client."""
    settings = InvalidationSettings.from_environment()
    return SearchCache(LazyClient(settings.cache.redis_settings()))  # bumps generations only: no timings needed


def invalidate(records: list[dict[str, Any]], cache_: SearchCache) -> set[tuple[str, str]]:
    """Bump the generation of every scope the records make stale; returns the scopes, ``(destination tag, night
    yyyy-mm-dd or ALL_NIGHTS)``. The one entry point for every path that changes inventory or listings."""
    scopes = stale_scopes(records)
    cache_.bump_generations(scopes)
    return scopes


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
