"""Writes the sample listing file shipped in the package (deterministic: same output every run)."""

import json
import random
from datetime import date, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "cached_booking_api" / "data" / "sample-listings.jsonl"
DESTINATIONS = {"Lisbon": "EUR", "Porto": "EUR", "Barcelona": "EUR", "London": "GBP"}
WORDS = ["Casa", "Loft", "Studio", "Villa", "Flat", "House", "Suite", "Nest"]
COLOURS = ["Azul", "Verde", "Sol", "Mar", "Rio", "Luz", "Alto", "Doce", "Bela", "Nova", "Rosa", "Prata"]
FIRST_NIGHT, NIGHTS = date(2026, 12, 1), 365


def main() -> None:
    rng = random.Random(20261201)
    lines = []
    for d_index, (destination, currency) in enumerate(DESTINATIONS.items()):
        for n in range(12):
            units = rng.randint(1, 5)
            inventory = {
                (FIRST_NIGHT + timedelta(days=i)).isoformat(): max(0, units - (1 if rng.random() < 0.15 else 0))
                for i in range(NIGHTS)
            }
            listing = {
                "listingId": f"lis-{d_index + 1}{n + 1:02d}",
                "name": f"{WORDS[n % len(WORDS)]} {COLOURS[n]}",
                "destination": destination,
                "pricePerNight": rng.randrange(6000, 40000, 100),
                "currency": currency,
                "maxGuests": rng.choice([2, 2, 3, 4, 4, 6, 8]),
                "inventory": inventory,
            }
            lines.append(json.dumps(listing, separators=(",", ":")))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
