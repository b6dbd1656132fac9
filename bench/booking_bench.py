"""Booking latency on DynamoDB Local: the POST /bookings handler (validation, idempotency record, transaction, saved
response) next to a bare TransactWriteItems of the same items, measured in the same run.

Run: ``make bench``. DynamoDB Local is started here; JSON goes to bench/out/booking.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import boto3  # noqa: E402
from figures import table  # noqa: E402
from search_bench import Context, percentiles  # noqa: E402  (sets the AWS/Powertools environment)

from cached_booking_api.local.gateway import proxy_event  # noqa: E402
from cached_booking_api.local.processes import DynamoDBLocal  # noqa: E402
from cached_booking_api.runtime import config, schema  # noqa: E402
from cached_booking_api.runtime.booking_service import BookingService  # noqa: E402
from cached_booking_api.runtime.loader import load_listings  # noqa: E402
from cached_booking_api.runtime.models import BookingRequest, today_utc  # noqa: E402

ITERATIONS = int(os.environ.get("BENCH_BOOKINGS", "300"))
NIGHTS = 3


def main() -> None:
    with DynamoDBLocal(search_from=[ROOT]) as dynamodb:
        client = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)  # type: ignore[attr-defined]
        client.create_table(TableName="bench", **schema.table_definition())
        client.create_table(TableName="bench-idem", **schema.idempotency_table_definition())
        start = today_utc() + timedelta(days=3)
        inventory = {(start + timedelta(days=d)).isoformat(): 100_000 for d in range(NIGHTS)}
        record = {"listingId": "bench-1", "name": "Bench", "destination": "Benchville", "pricePerNight": 10000,
                  "currency": "EUR", "maxGuests": 4, "inventory": inventory}  # fmt: skip
        assert load_listings(client, "bench", [json.dumps(record)]).ok
        os.environ.update({config.TABLE_NAME: "bench", config.IDEMPOTENCY_TABLE_NAME: "bench-idem",
                           config.DYNAMODB_ENDPOINT: dynamodb.endpoint})  # type: ignore[attr-defined]  # fmt: skip
        body = {"listingId": "bench-1", "checkIn": start.isoformat(),
                "checkOut": (start + timedelta(days=NIGHTS)).isoformat(), "guests": 2,
                "customer": {"name": "Bench User", "email": "bench@example.com"}}  # fmt: skip

        # Baseline: the same transaction items, written directly (no validation, no idempotency, no Lambda plumbing).
        service = BookingService(client, "bench")
        request = BookingRequest.model_validate(body)
        listing = {"pricePerNight": 10000, "maxGuests": 4, "currency": "EUR"}

        def bare() -> None:
            booking = {"bookingId": f"bk_{uuid.uuid4().hex[:24]}", "status": "CONFIRMED", "listingId": "bench-1",
                       "checkIn": body["checkIn"], "checkOut": body["checkOut"], "guests": 2,
                       "totalPrice": 30000, "currency": "EUR", "createdAt": "2026-11-25T00:00:00Z"}  # fmt: skip
            items = service._transaction(request, listing, booking, "hash")
            client.transact_write_items(TransactItems=items)

        from cached_booking_api.runtime.handlers import bookings

        sink = io.StringIO()
        bookings.logger.registered_handler.setStream(sink)
        context = Context()

        def handler() -> None:
            event = proxy_event("POST", "/bookings", headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"},
                                body=json.dumps(body))  # fmt: skip
            response = bookings.handler(event, context)
            if response["statusCode"] != 201:
                raise AssertionError(response)

        def timed(call: object) -> list[float]:
            for _ in range(20):
                call()  # type: ignore[operator]
            samples = []
            for _ in range(ITERATIONS):
                started = time.perf_counter_ns()
                call()  # type: ignore[operator]
                samples.append((time.perf_counter_ns() - started) / 1e6)
            return samples

        with contextlib.redirect_stdout(sink):
            baseline = percentiles(timed(bare))
            measured = percentiles(timed(handler))
    print(table([
        ("POST /bookings handler p50 ms", f"{measured['p50']:.2f}", f"bare TransactWriteItems {baseline['p50']:.2f}",
         "context: + idempotency put/update + listing read"),
        ("POST /bookings handler p99 ms", f"{measured['p99']:.2f}", f"bare TransactWriteItems {baseline['p99']:.2f}",
         f"context ({measured['n']} samples)"),
    ]))  # fmt: skip
    print(f"(DynamoDB Local, {NIGHTS} nights: {NIGHTS + 3} transaction items; the handler adds the idempotency "
          "record's put and update and a consistent listing read)")  # fmt: skip
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "booking.json").write_text(json.dumps({"baseline": baseline, "handler": measured}, indent=2) + "\n")


if __name__ == "__main__":
    main()
