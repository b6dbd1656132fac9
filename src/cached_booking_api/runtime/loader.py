"""Loads a listing file (JSON Lines, BRIEF §3) into the table with the shared key schema.

Every line is validated before anything is written; a bad line is reported with its number and nothing of that listing
is written. Good listings are written with batched ``BatchWriteItem`` calls (25 items each).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from . import schema
from .models import ListingRecord, describe_errors

BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ATTEMPTS = 8


@dataclass(frozen=True)
class LineError:
    """Why one line of the file was rejected."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class LoadReport:
    """What a load did: listings and inventory items written, lines rejected."""

    listings: int = 0
    inventory_items: int = 0
    rejected: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no line was rejected."""
        return not self.rejected


def parse_listings(lines: Iterable[str]) -> tuple[list[ListingRecord], list[LineError]]:
    """Validate every line; returns the good records and an error per bad line (blank lines are skipped)."""
    records: list[ListingRecord] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = ListingRecord.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValidationError as exc:
            problems = "; ".join(f"{d['field']}: {d['message']}" for d in describe_errors(exc))
            errors.append(LineError(number, problems))
            continue
        if record.listingId in seen:
            errors.append(
                LineError(number, f"listingId {record.listingId!r} already defined on line {seen[record.listingId]}")
            )
            continue
        seen[record.listingId] = number
        records.append(record)
    return records, errors


def listing_items(record: ListingRecord) -> list[dict[str, Any]]:
    """The DynamoDB items (low-level format) of one listing: the listing item and one inventory item per night."""
    listing: dict[str, Any] = {
        **schema.listing_key(record.listingId),
        **schema.destination_index_keys(record.destination, record.pricePerNight, record.listingId),
        "listingId": record.listingId,
        "name": record.name,
        "destination": record.destination,
        "pricePerNight": record.pricePerNight,
        "currency": record.currency,
        "maxGuests": record.maxGuests,
    }
    items = [listing]
    tag = schema.destination_tag(record.destination)  # lets the stream consumer invalidate on inventory changes
    for night, units in sorted(record.inventory.items()):
        items.append(
            {
                **schema.night_key(record.listingId, night),
                schema.AVAILABLE_ATTRIBUTE: units,
                schema.DESTINATION_TAG_ATTRIBUTE: tag,
            }
        )
    return [_to_attribute_values(item) for item in items]


def load_listings(
    client: Any, table_name: str, lines: Iterable[str], *, sleep: Callable[[float], None] = time.sleep
) -> LoadReport:
    """Validate then write a listing file; see the module docstring."""
    records, errors = parse_listings(lines)
    report = LoadReport(rejected=errors)
    items = [item for record in records for item in listing_items(record)]
    for chunk in _chunks(items, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
        for attempt in range(MAX_UNPROCESSED_ATTEMPTS):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise RuntimeError("DynamoDB kept items unprocessed; retry the load (it is idempotent)")
    report.listings = len(records)
    report.inventory_items = len(items) - len(records)
    return report


def _to_attribute_values(item: dict[str, Any]) -> dict[str, Any]:
    return {name: {"N": str(value)} if isinstance(value, int) else {"S": value} for name, value in item.items()}


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
