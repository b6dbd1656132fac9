"""The sample listings: 4 destinations, 48 listings, inventory generated from a start date (default: today, UTC).

The local mode loads them when no ``--data`` file is given, so a search for tomorrow always finds something; the
``sample`` command writes the same file for ``cached-booking-api load``. The output is the loader's ordinary JSON
Lines format and is deterministic: the same start date and number of nights give the same bytes.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DESTINATIONS = {"Lisbon": "EUR", "Porto": "EUR", "Barcelona": "EUR", "London": "GBP"}
LISTINGS_PER_DESTINATION = 12
NIGHTS = 365
_WORDS = ["Casa", "Loft", "Studio", "Villa", "Flat", "House", "Suite", "Nest"]
_COLOURS = ["Azul", "Verde", "Sol", "Mar", "Rio", "Luz", "Alto", "Doce", "Bela", "Nova", "Rosa", "Prata"]
_SEED = 20261201


def today() -> date:
    """Today's date in UTC (the API rejects a checkIn before it)."""
    return datetime.now(UTC).date()


def sample_listings(start: date | None = None, nights: int = NIGHTS) -> Iterator[dict[str, Any]]:
    """Yield the sample listings with inventory for ``nights`` nights from ``start`` (default: today, UTC).

    A listing's name, price, capacity and units do not depend on ``start``; on about 15 % of its nights one unit
    fewer is offered, so searches show varied availability.
    """
    if nights < 1:
        raise ValueError(f"nights must be at least 1 (got {nights})")
    first = start or today()
    for d_index, (destination, currency) in enumerate(DESTINATIONS.items()):
        for n in range(LISTINGS_PER_DESTINATION):
            listing_id = f"lis-{d_index + 1}{n + 1:02d}"
            rng = random.Random(f"{_SEED}:{listing_id}")
            units = rng.randint(1, 5)
            price = rng.randrange(6000, 40000, 100)
            max_guests = rng.choice([2, 2, 3, 4, 4, 6, 8])
            inventory = {}
            for offset in range(nights):
                night = first + timedelta(days=offset)
                dip = zlib.crc32(f"{_SEED}:{listing_id}:{night.isoformat()}".encode()) % 100 < 15  # per date
                inventory[night.isoformat()] = max(0, units - 1) if dip else units
            yield {
                "listingId": listing_id,
                "name": f"{_WORDS[n % len(_WORDS)]} {_COLOURS[n]}",
                "destination": destination,
                "pricePerNight": price,
                "currency": currency,
                "maxGuests": max_guests,
                "inventory": inventory,
            }


def sample_lines(start: date | None = None, nights: int = NIGHTS) -> Iterator[str]:
    """The sample as JSON Lines (one listing per line, newline-terminated)."""
    for listing in sample_listings(start, nights):
        yield json.dumps(listing, separators=(",", ":")) + "\n"


def write_sample(path: Path, start: date | None = None, nights: int = NIGHTS) -> Path:
    """Write the sample listing file to ``path``; returns ``path``."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines(sample_lines(start, nights))
    return path
