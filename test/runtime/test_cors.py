"""CORS on the Lambda responses (issue 7.3): the allowed origins come from the construct's one list, through the
environment; every answer (success, client error, not found) carries ``Access-Control-Allow-Origin`` for an allowed
origin and never for another."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime import config
from cached_booking_api.runtime.handlers import bookings, search
from test.conftest import listing, stay
from test.runtime.conftest import LambdaContextStub, load, response_headers

ALLOWED = "https://app.example.com"


def invoke(handler: Any, method: str, path: str, origin: str | None, **kwargs: Any) -> tuple[int, dict[str, str]]:
    headers = {"Origin": origin} if origin else {}
    headers.update(kwargs.pop("headers", {}))
    response = handler(proxy_event(method, path, headers=headers, **kwargs), LambdaContextStub())
    json.loads(response["body"])
    return response["statusCode"], response_headers(response)


@pytest.mark.parametrize("origin", [ALLOWED, "https://other.example.com"])
def test_lambda_responses_carry_the_origin_only_when_allowed(
    search_env: dict[str, str], dynamodb: Any, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    """Amazon API Gateway developer guide, "CORS for REST APIs" (how-to-cors.html), paraphrased: with a Lambda proxy
    integration the backend itself must return Access-Control-Allow-Origin; API Gateway adds nothing to its
    responses (only the OPTIONS mock answers preflight)."""
    monkeypatch.setenv(config.CORS_ALLOWED_ORIGINS, f"https://first.example.com,{ALLOWED}")
    load(dynamodb, search_env[config.TABLE_NAME], listing("lis-1"))
    check_in, check_out = stay(3, 2)
    query = {"destination": "Lisbon", "checkIn": check_in, "checkOut": check_out}
    answers = [
        invoke(search.handler, "GET", "/search", origin, query=query),  # 200
        invoke(search.handler, "GET", "/search", origin, query={**query, "guests": "99"}),  # 400
        invoke(
            bookings.handler,
            "GET",
            "/bookings/nope",
            origin,
            resource="/bookings/{bookingId}",
            path_parameters={"bookingId": "nope"},
        ),  # 404  # fmt: skip
    ]
    assert [status for status, _ in answers] == [200, 400, 404]
    for _, headers in answers:
        if origin == ALLOWED:
            assert headers["Access-Control-Allow-Origin"] == ALLOWED
            assert headers["Vary"] == "Origin"
        else:
            assert "Access-Control-Allow-Origin" not in headers


def test_no_cors_header_without_configured_origins(search_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.CORS_ALLOWED_ORIGINS, raising=False)
    _, headers = invoke(search.handler, "GET", "/search", ALLOWED, query={"destination": "Lisbon"})
    assert not any(name.lower().startswith("access-control-") for name in headers)
