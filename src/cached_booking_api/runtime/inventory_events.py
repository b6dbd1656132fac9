"""Inbound ``inventory.updated`` events: external systems change capacity through the bus (BRIEF §4, issue 9.4).

An event's detail is ``{"eventId", "listingId", "nights": {"YYYY-MM-DD": capacity}}``. It is applied through the
loader's safe write (``loader.capacity_update``: a night's capacity is set only where it is not below the units
already booked) and, in the same ``TransactWriteItems``, a receipt item keyed by the event's source and ``eventId``
is put with ``attribute_not_exists``: an event is applied once, whatever EventBridge or a DLQ redrive delivers again,
and never half (the receipt and every applied month commit together, or nothing does). A night whose new capacity is
below what is booked is refused and reported, per listing-night, like the loader does; the other nights are applied.

``apply_inventory_event`` is the plain Python entry point: the Lambda handler, the local mode and tests call it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from . import schema
from .inventory_contract import INVENTORY_UPDATED, MAX_SOURCE_LENGTH
from .loader import (
    MAX_CONDITION_ROUNDS,
    MAX_TRANSACTION_CONFLICTS,
    CapacityConflict,
    capacity_update,
    conflict_backoff,
)
from .models import DeferredModel, IsoDate, describe_errors

#: At most this many nights per event: 400 nights span at most 15 months, so one transaction holds the receipt and
#: every month item (a transaction takes at most 100 items).
MAX_NIGHTS_PER_EVENT = 400
MAX_CAPACITY = 100_000
#: How long a receipt keeps a redelivered event from being applied again: longer than the dead-letter queues keep a
#: message (14 days), so a redrive from a DLQ is still recognised.
RECEIPT_TTL_SECONDS = 15 * 24 * 3600
RECEIPT_PREFIX = "INBOUND#"
RECEIPT_SORT_KEY = "RECEIPT"
RECEIPT_ENTITY = "INBOUND_EVENT"

Status = Literal["APPLIED", "DUPLICATE"]
#: Cancellation reasons that say "another writer holds the item, or DynamoDB is throttling": send again later.
BUSY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class InventoryUpdatedDetail(DeferredModel):
    """The ``inventory.updated`` event detail."""

    model_config = ConfigDict(extra="forbid")

    eventId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    listingId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    nights: dict[IsoDate, Annotated[int, Field(ge=0, le=MAX_CAPACITY)]] = Field(
        min_length=1, max_length=MAX_NIGHTS_PER_EVENT
    )


class InvalidInventoryEvent(ValueError):
    """The event cannot be applied, now or on any retry: nothing of it was written. ``details`` name each problem
    (``[{"field", "message"}]``)."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """As the contract's error body (local endpoint) and as the DLQ message's ``error``."""
        return {"error": {"code": "INVALID_INVENTORY_EVENT", "message": self.message, "details": self.details}}


class InventoryEventBusy(RuntimeError):
    """Bookings kept the event's month items in their transactions (or kept racing it) through every retry: nothing
    of the event was written, no receipt either. Transient: the consumer lets it raise, so Lambda retries the
    invocation and then sends it to its on-failure destination (the dead-letter queue); a redelivery applies it."""


@dataclass
class InventoryEventResult:
    """What applying one event did: ``APPLIED`` (now) or ``DUPLICATE`` (applied before: the stored outcome)."""

    source: str
    event_id: str
    listing_id: str
    status: Status
    applied: list[date] = field(default_factory=list)
    conflicts: list[CapacityConflict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: logs, the local endpoint and the CLI print this."""
        return {
            "source": self.source,
            "eventId": self.event_id,
            "listingId": self.listing_id,
            "status": self.status,
            "applied": [night.isoformat() for night in self.applied],
            "conflicts": [
                {"night": c.night.isoformat(), "capacity": c.capacity, "booked": c.booked} for c in self.conflicts
            ],
        }


def validate_source(source: object) -> str:
    """An EventBridge ``source``: 1-256 characters, not reserved by AWS (``aws.``)."""
    if not isinstance(source, str) or not 1 <= len(source) <= MAX_SOURCE_LENGTH or source.startswith("aws."):
        raise InvalidInventoryEvent(
            "source: must be 1-256 characters and must not start with 'aws.'",
            [{"field": "source", "message": "invalid"}],
        )
    return source


