"""DynamoDB reads of the search path: one Query for a destination's listings (its catalogue), one Query for their
sellable units over a stay's months. ``find_available`` is the no-cache path; the cache fills from the same reads."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from . import schema
from .sellable import MonthSellable, compose, listing_from_item, month_sellable

T = TypeVar("T")


class RepositoryUnavailable(Exception):
    """DynamoDB could not answer (unreachable, throttled past retries, or kept keys unprocessed)."""


class ListingRepository:
    """Finds listings with capacity and availability for a stay, batching every read."""

    def __init__(self, client: Any, table_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.table_name = table_name
        self._sleep = sleep

    def find_available(self, destination: str, nights: Sequence[date], guests: int) -> list[dict[str, Any]]:
        """Listings of ``destination`` for ``guests`` with at least one unit every night, by price then id (the
        no-cache path: two Queries, composed by ``sellable.compose`` as the cache path composes its answers).

        Each result carries ``available``, the smallest unit count over the nights, and ``totalPrice``.
        """
        listings = self._read(lambda: self._listings(destination, guests))
        if not listings or not nights:
            return []
        months = self._read(lambda: self.sellable_months(destination, sorted(schema.nights_by_month(nights))))
        return compose(listings, lambda listing_id, month: months[month].get(listing_id), nights, guests)

    def catalogue(self, destination: str) -> list[dict[str, Any]]:
        """Every listing of ``destination`` (result fields and ``maxGuests``), by price then id: one Query (paged past
        1 MB). What the cache keeps per destination; searches filter it by guests."""
        return self._read(lambda: self._listings(destination, None))

    def sellable_months(self, destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        """Units left per listing and day of each ``yyyy-mm`` month (consecutive months, in order), for every listing
        of the destination: ONE Query of the inventory index over the months (paged past 1 MB)."""
        return self._read(lambda: self._sellable(destination, months))

    def _read(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except RepositoryUnavailable:
            raise
        except Exception as exc:  # botocore ClientError, EndpointConnectionError, ...
            raise RepositoryUnavailable(str(exc)) from exc

    def _listings(self, destination: str, guests: int | None) -> list[dict[str, Any]]:
        index = schema.BY_DESTINATION_INDEX
        projected = schema.LISTING_ATTRIBUTES
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index.name,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": ", ".join(f"#{attr}" for attr in projected),
            "ExpressionAttributeNames": {
                "#pk": index.partition_key,
                **{f"#{attr}": attr for attr in projected},
            },
            "ExpressionAttributeValues": {":pk": {"S": schema.destination_partition(destination)}},
        }
        if guests is not None:  # fewer bytes back; the read units are the same (charged before the filter)
            request["FilterExpression"] = "maxGuests >= :guests"
            request["ExpressionAttributeValues"][":guests"] = {"N": str(guests)}
        listings: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**request)
            listings.extend(listing_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return listings
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _sellable(self, destination: str, months: Sequence[str]) -> dict[str, dict[str, MonthSellable]]:
        index = schema.INVENTORY_INDEX
        attributes = schema.DAY_ATTRIBUTES
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
        sellable: dict[str, dict[str, MonthSellable]] = {month: {} for month in months}
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                month, listing_id = item[index.sort_key]["S"].split("#", 1)
                if month in sellable:
                    sellable[month][listing_id] = month_sellable(item)
            if "LastEvaluatedKey" not in page:
                return sellable
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
