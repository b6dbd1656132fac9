"""``GET /search``: validated query → cache-aside search → JSON with ``X-Cache``, EMF metrics, search.completed line."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import config, metric_names, tracing
from ..cache import SearchCache
from ..circuit import CircuitBreaker
from ..emf import leveled_metrics
from ..http import create_resolver, json_response
from ..models import SearchQuery, parse_or_400
from ..redis_client import LazyClient
from ..repository import ListingRepository
from ..search_service import CacheStatus, SearchService
from ..settings import SearchSettings

logger = Logger()
metrics = leveled_metrics()
app = create_resolver(logger)

_CACHE_METRICS = {
    CacheStatus.HIT: metric_names.CACHE_HIT,
    CacheStatus.MISS: metric_names.CACHE_MISS,
    CacheStatus.STALE: metric_names.CACHE_STALE,
    CacheStatus.BYPASS: metric_names.CACHE_BYPASS,
}


@cache
def search_service() -> SearchService:
    """The process-wide service: one Redis client, one DynamoDB client, one breaker (reused across invocations)."""
    settings = SearchSettings.from_environment()
    breaker = CircuitBreaker(
        failure_threshold=settings.circuit_breaker.failure_threshold,
        cooldown_seconds=settings.circuit_breaker.cooldown_seconds,
        on_open=lambda: metrics.add_metric(name=metric_names.CIRCUIT_OPEN, unit=MetricUnit.Count, value=1),
    )
    # built on the first miss: a cache hit needs no DynamoDB client; its retries fit the function's time budget
    dynamodb = config.LazyDynamoDBClient(
        settings.dynamodb, function_timeout_seconds=settings.timeout_seconds, cache=settings.cache
    )
    policy = settings.timings.policy(load_worst_case_seconds=config.load_worst_case_seconds(dynamodb.client_config))
    cache_ = SearchCache(LazyClient(settings.cache.redis_settings()), policy)
    repository = ListingRepository(dynamodb, settings.table_name)
    return SearchService(repository, cache_, breaker)


@app.get("/search")
def search() -> Response[str]:
    """Search available listings (contract: BRIEF §3)."""
    started = time.perf_counter()
    metrics.add_metric(name=metric_names.SEARCH_REQUEST, unit=MetricUnit.Count, value=1)
    query = parse_or_400(SearchQuery, app.current_event.query_string_parameters or {})
    context = app.lambda_context
    outcome = search_service().search(query, getattr(context, "get_remaining_time_in_millis", None))
    latency_ms = round((time.perf_counter() - started) * 1000, 2)

    metrics.add_metric(name=_CACHE_METRICS[outcome.cache], unit=MetricUnit.Count, value=1)
    if outcome.cache_errors:
        metrics.add_metric(name=metric_names.CACHE_ERROR, unit=MetricUnit.Count, value=outcome.cache_errors)
    metrics.add_metric(name=metric_names.SEARCH_LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
    check_in, check_out = query.stay
    logger.info(
        config.SEARCH_COMPLETED_MESSAGE,
        extra={
            config.SEARCH_COMPLETED_FIELD: {
                "queryHash": outcome.query_hash,
                "destination": query.destination.strip(),
                "checkIn": check_in.isoformat(),
                "checkOut": check_out.isoformat(),
                "guests": query.guests,
                "resultCount": outcome.result_count,
                "cache": outcome.cache.value,
                "latencyMs": latency_ms,
            }
        },
    )
    return json_response(200, outcome.body, headers={"X-Cache": outcome.cache.value})


@logger.inject_lambda_context(log_event=False)
@tracing.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (API Gateway REST proxy integration)."""
    return app.resolve(event, context)