def parse_detail(detail: object) -> InventoryUpdatedDetail:
    """Validate a detail; ``InvalidInventoryEvent`` names every bad field."""
    try:
        return InventoryUpdatedDetail.model_validate(detail)
    except ValidationError as exc:
        details = [{**d, "field": f"detail.{d['field']}"} for d in describe_errors(exc)]
        raise InvalidInventoryEvent("the inventory.updated detail is invalid", details) from None


def parse_event(event: object) -> tuple[str, InventoryUpdatedDetail]:
    """``(source, detail)`` of an event as EventBridge delivers it to a target (``source``, ``detail-type``,
    ``detail``) or as a sender puts it (a PutEvents entry: ``Source``, ``DetailType``, ``Detail`` as a JSON string)."""
    if not isinstance(event, dict):
        raise InvalidInventoryEvent("the event must be a JSON object", [{"field": "body", "message": "not an object"}])
    if "Source" in event or "DetailType" in event:
        source, detail_type, detail = event.get("Source"), event.get("DetailType"), event.get("Detail")
        if isinstance(detail, str):
            try:
                detail = json.loads(detail)
            except ValueError:
                raise InvalidInventoryEvent(
                    "Detail must be a JSON object in a string", [{"field": "Detail", "message": "not valid JSON"}]
                ) from None
    else:
        source, detail_type, detail = event.get("source"), event.get("detail-type"), event.get("detail")
    if detail_type != INVENTORY_UPDATED:
        raise InvalidInventoryEvent(
            f"detail-type must be {INVENTORY_UPDATED!r}", [{"field": "detail-type", "message": f"got {detail_type!r}"}]
        )
    return validate_source(source), parse_detail(detail)


