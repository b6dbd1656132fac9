"""Realistic values for the schemathesis run against the local mode (``test_schemathesis.py``).

Loaded by schemathesis through ``SCHEMATHESIS_HOOKS``. Schema-valid ("positive") cases get what a real client sends
where the schema cannot say it: a stay that starts today or later and lasts 1-30 nights, a destination and a listing
that exist (most of the time: unknown ones stay, and must answer 200 with no results or 404), guests within the
listing's maximum, no invented pagination cursor (only the server issues those), a fresh Idempotency-Key per booking
body (a client reuses a key only to retry the same booking). Negative cases are left as generated.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import schemathesis

from cached_booking_api.runtime.models import today_utc

DESTINATIONS = ["Lisbon", "Porto", "Zürich", "lisbon"]
# listing id → (destination, maxGuests)
LISTINGS = {f"lis-{i}": (("Lisbon", "Porto", "Zürich")[i % 3], 2 + i % 5) for i in range(1, 10)}
HORIZON_DAYS = 400  # the listings have inventory for this many nights from today


def _pick(seed: str, salt: str, modulo: int) -> int:
    return int(hashlib.sha256(f"{salt}:{seed}".encode()).hexdigest()[:8], 16) % modulo


def _stay(seed: str) -> tuple[str, str]:
    start = today_utc() + timedelta(days=_pick(seed, "in", HORIZON_DAYS - 31))
    return start.isoformat(), (start + timedelta(days=1 + _pick(seed, "nights", 30))).isoformat()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Every phase (examples, coverage, fuzzing, stateful) sends through here; schemathesis re-validates the edited
    case, so what it checks is what was sent."""
    meta = getattr(case, "meta", None)
    if meta is not None and not meta.generation.mode.is_positive:
        return
    seed = repr((case.query, case.body, case.path_parameters))
    if case.operation.method.upper() == "GET" and case.operation.path == "/search" and isinstance(case.query, dict):
        query = dict(case.query)
        query["checkIn"], query["checkOut"] = _stay(seed)
        if _pick(seed, "destination", 4):
            query["destination"] = DESTINATIONS[_pick(seed, "which", len(DESTINATIONS))]
        query.pop("cursor", None)
        case.query = query
    elif case.operation.method.upper() == "POST" and isinstance(case.body, dict):
        body = dict(case.body)
        body["checkIn"], body["checkOut"] = _stay(seed)
        if _pick(seed, "listing", 5):
            body["listingId"] = sorted(LISTINGS)[_pick(seed, "which", len(LISTINGS))]
        guests = body.get("guests")
        if body.get("listingId") in LISTINGS and isinstance(guests, int | float) and not isinstance(guests, bool):
            body["guests"] = type(guests)(min(guests, LISTINGS[body["listingId"]][1]))
        case.body = body
        # a client makes a fresh Idempotency-Key per booking and reuses it only to retry that very booking
        if case.headers is not None and "Idempotency-Key" in case.headers:
            digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
            case.headers["Idempotency-Key"] = f"st-{digest[:40]}"
