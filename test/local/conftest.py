"""A running local mode (platform + HTTP server) for the local tests, and a small HTTP client."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cached_booking_api.local.http_front import LocalApi
from cached_booking_api.local.platform import LocalOptions, LocalPlatform
from cached_booking_api.local.processes import free_port
from cached_booking_api.runtime.handlers import bookings, invalidation, search
from test.conftest import ROOT

KEY = "local-test-key"
SERVICE_CACHES = (
    search.search_service,
    bookings.booking_service,
    bookings.idempotent_booking,
    invalidation.search_cache,
)


@dataclass
class Local:
    """A running local mode."""

    url: str
    platform: LocalPlatform


@contextlib.contextmanager
def running_local(
    folder: Path,
    listings: list[dict[str, Any]] | None,
    poll_seconds: float = 3600,
    inventory_sources: list[str] | None = None,
    dynamodb_endpoint: str | None = None,
    redis_url: str | None = None,
    **environment: str,
) -> Iterator[Local]:
    """Start the platform (its own servers, or ``dynamodb_endpoint``/``redis_url`` as ``--dynamodb-endpoint``/
    ``--redis-url`` give them) and the HTTP server; stop everything and restore the process after.

    ``listings=None`` loads what the command loads without ``--data``: the sample, generated at start."""
    saved = dict(os.environ)
    os.environ.update(environment)
    data = None if listings is None else folder / "listings.jsonl"
    if data is not None and listings is not None:
        data.write_text("\n".join(json.dumps(item) for item in listings) + "\n")
    for cached in SERVICE_CACHES:
        cached.cache_clear()
    options = LocalOptions(
        data=data, events_file=folder / "events.jsonl", poll_seconds=poll_seconds, search_from=[ROOT],
        inventory_sources=inventory_sources or [], dynamodb_endpoint=dynamodb_endpoint, redis_url=redis_url,
    )  # fmt: skip
    platform = LocalPlatform(options).start()
    port = free_port()
    server = LocalApi(port, KEY, throttle_rps=10_000, quiet=True, inventory_events=platform.put_inventory_event)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Local(f"http://127.0.0.1:{port}", platform)
    finally:
        server.shutdown()
        server.server_close()
        platform.stop()
        search.logger.registered_handler.setStream(sys.stdout)  # type: ignore[attr-defined]
        for cached in SERVICE_CACHES:
            cached.cache_clear()
        os.environ.clear()
        os.environ.update(saved)
        search.logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
    assert all(child.process is not None and child.process.poll() is not None for child in platform.children)


def request(
    url: str, *, key: str | None = KEY, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None,
    raw: bytes | None = None, timeout: float = 60,
) -> tuple[int, dict[str, str], dict[str, Any]]:  # fmt: skip
    """One HTTP request: (status, headers, JSON body); ``timeout`` seconds for the answer."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    all_headers = {**({"x-api-key": key} if key else {}), **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())
