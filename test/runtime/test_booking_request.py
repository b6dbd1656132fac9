"""Issue 10.1: the bookings function validates ``POST /bookings`` without Pydantic on its cold path.

``booking_request.parse_booking`` checks a body against the JSON Schema of ``BookingRequest`` in the generated
``openapi.json`` (compiled by fastjsonschema) and the stay rules; whatever it does not accept goes to the Pydantic
model, which answers the contract's 400. So the rule these tests hold it to: what the fast path accepts, the Pydantic
model accepts with the very same values, and every error body is the Pydantic model's. The property tests run in
the unit tier (seconds); the import guard and the examples run in the fast tier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cached_booking_api.runtime import booking_request
from cached_booking_api.runtime.booking_request import parse_booking, request_body
from cached_booking_api.runtime.booking_service import BOOKING_FIELDS, request_hash
from cached_booking_api.runtime.errors import ApiError
from cached_booking_api.runtime.models import Booking, BookingRequest, parse_or_400, today_utc
from test.conftest import ROOT


def day(offset: int) -> str:
    return (today_utc() + timedelta(days=offset)).isoformat()


def booking(**fields: Any) -> dict[str, Any]:
    return {"listingId": "lis-001", "checkIn": day(10), "checkOut": day(12), "guests": 2,
            "customer": {"name": "Ana Silva", "email": "ana@example.com"}, **fields}  # fmt: skip


def pydantic_outcome(data: Any) -> dict[str, Any]:
    """What the Pydantic model makes of ``data``: the normalized body, or the 400 error body."""
    try:
        return {"ok": request_body(parse_or_400(BookingRequest, data))}
    except ApiError as error:
        return {"error": (error.status, error.body())}


def fast_outcome(data: Any) -> dict[str, Any]:
    try:
        return {"ok": request_body(parse_booking(data))}
    except ApiError as error:
        return {"error": (error.status, error.body())}


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
NAMES = st.one_of(st.just("Ana Silva"), TEXT, st.text(max_size=3).map(lambda s: "Ana" + s), st.just(""))
EMAILS = st.one_of(
    st.just("ana@example.com"),
    st.builds(lambda a, b: f"{a}@{b}.com", TEXT, TEXT),
    st.builds(lambda s: "ana@example.com" + s, st.text(max_size=2)),
    TEXT,
)
DATES = st.one_of(
    st.integers(-3, 45).map(day),
    st.sampled_from(["2030-02-30", "2030-02-29", "2032-02-29", "2030-6-01", "2030-06-01T00:00:00", "2030/06/01", ""]),
    st.builds(lambda offset, tail: day(offset) + tail, st.integers(1, 40), st.sampled_from(["\n", " ", "Z", "\x00"])),
    st.integers(),
    st.none(),
)
SCALARS = st.one_of(st.integers(-2, 20), st.floats(0, 20), st.booleans(), st.none(), TEXT, st.sampled_from(["2", "x"]))
LISTING_IDS = st.one_of(st.just("lis-001"), st.text(max_size=70), st.just("a" * 64), st.just("a" * 65), SCALARS)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """Booking bodies, mostly one or two mutations away from a valid one."""
    body: dict[str, Any] = booking(
        listingId=draw(LISTING_IDS), checkIn=draw(DATES), checkOut=draw(DATES), guests=draw(SCALARS),
        customer=draw(st.one_of(st.fixed_dictionaries({"name": NAMES, "email": EMAILS}), SCALARS)),
    )  # fmt: skip
    for name in draw(st.lists(st.sampled_from([*body, "check_in", "extra", "totalPrice"]), max_size=2)):
        if name in body and draw(st.booleans()):
            del body[name]
        else:
            body[name] = draw(SCALARS)
    return draw(st.one_of(st.just(body), st.just(booking()), st.sampled_from([None, [], "text", 1])))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
@example(booking(guests=2.0))
@example(booking(guests=True))
@example(booking(guests="2"))
@example(booking(checkIn=day(10) + "\n"))
@example(booking(customer={"name": "Ana\n", "email": "ana@example.com"}))
@example(booking(customer={"name": "Ana", "email": "ana@example.com\n"}))
@example(booking(listingId="lis-001\n"))
@example({**{k: v for k, v in booking().items() if k != "checkIn"}, "check_in": day(10)})
@example(booking(checkIn=day(0), checkOut=day(30)))
@example(booking(checkIn=day(1), checkOut=day(32)))
def test_the_cold_path_answers_exactly_what_the_pydantic_model_answers(data: Any) -> None:
    """Same normalized body (so the same request hash and idempotency payload) or the same 400 body, byte for byte."""
    assert fast_outcome(data) == pydantic_outcome(data)


@settings(max_examples=400, deadline=None)
@given(bodies())
def test_what_the_fast_path_accepts_the_pydantic_model_accepts_with_the_same_values(data: Any) -> None:
    accepted = booking_request.fast_parse(data)
    if accepted is not None:
        model = BookingRequest.model_validate(data)
        assert request_body(accepted) == request_body(model) == model.model_dump(mode="json", by_alias=True)
        assert request_hash(accepted) == request_hash(model)
        assert (accepted.stay, accepted.nights) == (model.stay, model.nights)


@given(
    listing_id=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
    nights=st.integers(1, 30),
    offset=st.integers(0, 300),
    guests=st.integers(1, 16),
    name=st.from_regex(r"\A[A-Za-z .'-]{1,200}\Z"),
)
def test_valid_bookings_take_the_fast_path(listing_id: str, nights: int, offset: int, guests: int, name: str) -> None:
    """The cold path really is Pydantic-free for what clients send: a valid body never falls back."""
    data = booking(listingId=listing_id, checkIn=day(offset), checkOut=day(offset + nights), guests=guests,
                   customer={"name": name, "email": "a.b@example.org"})  # fmt: skip
    accepted = booking_request.fast_parse(data)
    assert accepted is not None and request_body(accepted) == data


@pytest.mark.fast
def test_every_bad_field_is_named_at_once() -> None:
    """The fallback keeps the contract's 'details naming each bad field' (a JSON Schema validator stops at one)."""
    with pytest.raises(ApiError) as raised:
        parse_booking({"listingId": "", "checkIn": "x", "guests": 99, "customer": {"name": "A", "email": "no"}})
    assert raised.value.status == 400 and raised.value.code == "VALIDATION_ERROR"
    fields = {d["field"] for d in raised.value.details}
    assert fields == {"listingId", "checkIn", "checkOut", "guests", "customer.email"}


