"""The ElastiCache IAM auth token is signed locally, scoped to the cache and user, and refreshed before expiry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from botocore.credentials import Credentials

from cached_booking_api.runtime.redis_client import ElastiCacheIamCredentialProvider, RedisSettings, create_client


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


def test_provisioned_caches_omit_the_serverless_resource_type() -> None:
    _, token = provider([0.0], serverless=False).get_credentials()
    assert "ResourceType" not in token


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


def test_aws_settings_build_a_tls_client_with_the_iam_provider() -> None:
    client = create_client(
        RedisSettings(host="cache.example", port=6380, user_id="u", cache_name="c", region="us-east-1", serverless=True)
    )
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["credential_provider"].user_id == "u"
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    assert kwargs["socket_timeout"] == 0.05
