"""Search-miss cost of the inventory layout on DynamoDB Local: requests and consumed read units (ReturnConsumedCapacity)
for 50 listings x 7 nights, today's layout (one month item per listing, one index Query) next to the 0.1.0 layout
(one item per listing-night, BatchGetItem of 100 keys), in the same run."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3

from cached_booking_api.local.processes import DynamoDBLocal
from cached_booking_api.runtime import schema
from cached_booking_api.runtime.loader import load_listings
from cached_booking_api.runtime.repository import ListingRepository

LISTINGS, NIGHTS = 50, 7


class Counting:
    """A DynamoDB client wrapper adding ReturnConsumedCapacity=TOTAL and summing requests and read units."""

    def __init__(self, client: Any) -> None:
        self.client, self.requests, self.units = client, 0, 0.0

    def query(self, **request: Any) -> Any:
        return self._call(self.client.query, request)

    def batch_get_item(self, **request: Any) -> Any:
        return self._call(self.client.batch_get_item, request)

    def _call(self, method: Any, request: dict[str, Any]) -> Any:
        response = method(ReturnConsumedCapacity="TOTAL", **request)
        self.requests += 1
        consumed = response.get("ConsumedCapacity", [])
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            self.units += float(entry.get("CapacityUnits", 0))
        return response


def main() -> None:
    start = date.today() + timedelta(days=20)
    nights = [start + timedelta(days=i) for i in range(NIGHTS)]
    lines = [
        json.dumps({"listingId": f"l-{i:03d}", "name": f"Listing {i}", "destination": "Lisbon",
                    "pricePerNight": 1000 + i, "currency": "EUR", "maxGuests": 4,
                    "inventory": {(start + timedelta(days=d)).isoformat(): 3 for d in range(-10, 60)}})
        for i in range(LISTINGS)
    ]  # fmt: skip
    with DynamoDBLocal(search_from=[Path(__file__).resolve().parent.parent]) as server:
        client = boto3.client(
            "dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip
        table = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_table(TableName=table, **schema.table_definition())
        load_listings(client, table, lines)
        counting = Counting(client)
        found = ListingRepository(counting, table).find_available("Lisbon", nights, 1)
        assert len(found) == LISTINGS
        # The 0.1.0 layout: one item per listing-night {pk, sk NIGHT#date, available, destinationTag}, read by key.
        old = f"bench-old-{uuid.uuid4().hex[:8]}"
        client.create_table(TableName=old, **schema.table_definition())
        items = [{"PutRequest": {"Item": {"pk": {"S": f"LISTING#l-{i:03d}"}, "sk": {"S": f"NIGHT#{n.isoformat()}"},
                  "available": {"N": "3"}, "destinationTag": {"S": schema.destination_tag("Lisbon")}}}}
                 for i in range(LISTINGS) for n in nights]  # fmt: skip
        for k in range(0, len(items), 25):
            client.batch_write_item(RequestItems={old: items[k : k + 25]})
        before = Counting(client)
        listings = Counting(client)
        ListingRepository(listings, table)._listings("Lisbon", 1)  # the same listings Query as today
        keys = [{"pk": {"S": f"LISTING#l-{i:03d}"}, "sk": {"S": f"NIGHT#{n.isoformat()}"}}
                for i in range(LISTINGS) for n in nights]  # fmt: skip
        for k in range(0, len(keys), 100):
            before.batch_get_item(RequestItems={old: {"Keys": keys[k : k + 100]}})
        print("| layout (50 listings x 7 nights, search miss) | requests | read units |")
        print("|---|---|---|")
        print(f"| 0.1.0: listings Query + BatchGetItem per night | {listings.requests + before.requests} | "
              f"{listings.units + before.units:.1f} |")  # fmt: skip
        print(f"| now: listings Query + inventory index Query | {counting.requests} | {counting.units:.1f} |")


if __name__ == "__main__":
    main()
