"""Session-wide test servers: a real redis-server and Amazon's DynamoDB Local, each on a free port, stopped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

# Handlers read these at first use; set them before any handler module is imported.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CachedBookingApiTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "search")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cached_booking_api.local.processes import DynamoDBLocal, RedisServer  # noqa: E402
from cached_booking_api.runtime import schema  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session (flushed by the tests that need it empty)."""
    with RedisServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """One DynamoDB Local (in memory) for the session."""
    with DynamoDBLocal(search_from=[ROOT]) as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def dynamodb(dynamodb_local: DynamoDBLocal) -> Any:
    """A low-level DynamoDB client for DynamoDB Local."""
    import boto3

    return boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint)


def create_table(client: Any) -> str:
    """A new table with the shared schema; returns its name."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    client.create_table(TableName=name, **schema.table_definition())
    return name


def stay(offset_days: int, nights: int) -> tuple[str, str]:
    """(checkIn, checkOut) starting ``offset_days`` from today (UTC), as strings."""
    from cached_booking_api.runtime.models import today_utc

    start = today_utc() + timedelta(days=offset_days)
    return start.isoformat(), (start + timedelta(days=nights)).isoformat()


def listing(
    listing_id: str,
    *,
    destination: str = "Lisbon",
    price: int = 10000,
    max_guests: int = 4,
    units: int = 3,
    first_night: date | None = None,
    nights: int = 60,
    overrides: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A listing record with ``units`` on each of ``nights`` nights from today, some nights overridden."""
    from cached_booking_api.runtime.models import today_utc

    start = first_night or today_utc()
    inventory = {(start + timedelta(days=i)).isoformat(): units for i in range(nights)}
    inventory.update(overrides or {})
    return {
        "listingId": listing_id,
        "name": f"Listing {listing_id}",
        "destination": destination,
        "pricePerNight": price,
        "currency": "EUR",
        "maxGuests": max_guests,
        "inventory": inventory,
    }