@pytest.mark.fast
def test_the_booking_fields_are_the_response_models() -> None:
    """``BOOKING_FIELDS`` (what a stored booking answers with) is the OpenAPI ``Booking`` model's field list."""
    assert tuple(Booking.model_fields) == BOOKING_FIELDS


def _fresh_process(code: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_SERVICE_NAME": "bookings", "POWERTOOLS_METRICS_NAMESPACE": "Test"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.fast
def test_importing_the_bookings_handler_and_validating_a_body_needs_no_pydantic() -> None:
    """Pydantic (~0.3x of the minimal handler's import) is off the bookings function's cold path: neither importing the
    handler module nor validating a valid body loads it; a bad body does (for the contract's 400)."""
    body = json.dumps(booking())
    result = _fresh_process(
        "import json, sys\n"
        "from cached_booking_api.runtime.handlers import bookings\n"
        "imported = 'pydantic' in sys.modules\n"
        "from cached_booking_api.runtime.booking_request import parse_booking\n"
        f"parse_booking(json.loads({body!r}))\n"
        "valid = 'pydantic' in sys.modules\n"
        "try:\n"
        "    parse_booking({})\n"
        "except Exception as error:\n"
        "    status = error.status\n"
        "print(json.dumps([imported, valid, 'pydantic' in sys.modules, status]))\n"
    )
    assert result == [False, False, True, 400]
