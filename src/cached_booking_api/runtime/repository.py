"""DynamoDB reads of the search path: one Query for a destination's listings, one Query for their inventory."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from . import schema


class RepositoryUnavailable(Exception):
    """DynamoDB could not answer (unreachable, throttled past retries, or kept keys unprocessed)."""


class ListingRepository:
    """Finds listings with capacity and availability for a stay, batching every read."""

    def __init__(self, client: Any, table_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.table_name = table_name
        self._sleep = sleep

    def find_available(self, destination: str, nights: Sequence[date], guests: int) -> list[dict[str, Any]]:
        """Listings of ``destination`` for ``guests`` with at least one unit every night, by price then id.

        Each result carries ``available``, the smallest unit count over the nights, and ``totalPrice``.
        """
        try:
            listings = self._listings(destination, guests)
            if not listings or not nights:
                return []
            sellable = self._sellable(destination, nights)
        except RepositoryUnavailable:
            raise
        except Exception as exc:  # botocore ClientError, EndpointConnectionError, ...
            raise RepositoryUnavailable(str(exc)) from exc
        results = []
        for listing in listings:
            per_night = sellable.get(listing["listingId"], {})
            available = min(per_night.get(night, 0) for night in nights)
            if available > 0:
                results.append(
                    {**listing, "totalPrice": listing["pricePerNight"] * len(nights), "available": available}
                )
        results.sort(key=lambda r: (r["pricePerNight"], r["listingId"]))
        return results

    def _listings(self, destination: str, guests: int) -> list[dict[str, Any]]:
        index = schema.BY_DESTINATION_INDEX
        projected = schema.LISTING_ATTRIBUTES
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index.name,
            "KeyConditionExpression": "#pk = :pk",
            "FilterExpression": "maxGuests >= :guests",
            "ProjectionExpression": ", ".join(f"#{attr}" for attr in projected),
            "ExpressionAttributeNames": {
                "#pk": index.partition_key,
                **{f"#{attr}": attr for attr in projected},
            },
            "ExpressionAttributeValues": {
                ":pk": {"S": schema.destination_partition(destination)},
                ":guests": {"N": str(guests)},
            },
        }
        listings: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**request)
            listings.extend(_listing_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return listings
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _sellable(self, destination: str, nights: Sequence[date]) -> dict[str, dict[date, int]]:
        """Units left (capacity - booked) per listing and night: one Query of the inventory index over the stay's
        months, for every listing of the destination at once."""
        index = schema.INVENTORY_INDEX
        months = sorted({schema.month_of(night) for night in nights})
        attributes = sorted({a for n in nights for a in (schema.capacity_attribute(n), schema.booked_attribute(n))})
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index.name,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :first AND :last",
            "ProjectionExpression": ", ".join(["#sk", *(f"#{a}" for a in attributes)]),
            "ExpressionAttributeNames": {
                "#pk": index.partition_key,
                "#sk": index.sort_key,
                **{f"#{a}": a for a in attributes},
            },
            "ExpressionAttributeValues": {
                ":pk": {"S": schema.destination_partition(destination)},
                ":first": {"S": f"{months[0]}#"},
                ":last": {"S": f"{months[-1]}#~"},  # "~" sorts after every listing id character
            },
        }
        wanted = {(schema.month_of(night), night) for night in nights}
        sellable: dict[str, dict[date, int]] = {}
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                month, listing_id = item[index.sort_key]["S"].split("#", 1)
                per_night = sellable.setdefault(listing_id, {})
                for m, night in wanted:
                    if m != month:
                        continue
                    capacity = item.get(schema.capacity_attribute(night))
                    if capacity is not None:
                        booked = int(item.get(schema.booked_attribute(night), {"N": "0"})["N"])
                        per_night[night] = int(capacity["N"]) - booked
            if "LastEvaluatedKey" not in page:
                return sellable
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _listing_from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "listingId": item["listingId"]["S"],
        "name": item["name"]["S"],
        "destination": item["destination"]["S"],
        "pricePerNight": int(item["pricePerNight"]["N"]),
        "currency": item["currency"]["S"],
    }
