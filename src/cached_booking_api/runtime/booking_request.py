"""The body of ``POST /bookings``, validated without Pydantic on the bookings function's cold path (issue 10.1).

Importing Pydantic and building the request models costs about a third of a minimal boto3 + redis handler's import, so
the bookings function does not do it for a valid booking. A body is checked against the JSON Schema of
``BookingRequest`` in ``openapi.json`` - the document generated from the Pydantic models, from which the construct also
builds API Gateway's request validator - compiled by fastjsonschema on first use, then against the stay rules below
(the Pydantic model applies the very same functions). A body that passes both becomes a ``BookingInput``.

Anything else goes to the Pydantic model (imported then, once per process): it answers the contract's 400 naming every
bad field, word for word as before, or accepts what only its lax parsing takes (``"guests": "2"``). So the one rule to
hold is: what the fast path accepts, the model accepts with the same values (``test_booking_request.py`` checks it on
generated bodies).

Standard library only at import: this module is on the cold path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

MAX_NIGHTS = 30
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
OPENAPI_DOCUMENT = Path(__file__).with_name("openapi.json")
SCHEMA = "BookingRequest"
"""The component of ``openapi.json`` a booking body must match."""


def today_utc() -> date:
    """Today's date in UTC: the reference for 'check-in in the past'."""
    return datetime.now(UTC).date()


def parse_iso_date(value: object) -> date:
    """A ``YYYY-MM-DD`` string that is a real calendar date, parsed strictly (no timestamps, no other formats)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date in YYYY-MM-DD format")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a valid calendar date in YYYY-MM-DD format") from None


def stay_problem(check_in: date, check_out: date) -> str | None:
    """The first stay rule the dates break, as ``"field: message"``; None for a valid stay."""
    if check_in < today_utc():
        return "checkIn: must not be in the past (UTC)"
    if check_out <= check_in:
        return "checkOut: must be after checkIn"
    if (check_out - check_in).days > MAX_NIGHTS:
        return f"checkOut: a stay is at most {MAX_NIGHTS} nights"
    return None


def nights_of(check_in: date, check_out: date) -> list[date]:
    """Every night of a stay: check-in up to the night before check-out."""
    return [date.fromordinal(day) for day in range(check_in.toordinal(), check_out.toordinal())]


class CustomerLike(Protocol):
    """Who stays: ``CustomerInput`` or the Pydantic ``Customer``."""

    @property
    def name(self) -> str: ...

    @property
    def email(self) -> str: ...


class BookingLike(Protocol):
    """A validated booking body: ``BookingInput`` or the Pydantic ``BookingRequest`` (what the service books)."""

    @property
    def listingId(self) -> str: ...

    @property
    def guests(self) -> int: ...

    @property
    def customer(self) -> CustomerLike: ...

    @property
    def stay(self) -> tuple[date, date]: ...

    @property
    def nights(self) -> list[date]: ...


@dataclass(frozen=True)
class CustomerInput:
    """Who stays (validated). Stored with the booking; never put in an event."""

    name: str
    email: str


@dataclass(frozen=True)
class BookingInput:
    """A booking body the fast path validated: the same values the Pydantic ``BookingRequest`` would hold."""

    listingId: str  # the contract's name, as on BookingRequest
    check_in: date
    check_out: date
    guests: int
    customer: CustomerInput

    @property
    def stay(self) -> tuple[date, date]:
        """(check-in, check-out) as dates."""
        return self.check_in, self.check_out

    @property
    def nights(self) -> list[date]:
        """Every night of the stay: check-in up to the night before check-out."""
        return nights_of(self.check_in, self.check_out)


def request_body(request: BookingLike) -> dict[str, Any]:
    """The body as the contract spells it (what ``BookingRequest.model_dump(mode="json", by_alias=True)`` gives, in
    its order): hashed into the booking and by the idempotency layer, so it must not change for a given request."""
    check_in, check_out = request.stay
    return {
        "checkIn": check_in.isoformat(),
        "checkOut": check_out.isoformat(),
        "listingId": request.listingId,
        "guests": request.guests,
        "customer": {"name": request.customer.name, "email": request.customer.email},
    }


@cache
def _schema_validator() -> Callable[[Any], Any]:
    """``BookingRequest``'s JSON Schema from ``openapi.json``, compiled to Python by fastjsonschema (once a process)."""
    import fastjsonschema

    document = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    schema = {"$ref": f"#/components/schemas/{SCHEMA}", "components": {"schemas": document["components"]["schemas"]}}
    validator: Callable[[Any], Any] = fastjsonschema.compile(schema)
    return validator


def fast_parse(data: Any) -> BookingInput | None:
    """``data`` as a ``BookingInput`` when it matches the schema and the stay rules; None for anything else (which
    the Pydantic model then judges). Never loads Pydantic."""
    try:
        _schema_validator()(data)  # fastjsonschema raises JsonSchemaValueException, a ValueError
        if type(data["guests"]) is not int:  # JSON Schema's integer takes 2.0; the model would store 2
            return None
        check_in, check_out = parse_iso_date(data["checkIn"]), parse_iso_date(data["checkOut"])
        customer = data["customer"]
        for text in (data["listingId"], customer["name"], customer["email"]):
            text.encode()  # a lone surrogate passes the schema's regex; the model refuses it (UnicodeEncodeError)
    except ValueError:
        return None
    if stay_problem(check_in, check_out) is not None:
        return None
    return BookingInput(
        listingId=data["listingId"],
        check_in=check_in,
        check_out=check_out,
        guests=data["guests"],
        customer=CustomerInput(name=customer["name"], email=customer["email"]),
    )


def parse_booking(data: Any) -> BookingLike:
    """A validated booking body; raises the contract's 400 ``ApiError`` naming every bad field."""
    accepted = fast_parse(data)
    if accepted is not None:
        return accepted
    from .models import BookingRequest, parse_or_400

    return parse_or_400(BookingRequest, data)
