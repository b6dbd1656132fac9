"""The single-table key schema, defined once for the construct, the handlers, the loader and the local mode.

Item types (all keys are strings):

| item      | pk                    | sk                  | other attributes                                     |
|-----------|-----------------------|---------------------|------------------------------------------------------|
| listing   | ``LISTING#<id>``      | ``META``            | gsi1pk ``DEST#<destination>``, gsi1sk ``<price>#<id>``|
| inventory | ``LISTING#<id>``      | ``MONTH#<yyyy-mm>`` | per day ``cDD`` capacity, ``bDD`` booked units;      |
|           |                       |                     | ``destinationTag``; gsi2pk ``DEST#<destination>``,    |
|           |                       |                     | gsi2sk ``<yyyy-mm>#<id>``                             |
| booking   | ``BOOKING#<id>``      | ``BOOKING``         | the booking, the customer, ``requestHash``           |
| outbox    | ``OUTBOX#<event id>`` | ``EVENT``           | ``entityType`` OUTBOX, the event's fields, TTL       |

Idempotency records live in a table of their own (``IDEMPOTENCY_*``), so the booking role may delete only there.

Listings are found per destination through the ``byDestination`` index, whose sort key orders them by price then id,
which is the order the search contract asks for.

Inventory: one item per listing and month. Capacity (what the listing file states) and booked units are separate
attributes, so no write path can hand a booked unit back: a booking does ``SET bDD = bDD + 1`` only if ``bDD < cDD``, a
cancellation ``SET bDD = bDD - 1`` only if ``bDD >= 1`` and only once (guarded by the booking's status), the loader
``SET cDD = :cap`` only if ``attribute_not_exists(bDD) OR bDD <= :cap``. What can be sold is ``cDD - bDD``. A search
over a destination reads every listing's months of the stay with ONE Query of the ``inventoryByDestination`` index
(Query is charged by the total size read, not per item) next to the ``byDestination`` Query of the listings.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expiresAt"

LISTING_SORT_KEY = "META"
MONTH_PREFIX = "MONTH#"
#: Per-day attribute prefixes of an inventory (month) item: ``c07`` = capacity on the 7th, ``b07`` = units booked.
CAPACITY_PREFIX = "c"
BOOKED_PREFIX = "b"
DESTINATION_TAG_ATTRIBUTE = "destinationTag"
#: The cache scope of a change to a whole destination's catalogue (a listing's name, price, size or destination); the
#: other scopes are months (``yyyy-mm``) written through: see runtime/cache.py.
ALL_NIGHTS = "*"
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
    """A global secondary index: its name, string key attributes and the non-key attributes it projects (``None``:
    every attribute, projection type ALL)."""

    name: str
    partition_key: str
    sort_key: str
    projected_attributes: tuple[str, ...] | None

    @property
    def projection(self) -> dict[str, object]:
        """The ``Projection`` of ``CreateTable``."""
        if self.projected_attributes is None:
            return {"ProjectionType": "ALL"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.projected_attributes)}


#: Listings of one destination ordered by price, then id. Projects only what a search result needs.
BY_DESTINATION_INDEX = IndexDefinition(
    name="byDestination",
    partition_key="gsi1pk",
    sort_key="gsi1sk",
    projected_attributes=LISTING_ATTRIBUTES,
)

#: Every day attribute an inventory item can have.
DAY_ATTRIBUTES = tuple(f"{prefix}{day:02d}" for prefix in (CAPACITY_PREFIX, BOOKED_PREFIX) for day in range(1, 32))

#: Inventory (month) items of one destination ordered by month, then listing id: one Query reads a stay's months of
#: every listing. Sparse (only month items carry its keys) and projecting ALL: an INCLUDE list may name at most 20
#: attributes, and a month item is its 62 day attributes plus its tag.
INVENTORY_INDEX = IndexDefinition(
    name="inventoryByDestination",
    partition_key="gsi2pk",
    sort_key="gsi2sk",
    projected_attributes=None,
)

GLOBAL_SECONDARY_INDEXES = (BY_DESTINATION_INDEX, INVENTORY_INDEX)

#: Prices are zero-padded in the index sort key so string order equals numeric order (up to 10^12 minor units).
PRICE_DIGITS = 12


def normalize_text(text: str) -> str:
    """The one matching form of user-typed names: Unicode NFKC, whitespace collapsed, then case-folded (and NFKC
    again, as case folding can un-normalise). "Zürich" typed precomposed or decomposed (NFD), "ZÜRICH" and
    "zurich " with a full-width space all become the same key."""
    compatible = " ".join(unicodedata.normalize("NFKC", text).split())
    return unicodedata.normalize("NFKC", compatible.casefold())


def normalize_destination(destination: str) -> str:
    """The form of a destination used in index keys, cache keys and by the loader (see ``normalize_text``)."""
    return normalize_text(destination)


def destination_tag(destination: str) -> str:
    """A short, brace-free stand-in for a destination, safe inside a Redis hash tag."""
    return hashlib.sha256(normalize_destination(destination).encode()).hexdigest()[:16]


def listing_key(listing_id: str) -> dict[str, str]:
    """Primary key of a listing item."""
    return {PARTITION_KEY: f"LISTING#{listing_id}", SORT_KEY: LISTING_SORT_KEY}


def month_of(night: date) -> str:
    """The ``yyyy-mm`` month a night belongs to."""
    return f"{night.year:04d}-{night.month:02d}"


def month_key(listing_id: str, month: str) -> dict[str, str]:
    """Primary key of the inventory item of one listing in one month (``yyyy-mm``)."""
    return {PARTITION_KEY: f"LISTING#{listing_id}", SORT_KEY: f"{MONTH_PREFIX}{month}"}


def capacity_attribute(night: date) -> str:
    """The attribute holding a night's capacity in its month item."""
    return f"{CAPACITY_PREFIX}{night.day:02d}"


def booked_attribute(night: date) -> str:
    """The attribute holding a night's booked units in its month item."""
    return f"{BOOKED_PREFIX}{night.day:02d}"


def nights_by_month(nights: Iterable[date]) -> dict[str, list[date]]:
    """Nights grouped by month, months and nights in order."""
    grouped: dict[str, list[date]] = {}
    for night in sorted(nights):
        grouped.setdefault(month_of(night), []).append(night)
    return grouped


def night_of(month: str, attribute: str) -> date:
    """The night a day attribute (``c07``/``b07``) of a month item stands for."""
    return date.fromisoformat(f"{month}-{attribute[1:]}")


def inventory_index_keys(destination: str, listing_id: str, month: str) -> dict[str, str]:
    """The ``inventoryByDestination`` index attributes of a month item."""
    return {
        INVENTORY_INDEX.partition_key: destination_partition(destination),
        INVENTORY_INDEX.sort_key: f"{month}#{listing_id}",
    }


def booking_key(booking_id: str) -> dict[str, str]:
    """Primary key of a booking item."""
    return {PARTITION_KEY: f"BOOKING#{booking_id}", SORT_KEY: BOOKING_SORT_KEY}


def outbox_key(event_id: str) -> dict[str, str]:
    """Primary key of an outbox event item."""
    return {PARTITION_KEY: f"OUTBOX#{event_id}", SORT_KEY: OUTBOX_SORT_KEY}


def month_from_sort_key(sort_key: str) -> str:
    """The ``yyyy-mm`` an inventory item's sort key names."""
    return sort_key.removeprefix(MONTH_PREFIX)


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
                "Projection": index.projection,
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
