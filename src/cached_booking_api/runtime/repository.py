"""DynamoDB reads of the search path: one Query for a destination's listings, then BatchGetItem for availability."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from . import schema

BATCH_GET_LIMIT = 100
MAX_UNPROCESSED_ATTEMPTS = 6


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
            keys = [schema.night_key(listing["listingId"], night) for listing in listings for night in nights]
            counts = self._availability(keys)
        except RepositoryUnavailable:
            raise
        except Exception as exc:  # botocore ClientError, EndpointConnectionError, ...
            raise RepositoryUnavailable(str(exc)) from exc
        results = []
        for listing in listings:
            per_night = [counts.get((listing["listingId"], night), 0) for night in nights]
            available = min(per_night)
            if available > 0:
                results.append(
                    {**listing, "totalPrice": listing["pricePerNight"] * len(nights), "available": available}
                )
        results.sort(key=lambda r: (r["pricePerNight"], r["listingId"]))
        return results

    def _listings(self, destination: str, guests: int) -> list[dict[str, Any]]:
        index = schema.BY_DESTINATION_INDEX
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index.name,
            "KeyConditionExpression": "#pk = :pk",
            "FilterExpression": "maxGuests >= :guests",
            "ProjectionExpression": ", ".join(f"#{attr}" for attr in index.projected_attributes),
            "ExpressionAttributeNames": {
                "#pk": index.partition_key,
                **{f"#{attr}": attr for attr in index.projected_attributes},
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

    def _availability(self, keys: list[dict[str, str]]) -> dict[tuple[str, date], int]:
        counts: dict[tuple[str, date], int] = {}
        for chunk in _chunks(keys, BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{name: {"S": value} for name, value in key.items()} for key in chunk],
                    "ProjectionExpression": "#pk, #sk, #available",
                    "ExpressionAttributeNames": {
                        "#pk": schema.PARTITION_KEY,
                        "#sk": schema.SORT_KEY,
                        "#available": schema.AVAILABLE_ATTRIBUTE,
                    },
                }
            }
            for attempt in range(MAX_UNPROCESSED_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    listing_id = schema.listing_id_from_partition_key(item[schema.PARTITION_KEY]["S"])
                    night = schema.night_from_sort_key(item[schema.SORT_KEY]["S"])
                    counts[(listing_id, night)] = int(item[schema.AVAILABLE_ATTRIBUTE]["N"])
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._sleep(min(0.025 * 2**attempt, 0.5))
            else:
                raise RepositoryUnavailable("DynamoDB left keys unprocessed after retries")
        return counts


def _listing_from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "listingId": item["listingId"]["S"],
        "name": item["name"]["S"],
        "destination": item["destination"]["S"],
        "pricePerNight": int(item["pricePerNight"]["N"]),
        "currency": item["currency"]["S"],
    }


def _chunks(items: list[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
