"""Issue 9, "Done when": concurrent bookings, cancels, reloads and inventory events, then for every listing-night
capacity = sellable + confirmed bookings, with nothing below zero.

Hypothesis draws the operation mix (which listing, which nights, which capacities, which bookings are retried or
cancelled, on which thread); each example runs it on real threads against DynamoDB Local through the real paths: the
bookings Lambda handler (POST and DELETE, Powertools idempotency included), the loader (``load_listings``, a whole file
reloaded with other capacities, some below what is booked) and ``apply_inventory_event``, the inbound
``inventory.updated`` consumer's path (receipt and month items in one transaction). DynamoDB Local serialises
transactions and never answers ``TransactionConflict`` as DynamoDB does when a booking holds a month item, so some
events meet injected conflicts first (``ConflictingTransactions``) and go through the consumer's backoff. Then the
table is read back and checked against what the clients were told.

The table is shared by every example (a function-scoped fixture under Hypothesis), so everything an example names is
unique to it: listing ids and event ids carry its tag (an eventId reused with another detail is refused, by design).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime import config, schema
from cached_booking_api.runtime.handlers import bookings
from cached_booking_api.runtime.inventory_events import apply_inventory_event
from cached_booking_api.runtime.loader import CapacityConflict, apply_capacity, load_listings
from cached_booking_api.runtime.models import today_utc
from test.runtime.conftest import ConflictingTransactions, LambdaContextStub

LISTINGS = 2
WINDOW = 6  # nights per listing, across a month boundary (a stay may touch two month items)
THREADS = 5
INITIAL_CAPACITY = 2
CLIENT_ATTEMPTS = 5
DESTINATION = "Chaosville"
EVENT_SOURCE = "com.example.pms"
#: Each example is a few seconds on DynamoDB Local; raise it for a longer hunt (INVENTORY_CHAOS_EXAMPLES=50).
EXAMPLES = int(os.environ.get("INVENTORY_CHAOS_EXAMPLES", "4"))


def window_start() -> date:
    """Four nights before the first of a month at least ~5 weeks ahead: every window crosses a month boundary."""
    ahead = today_utc() + timedelta(days=35)
    first_of_next = (ahead.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_of_next - timedelta(days=WINDOW // 2)


# -- the operations Hypothesis mixes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Book:
    listing: int
    offset: int
    nights: int


@dataclass(frozen=True)
class Retry:
    """The same Idempotency-Key and body as an earlier Book, sent again (a client retrying after a timeout)."""

    target: int


@dataclass(frozen=True)
class Cancel:
    """DELETE of the booking an earlier Book made (several Cancels may target one booking)."""

    target: int


@dataclass(frozen=True)
class Reload:
    """The whole listing file loaded again with these capacities (listing -> one capacity per night of the window)."""

    capacities: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class InventoryEvent:
    """An ``inventory.updated`` event: some nights of one listing get a new capacity."""

    listing: int
    nights: tuple[tuple[int, int], ...]
    conflicts: int = 0
    """Transaction conflicts injected before DynamoDB Local sees the event (a booking holding its month item)."""


Operation = Book | Retry | Cancel | Reload | InventoryEvent

capacity = st.integers(min_value=0, max_value=3)
books = st.builds(
    Book,
    listing=st.integers(0, LISTINGS - 1),
    offset=st.integers(0, WINDOW - 1),
    nights=st.integers(1, 3),
)
reloads = st.builds(
    Reload,
    capacities=st.tuples(*[st.tuples(*[capacity] * WINDOW) for _ in range(LISTINGS)]),
)
events = st.builds(
    InventoryEvent,
    listing=st.integers(0, LISTINGS - 1),
    nights=st.lists(
        st.tuples(st.integers(0, WINDOW - 1), capacity), min_size=1, max_size=4, unique_by=lambda n: n[0]
    ).map(tuple),
    conflicts=st.integers(0, 3),
)


@st.composite
def operation_mixes(draw: st.DrawFn) -> list[tuple[int, Operation]]:
    """(thread, operation) pairs; Retry and Cancel only ever point at an earlier Book."""
    mix: list[tuple[int, Operation]] = []
    book_indexes: list[int] = []
    for _ in range(draw(st.integers(min_value=14, max_value=22))):
        kinds = ["book", "reload", "event"] + (["retry", "cancel", "cancel"] if book_indexes else [])
        kind = draw(st.sampled_from(kinds))
        operation: Operation
        if kind == "book":
            operation = draw(books)
            book_indexes.append(len(mix))
        elif kind == "retry":
            operation = Retry(draw(st.sampled_from(book_indexes)))
        elif kind == "cancel":
            operation = Cancel(draw(st.sampled_from(book_indexes)))
        elif kind == "reload":
            operation = draw(reloads)
        else:
            operation = draw(events)
        mix.append((draw(st.integers(0, THREADS - 1)), operation))
    return mix


# -- running a mix ----------------------------------------------------------------------------------------------------
@dataclass
class Outcomes:
    """What the clients were told, collected from every thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    booked: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # bookingId -> (listing, checkIn, checkOut)
    cancelled: set[str] = field(default_factory=set)
    applied: dict[tuple[str, date], set[int]] = field(default_factory=dict)  # capacities some writer applied
    conflicts: list[CapacityConflict] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class Run:
    """One example: its own listings in the shared table, its operations on THREADS real threads."""

    def __init__(self, dynamodb: Any, table: str, mix: list[tuple[int, Operation]]) -> None:
        self.dynamodb, self.table, self.mix = dynamodb, table, mix
        self.tag = uuid.uuid4().hex[:8]
        self.start = window_start()
        self.nights = [self.start + timedelta(days=i) for i in range(WINDOW)]
        self.listing_ids = [f"chaos-{self.tag}-{i}" for i in range(LISTINGS)]
        self.done = [threading.Event() for _ in mix]
        self.results: list[str | None] = [None] * len(mix)  # the booking id a Book made (None: it made none)
        self.outcomes = Outcomes()

    def record(self, listing: int, capacities: dict[date, int]) -> dict[str, Any]:
        return {
            "listingId": self.listing_ids[listing], "name": f"Chaos {listing}", "destination": DESTINATION,
            "pricePerNight": 10_000 + listing, "currency": "EUR", "maxGuests": 4,
            "inventory": {night.isoformat(): units for night, units in capacities.items()},
        }  # fmt: skip

    def load_initial(self) -> None:
        lines = [json.dumps(self.record(i, dict.fromkeys(self.nights, INITIAL_CAPACITY))) for i in range(LISTINGS)]
        assert load_listings(self.dynamodb, self.table, lines).ok
        for listing_id in self.listing_ids:
            for night in self.nights:
                self.outcomes.applied[(listing_id, night)] = {INITIAL_CAPACITY}

    def run(self) -> None:
        per_thread: dict[int, list[int]] = {}
        for index, (thread, _) in enumerate(self.mix):
            per_thread.setdefault(thread, []).append(index)
        barrier = threading.Barrier(len(per_thread))

        def worker(indexes: list[int]) -> None:
            barrier.wait()
            for index in indexes:
                try:
                    self.execute(index)
                except Exception as exc:  # reported after the join: a thread must not die silently
                    with self.outcomes.lock:
                        self.outcomes.errors.append(f"op {index} {self.mix[index][1]}: {type(exc).__name__}: {exc}")
                finally:
                    self.done[index].set()

        threads = [threading.Thread(target=worker, args=(indexes,)) for indexes in per_thread.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a worker hung"

    def execute(self, index: int) -> None:
        operation = self.mix[index][1]
        if isinstance(operation, Book):
            self.results[index] = self.book(index, operation)
        elif isinstance(operation, Retry):
            self.done[operation.target].wait(timeout=60)  # an earlier index: no wait cycle is possible
            self.book(operation.target, self.mix[operation.target][1])  # type: ignore[arg-type]
        elif isinstance(operation, Cancel):
            self.done[operation.target].wait(timeout=60)
            booking_id = self.results[operation.target]
            if booking_id is not None:
                self.cancel(booking_id)
        elif isinstance(operation, Reload):
            records = [
                self.record(i, dict(zip(self.nights, capacities, strict=True)))
                for i, capacities in enumerate(operation.capacities)
            ]
            report = load_listings(self.dynamodb, self.table, [json.dumps(record) for record in records])
            assert not report.rejected, report.rejected
            wanted = {
                (self.listing_ids[i], night): units
                for i, capacities in enumerate(operation.capacities)
                for night, units in zip(self.nights, capacities, strict=True)
            }
            self.applied(wanted, report.conflicts)
        else:
            capacities = {self.nights[offset]: units for offset, units in operation.nights}
            listing_id = self.listing_ids[operation.listing]
            detail = {
                "eventId": f"chaos-{self.tag}-{index:04d}", "listingId": listing_id,
                "nights": {night.isoformat(): units for night, units in capacities.items()},
            }  # fmt: skip
            # The path of the inbound inventory.updated consumer (runtime/handlers/inventory_updates.py).
            client = ConflictingTransactions(self.dynamodb, conflicts=operation.conflicts)
            result = apply_inventory_event(client, self.table, detail, source=EVENT_SOURCE)
            assert result.status == "APPLIED", result
            assert set(result.applied) | {c.night for c in result.conflicts} == set(capacities), result
            self.applied({(listing_id, n): c for n, c in capacities.items()}, result.conflicts)

    def applied(self, wanted: dict[tuple[str, date], int], conflicts: list[CapacityConflict]) -> None:
        refused = {(c.listing_id, c.night) for c in conflicts}
        for conflict in conflicts:
            assert conflict.capacity < conflict.booked, conflict  # only a capacity below booked is refused
            assert wanted[(conflict.listing_id, conflict.night)] == conflict.capacity
        with self.outcomes.lock:
            self.outcomes.conflicts.extend(conflicts)
            for key, units in wanted.items():
                if key not in refused:
                    self.outcomes.applied[key].add(units)

    def book(self, index: int, operation: Book) -> str | None:
        check_in = self.nights[operation.offset]
        check_out = min(check_in + timedelta(days=operation.nights), self.nights[-1] + timedelta(days=1))
        payload = {
            "listingId": self.listing_ids[operation.listing], "checkIn": check_in.isoformat(),
            "checkOut": check_out.isoformat(), "guests": 2,
            "customer": {"name": "Chaos Tester", "email": "chaos@example.com"},
        }  # fmt: skip
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"chaos-{self.tag}-{index:04d}"}
        status, answer = self.call(lambda: proxy_event("POST", "/bookings", headers=headers, body=json.dumps(payload)))
        code = str(status) if status == 201 else f"{status} {answer['error']['code']}"
        with self.outcomes.lock:
            self.outcomes.statuses[f"POST {code}"] += 1
            if status == 201:
                stay = (payload["listingId"], answer["checkIn"], answer["checkOut"])
                self.outcomes.booked[answer["bookingId"]] = stay
        expected = {(409, "UNAVAILABLE"), (409, "REQUEST_IN_PROGRESS")}
        assert status == 201 or (status, answer["error"]["code"]) in expected, (status, answer)
        return str(answer["bookingId"]) if status == 201 else None

    def cancel(self, booking_id: str) -> None:
        status, answer = self.call(
            lambda: proxy_event("DELETE", f"/bookings/{booking_id}", resource="/bookings/{bookingId}",
                                path_parameters={"bookingId": booking_id})
        )  # fmt: skip
        assert (status, answer.get("status")) == (200, "CANCELLED"), answer
        with self.outcomes.lock:
            self.outcomes.statuses["DELETE 200"] += 1
            self.outcomes.cancelled.add(booking_id)

    def call(self, event: Callable[[], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """One request as a client sends it: a 503 (the contract's "try again") is sent again, identical (same
        Idempotency-Key), a few times; any other answer is final."""
        for _ in range(CLIENT_ATTEMPTS):
            request = event()
            request["requestContext"]["identity"]["apiKeyId"] = "chaos-client"
            response = bookings.handler(request, LambdaContextStub())
            status, answer = int(response["statusCode"]), json.loads(response["body"])
            if status != 503:
                return status, answer
            with self.outcomes.lock:
                self.outcomes.statuses[f"{request['httpMethod']} 503, sent again"] += 1
            time.sleep(random.uniform(0.05, 0.3))
        return status, answer

    # -- reading the table back -----------------------------------------------------------------------------------
    def scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def check(self) -> None:
        outcomes = self.outcomes
        assert not outcomes.errors, (outcomes.errors, outcomes.statuses)
        ours = set(self.listing_ids)
        items = self.scan()
        stored = {
            item["bookingId"]["S"]: item for item in items
            if item[schema.SORT_KEY]["S"] == schema.BOOKING_SORT_KEY and item["listingId"]["S"] in ours
        }  # fmt: skip
        # What the clients were told is what the table holds: every 201 is a booking, every 200 DELETE cancelled it.
        assert set(stored) == set(outcomes.booked)
        assert {i for i, item in stored.items() if item["status"]["S"] == "CANCELLED"} == outcomes.cancelled
        confirmed = Counter[tuple[str, date]]()
        for booking_id, (listing_id, check_in, check_out) in outcomes.booked.items():
            if booking_id in outcomes.cancelled:
                continue
            first, last = date.fromisoformat(check_in), date.fromisoformat(check_out)
            for ordinal in range(first.toordinal(), last.toordinal()):
                confirmed[(listing_id, date.fromordinal(ordinal))] += 1
        months = {
            (schema.listing_id_from_partition_key(item[schema.PARTITION_KEY]["S"]),
             schema.month_from_sort_key(item[schema.SORT_KEY]["S"])): item
            for item in items if item[schema.SORT_KEY]["S"].startswith(schema.MONTH_PREFIX)
        }  # fmt: skip
        for listing_id in self.listing_ids:
            for night in self.nights:
                month = months[(listing_id, schema.month_of(night))]
                cap = int(month[schema.capacity_attribute(night)]["N"])
                booked = int(month[schema.booked_attribute(night)]["N"])
                sellable = cap - booked
                where = f"{listing_id} {night}: capacity {cap}, booked {booked}; answers {dict(outcomes.statuses)}"
                # The invariant of issue 9: capacity = sellable + confirmed bookings, nothing below zero.
                assert booked == confirmed[(listing_id, night)], where
                assert cap == sellable + confirmed[(listing_id, night)], where
                assert min(cap, booked, sellable) >= 0, where
                # The capacity standing is one a writer was told it applied: a refused one never lands.
                assert cap in outcomes.applied[(listing_id, night)], (where, outcomes.applied[(listing_id, night)])
        # Each booking and each cancellation wrote exactly one outbox event (the stream delivers it once).
        events = Counter(
            item["detailType"]["S"] for item in items
            if item.get(schema.ENTITY_ATTRIBUTE, {}).get("S") == schema.OUTBOX_ENTITY
            and item.get("bookingId", {}).get("S") in stored
        )  # fmt: skip
        assert events == Counter({"booking.confirmed": len(stored), "booking.cancelled": len(outcomes.cancelled)})

    def check_refusal_after_the_storm(self) -> None:
        """Quiet now: a capacity one below what is booked is refused and changes nothing; exactly what is booked is
        accepted (sellable 0)."""
        for listing_id in self.listing_ids:
            for night in self.nights:
                month = self.dynamodb.get_item(
                    TableName=self.table, ConsistentRead=True,
                    Key={k: {"S": v} for k, v in schema.month_key(listing_id, schema.month_of(night)).items()},
                )["Item"]  # fmt: skip
                booked = int(month[schema.booked_attribute(night)]["N"])
                if booked == 0:
                    continue
                refused = apply_capacity(self.dynamodb, self.table, listing_id, DESTINATION, {night: booked - 1})
                assert refused.conflicts == [CapacityConflict(listing_id, night, booked - 1, booked)]
                assert refused.changed == 0
                accepted = apply_capacity(self.dynamodb, self.table, listing_id, DESTINATION, {night: booked})
                assert accepted.conflicts == []
                return  # one night is enough per example: the property above covers the rest


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mix=operation_mixes())
def test_capacity_is_sellable_plus_confirmed_bookings_after_concurrent_bookings_cancels_reloads_and_events(
    booking_env: dict[str, str], dynamodb: Any, mix: list[tuple[int, Operation]]
) -> None:
    """Issue 9 "Done when": for every listing-night, capacity = sellable + confirmed bookings, nothing below zero,
    after a random mix of concurrent bookings (some retried with their key), cancels (some repeated), reloads and
    inventory events (capacities from 0 to 3 on nights holding up to 3 bookings: some below what is booked)."""
    run = Run(dynamodb, booking_env[config.TABLE_NAME], mix)
    run.load_initial()
    run.run()
    run.check()
    run.check_refusal_after_the_storm()
