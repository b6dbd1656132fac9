"""The ElastiCache IAM auth token is signed locally, scoped to the cache and user, and refreshed before expiry."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.credentials import Credentials
from redis.connection import SSLConnection
from redis.exceptions import TimeoutError as RedisTimeoutError

from cached_booking_api.runtime.redis_client import ElastiCacheIamCredentialProvider, RedisSettings, create_client
from test.runtime.redis_proxy import RedisProxy


def provider(
    clock: list[float], serverless: bool = True, signings: list[int] | None = None
) -> ElastiCacheIamCredentialProvider:
    def credentials() -> Credentials:
        if signings is not None:
            signings.append(1)
        return Credentials("AKIDEXAMPLE", "secret", "session-token")

    return ElastiCacheIamCredentialProvider(
        user_id="search-user",
        cache_name="my-cache",
        region="eu-west-1",
        serverless=serverless,
        credentials_loader=credentials,
        clock=lambda: clock[0],
    )


@pytest.mark.fast
def test_token_is_a_presigned_connect_request_for_the_cache_and_user() -> None:
    user, token = provider([1000.0]).get_credentials()
    assert user == "search-user"
    parts = urlsplit("http://" + token)
    query = parse_qs(parts.query)
    assert parts.netloc == "my-cache"
    assert query["Action"] == ["connect"] and query["User"] == ["search-user"]
    assert query["ResourceType"] == ["ServerlessCache"]
    assert query["X-Amz-Expires"] == ["900"]
    assert (
        query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
        and "/eu-west-1/elasticache/" in query["X-Amz-Credential"][0]
    )
    assert query["X-Amz-Security-Token"] == ["session-token"]
    assert "X-Amz-Signature" in query


@pytest.mark.fast
def test_provisioned_caches_omit_the_serverless_resource_type() -> None:
    _, token = provider([0.0], serverless=False).get_credentials()
    assert "ResourceType" not in token


@pytest.mark.fast
def test_token_is_reused_then_re_signed_before_it_expires() -> None:
    clock, signings = [1000.0], []
    creds = provider(clock, signings=signings)
    first = creds.get_credentials()[1]
    clock[0] += 300
    assert creds.get_credentials()[1] == first
    assert len(signings) == 1
    clock[0] += 301  # 601 s after signing: past the refresh point, well before the 900 s expiry
    creds.get_credentials()
    assert len(signings) == 2


@pytest.mark.fast
def test_aws_settings_build_a_tls_client_with_the_iam_provider() -> None:
    client = create_client(
        RedisSettings(host="cache.example", port=6380, user_id="u", cache_name="c", region="us-east-1", serverless=True)
    )
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["credential_provider"].user_id == "u"
    assert issubclass(client.connection_pool.connection_class, SSLConnection)
    assert kwargs["socket_timeout"] == 0.05


# --- connection set-up has its own timeout (issue 7.10) -------------------------------------------------------------
# redis-py applies socket_timeout to everything after the TCP connect: the TLS handshake, AUTH/HELLO with the IAM
# token, CLIENT SETINFO, and the cluster client's CLUSTER SLOTS. A proxy on 127.0.0.1 in front of the real
# redis-server holds those replies to script a slow set-up (a cold container on a real network).

SETUP_REQUESTS = (b"AUTH", b"HELLO", b"CLIENT", b"SETINFO")


def _slow(requests: tuple[bytes, ...], seconds: float) -> Callable[[bytes, int], None]:
    def hook(request: bytes, index: int) -> None:
        if any(word in request.upper() for word in requests):
            time.sleep(seconds)

    return hook


def test_a_slow_connection_set_up_is_given_the_connect_timeout(redis_server: Any) -> None:
    port = int(redis_server.url.rsplit(":", 1)[1])
    with RedisProxy(port, _slow(SETUP_REQUESTS, 0.3)) as proxy:
        url = proxy.url.replace("redis://", "redis://default:any@")  # AUTH is part of the set-up, as with IAM
        client = create_client(RedisSettings(url=url, socket_timeout_ms=50, connect_timeout_ms=2000))
        assert client.ping() is True
        assert client.get("set-up-timeout-missing") is None  # after set-up, commands are fast again


def test_a_set_up_slower_than_the_connect_timeout_fails_fast(redis_server: Any) -> None:
    port = int(redis_server.url.rsplit(":", 1)[1])
    with RedisProxy(port, _slow(SETUP_REQUESTS, 1.0)) as proxy:
        client = create_client(RedisSettings(url=proxy.url, socket_timeout_ms=50, connect_timeout_ms=200))
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            client.ping()
        assert time.monotonic() - started < 0.9


def test_commands_keep_the_tight_command_timeout(redis_server: Any) -> None:
    port = int(redis_server.url.rsplit(":", 1)[1])
    with RedisProxy(port, _slow((b"PING",), 0.5)) as proxy:
        client = create_client(RedisSettings(url=proxy.url, socket_timeout_ms=50, connect_timeout_ms=2000))
        client.get("warm-up")  # the connection is set up (fast)
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            client.ping()
        assert time.monotonic() - started < 0.4


@pytest.mark.fast
def test_the_connect_timeout_comes_from_the_environment() -> None:
    from cached_booking_api.runtime import config

    settings = config.redis_settings({config.CACHE_URL: "redis://x:1", config.CACHE_CONNECT_TIMEOUT_MS: "1500"})
    assert (settings.connect_timeout_ms, settings.socket_timeout_ms) == (1500, 50)
    assert config.redis_settings({config.CACHE_URL: "redis://x:1"}).connect_timeout_ms == 1000