def detail_hash(detail: InventoryUpdatedDetail) -> str:
    """A digest of the detail's meaning (canonical JSON): a redelivery matches it, a reused eventId does not."""
    canonical = json.dumps(detail.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def receipt_key(source: str, event_id: str) -> dict[str, str]:
    """Primary key of the receipt of one event."""
    return {schema.PARTITION_KEY: f"{RECEIPT_PREFIX}{source}#{event_id}", schema.SORT_KEY: RECEIPT_SORT_KEY}


def apply_inventory_event(
    client: Any,
    table_name: str,
    detail: InventoryUpdatedDetail | dict[str, Any],
    *,
    source: str,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> InventoryEventResult:
    """Apply one ``inventory.updated`` event exactly once (per source and eventId), never half.

    A transaction cancelled because a month item is in another transaction (a booking's) or throttled is sent again
    after a jittered backoff (``loader.conflict_backoff``), at most ``MAX_TRANSACTION_CONFLICTS`` times; one that
    refuses nights (capacity below booked) is sent again without them, at most ``MAX_CONDITION_ROUNDS`` times.

    Raises ``InvalidInventoryEvent`` (nothing written) for an invalid detail or source, an unknown listing, or an
    eventId already used with a different detail. ``InventoryEventBusy`` (retries exhausted) and any other exception
    (a network error) are transient: nothing was written either, and the event can be retried as it is.
    """
    source = validate_source(source)
    parsed = detail if isinstance(detail, InventoryUpdatedDetail) else parse_detail(detail)
    digest = detail_hash(parsed)
    listing = client.get_item(
        TableName=table_name,
        Key={n: {"S": v} for n, v in schema.listing_key(parsed.listingId).items()},
        ProjectionExpression="destination",
        ConsistentRead=True,
    ).get("Item")
    if listing is None:
        raise InvalidInventoryEvent(
            f"listing {parsed.listingId!r} does not exist (load it first)",
            [{"field": "detail.listingId", "message": "unknown listing"}],
        )
    destination = listing["destination"]["S"]
    pending = dict(parsed.nights)
    conflicts: list[CapacityConflict] = []
    rounds = busy = 0
    while True:
        months = schema.nights_by_month(pending)
        items = [_receipt_put(table_name, source, parsed, digest, pending, conflicts, clock())]
        for month, nights in months.items():
            update = capacity_update(
                table_name, parsed.listingId, destination, month, {night: pending[night] for night in nights}
            )
            del update["ReturnValues"]  # not part of a transaction's Update
            items.append({"Update": update})
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            codes = {reason.get("Code", "None") for reason in reasons}
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return _duplicate(reasons[0].get("Item", {}), source, parsed, digest)
            refused = _refused_nights(reasons[1:], list(months.values()), pending, parsed.listingId)
            conflicts.extend(refused)
            for conflict in refused:
                pending.pop(conflict.night)
            if codes & BUSY_REASONS:  # a booking holds a month item (or throttling): wait, then send again
                busy += 1
                if busy > MAX_TRANSACTION_CONFLICTS:
                    raise InventoryEventBusy(
                        f"{parsed.listingId}: event {parsed.eventId} met booking transactions {busy} times "
                        f"({', '.join(sorted(codes & BUSY_REASONS))}); nothing written, retry it"
                    ) from None
                sleep(conflict_backoff(busy))
                continue
            if "ConditionalCheckFailed" not in codes:
                raise  # not a condition, not contention (e.g. a ValidationError): retrying would not help
            if refused:
                continue  # the refused nights are dropped: progress, at most one round per night
            rounds += 1  # a condition failed yet no night is over capacity in the item returned: send again
            if rounds >= MAX_CONDITION_ROUNDS:
                raise InventoryEventBusy(
                    f"{parsed.listingId}: bookings kept racing the inventory event {parsed.eventId}; nothing written, "
                    "retry it"
                ) from None
            continue
        return InventoryEventResult(source, parsed.eventId, parsed.listingId, "APPLIED", sorted(pending),
                                    sorted(conflicts, key=lambda c: c.night))  # fmt: skip


def _receipt_put(
    table_name: str,
    source: str,
    detail: InventoryUpdatedDetail,
    digest: str,
    applied: dict[date, int],
    conflicts: list[CapacityConflict],
    now: float,
) -> dict[str, Any]:
    item = {
        **{name: {"S": value} for name, value in receipt_key(source, detail.eventId).items()},
        schema.ENTITY_ATTRIBUTE: {"S": RECEIPT_ENTITY},
        "eventSource": {"S": source},
        "eventId": {"S": detail.eventId},
        "listingId": {"S": detail.listingId},
        "requestHash": {"S": digest},
        "applied": {"S": json.dumps(sorted(night.isoformat() for night in applied))},
        "conflicts": {"S": json.dumps([[c.night.isoformat(), c.capacity, c.booked] for c in conflicts])},
        schema.TTL_ATTRIBUTE: {"N": str(int(now) + RECEIPT_TTL_SECONDS)},
    }
    return {
        "Put": {
            "TableName": table_name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _duplicate(
    receipt: dict[str, Any], source: str, detail: InventoryUpdatedDetail, digest: str
) -> InventoryEventResult:
    if receipt.get("requestHash", {}).get("S") != digest:
        raise InvalidInventoryEvent(
            f"eventId {detail.eventId!r} of source {source!r} was already applied with a different detail; "
            "give every change its own eventId",
            [{"field": "detail.eventId", "message": "reused with a different detail"}],
        )
    applied = [date.fromisoformat(night) for night in json.loads(receipt.get("applied", {}).get("S", "[]"))]
    conflicts = [
        CapacityConflict(detail.listingId, date.fromisoformat(night), capacity, booked)
        for night, capacity, booked in json.loads(receipt.get("conflicts", {}).get("S", "[]"))
    ]
    return InventoryEventResult(source, detail.eventId, detail.listingId, "DUPLICATE", applied, conflicts)


def _refused_nights(
    reasons: list[dict[str, Any]], months: list[list[date]], pending: dict[date, int], listing_id: str
) -> list[CapacityConflict]:
    """The nights whose booked units exceed the new capacity, from the month items DynamoDB returned as they are."""
    refused = []
    for reason, nights in zip(reasons, months, strict=False):
        if reason.get("Code") != "ConditionalCheckFailed":
            continue
        current = reason.get("Item", {})
        for night in nights:
            booked = int(current.get(schema.booked_attribute(night), {}).get("N", "0"))
            if booked > pending[night]:
                refused.append(CapacityConflict(listing_id, night, pending[night], booked))
    return refused
