"""Environment variables the construct sets and the handlers read: one list, so names cannot drift apart.

The construct imports this module, so at module level it imports the standard library only (no redis, no pydantic).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import CachePolicy
    from .redis_client import RedisSettings
    from .settings import CacheConnectionSettings, DynamoDBSettings

TABLE_NAME = "TABLE_NAME"
IDEMPOTENCY_TABLE_NAME = "IDEMPOTENCY_TABLE_NAME"
DYNAMODB_ENDPOINT = "DYNAMODB_ENDPOINT"  # local mode and tests only
DYNAMODB_READ_TIMEOUT_SECONDS = "DYNAMODB_READ_TIMEOUT_SECONDS"
FUNCTION_TIMEOUT_SECONDS = "FUNCTION_TIMEOUT_SECONDS"  # the function's own timeout: the budget its clients fit in
#: DynamoDB calls of one search load (a cache fill, or ``ListingRepository.find_available``): the catalogue (listings)
#: Query, then the inventory Query. Each may take the client's whole worst case, so a load's worst case is this many
#: times one call's. (A destination whose listings or inventory exceed a 1 MB Query page, ~800 listings, pages into
#: more calls.)
SEARCH_LOAD_CALLS = 2
#: Cache round trips of one search miss at most, each up to the command timeout: the read pipeline, SET NX (lock), the
#: re-read under the lock, SET NX GET (a missing generation), WATCH (the months' change-time and hash keys), MGET (their
#: change times), the fill's MULTI/.../EXEC (catalogue SET and months), then the unlock: WATCH, GET, MULTI/DEL/EXEC.
#: Counted on the wire by test_time_budget's costliest-miss test.
CACHE_ROUND_TRIPS_PER_MISS = 10
#: Kept aside from the search function's timeout for building and returning the response.
RESPONSE_MARGIN_SECONDS = 0.5
CACHE_URL = "CACHE_URL"  # local mode and tests only: redis://host:port, no IAM
CACHE_ENDPOINT = "CACHE_ENDPOINT"
CACHE_PORT = "CACHE_PORT"
CACHE_USER_ID = "CACHE_USER_ID"
CACHE_NAME = "CACHE_NAME"
CACHE_SERVERLESS = "CACHE_SERVERLESS"
CACHE_CLUSTER_MODE = "CACHE_CLUSTER_MODE"
CACHE_TTL_SECONDS = "CACHE_TTL_SECONDS"
CACHE_STALE_SECONDS = "CACHE_STALE_SECONDS"
CACHE_NEGATIVE_TTL_SECONDS = "CACHE_NEGATIVE_TTL_SECONDS"
CACHE_TIMEOUT_MS = "CACHE_TIMEOUT_MS"
CACHE_CONNECT_TIMEOUT_MS = "CACHE_CONNECT_TIMEOUT_MS"
CIRCUIT_FAILURE_THRESHOLD = "CIRCUIT_FAILURE_THRESHOLD"
CIRCUIT_COOLDOWN_SECONDS = "CIRCUIT_COOLDOWN_SECONDS"
EVENT_BUS_NAME = "EVENT_BUS_NAME"
EVENT_SOURCE = "EVENT_SOURCE"
DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"
#: Comma-separated EventBridge sources whose inventory.updated events the inbound consumer applies (its rule matches
#: the same list; the handler checks again).
INVENTORY_SOURCES = "INVENTORY_SOURCES"
#: Comma-separated exact origins allowed by CORS (the construct's ``cors_allowed_origins``; empty: no CORS headers).
CORS_ALLOWED_ORIGINS = "CORS_ALLOWED_ORIGINS"
#: Request headers a browser may send (preflight, Lambda responses and gateway responses list the same).
CORS_ALLOW_HEADERS = (
    "Content-Type", "x-api-key", "Idempotency-Key", "Authorization", "X-Amz-Date", "X-Amz-Security-Token",
)  # fmt: skip


def cors_allowed_origins(env: Mapping[str, str] = os.environ) -> list[str]:
    """The exact origins CORS allows (none when unset): ``CORS_ALLOWED_ORIGINS`` as the settings classes read it."""
    from .settings import parse_origins

    return list(parse_origins(env.get(CORS_ALLOWED_ORIGINS, "")))


#: Cancellation closes this many seconds before 00:00 UTC of the check-in day (unset: cancellation always open).
CANCELLATION_CUTOFF_SECONDS = "CANCELLATION_CUTOFF_SECONDS"

#: The message of the structured log line that carries a search.completed event (the subscription filter matches it).
SEARCH_COMPLETED_MESSAGE = "search.completed"
#: The log field holding the event detail.
SEARCH_COMPLETED_FIELD = "search_completed"
SEARCH_COMPLETED_FILTER_PATTERN = '{ $.message = "search.completed" }'
DEFAULT_EVENT_SOURCE = "booking.platform"


def redis_settings(env: Mapping[str, str] = os.environ) -> RedisSettings:
    """Cache connection settings from the environment (``settings.CacheConnectionSettings``)."""
    from .settings import CacheConnectionSettings

    return CacheConnectionSettings.from_environment(env).redis_settings()


def cache_policy(env: Mapping[str, str] = os.environ, *, load_worst_case_seconds: float | None = None) -> CachePolicy:
    """Cache timings from the environment (``settings.CacheTimings``).

    ``load_worst_case_seconds`` (see the function of that name: all DynamoDB calls of a load) sets the single-flight
    lock's lifetime, and so how long identical misses wait for the one request that loads: the lock must not expire
    while its holder's DynamoDB client may still be retrying, or every waiter loads too.
    """
    from .settings import CacheTimings

    return CacheTimings.from_environment(env).policy(load_worst_case_seconds=load_worst_case_seconds)


def dynamodb_worst_case_seconds(client_config: Any) -> float:
    """The longest one call of a botocore client with ``client_config`` can take before it gives up.

    Every attempt may spend its connect and read timeouts, and botocore's standard retry mode sleeps up to
    ``min(2 ** i, 20)`` seconds before retry ``i`` (1 s base scale for throttling, the worst case). Note that botocore's
    ``retries={"max_attempts": 3}`` means 3 *retries*: ``total_max_attempts`` is 4.
    """
    retries = dict(client_config.retries or {})
    attempts = int(retries.get("total_max_attempts") or int(retries.get("max_attempts", 2)) + 1)
    per_attempt = float(client_config.connect_timeout) + float(client_config.read_timeout)
    backoff = sum(min(2.0 ** (retry - 1), 20.0) for retry in range(1, attempts))
    return attempts * per_attempt + backoff


def load_worst_case_seconds(client_config: Any) -> float:
    """The longest a search load (all its ``SEARCH_LOAD_CALLS`` DynamoDB calls) can take before the client gives up:
    how long the single-flight lock must live."""
    return SEARCH_LOAD_CALLS * dynamodb_worst_case_seconds(client_config)


def cache_worst_case_seconds(env: Mapping[str, str] | CacheConnectionSettings = os.environ) -> float:
    """The longest the cache calls of one search miss can take: connection set-up (the connect timeout) and
    ``CACHE_ROUND_TRIPS_PER_MISS`` commands of up to the command timeout each (no retries: see redis_client).

    ``env``: the environment, or the search function's ``CacheConnectionSettings``.
    """
    from .settings import CacheConnectionSettings

    cache = env if isinstance(env, CacheConnectionSettings) else CacheConnectionSettings.from_environment(env)
    return (cache.connect_timeout_ms + CACHE_ROUND_TRIPS_PER_MISS * cache.timeout_ms) / 1000


def load_budget_seconds(
    function_timeout_seconds: float, env: Mapping[str, str] | CacheConnectionSettings = os.environ
) -> float:
    """What a search function's timeout leaves for a load: minus the cache's worst case and the response margin."""
    return function_timeout_seconds - cache_worst_case_seconds(env) - RESPONSE_MARGIN_SECONDS


def dynamodb_client_config(
    dynamodb: DynamoDBSettings,
    *,
    function_timeout_seconds: float | None,
    cache: CacheConnectionSettings | None = None,
) -> dict[str, Any]:
    """The botocore ``Config`` arguments of the DynamoDB client: short timeouts, standard retries; with a
    ``function_timeout_seconds`` (the search function's), as many retries as let a whole search load fit in it
    after the worst case of ``cache`` (3 retries without one)."""
    from .settings import CacheConnectionSettings

    settings: dict[str, Any] = {
        "connect_timeout": 1,
        "read_timeout": dynamodb.read_timeout_seconds,
        "retries": {"max_attempts": 3, "mode": "standard"},
        "max_pool_connections": 50,  # one request per process in Lambda; many threads share it in the local mode
    }
    if function_timeout_seconds is not None:
        settings["retries"]["max_attempts"] = _retries_within(
            function_timeout_seconds, settings, cache or CacheConnectionSettings()
        )
    return settings


def dynamodb_client_settings(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """``dynamodb_client_config`` from the environment (fitted in ``FUNCTION_TIMEOUT_SECONDS`` only when it is set)."""
    from .settings import CacheConnectionSettings, DynamoDBSettings

    timeout = env.get(FUNCTION_TIMEOUT_SECONDS)
    return dynamodb_client_config(
        DynamoDBSettings.from_environment(env),
        function_timeout_seconds=float(timeout) if timeout else None,
        cache=CacheConnectionSettings.from_environment(env),
    )


def _retries_within(
    function_timeout_seconds: float, settings: Mapping[str, Any], cache: CacheConnectionSettings
) -> int:
    """The most retries (up to 3) with which a whole search load (``SEARCH_LOAD_CALLS`` calls, each in its worst
    case) fits in the function's timeout after the cache's worst case and the response margin.

    So the client gives up, and the search answers (stale entry or 503), before Lambda stops the invocation; and the
    single-flight lock, which lives as long as a whole load, expires before its holder's timeout.
    """
    from types import SimpleNamespace

    budget = load_budget_seconds(function_timeout_seconds, cache)
    for retries in range(3, -1, -1):
        candidate = SimpleNamespace(**{**settings, "retries": {"max_attempts": retries}})
        if load_worst_case_seconds(candidate) <= budget:
            return retries
    raise ValueError(
        f"{FUNCTION_TIMEOUT_SECONDS}={function_timeout_seconds:g}: a search load ({SEARCH_LOAD_CALLS} DynamoDB calls"
        f" of one {settings['connect_timeout']} s connect + {settings['read_timeout']} s read attempt each) does not"
        f" fit in the timeout after the cache's worst case ({cache_worst_case_seconds(cache):g} s: connect timeout +"
        f" {CACHE_ROUND_TRIPS_PER_MISS} commands) and a {RESPONSE_MARGIN_SECONDS:g} s margin; raise the timeout or"
        f" lower {DYNAMODB_READ_TIMEOUT_SECONDS}, {CACHE_CONNECT_TIMEOUT_MS} or {CACHE_TIMEOUT_MS}"
    )


def dynamodb_client(
    dynamodb: DynamoDBSettings | None = None,
    *,
    function_timeout_seconds: float | None = None,
    cache: CacheConnectionSettings | None = None,
) -> Any:
    """A DynamoDB client with short timeouts and standard retries (pointed at DynamoDB Local when configured).

    ``dynamodb`` None: ``DynamoDBSettings`` from the environment. See ``dynamodb_client_config`` for the rest.
    """
    import boto3
    from botocore.config import Config

    from .settings import DynamoDBSettings

    dynamodb = dynamodb or DynamoDBSettings.from_environment()
    config = Config(**dynamodb_client_config(dynamodb, function_timeout_seconds=function_timeout_seconds, cache=cache))
    return boto3.client("dynamodb", endpoint_url=dynamodb.endpoint or None, config=config)


class LazyDynamoDBClient:
    """A DynamoDB client built on first use: a search answered from the cache never loads boto3 or builds a client
    (~100 ms of a cold start). Attribute access is forwarded to the real client."""

    def __init__(
        self,
        dynamodb: DynamoDBSettings,
        *,
        function_timeout_seconds: float | None,
        cache: CacheConnectionSettings | None = None,
    ) -> None:
        self._settings = dynamodb
        self._budget: dict[str, Any] = {"function_timeout_seconds": function_timeout_seconds, "cache": cache}
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client_config(self) -> Any:
        """The client's timeouts and retries (as ``client.meta.config`` has them) without building the client."""
        from types import SimpleNamespace

        return SimpleNamespace(**dynamodb_client_config(self._settings, **self._budget))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = dynamodb_client(self._settings, **self._budget)
        return getattr(self._client, name)


def inventory_sources(env: Mapping[str, str] = os.environ) -> list[str]:
    """The sources allowed to send inventory.updated events (none when unset)."""
    return [source.strip() for source in env.get(INVENTORY_SOURCES, "").split(",") if source.strip()]
