"""What can be sold, per listing and month, and the one composition of search results from it (issue 9.5).

A month item (``schema``: ``cDD`` capacity and ``bDD`` booked units per day) gives, per day that has a capacity, the
units left: ``cDD - bDD``. The same function reads it from a Query of the inventory index and from a table stream
image (both are DynamoDB JSON), so the cache the stream consumer writes through and the cache a miss fills hold the
same values.

Compact encoding (a Redis hash field's value, one per listing and month): comma-separated runs from day 1, each run
``<units>`` or ``<units>*<days>``; an empty ``<units>`` is a day without capacity (not sellable). ``"3*31"`` is 3 units
every day of a 31-day month, ``"*4,2,3*26"`` nothing on the 1st-4th, 2 on the 5th, 3 afterwards; ``""`` (the
tombstone) is nothing at all.

``compose`` turns a destination's catalogue and the sellable units into the search answer; the DynamoDB path
(``ListingRepository.find_available``) and the cache path (``SearchService``) both call it, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import schema

#: Units left per day of the month (1-31); a day without capacity is absent.
MonthSellable = dict[int, int]

#: The encoding of "nothing sellable": what a removed or moved month item leaves in its old destination's hash.
TOMBSTONE = ""

#: The result fields of a listing, in contract order (``maxGuests`` is a filter, not a result field).
RESULT_FIELDS = ("listingId", "name", "destination", "pricePerNight", "currency")


@dataclass(frozen=True)
class MonthWrite:
    """One write-through of the stream consumer: a listing's units per day in a destination's month."""

    destination_tag: str
    month: str
    listing_id: str
    value: str
    """``encode`` of the new image; ``TOMBSTONE`` where the item was removed or moved away."""


def month_sellable(item: Mapping[str, Any]) -> MonthSellable:
    """Units left (capacity - booked) per day of a month item in DynamoDB JSON (an index item or a stream image)."""
    sellable: MonthSellable = {}
    for day in range(1, 32):
        capacity = item.get(f"{schema.CAPACITY_PREFIX}{day:02d}")
        if capacity is None:
            continue
        booked = item.get(f"{schema.BOOKED_PREFIX}{day:02d}")
        sellable[day] = int(capacity["N"]) - (int(booked["N"]) if booked is not None else 0)
    return sellable


def encode(sellable: MonthSellable) -> str:
    """The compact run-length form of a month (see the module docstring); ``TOMBSTONE`` when nothing is sellable."""
    if not sellable:
        return TOMBSTONE
    runs: list[tuple[str, int]] = []
    for day in range(1, max(sellable) + 1):
        value = str(sellable[day]) if day in sellable else ""
        if runs and runs[-1][0] == value:
            runs[-1] = (value, runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    return ",".join(value if count == 1 else f"{value}*{count}" for value, count in runs)


def decode(text: str) -> MonthSellable:
    """The units per day of an encoded month; raises ``ValueError`` when it is not one (a corrupt value)."""
    sellable: MonthSellable = {}
    if text == TOMBSTONE:
        return sellable
    day = 1
    for run in text.split(","):
        value, star, count = run.partition("*")
        days = int(count) if star else 1
        if days < 1 or day + days > 32:
            raise ValueError(f"malformed sellable value: {text[:40]!r}")
        if value:
            units = int(value)
            for offset in range(days):
                sellable[day + offset] = units
        day += days
    return sellable


def compose(
    catalogue: Iterable[Mapping[str, Any]],
    sellable: Callable[[str, str], MonthSellable | None],
    nights: Sequence[date],
    guests: int,
) -> list[dict[str, Any]]:
    """Search results: the catalogue's listings with ``maxGuests >= guests`` and at least one unit on every night,
    each with ``available`` (the fewest units over the nights) and ``totalPrice``, ordered by price, then id.

    ``sellable(listing_id, month)`` gives a listing's units per day of a ``yyyy-mm`` month, None when it has none.
    """
    by_month = schema.nights_by_month(nights)
    results = []
    for listing in catalogue:
        if int(listing.get("maxGuests", 0)) < guests or not nights:
            continue
        available: int | None = None
        for month, month_nights in by_month.items():
            units = sellable(str(listing["listingId"]), month) or {}
            for night in month_nights:
                left = units.get(night.day, 0)
                available = left if available is None else min(available, left)
        if available is not None and available > 0:
            result = {name: listing[name] for name in RESULT_FIELDS}
            total = int(listing["pricePerNight"]) * len(nights)
            results.append({**result, "totalPrice": total, "available": available})
    results.sort(key=lambda r: (r["pricePerNight"], r["listingId"]))
    return results


def listing_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A catalogue listing (the result fields and ``maxGuests``) from a listing item in DynamoDB JSON."""
    return {
        "listingId": item["listingId"]["S"],
        "name": item["name"]["S"],
        "destination": item["destination"]["S"],
        "pricePerNight": int(item["pricePerNight"]["N"]),
        "currency": item["currency"]["S"],
        "maxGuests": int(item["maxGuests"]["N"]),
    }
