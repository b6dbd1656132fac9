"""The Redis/Valkey client: plain URL locally, TLS + IAM authentication in AWS, cluster-aware when asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider
from redis.exceptions import AuthenticationError, RedisClusterException, RedisError
from redis.retry import Retry

RedisLike = Redis | RedisCluster

#: Everything a cache call may raise: redis-py's cluster errors (slot coverage, topology) are not ``RedisError``s.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException)

#: ElastiCache accepts an IAM auth token for 15 minutes; sign a new one well before that.
TOKEN_LIFETIME_SECONDS = 900
TOKEN_REFRESH_SECONDS = 600


class ElastiCacheIamCredentialProvider(CredentialProvider):
    """Supplies ``(user id, IAM auth token)`` for ElastiCache IAM authentication.

    The token is a SigV4-presigned ``connect`` request, signed locally with the function's credentials (no network
    call, no secret), cached and re-signed every ``TOKEN_REFRESH_SECONDS``.
    """

    def __init__(
        self,
        *,
        user_id: str,
        cache_name: str,
        region: str,
        serverless: bool,
        credentials_loader: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.user_id = user_id
        self.cache_name = cache_name
        self.region = region
        self.serverless = serverless
        self._credentials_loader = credentials_loader or _session_credentials
        self._clock = clock
        self._token: str | None = None
        self._signed_at = 0.0
        self._lock = threading.Lock()

    def get_credentials(self) -> tuple[str, str]:
        """The user id and a valid token (redis-py calls this on every new connection).

        A signing failure (no credentials, botocore error) is raised as redis-py's ``AuthenticationError``: redis-py
        closes a half-set-up connection only on its own errors, and would otherwise hand the open, unauthenticated
        socket to the next command.
        """
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._signed_at >= TOKEN_REFRESH_SECONDS:
                try:
                    self._token = self.sign_token()
                except Exception as exc:
                    raise AuthenticationError(f"cannot sign the cache IAM auth token: {exc}") from exc
                self._signed_at = now
            return self.user_id, self._token

    def sign_token(self) -> str:
        """A fresh IAM auth token for this cache and user."""
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        query = f"Action=connect&User={quote(self.user_id, safe='')}"
        if self.serverless:
            query += "&ResourceType=ServerlessCache"
        request = AWSRequest(method="GET", url=f"http://{self.cache_name}/?{query}")
        SigV4QueryAuth(self._credentials_loader(), "elasticache", self.region, expires=TOKEN_LIFETIME_SECONDS).add_auth(
            request
        )
        return str(request.url).removeprefix("http://")


def _session_credentials() -> object:
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found to sign the cache IAM auth token")
    return credentials.get_frozen_credentials()


@dataclass(frozen=True)
class RedisSettings:
    """How to reach the cache. Either ``url`` (local/test) or ``host`` + IAM settings (AWS)."""

    url: str | None = None
    host: str | None = None
    port: int = 6379
    user_id: str | None = None
    cache_name: str | None = None
    region: str | None = None
    serverless: bool = True
    cluster: bool = False
    socket_timeout_ms: int = 50
    connect_timeout_ms: int = 250


def create_client(settings: RedisSettings) -> RedisLike:
    """A client with tight timeouts and no retry loop: the circuit breaker, not retries, handles a slow cache.

    ``RedisCluster`` contacts the cluster when built, so call this where a failure is handled (lazily).
    """
    common: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_ms / 1000,
        "socket_connect_timeout": settings.connect_timeout_ms / 1000,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
        "health_check_interval": 0,
    }
    if settings.url:
        if settings.cluster:
            return RedisCluster.from_url(settings.url, **common)
        return Redis.from_url(settings.url, **common)
    if not (settings.host and settings.user_id and settings.cache_name and settings.region):
        raise ValueError("cache settings need either a URL or host, user id, cache name and region")
    provider = ElastiCacheIamCredentialProvider(
        user_id=settings.user_id,
        cache_name=settings.cache_name,
        region=settings.region,
        serverless=settings.serverless,
    )
    tls: dict[str, Any] = {"ssl": True, "credential_provider": provider}
    if settings.cluster:
        return RedisCluster(host=settings.host, port=settings.port, **tls, **common)
    return Redis(host=settings.host, port=settings.port, **tls, **common)


class LazyClient:
    """Builds the client on first use, so a cache that is down at start-up fails a request, not the import."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._client: RedisLike | None = None
        self._lock = threading.Lock()

    def get(self) -> RedisLike:
        """The client, created if needed (may raise a ``RedisError``)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = create_client(self.settings)
        return self._client

    def reset(self) -> None:
        """Drop the client (e.g. after the cluster's topology failed to load) so the next use rebuilds it."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
