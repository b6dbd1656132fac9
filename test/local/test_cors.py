"""CORS in the local mode (issue 7.3): the emulated gateway and the handlers read one list of origins; a request
with an allowed ``Origin`` gets the header back on every answer (200, the gateway's 400/403/429, preflight), any other
origin never does."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from cached_booking_api.runtime import config
from test.conftest import listing, stay
from test.local.conftest import request, running_local

ALLOWED = "https://app.example.com"
CHECK_IN, CHECK_OUT = stay(5, 2)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    environment = {config.CORS_ALLOWED_ORIGINS: f"https://first.example.com,{ALLOWED}"}
    with running_local(tmp_path_factory.mktemp("cors"), [listing("lis-1")], **environment) as running:
        yield running.url


def answers(url: str, origin: str) -> list[tuple[int, dict[str, str]]]:
    search = f"{url}/search?destination=Lisbon&checkIn={CHECK_IN}&checkOut={CHECK_OUT}"
    headers = {"Origin": origin}
    found: list[tuple[int, dict[str, str], Any]] = [
        request(search, headers=headers),  # 200 from the handler
        request(f"{url}/search?destination=Lisbon", headers=headers),  # 400 from the gateway's validator
        request(search, key="wrong", headers=headers),  # 403 from the gateway
        request(f"{url}/bookings/bk_000000000000000000000000", headers=headers),  # 404 from the handler
    ]
    return [(status, {k.lower(): v for k, v in h.items()}) for status, h, _ in found]


def preflight(url: str, origin: str) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(f"{url}/bookings", method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key,idempotency-key"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}


def test_allowed_origin_gets_the_header_on_every_answer(url: str) -> None:
    found = answers(url, ALLOWED)
    assert [status for status, _ in found] == [200, 400, 403, 404]
    for _, headers in found:
        assert headers["access-control-allow-origin"] == ALLOWED and headers["vary"] == "Origin"
    status, headers = preflight(url, ALLOWED)
    assert status == 204 and headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in headers["access-control-allow-methods"]
    assert "idempotency-key" in headers["access-control-allow-headers"].lower()


def test_other_origins_never_get_it(url: str) -> None:
    for _, headers in answers(url, "https://evil.example.com"):
        assert not any(name.startswith("access-control-") for name in headers)
    status, headers = preflight(url, "https://evil.example.com")
    assert status == 204 and not any(name.startswith("access-control-") for name in headers)
