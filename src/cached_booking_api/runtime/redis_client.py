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
from redis.connection import Connection, ConnectionPool, SSLConnection
from redis.credentials import CredentialProvider
from redis.exceptions import AuthenticationError, RedisClusterException, RedisError
from redis.retry import Retry

from .settings import CacheConnectionSettings

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


#: Replies that belong to setting a client up, not to serving a request: the cluster client's topology discovery.
SETUP_COMMANDS = frozenset({"CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER NODES", "COMMAND"})


class _SetupTimeout:
    """Connection set-up under ``socket_connect_timeout``; commands under ``socket_timeout``.

    redis-py sets ``socket_timeout`` on the socket right after the TCP connect, so the TLS handshake, AUTH/HELLO with
    the IAM token and CLIENT SETINFO ran under the 50 ms command timeout, as did the cluster client's CLUSTER SLOTS:
    on a cold container on a real network the breaker could open before the first command. Here the whole set-up (and
    each topology-discovery reply) gets the connect timeout; the command timeout applies once it is done. A set-up
    that fails in any way (even with a non-redis error) closes the socket, so a half-authenticated connection is
    never handed to a command.
    """

    _sock: Any
    _parser: Any
    socket_timeout: float | None
    socket_connect_timeout: float | None
    _setup_reply = False

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        if self._sock:
            return
        command_timeout = self.socket_timeout
        self.socket_timeout = self.socket_connect_timeout  # what redis-py applies after the TCP connect
        try:
            super().connect_check_health(  # type: ignore[misc]
                check_health=check_health, retry_socket_connect=retry_socket_connect
            )
        except BaseException:
            self.disconnect()
            raise
        finally:
            self.socket_timeout = command_timeout
        self._apply_timeout(command_timeout)

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        super().disconnect(*args, **kwargs)  # type: ignore[misc]

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._setup_reply = bool(args) and str(args[0]).upper() in SETUP_COMMANDS
        super().send_command(*args, **kwargs)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        if not self._setup_reply:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        self._apply_timeout(self.socket_connect_timeout)
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._setup_reply = False
            self._apply_timeout(self.socket_timeout)

    def _apply_timeout(self, timeout: float | None) -> None:
        """Set ``timeout`` on the socket and on the parser's buffer (which restores it after non-blocking reads)."""
        if self._sock is not None:
            self._sock.settimeout(timeout)
        buffer = getattr(self._parser, "_buffer", None)
        if buffer is not None:
            buffer.socket_timeout = timeout


class SetupTimeoutConnection(_SetupTimeout, Connection):
    """A TCP connection whose set-up runs under the connect timeout (see ``_SetupTimeout``)."""


class SetupTimeoutSSLConnection(_SetupTimeout, SSLConnection):
    """A TLS connection whose set-up (handshake included) runs under the connect timeout (see ``_SetupTimeout``)."""


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
    socket_timeout_ms: int = CacheConnectionSettings.timeout_ms
    """Timeout of every command (a slower cache is bypassed)."""
    connect_timeout_ms: int = CacheConnectionSettings.connect_timeout_ms
    """Timeout of connection set-up: TCP connect, TLS handshake, AUTH with the IAM token, CLUSTER SLOTS."""


def create_client(settings: RedisSettings) -> RedisLike:
    """A client with tight timeouts and no retry loop: the circuit breaker, not retries, handles a slow cache.

    Commands time out after ``socket_timeout_ms``, connection set-up after ``connect_timeout_ms``. ``RedisCluster``
    contacts the cluster when built, so call this where a failure is handled (lazily).
    """
    common: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_ms / 1000,
        "socket_connect_timeout": settings.connect_timeout_ms / 1000,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
        "health_check_interval": 0,
    }
    if settings.url:
        scheme, _, rest = settings.url.partition("://")
        tls = scheme == "rediss"
        url = f"redis://{rest}"  # TLS comes from the connection class (a rediss:// URL would override it)
    else:
        if not (settings.host and settings.user_id and settings.cache_name and settings.region):
            raise ValueError("cache settings need either a URL or host, user id, cache name and region")
        tls, url = True, f"redis://{settings.host}:{settings.port}"
        common["credential_provider"] = ElastiCacheIamCredentialProvider(
            user_id=settings.user_id,
            cache_name=settings.cache_name,
            region=settings.region,
            serverless=settings.serverless,
        )
    common["connection_class"] = SetupTimeoutSSLConnection if tls else SetupTimeoutConnection
    if settings.cluster:
        return RedisCluster.from_url(url, **common)
    return Redis(connection_pool=ConnectionPool.from_url(url, **common))


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
