"""The local mode end to end for issue 9.3 and 9.4: a cancellation is delivered once as booking.cancelled through
the same outbox path, and an inventory.updated event (local-only POST endpoint, or the CLI command) goes through the
bus, the inbound rule and the consumer, then invalidates searches through the table stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cached_booking_api.local.platform import LocalPlatform
from test.conftest import listing, stay
from test.local.conftest import KEY, request, running_local

CHECK_IN, CHECK_OUT = stay(8, 2)
SOURCE = "pms.test"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    listings = [listing("lis-1", units=2), listing("lis-2", units=1, price=20000)]
    with running_local(tmp_path_factory.mktemp("events"), listings, inventory_sources=[SOURCE]) as running:
        running.platform.pump()  # the load's own stream records
        yield {"url": running.url, "platform": running.platform}


def events_of(platform: LocalPlatform, detail_type: str) -> list[dict[str, Any]]:
    platform.pump()
    lines = Path(platform.events_file).read_text().splitlines() if Path(platform.events_file).exists() else []
    return [e for e in map(json.loads, lines) if e["detail-type"] == detail_type]


def available(url: str, listing_id: str) -> int:
    query = f"destination=Lisbon&checkIn={CHECK_IN}&checkOut={CHECK_OUT}"
    results = request(f"{url}/search?{query}")[2]["results"]
    return int(next((r["available"] for r in results if r["listingId"] == listing_id), 0))


def book(url: str, key: str, listing_id: str = "lis-1") -> dict[str, Any]:
    payload = {"listingId": listing_id, "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": 1,
               "customer": {"name": "Ana Silva", "email": "ana@example.com"}}  # fmt: skip
    status, _, body = request(f"{url}/bookings", method="POST", body=payload, headers={"Idempotency-Key": key})
    assert status == 201, body
    return body


def test_a_cancellation_is_delivered_exactly_once_as_booking_cancelled(local: dict[str, Any]) -> None:
    url, platform = local["url"], local["platform"]
    booking = book(url, "cancel-flow-1")
    platform.pump()
    assert available(url, "lis-1") == 1
    for _ in range(3):  # repeated cancels answer the same and give nothing back twice
        status, _, cancelled = request(f"{url}/bookings/{booking['bookingId']}", method="DELETE")
        assert (status, cancelled["status"]) == (200, "CANCELLED")
    events = events_of(platform, "booking.cancelled")
    assert [e["detail"]["bookingId"] for e in events] == [booking["bookingId"]]
    [event] = events
    assert set(event["detail"]) == {"eventId", "bookingId", "listingId", "checkIn", "checkOut", "guests",
                                    "cancelledAt"}  # fmt: skip
    assert event["source"] == "booking.platform" and isinstance(event["detail"]["guests"], int)
    assert [e["detail"]["bookingId"] for e in events_of(platform, "booking.confirmed")].count(booking["bookingId"]) == 1
    assert "ana" not in json.dumps(events).lower()
    assert available(url, "lis-1") == 2  # the stream invalidated the cached search


def post(url: str, event: dict[str, Any], key: str | None = KEY) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The local-only endpoint that puts an event on the local bus."""
    return request(f"{url}/local/inventory-events", method="POST", body=event, key=key)


def inventory_event(event_id: str, listing_id: str, capacity: int) -> dict[str, Any]:
    """A PutEvents entry, as the external system sends it."""
    nights = {stay(8 + i, 1)[0]: capacity for i in range(2)}
    detail = {"eventId": event_id, "listingId": listing_id, "nights": nights}
    return {"Source": SOURCE, "DetailType": "inventory.updated", "Detail": json.dumps(detail)}


def test_an_inventory_event_is_applied_once_and_invalidates_searches(local: dict[str, Any]) -> None:
    url, platform = local["url"], local["platform"]
    assert available(url, "lis-2") == 1
    status, _, outcome = request(
        f"{url}/local/inventory-events", method="POST", body=inventory_event("inv-1", "lis-2", 5)
    )
    assert (status, outcome["status"], len(outcome["applied"])) == (200, "APPLIED", 2)
    platform.pump()
    assert available(url, "lis-2") == 5
    # redelivered: applied once only, even after a later change
    post(url, inventory_event("inv-2", "lis-2", 4))
    status, _, again = request(
        f"{url}/local/inventory-events", method="POST", body=inventory_event("inv-1", "lis-2", 5)
    )
    assert (status, again["status"]) == (200, "DUPLICATE")
    platform.pump()
    assert available(url, "lis-2") == 4


def test_inventory_events_that_cannot_apply_are_refused_clearly(local: dict[str, Any]) -> None:
    url, platform = local["url"], local["platform"]
    stranger = {**inventory_event("inv-x", "lis-1", 9), "Source": "someone.else"}
    status, _, body = post(url, stranger)
    assert (status, body["error"]["code"]) == (403, "SOURCE_NOT_ALLOWED") and "--inventory-source" in body["error"][
        "message"
    ]
    bad = {**inventory_event("inv-y", "lis-1", 9), "Detail": json.dumps({"eventId": "inv-y", "listingId": "lis-1"})}
    status, _, body = post(url, bad)
    assert (status, body["error"]["details"][0]["field"]) == (400, "detail.nights")
    status, _, body = post(url, inventory_event("inv-z", "nope", 1))
    assert status == 400 and "does not exist" in body["error"]["message"]
    assert post(url, stranger, key=None)[0] == 403
    # booked units are never handed back: a capacity below what is booked is refused for that night, and reported
    book(url, "inv-booked-1")
    status, _, outcome = request(
        f"{url}/local/inventory-events", method="POST", body=inventory_event("inv-c", "lis-1", 0)
    )
    assert status == 200 and [c["booked"] for c in outcome["conflicts"]] == [1, 1] and outcome["applied"] == []
    platform.pump()


def test_the_cli_sends_a_file_of_events_and_reports_by_line(
    local: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cached_booking_api.tools import cli

    path = tmp_path / "events.jsonl"
    good = inventory_event("cli-1", "lis-2", 3)
    path.write_text(json.dumps(good) + "\n\n" + "{not json\n" + json.dumps({**good, "Source": "nope.src"}) + "\n")
    code = cli.main(["inventory-event", str(path), "--url", local["url"], "--api-key", KEY])
    out, err = capsys.readouterr()
    assert code == 1
    assert "APPLIED" in out and "cli-1" in out
    assert f"{path}:3:" in err and "JSON" in err
    assert f"{path}:4:" in err and "SOURCE_NOT_ALLOWED" in err
    assert cli.main(["inventory-event", str(tmp_path / "missing.jsonl"), "--url", local["url"], "--api-key", KEY]) == 2
