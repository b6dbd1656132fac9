"""Bookings against DynamoDB Local (real transactions): never oversell, never double-book, contract errors."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.handlers import bookings
from test.conftest import stay
from test.runtime.conftest import CHECK_IN, BookCall, LambdaContextStub, body  # noqa: E402


def get(booking_id: str, api_key: str = "client-a", method: str = "GET") -> tuple[int, dict[str, Any]]:
    event = proxy_event(
        method, f"/bookings/{booking_id}", resource="/bookings/{bookingId}", path_parameters={"bookingId": booking_id}
    )
    event["requestContext"]["identity"]["apiKeyId"] = api_key
    response = bookings.handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def available(dynamodb: Any, table: str, listing_id: str, night: str) -> int:
    """Units left on a night: capacity - booked, read from the month item."""
    from datetime import date

    day = date.fromisoformat(night)
    item = dynamodb.get_item(
        TableName=table,
        Key={k: {"S": v} for k, v in schema.month_key(listing_id, schema.month_of(day)).items()},
        ConsistentRead=True,
    )["Item"]
    return int(item[schema.capacity_attribute(day)]["N"]) - int(item[schema.booked_attribute(day)]["N"])


def outbox_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(
        TableName=table, FilterExpression="entityType = :o", ExpressionAttributeValues={":o": {"S": "OUTBOX"}}
    )["Items"]
    return items


def test_a_booking_is_confirmed_with_a_server_side_price(
    booking_env: dict[str, str], book: BookCall, dynamodb: Any
) -> None:
    status, created = book(body(totalPrice=1)) if False else book(body())
    assert status == 201
    assert created["status"] == "CONFIRMED" and created["totalPrice"] == 3 * 12900 and created["currency"] == "EUR"
    assert set(created) == {
        "bookingId",
        "status",
        "listingId",
        "checkIn",
        "checkOut",
        "guests",
        "totalPrice",
        "currency",
        "createdAt",
    }
    assert get(created["bookingId"]) == (200, created)
    table = booking_env[config.TABLE_NAME]
    assert available(dynamodb, table, "lis-1", CHECK_IN) == 4
    [event] = outbox_items(dynamodb, table)
    assert event["bookingId"] == {"S": created["bookingId"]} and event["guests"] == {"N": "2"}
    assert "customer" not in event and "ana" not in json.dumps(event).lower()
    assert schema.TTL_ATTRIBUTE in event


def test_two_hundred_concurrent_requests_for_five_units_confirm_exactly_five(
    booking_env: dict[str, str], book: BookCall, dynamodb: Any
) -> None:
    barrier = threading.Barrier(200)
    results: list[tuple[int, dict[str, Any]]] = []
    retried: list[int] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        barrier.wait()
        for _ in range(40):
            outcome = book(body(), key=f"concurrent-{i:04d}")
            # A client retries the contract's retryable answers (same key): an overloaded local JVM can make a
            # write time out, which answers 503 or, when botocore's retry meets its own first write, 409
            # REQUEST_IN_PROGRESS until that record expires.
            if outcome[0] == 503 or outcome[1].get("error", {}).get("code") == "REQUEST_IN_PROGRESS":
                with lock:
                    retried.append(i)
                time.sleep(0.25)
                continue
            break
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 5, 409: 195}, statuses
    codes = Counter(b["error"]["code"] for s, b in results if s == 409)
    assert codes == {"UNAVAILABLE": 195}, codes
    table = booking_env[config.TABLE_NAME]
    for night in (CHECK_IN, stay(6, 1)[0], stay(7, 1)[0]):
        assert available(dynamodb, table, "lis-1", night) == 0
    assert len(outbox_items(dynamodb, table)) == 5


def test_the_same_key_twenty_times_in_a_row_books_once(
    booking_env: dict[str, str], book: BookCall, dynamodb: Any
) -> None:
    answers = [book(body(), key="same-key-seq") for _ in range(20)]
    assert {status for status, _ in answers} == {201}
    assert all(answer == answers[0] for answer in answers)
    assert available(dynamodb, booking_env[config.TABLE_NAME], "lis-1", CHECK_IN) == 4
    assert len(outbox_items(dynamodb, booking_env[config.TABLE_NAME])) == 1


def test_the_same_key_twenty_times_at_once_books_once(
    booking_env: dict[str, str], book: BookCall, dynamodb: Any
) -> None:
    barrier = threading.Barrier(20)
    bodies: list[dict[str, Any]] = []
    in_progress: list[int] = []

    def one() -> None:
        barrier.wait()
        for _ in range(200):  # a client retries 409 REQUEST_IN_PROGRESS
            status, answer = book(body(), key="same-key-par")
            if status == 409 and answer["error"]["code"] == "REQUEST_IN_PROGRESS":
                in_progress.append(1)
                time.sleep(0.02)
                continue
            assert status == 201, answer
            bodies.append(answer)
            return

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bodies) == 20 and all(b == bodies[0] for b in bodies)
    assert available(dynamodb, booking_env[config.TABLE_NAME], "lis-1", CHECK_IN) == 4
    assert len(outbox_items(dynamodb, booking_env[config.TABLE_NAME])) == 1


def test_same_key_with_another_body_is_422(booking_env: dict[str, str], book: BookCall) -> None:
    assert book(body(), key="reused-key-1")[0] == 201
    status, answer = book(body(guests=3), key="reused-key-1")
    assert (status, answer["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_keys_are_scoped_to_the_client(booking_env: dict[str, str], book: BookCall) -> None:
    first = book(body(), key="shared-key-1", api_key="client-a")
    second = book(body(guests=1), key="shared-key-1", api_key="client-b")
    assert first[0] == second[0] == 201 and first[1]["bookingId"] != second[1]["bookingId"]


def test_sold_out_night_is_409_naming_it(booking_env: dict[str, str], book: BookCall) -> None:
    assert book(body(listingId="lis-2"), key="sold-out-01")[0] == 201
    status, answer = book(body(listingId="lis-2"), key="sold-out-02")
    assert status == 409 and answer["error"]["code"] == "UNAVAILABLE"
    assert {"field": "nights", "message": f"no unit left on {CHECK_IN}", "night": CHECK_IN} in answer["error"][
        "details"
    ]


def test_unknown_listing_and_booking_are_404(booking_env: dict[str, str], book: BookCall) -> None:
    status, answer = book(body(listingId="nope"))
    assert (status, answer["error"]["code"]) == (404, "LISTING_NOT_FOUND")
    assert get("bk_" + "0" * 24)[1]["error"]["code"] == "BOOKING_NOT_FOUND"
    assert get("../etc")[0] == 404


def test_body_over_16_kib_is_413(booking_env: dict[str, str], book: BookCall) -> None:
    status, answer = book(None, raw=json.dumps(body(pad="x" * 17000)))
    assert (status, answer["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("payload", "key", "field"),
    [
        (body(), None, "Idempotency-Key"),
        (body(), "short", "Idempotency-Key"),
        (body(), "bad key with spaces", "Idempotency-Key"),
        (body(), "k" * 129, "Idempotency-Key"),
        ("not an object", "valid-key-1", "body"),
        (body(guests=0), "valid-key-1", "guests"),
        (body(guests=5), "valid-key-1", "guests"),  # over the listing's maxGuests (4)
        (body(checkIn="2026/12/01"), "valid-key-1", "checkIn"),
        (body(checkOut=CHECK_IN), "valid-key-1", "checkOut"),
        (body(checkIn=stay(-2, 1)[0]), "valid-key-1", "checkIn"),
        (body(customer={"name": "A"}), "valid-key-1", "customer.email"),
        (body(customer={"name": "A", "email": "not-an-email"}), "valid-key-1", "customer.email"),
        (body(listingId=""), "valid-key-1", "listingId"),
        (body(totalPrice=1), "valid-key-1", "totalPrice"),
        ({k: v for k, v in body().items() if k != "customer"}, "valid-key-1", "customer"),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    booking_env: dict[str, str], book: BookCall, payload: Any, key: str | None, field: str
) -> None:
    status, answer = book(payload, key=key)
    assert status == 400, answer
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in answer["error"]["details"]]


def test_invalid_json_is_400(booking_env: dict[str, str], book: BookCall) -> None:
    status, answer = book(None, raw="{not json")
    assert status == 400 and answer["error"]["details"][0]["field"] == "body"


def cancel(booking_id: str, api_key: str = "client-a") -> tuple[int, dict[str, Any]]:
    return get(booking_id, api_key, method="DELETE")


def test_a_booking_is_visible_only_to_the_api_key_that_made_it(booking_env: dict[str, str], book: BookCall) -> None:
    """Issue 8.8: booking ids derive from the Idempotency-Key, so another client must not read them."""
    status, created = book(body(), key="scoped-read-1", api_key="client-a")
    assert status == 201
    assert get(created["bookingId"], api_key="client-a") == (200, created)
    status, answer = get(created["bookingId"], api_key="client-b")
    assert (status, answer["error"]["code"]) == (404, "BOOKING_NOT_FOUND")


def test_twenty_concurrent_cancels_give_back_one_unit_per_night_and_one_event(
    booking_env: dict[str, str], book: BookCall, dynamodb: Any
) -> None:
    """Issue 9.3: repeated or concurrent cancels restore each night exactly once and write one booking.cancelled."""
    table = booking_env[config.TABLE_NAME]
    status, created = book(body(), key="cancel-me-01")
    assert status == 201 and available(dynamodb, table, "lis-1", CHECK_IN) == 4
    barrier = threading.Barrier(20)
    answers: list[tuple[int, dict[str, Any]]] = []

    def one() -> None:
        barrier.wait()
        answers.append(cancel(created["bookingId"]))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {200}, answers
    assert {answer["status"] for _, answer in answers} == {"CANCELLED"}
    assert len({answer["cancelledAt"] for _, answer in answers}) == 1
    for night in (CHECK_IN, stay(6, 1)[0], stay(7, 1)[0]):
        assert available(dynamodb, table, "lis-1", night) == 5
    assert get(created["bookingId"])[1]["status"] == "CANCELLED"
    cancelled = [item for item in outbox_items(dynamodb, table) if item["detailType"] == {"S": "booking.cancelled"}]
    assert len(cancelled) == 1 and set(cancelled[0]) >= {
        "eventId", "bookingId", "listingId", "checkIn", "checkOut", "guests", "cancelledAt",
    }  # fmt: skip
    assert cancel(created["bookingId"]) == answers[0]  # and later: still 200, nothing given back twice
    assert available(dynamodb, table, "lis-1", CHECK_IN) == 5


def test_cancel_is_404_for_unknown_ids_and_other_api_keys(booking_env: dict[str, str], book: BookCall) -> None:
    status, created = book(body(), key="cancel-scope-1", api_key="client-a")
    assert status == 201
    assert cancel(created["bookingId"], api_key="client-b")[1]["error"]["code"] == "BOOKING_NOT_FOUND"
    assert cancel("bk_" + "1" * 24)[1]["error"]["code"] == "BOOKING_NOT_FOUND"
    assert cancel("not-an-id")[0] == 404
    assert get(created["bookingId"])[1]["status"] == "CONFIRMED"  # client-b's attempt changed nothing


def test_cancellation_cut_off_answers_409_with_its_own_code(
    booking_env: dict[str, str], book: BookCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, created = book(body(), key="cancel-late-1")  # check-in in 5 days
    assert status == 201
    monkeypatch.setenv(config.CANCELLATION_CUTOFF_SECONDS, str(6 * 24 * 3600))  # closes 6 days before check-in
    bookings.booking_service.cache_clear()
    status, answer = cancel(created["bookingId"])
    assert (status, answer["error"]["code"]) == (409, "CANCELLATION_CLOSED")
    monkeypatch.setenv(config.CANCELLATION_CUTOFF_SECONDS, str(3600))
    bookings.booking_service.cache_clear()
    assert cancel(created["bookingId"])[1]["status"] == "CANCELLED"


def test_a_retried_transaction_is_byte_identical(booking_env: dict[str, str], dynamodb: Any) -> None:
    """Issue 8.6: a ClientRequestToken reused with different parameters is IdempotentParameterMismatch, so every value
    of the transaction (event id, TTLs, timestamps) must follow from the request, the booking id and the token."""
    from cached_booking_api.runtime.booking_service import BookingService, owner_of
    from cached_booking_api.runtime.models import BookingRequest

    service = BookingService(dynamodb, booking_env[config.TABLE_NAME])
    request = BookingRequest.model_validate(body())
    listing_ = {"pricePerNight": 12900, "maxGuests": 4, "currency": "EUR"}
    first = service.plan(request, "client-a:retry-key-1", owner_of("client-a"), listing_, 1_900_000_000.2)
    again = service.plan(request, "client-a:retry-key-1", owner_of("client-a"), listing_, 1_900_000_000.7)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    later = service.plan(request, "client-a:retry-key-1", owner_of("client-a"), listing_, 1_900_000_003.0)
    assert later[1] != first[1]  # another createdAt is another token: never a mismatch, the booking guard decides


def test_one_key_and_body_booked_on_two_tables_in_one_second_is_confirmed_on_both(
    booking_env: dict[str, str], dynamodb: Any
) -> None:
    """AWS: "If you submit a request with the same client token but a change in other parameters within the 10-minute
    idempotency window, DynamoDB returns an IdempotentParameterMismatch exception." A token belongs to no table: two
    booking tables in one account and region (two APIs a client's key is linked to, or test tables sharing one
    DynamoDB Local) booked with the same client, Idempotency-Key and body within one second sent one token with other
    table names, and the second answered 503 (the mismatch taken for its own earlier commit, a booking not there)."""
    from cached_booking_api.runtime.booking_service import BookingService
    from cached_booking_api.runtime.models import BookingRequest
    from test.conftest import create_table, listing
    from test.runtime.conftest import load

    other = create_table(dynamodb)
    load(dynamodb, other, listing("lis-1", units=5, price=12900))
    request = BookingRequest.model_validate(body())
    now = time.time()
    for table in (booking_env[config.TABLE_NAME], other):
        service = BookingService(dynamodb, table, clock=lambda: now)
        booking = service.create(request, "client-a:two-tables-1", "client-a")
        assert booking["status"] == "CONFIRMED"
        assert available(dynamodb, table, "lis-1", CHECK_IN) == 4


def test_concurrent_requests_in_one_process_each_get_their_own_answer(
    booking_env: dict[str, str], book: BookCall, dynamodb: Any
) -> None:
    """The local mode serves the handlers from 64 threads of one process (Lambda: one request per process at a time).
    Powertools' resolver keeps the request being resolved in class attributes (``BaseRouter.current_event``,
    ``lambda_context``): a thread read another's event and booked the other client's key (seen in the local mode's
    200-booking burst as 409 REQUEST_IN_PROGRESS for a key whose only in-progress PutItem was the other request's).
    Every request here is a distinct client and key with room for all: each must be confirmed as itself. The
    interpreter switches threads every 10 us instead of 5 ms, so that the requests interleave every time."""
    from cached_booking_api.runtime.booking_service import booking_id_for
    from test.conftest import listing
    from test.runtime.conftest import load

    load(dynamodb, booking_env[config.TABLE_NAME], listing("lis-big", units=100))
    barrier = threading.Barrier(48)
    answers: dict[int, tuple[int, dict[str, Any]]] = {}

    def one(i: int) -> None:
        barrier.wait()
        answers[i] = book(body(listingId="lis-big", guests=1 + i % 4), key=f"own-key-{i:04d}", api_key=f"client-{i}")

    run_interleaved(one, 48)
    wrong = {
        i: (status, answer.get("bookingId"), answer.get("guests"), answer.get("error"))
        for i, (status, answer) in answers.items()
        if (status, answer.get("bookingId"), answer.get("guests"))
        != (201, booking_id_for(f"client-{i}:own-key-{i:04d}"), 1 + i % 4)
    }
    assert not wrong, wrong


def run_interleaved(one: Callable[[int], None], count: int) -> None:
    """``one(0)`` .. ``one(count - 1)`` on threads of their own, the interpreter switching threads every 10 us instead
    of 5 ms, so that concurrent requests interleave every time."""
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)


class RemainingTime(LambdaContextStub):
    """A context with a fixed remaining time of its own."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self.remaining_ms


def test_concurrent_requests_keep_in_progress_as_long_as_their_own_invocation_may_run(
    booking_env: dict[str, str], dynamodb: Any
) -> None:
    """Powertools keeps an idempotency record in progress until the invocation's end (``in_progress_expiration`` = now
    + the context's remaining time), read from the context registered on the config. One config per process,
    registered by every request, gave a request another's remaining time when requests run on threads (the local
    mode): a record could expire while its request still ran, or outlive it. Each request here has a remaining time
    of its own, 10 s apart; its record must carry its own. (Switch interval 10 us: the requests interleave.)"""
    from cached_booking_api.runtime.booking_service import booking_id_for
    from test.conftest import listing
    from test.runtime.conftest import load

    load(dynamodb, booking_env[config.TABLE_NAME], listing("lis-big", units=100))
    barrier = threading.Barrier(32)
    windows: dict[str, tuple[int, int]] = {}  # booking id -> the in_progress_expiration its request may write

    def one(i: int) -> None:
        remaining = 100_000 + 10_000 * i
        event = proxy_event("POST", "/bookings", headers={"Idempotency-Key": f"ctx-key-{i:04d}"},
                            body=json.dumps(body(listingId="lis-big")))  # fmt: skip
        event["requestContext"]["identity"]["apiKeyId"] = "client-a"
        barrier.wait()
        before = int(time.time() * 1000)
        response = bookings.handler(event, RemainingTime(remaining))
        after = int(time.time() * 1000)
        assert response["statusCode"] == 201, response
        windows[booking_id_for(f"client-a:ctx-key-{i:04d}")] = (before + remaining, after + remaining)

    run_interleaved(one, 32)
    records = dynamodb.scan(TableName=booking_env[config.IDEMPOTENCY_TABLE_NAME], ConsistentRead=True)["Items"]
    written = {json.loads(r["data"]["S"])["bookingId"]: int(r["in_progress_expiration"]["N"]) for r in records}
    assert len(windows) == len(written) == 32
    outside = {
        bid: (written[bid], window) for bid, window in windows.items() if not window[0] <= written[bid] <= window[1]
    }
    assert not outside, outside


@pytest.mark.parametrize("field", ["name", "email"])
def test_control_characters_in_free_text_are_a_field_error(
    booking_env: dict[str, str], book: BookCall, field: str
) -> None:
    """Issue 8.9: NUL and other control characters are rejected, naming the field, never stored."""
    customer = {"name": "Ana Silva", "email": "ana@example.com"}
    customer[field] = customer[field][:3] + "\x00" + customer[field][3:]
    status, answer = book(body(customer=customer), key=f"control-{field}-1")
    assert (status, answer["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert [d["field"] for d in answer["error"]["details"]] == [f"customer.{field}"]


def test_concurrent_first_bookings_find_the_idempotency_store_configured(
    booking_env: dict[str, str], book: BookCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools configures its persistence layer on the first idempotent call, and marks it configured before it
    compiles the key expression (``persistence/base.py``: ``self.configured = True``, then ``jmespath.compile``): a
    second request arriving in between found no expression and answered 503 (seen in CI as ``'NoneType' object has
    no attribute 'search'``). Lambda runs one request per process, the local mode several on threads: the handler
    configures the store before any request can use it. The compile is slowed here to open the window every time."""
    from aws_lambda_powertools.utilities.idempotency.persistence import base

    real_compile = base.jmespath.compile

    def slow_compile(expression: str) -> Any:
        time.sleep(0.3)
        return real_compile(expression)

    bookings.idempotent_booking()  # built by the first request; configured, after the fix, before it is used
    monkeypatch.setattr(base.jmespath, "compile", slow_compile)
    barrier = threading.Barrier(2)
    answers: list[tuple[int, dict[str, Any]]] = []

    def one(key: str) -> None:
        barrier.wait()
        answers.append(book(body(), key=key))

    threads = [threading.Thread(target=one, args=(f"first-key-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [201, 201], answers
