"""The booking use cases: one DynamoDB transaction each that never oversells, never double-books or double-cancels,
and writes its event.

Booking, ``TransactWriteItems``: a check that the listing still has the price and capacity used, one update per month
item of the stay that adds a booked unit to every night only while ``bDD < cDD`` (capacity and booked are separate
attributes, see ``schema``), the booking (``attribute_not_exists``) and the outbox event. The booking id is derived
from the client-scoped idempotency key, so even a retry after the idempotency record expired cannot book twice. Every
value in the transaction is derived from the request, the booking id and ``createdAt`` (which the
``ClientRequestToken`` includes), so a retry with the same token is byte-identical. The booking path never reads the
cache.

Cancellation, ``TransactWriteItems``: the booking goes CONFIRMED → CANCELLED (condition: still CONFIRMED and owned by
the caller), one update per month gives back one unit per night (``bDD >= 1``), and the ``booking.cancelled`` outbox
event is put (``attribute_not_exists``, id derived from the booking id). The status condition makes any number of
concurrent cancels restore each night exactly once.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import schema
from .booking_request import BookingLike, request_body
from .errors import ApiError, service_unavailable, unavailable, validation_error
from .outbox import BOOKING_CANCELLED, BOOKING_CONFIRMED, outbox_item

BOOKING_FIELDS = (
    "bookingId", "status", "listingId", "checkIn", "checkOut", "guests", "totalPrice", "currency", "createdAt",
    "cancelledAt",
)  # fmt: skip
"""A booking as the API returns it, in order: the fields of the OpenAPI ``Booking`` model (a test keeps them equal)."""
MAX_CONFLICT_RETRIES = 10
#: Network-level failures after botocore's own retries: the request may or may not have reached DynamoDB.
TRANSIENT: tuple[type[Exception], ...] = (BotoCoreError,)


def booking_id_for(scoped_key: str) -> str:
    """The booking id for an idempotency key (scoped to the client's API key)."""
    return "bk_" + hashlib.sha256(scoped_key.encode()).hexdigest()[:24]


def owner_of(client_id: str) -> str:
    """What a booking stores to know which client (API key id) made it: a hash, never the key id itself."""
    return hashlib.sha256(f"owner|{client_id}".encode()).hexdigest()[:32]


def event_id_for(booking_id: str, detail_type: str) -> str:
    """The outbox event id of a booking's event: derived, so a retried transaction carries the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cached-booking-api:{detail_type}:{booking_id}"))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def request_hash(request: BookingLike) -> str:
    """A stable hash of the booking request body."""
    body = request_body(request)
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
        cancellation_cutoff: timedelta | None = None,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._clock = clock
        self._sleep = sleep
        #: Cancellation closes this long before check-in (00:00 UTC of the check-in day); None: always open.
        self.cancellation_cutoff = cancellation_cutoff

    def create(self, request: BookingLike, scoped_key: str, owner: str = "anonymous") -> dict[str, Any]:
        """Book the stay for client ``owner`` (its API key id); returns the booking (the 201 body). Raises
        ``ApiError`` 400/404/409/422/503."""
        try:
            return self._create(request, scoped_key, owner_of(owner))
        except (BotoCoreError, ClientError) as exc:
            raise service_unavailable() from exc

    def get(self, booking_id: str, owner: str = "anonymous") -> dict[str, Any]:
        """A booking by id, if client ``owner`` made it; 404 BOOKING_NOT_FOUND otherwise (unknown or another's)."""
        return _booking_from_item(self._owned_item(booking_id, owner))

    def cancel(self, booking_id: str, owner: str = "anonymous") -> dict[str, Any]:
        """Cancel a booking of client ``owner``: 200 body with status CANCELLED, the same on every repeat; 404 when
        unknown or another client's; 409 CANCELLATION_CLOSED past the cut-off."""
        try:
            return self._cancel(booking_id, owner)
        except (BotoCoreError, ClientError) as exc:
            raise service_unavailable() from exc

    def _owned_item(self, booking_id: str, owner: str) -> dict[str, Any]:
        try:
            item = self.client.get_item(
                TableName=self.table_name, Key=_key(schema.booking_key(booking_id)), ConsistentRead=True
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            raise service_unavailable() from exc
        if item is None or item.get("owner", {}).get("S") != owner_of(owner):
            raise ApiError(404, "BOOKING_NOT_FOUND", f"No booking {booking_id}.")
        return dict(item)

    def _cancel(self, booking_id: str, owner: str) -> dict[str, Any]:
        for attempt in range(MAX_CONFLICT_RETRIES):
            item = self._owned_item(booking_id, owner)
            booking = _booking_from_item(item)
            if booking["status"] == "CANCELLED":
                return booking
            now = self._clock()
            if self.cancellation_cutoff is not None:
                closes = datetime.combine(date.fromisoformat(booking["checkIn"]), datetime.min.time(), UTC)
                closes -= self.cancellation_cutoff
                if datetime.fromtimestamp(now, UTC) >= closes:
                    raise ApiError(
                        409, "CANCELLATION_CLOSED",
                        f"Cancellation closed at {closes.isoformat().replace('+00:00', 'Z')}.",
                    )  # fmt: skip
            items = self._cancel_transaction(booking, item["owner"]["S"], now)
            try:
                self.client.transact_write_items(TransactItems=items)
                return {**booking, "status": "CANCELLED", "cancelledAt": _iso(now)}
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    continue  # cancelled meanwhile by a concurrent request: the re-read answers it
                if not any(code in ("TransactionConflict", "ThrottlingError") for code in reasons):
                    raise service_unavailable() from exc
            except (self.client.exceptions.TransactionInProgressException, *TRANSIENT):
                pass
            self._sleep(random.uniform(0, min(0.02 * 2**attempt, 0.5)))
        raise service_unavailable()

    def _cancel_transaction(self, booking: dict[str, Any], owner_hash: str, now: float) -> list[dict[str, Any]]:
        table = self.table_name
        cancelled_at = _iso(now)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": table,
                    "Key": _key(schema.booking_key(booking["bookingId"])),
                    "UpdateExpression": "SET #status = :cancelled, cancelledAt = :at",
                    "ConditionExpression": "#status = :confirmed AND #owner = :owner",
                    "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                    "ExpressionAttributeValues": {
                        ":cancelled": {"S": "CANCELLED"},
                        ":confirmed": {"S": "CONFIRMED"},
                        ":at": {"S": cancelled_at},
                        ":owner": {"S": owner_hash},
                    },
                }
            }
        ]
        check_in, check_out = date.fromisoformat(booking["checkIn"]), date.fromisoformat(booking["checkOut"])
        nights = [date.fromordinal(d) for d in range(check_in.toordinal(), check_out.toordinal())]
        for month, month_nights in schema.nights_by_month(nights).items():
            names = {f"#b{n.day:02d}": schema.booked_attribute(n) for n in month_nights}
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key(schema.month_key(booking["listingId"], month)),
                        "UpdateExpression": "SET " + ", ".join(f"{name} = {name} - :one" for name in names),
                        "ConditionExpression": " AND ".join(f"{name} >= :one" for name in names),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        detail = {
            "eventId": event_id_for(booking["bookingId"], BOOKING_CANCELLED),
            **{k: booking[k] for k in ("bookingId", "listingId", "checkIn", "checkOut", "guests")},
            "cancelledAt": cancelled_at,
        }
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": outbox_item(detail, int(now), detail_type=BOOKING_CANCELLED),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
                }
            }
        )
        return items

    def plan(
        self, request: BookingLike, scoped_key: str, owner_hash: str, listing: dict[str, Any], now: float
    ) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
        """The booking, the ``ClientRequestToken`` and the transaction items for a request at time ``now``: pure, so
        the same inputs give byte-identical items (a retry never trips ``IdempotentParameterMismatch``), and another
        table gets another token."""
        booking_id = booking_id_for(scoped_key)
        digest = request_hash(request)
        check_in, check_out = request.stay
        booking = {
            "bookingId": booking_id,
            "status": "CONFIRMED",
            "listingId": request.listingId,
            "checkIn": check_in.isoformat(),
            "checkOut": check_out.isoformat(),
            "guests": request.guests,
            "totalPrice": listing["pricePerNight"] * len(request.nights),
            "currency": listing["currency"],
            "createdAt": _iso(now),
        }
        items = self._transaction(request, listing, booking, digest, owner_hash, int(now))
        # DynamoDB keeps a token for the account and region, not the table: the table is part of it.
        token = f"{self.table_name}|{scoped_key}|{digest}|{booking['createdAt']}"
        token = hashlib.sha256(token.encode()).hexdigest()[:36]
        return booking, token, items

    def _create(self, request: BookingLike, scoped_key: str, owner_hash: str) -> dict[str, Any]:
        listing = self._listing(request.listingId)
        if request.guests > listing["maxGuests"]:
            raise validation_error(
                [{"field": "guests", "message": f"the listing takes at most {listing['maxGuests']} guests"}]
            )
        booking_id = booking_id_for(scoped_key)
        digest = request_hash(request)
        booking, token, items = self.plan(request, scoped_key, owner_hash, listing, self._clock())
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

    def _sold_out_nights(self, request: BookingLike) -> list[str]:
        """Nights of the stay with no unit left (strongly consistent reads, one batch)."""
        grouped = schema.nights_by_month(request.nights)
        keys = [_key(schema.month_key(request.listingId, month)) for month in grouped]
        response = self.client.batch_get_item(RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}})
        months = {
            schema.month_from_sort_key(item[schema.SORT_KEY]["S"]): item
            for item in response.get("Responses", {}).get(self.table_name, [])
        }
        unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
        unknown = {schema.month_from_sort_key(key[schema.SORT_KEY]["S"]) for key in unprocessed}
        sold_out: list[str] = []
        for month, nights in grouped.items():
            if month not in unknown:  # not read: not claimed sold out
                sold_out.extend(night.isoformat() for night in sold_out_nights(months.get(month, {}), nights))
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
        self,
        request: BookingLike,
        listing: dict[str, Any],
        booking: dict[str, Any],
        digest: str,
        owner_hash: str,
        now: int,
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
        for month, nights in schema.nights_by_month(request.nights).items():
            names: dict[str, str] = {}
            for night in nights:
                names[f"#b{night.day:02d}"] = schema.booked_attribute(night)
                names[f"#c{night.day:02d}"] = schema.capacity_attribute(night)
            days = [f"{night.day:02d}" for night in nights]
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key(schema.month_key(request.listingId, month)),
                        "UpdateExpression": "SET " + ", ".join(f"#b{d} = #b{d} + :one" for d in days),
                        "ConditionExpression": " AND ".join(f"#b{d} < #c{d}" for d in days),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        booking_item = {
            **_key(schema.booking_key(booking["bookingId"])),
            **{name: {"N": str(v)} if isinstance(v, int) else {"S": v} for name, v in booking.items()},
            "customer": {"M": {"name": {"S": request.customer.name}, "email": {"S": request.customer.email}}},
            "requestHash": {"S": digest},
            "owner": {"S": owner_hash},
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
        detail = {
            "eventId": event_id_for(booking["bookingId"], BOOKING_CONFIRMED),
            **{k: v for k, v in booking.items() if k != "status"},
        }
        items.append({"Put": {"TableName": table, "Item": outbox_item(detail, now, detail_type=BOOKING_CONFIRMED)}})
        return items

    def _cancelled(self, exc: Exception, request: BookingLike, booking_id: str, digest: str) -> dict[str, Any] | None:
        """Map a cancelled transaction to its answer; None means a conflict worth retrying."""
        cancellation = getattr(exc, "response", {}).get("CancellationReasons", [])
        reasons = [r.get("Code", "None") for r in cancellation]
        grouped = schema.nights_by_month(request.nights)
        if len(reasons) == len(grouped) + 3:
            if reasons[-2] == "ConditionalCheckFailed":
                return self._existing(booking_id, digest)
            sold_out: list[str] = []
            for (_, nights), reason in zip(grouped.items(), cancellation[1:-2], strict=True):
                if reason.get("Code") == "ConditionalCheckFailed":
                    sold_out.extend(n.isoformat() for n in sold_out_nights(reason.get("Item", {}), nights))
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


def sold_out_nights(month_item: dict[str, Any], nights: list[date]) -> list[date]:
    """Nights of a month item (low-level attribute values) with no unit left: booked >= capacity, or no capacity."""
    sold_out = []
    for night in nights:
        capacity = int(month_item.get(schema.capacity_attribute(night), {}).get("N", "0"))
        booked = int(month_item.get(schema.booked_attribute(night), {}).get("N", "0"))
        if booked >= capacity:
            sold_out.append(night)
    return sold_out


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}


def _booking_from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: int(item[name]["N"]) if "N" in item[name] else item[name]["S"] for name in BOOKING_FIELDS if name in item
    }
