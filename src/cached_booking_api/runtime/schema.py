"""The single-table key schema, defined once for the construct, the handlers, the loader and the local mode.

Item types (all keys are strings):

| item      | pk                    | sk                  | other attributes                                     |
|-----------|-----------------------|---------------------|------------------------------------------------------|
| listing   | ``LISTING#<id>``      | ``META``            | gsi1pk ``DEST#<destination>``, gsi1sk ``<price>#<id>``|
| inventory | ``LISTING#<id>``      | ``NIGHT#<date>``    | ``available`` (units left), ``destinationTag``       |
| booking   | ``BOOKING#<id>``      | ``BOOKING``         | the booking, the customer, ``requestHash``           |
| outbox    | ``OUTBOX#<event id>`` | ``EVENT``           | ``entityType`` OUTBOX, the event's fields, TTL       |

Idempotency records live in a table of their own (``IDEMPOTENCY_*``), so the booking role may delete only there.

Listings are found per destination through the ``byDestination`` index, whose sort key orders them by price then id,
which is the order the search contract asks for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expiresAt"

LISTING_SORT_KEY = "META"
NIGHT_PREFIX = "NIGHT#"
AVAILABLE_ATTRIBUTE = "available"
DESTINATION_TAG_ATTRIBUTE = "destinationTag"
ENTITY_ATTRIBUTE = "entityType"
OUTBOX_ENTITY = "OUTBOX"
BOOKING_SORT_KEY = "BOOKING"
OUTBOX_SORT_KEY = "EVENT"

#: The idempotency table (Powertools' DynamoDB persistence layer defaults).
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

LISTING_ATTRIBUTES = ("listingId", "name", "destination", "pricePerNight", "currency", "maxGuests")


@dataclass(frozen=True)
class IndexDefinition:
    """A global secondary index: its name, string key attributes and the non-key attributes it projects."""

    name: str
    partition_key: str
    sort_key: str
    projected_attributes: tuple[str, ...]


#: Listings of one destination ordered by price, then id. Projects only what a search result needs.
BY_DESTINATION_INDEX = IndexDefinition(
    name="byDestination",
    partition_key="gsi1pk",
    sort_key="gsi1sk",
    projected_attributes=LISTING_ATTRIBUTES,
)

GLOBAL_SECONDARY_INDEXES = (BY_DESTINATION_INDEX,)

#: Prices are zero-padded in the index sort key so string order equals numeric order (up to 10^12 minor units).
PRICE_DIGITS = 12


def normalize_destination(destination: str) -> str:
    """Case- and whitespace-insensitive form of a destination, used in keys and in cache keys."""
    return " ".join(destination.split()).casefold()


def destination_tag(destination: str) -> str:
    """A short, brace-free stand-in for a destination, safe inside a Redis hash tag."""
    return hashlib.sha256(normalize_destination(destination).encode()).hexdigest()[:16]


def listing_key(listing_id: str) -> dict[str, str]:
    """Primary key of a listing item."""
    return {PARTITION_KEY: f"LISTING#{listing_id}", SORT_KEY: LISTING_SORT_KEY}


def night_key(listing_id: str, night: date) -> dict[str, str]:
    """Primary key of the inventory item of one listing on one night."""
    return {PARTITION_KEY: f"LISTING#{listing_id}", SORT_KEY: f"{NIGHT_PREFIX}{night.isoformat()}"}


def booking_key(booking_id: str) -> dict[str, str]:
    """Primary key of a booking item."""
    return {PARTITION_KEY: f"BOOKING#{booking_id}", SORT_KEY: BOOKING_SORT_KEY}


def outbox_key(event_id: str) -> dict[str, str]:
    """Primary key of an outbox event item."""
    return {PARTITION_KEY: f"OUTBOX#{event_id}", SORT_KEY: OUTBOX_SORT_KEY}


def night_from_sort_key(sort_key: str) -> date:
    """The night an inventory item's sort key names."""
    return date.fromisoformat(sort_key.removeprefix(NIGHT_PREFIX))


def listing_id_from_partition_key(partition_key: str) -> str:
    """The listing id in a ``LISTING#<id>`` partition key."""
    return partition_key.removeprefix("LISTING#")


def destination_index_keys(destination: str, price_per_night: int, listing_id: str) -> dict[str, str]:
    """The ``byDestination`` index attributes of a listing item."""
    return {
        BY_DESTINATION_INDEX.partition_key: destination_partition(destination),
        BY_DESTINATION_INDEX.sort_key: f"{price_per_night:0{PRICE_DIGITS}d}#{listing_id}",
    }


def destination_partition(destination: str) -> str:
    """The ``byDestination`` partition key value of a destination."""
    return f"DEST#{normalize_destination(destination)}"


def table_definition() -> dict[str, object]:
    """Keyword arguments for DynamoDB ``CreateTable`` (local mode and tests) matching what the construct deploys."""
    key_attributes = {PARTITION_KEY, SORT_KEY}
    for index in GLOBAL_SECONDARY_INDEXES:
        key_attributes.update((index.partition_key, index.sort_key))
    return {
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in sorted(key_attributes)],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected_attributes)},
            }
            for index in GLOBAL_SECONDARY_INDEXES
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def idempotency_table_definition() -> dict[str, object]:
    """Keyword arguments for ``CreateTable`` of the idempotency table (local mode and tests)."""
    return {
        "AttributeDefinitions": [{"AttributeName": IDEMPOTENCY_PARTITION_KEY, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
