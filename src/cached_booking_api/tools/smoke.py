"""``cached-booking-api smoke``: after ``cdk deploy``, prove the API really works, one pass/fail line per step.

Standard library only (urllib): runs wherever the package is installed. Steps: a request without a valid key is
refused (403), a search answers 200 with ``X-Cache``, a booking is made for a listing the user names (or, without
one, a dry run that books nothing: an invalid booking must answer 400 and an unknown booking 404), the booking is read
back and cancelled (so a run leaves no booking and no unit taken), and the CORS headers are checked for an origin
when asked.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO
from urllib.parse import urlencode


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: Any
    ms: float


@dataclass
class Step:
    """One checked step."""

    name: str
    ok: bool
    detail: str
    ms: float

    def line(self) -> str:
        """``PASS|FAIL  name  ms  detail``."""
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name:<14} {self.ms:8.1f} ms  {self.detail}"


@dataclass
class SmokeOptions:
    """What to check."""

    url: str
    api_key: str
    destination: str = "Lisbon"
    check_in: date = field(default_factory=lambda: datetime.now(UTC).date() + timedelta(days=30))
    nights: int = 2
    listing_id: str | None = None
    guests: int = 1
    origin: str | None = None
    timeout: float = 15.0


def call(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None,
         timeout: float = 15.0) -> Reply:  # fmt: skip
    """One request; any HTTP status is an answer (only a network failure raises)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own API URL
            status, raw, answer_headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), dict(error.headers)
    ms = (time.perf_counter() - started) * 1000
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Reply(status, {name.lower(): value for name, value in answer_headers.items()}, parsed, ms)


def _error_code(reply: Reply) -> str:
    body = reply.body
    return str(body.get("error", {}).get("code")) if isinstance(body, dict) else "-"


def run(options: SmokeOptions, out: TextIO, http: Callable[..., Reply] = call) -> bool:
    """Run every step, print one line each and a summary; True when all passed."""
    base = options.url.rstrip("/")
    key = {"x-api-key": options.api_key}
    origin = {"Origin": options.origin} if options.origin else {}
    steps: list[Step] = []

    def step(name: str, reply: Reply, ok: bool, detail: str) -> bool:
        steps.append(Step(name, ok, detail if ok else f"{detail} (got {reply.status} {_error_code(reply)})", reply.ms))
        print(steps[-1].line(), file=out, flush=True)
        return ok

    def request(path: str, **kwargs: Any) -> Reply:
        try:
            return http(base + path, timeout=options.timeout, **kwargs)
        except (OSError, ValueError) as exc:  # unreachable host, TLS failure, timeout, bad URL
            return Reply(0, {}, {"error": {"code": type(exc).__name__}}, 0.0)

    check_out = options.check_in + timedelta(days=options.nights)
    query = urlencode({"destination": options.destination, "checkIn": options.check_in.isoformat(),
                       "checkOut": check_out.isoformat(), "guests": options.guests})  # fmt: skip

    refused = request(f"/search?{query}", headers={"x-api-key": "not-a-key-" + secrets.token_hex(8)})
    step("api key", refused, refused.status == 403 and _error_code(refused) == "FORBIDDEN",
         "a wrong key is refused with 403 FORBIDDEN")  # fmt: skip

    found = request(f"/search?{query}", headers={**key, **origin})
    results = found.body.get("results") if isinstance(found.body, dict) else None
    count, cache = len(results or []), found.headers.get("x-cache")
    step("search", found, found.status == 200 and isinstance(results, list) and cache is not None,
         f"200, {count} result(s) for {options.destination}, X-Cache {cache}")  # fmt: skip

    if options.listing_id:
        payload = {"listingId": options.listing_id, "checkIn": options.check_in.isoformat(),
                   "checkOut": check_out.isoformat(), "guests": options.guests,
                   "customer": {"name": "Smoke Test", "email": "smoke-test@example.invalid"}}  # fmt: skip
        headers = {**key, "Content-Type": "application/json", "Idempotency-Key": f"smoke-{secrets.token_hex(12)}"}
        booked = request("/bookings", method="POST", headers=headers, body=payload)
        booking_id = booked.body.get("bookingId") if isinstance(booked.body, dict) else None
        if step("book", booked, booked.status == 201 and bool(booking_id), f"201 booking {booking_id}"):
            read = request(f"/bookings/{booking_id}", headers=key)
            same = isinstance(read.body, dict) and read.body.get("bookingId") == booking_id
            step("read back", read, read.status == 200 and same, f"200 booking {booking_id}")
            # Give the unit back: a smoke run against production must leave no booking behind.
            cancelled = request(f"/bookings/{booking_id}", method="DELETE", headers=key)
            status = cancelled.body.get("status") if isinstance(cancelled.body, dict) else None
            step("cancel", cancelled, cancelled.status == 200 and status == "CANCELLED",
                 f"200 booking {booking_id} CANCELLED, its nights given back")  # fmt: skip
    else:
        headers = {**key, "Content-Type": "application/json", "Idempotency-Key": "smoke-dry-run-0"}
        invalid = request("/bookings", method="POST", body={}, headers=headers)
        step("book (dry run)", invalid, invalid.status == 400 and _error_code(invalid) == "VALIDATION_ERROR",
             "an invalid booking is refused: 400 VALIDATION_ERROR, nothing booked (--listing books)")  # fmt: skip
        unknown = request(f"/bookings/bk_{'0' * 24}", headers=key)
        step("read (dry run)", unknown, unknown.status == 404 and _error_code(unknown) == "BOOKING_NOT_FOUND",
             "an unknown booking answers 404 BOOKING_NOT_FOUND")  # fmt: skip

    if options.origin:
        allowed = found.headers.get("access-control-allow-origin")
        step("cors", found, allowed == options.origin, f"search answer allows {options.origin}")
        denied = request(f"/search?{query}", headers={"x-api-key": "not-a-key", **origin})
        step("cors (errors)", denied, denied.headers.get("access-control-allow-origin") == options.origin,
             f"the gateway's 403 allows {options.origin} too")  # fmt: skip

    failed = [s.name for s in steps if not s.ok]
    summary = "all passed" if not failed else f"FAILED: {', '.join(failed)}"
    print(f"{len(steps) - len(failed)}/{len(steps)} steps passed against {base}: {summary}", file=out, flush=True)
    return not failed


def api_key_value(api_key_id: str, region: str | None = None) -> str:
    """The value of an API Gateway key from its id (the stack's ``ApiKeyId`` output); needs boto3 and
    ``apigateway:GET`` on the key."""
    import boto3

    client = boto3.client("apigateway", region_name=region)
    return str(client.get_api_key(apiKey=api_key_id, includeValue=True)["value"])
