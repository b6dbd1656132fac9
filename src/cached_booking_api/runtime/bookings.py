"""The booking use case: one DynamoDB transaction that never oversells, never double-books, and writes its event.

``TransactWriteItems``: a check that the listing still has the price and capacity used, a conditional decrement of
every night's inventory (only while a unit is left), the booking (``attribute_not_exists``) and the outbox event. The
booking id is derived from the client-scoped idempotency key, so even a retry after the idempotency record expired
cannot book twice. The booking path never reads the cache.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import schema
from .errors import ApiError, service_unavailable, unavailable, validation_error
from .models import Booking, BookingRequest
from .outbox import outbox_item

MAX_CONFLICT_RETRIES = 10
#: Network-level failures after botocore's own retries: the request may or may not have reached DynamoDB.
TRANSIENT: tuple[type[Exception], ...] = (BotoCoreError,)


def booking_id_for(scoped_key: str) -> str:
    """The booking id for an idempotency key (scoped to the client's API key)."""
    return "bk_" + hashlib.sha256(scoped_key.encode()).hexdigest()[:24]


def request_hash(request: BookingRequest) -> str:
    """A stable hash of the booking request body."""
    body = request.model_dump(mode="json", by_alias=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class BookingService:
    """Creates and reads bookings in the table."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._clock = clock
        self._sleep = sleep

    def create(self, request: BookingRequest, scoped_key: str) -> dict[str, Any]:
        """Book the stay; returns the booking (the 201 body). Raises ``ApiError`` 400/404/409/422/503."""
        try:
            return self._create(request, scoped_key)
        except (BotoCoreError, ClientError) as exc:
            raise service_unavailable() from exc

    def get(self, booking_id: str) -> dict[str, Any]:
        """A booking by id; 404 BOOKING_NOT_FOUND when there is none."""
        try:
            item = self.client.get_item(
                TableName=self.table_name, Key=_key(schema.booking_key(booking_id)), ConsistentRead=True
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            raise service_unavailable() from exc
        if item is None:
            raise ApiError(404, "BOOKING_NOT_FOUND", f"No booking {booking_id}.")
        return _booking_from_item(item)

    def _create(self, request: BookingRequest, scoped_key: str) -> dict[str, Any]:
        listing = self._listing(request.listingId)
        if request.guests > listing["maxGuests"]:
            raise validation_error(
                [{"field": "guests", "message": f"the listing takes at most {listing['maxGuests']} guests"}]
            )
        booking_id = booking_id_for(scoped_key)
        digest = request_hash(request)
        check_in, check_out = request.stay
        nights = request.nights
        booking = Booking(
            bookingId=booking_id,
            status="CONFIRMED",
            listingId=request.listingId,
            checkIn=check_in.isoformat(),
            checkOut=check_out.isoformat(),
            guests=request.guests,
            totalPrice=listing["pricePerNight"] * len(nights),
            currency=listing["currency"],
            createdAt=datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        ).model_dump()
        items = self._transaction(request, listing, booking, digest)
        token = hashlib.sha256(f"{scoped_key}|{digest}".encode()).hexdigest()[:36]
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=items, ClientRequestToken=token)
                return booking
            except self.client.exceptions.TransactionCanceledException as exc:
                outcome = self._cancelled(exc, request, booking_id, digest)
                if outcome is not None:
                    return outcome
            except self.client.exceptions.IdempotentParameterMismatchException:
                return self._existing(booking_id, digest)  # the same request already committed
            except (self.client.exceptions.TransactionInProgressException, *TRANSIENT):
                pass  # retried with the same ClientRequestToken: a commit we did not hear about is not repeated
            self._sleep(random.uniform(0, min(0.02 * 2**attempt, 0.5)))
        # Still conflicting after the retries: under contention the truthful answer is usually "sold out".
        sold_out = self._sold_out_nights(request)
        if sold_out:
            raise unavailable(sold_out)
        raise service_unavailable()

    def _sold_out_nights(self, request: BookingRequest) -> list[str]:
        """Nights of the stay with no unit left (strongly consistent reads, one batch)."""
        keys = [_key(schema.night_key(request.listingId, night)) for night in request.nights]
        response = self.client.batch_get_item(RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}})
        left = {
            item[schema.SORT_KEY]["S"]: int(item[schema.AVAILABLE_ATTRIBUTE]["N"])
            for item in response.get("Responses", {}).get(self.table_name, [])
        }
        unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
        unknown = {key[schema.SORT_KEY]["S"] for key in unprocessed}  # not read: not claimed sold out
        sold_out = []
        for night in request.nights:
            sort_key = schema.night_key(request.listingId, night)[schema.SORT_KEY]
            if sort_key not in unknown and left.get(sort_key, 0) < 1:  # no inventory item: nothing to sell
                sold_out.append(night.isoformat())
        return sold_out

    def _listing(self, listing_id: str) -> dict[str, Any]:
        item = self.client.get_item(
            TableName=self.table_name, Key=_key(schema.listing_key(listing_id)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise ApiError(404, "LISTING_NOT_FOUND", f"No listing {listing_id}.")
        return {
            "pricePerNight": int(item["pricePerNight"]["N"]),
            "maxGuests": int(item["maxGuests"]["N"]),
            "currency": item["currency"]["S"],
        }

    def _transaction(
        self, request: BookingRequest, listing: dict[str, Any], booking: dict[str, Any], digest: str
    ) -> list[dict[str, Any]]:
        table = self.table_name
        items: list[dict[str, Any]] = [
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": _key(schema.listing_key(request.listingId)),
                    "ConditionExpression": "attribute_exists(#pk) AND pricePerNight = :price AND maxGuests >= :guests",
                    "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
                    "ExpressionAttributeValues": {
                        ":price": {"N": str(listing["pricePerNight"])},
                        ":guests": {"N": str(request.guests)},
                    },
                }
            }
        ]
        for night in request.nights:
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key(schema.night_key(request.listingId, night)),
                        "UpdateExpression": "SET #available = #available - :one",
                        "ConditionExpression": "#available >= :one",
                        "ExpressionAttributeNames": {"#available": schema.AVAILABLE_ATTRIBUTE},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        booking_item = {
            **_key(schema.booking_key(booking["bookingId"])),
            **{name: {"N": str(v)} if isinstance(v, int) else {"S": v} for name, v in booking.items()},
            "customer": {"M": {k: {"S": v} for k, v in request.customer.model_dump().items()}},
            "requestHash": {"S": digest},
        }
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": booking_item,
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
                }
            }
        )
        detail = {"eventId": str(uuid.uuid4()), **{k: v for k, v in booking.items() if k != "status"}}
        items.append({"Put": {"TableName": table, "Item": outbox_item(detail, int(self._clock()))}})
        return items

    def _cancelled(
        self, exc: Exception, request: BookingRequest, booking_id: str, digest: str
    ) -> dict[str, Any] | None:
        """Map a cancelled transaction to its answer; None means a conflict worth retrying."""
        reasons = [r.get("Code", "None") for r in getattr(exc, "response", {}).get("CancellationReasons", [])]
        nights = request.nights
        if len(reasons) == len(nights) + 3:
            if reasons[-2] == "ConditionalCheckFailed":
                return self._existing(booking_id, digest)
            sold_out = [night.isoformat() for night, code in zip(nights, reasons[1:-2], strict=True)
                        if code == "ConditionalCheckFailed"]  # fmt: skip
            if sold_out:
                raise unavailable(sold_out)
            if reasons[0] == "ConditionalCheckFailed":
                raise ApiError(409, "UNAVAILABLE", "The listing changed while booking; search again.")
        if any(code in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded") for code in reasons):
            return None
        raise service_unavailable()

    def _existing(self, booking_id: str, digest: str) -> dict[str, Any]:
        """The booking an earlier request with this key made; 422 if it was made from another body."""
        item = self.client.get_item(
            TableName=self.table_name, Key=_key(schema.booking_key(booking_id)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise service_unavailable()
        if item.get("requestHash", {}).get("S") != digest:
            raise ApiError(422, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different body.")
        return _booking_from_item(item)


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}


def _booking_from_item(item: dict[str, Any]) -> dict[str, Any]:
    fields = Booking.model_fields
    return {name: int(item[name]["N"]) if "N" in item[name] else item[name]["S"] for name in fields if name in item}
