"""Session-wide test servers: a real redis-server and Amazon's DynamoDB Local, each on a free port, stopped after."""

from __future__ import annotations

import importlib.abc
import os
import sys
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

from cached_booking_api.local.processes import DynamoDBLocal, ManagedProcess, RedisServer  # noqa: E402
from cached_booking_api.runtime import schema  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

FAST_TIER = os.environ.get("CBA_TEST_TIER") == "fast"
"""Set by ``make test-fast``: the tests marked ``fast`` run with aws-cdk-lib, jsii and the test servers out of reach,
so a test marked ``fast`` that needs Java (DynamoDB Local), Redis or Node (jsii) fails there instead of being slow."""
CDK_PACKAGES = frozenset({"aws_cdk", "constructs", "jsii", "cdk_nag"})


class _NoCdk(importlib.abc.MetaPathFinder):
    """Refuses to import aws-cdk-lib and its kin (they start a Node process) in the fast tier."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.split(".")[0] in CDK_PACKAGES:
            raise ImportError(f"{fullname}: the fast tier runs without aws-cdk-lib/jsii (Node); drop the 'fast' mark")
        return None


def _no_servers(self: ManagedProcess, timeout: float = 30.0) -> ManagedProcess:
    raise RuntimeError(
        f"{type(self).__name__}: the fast tier runs without Redis and Java (DynamoDB Local); drop the 'fast' mark"
    )


if FAST_TIER:
    sys.meta_path.insert(0, _NoCdk())
    ManagedProcess.start = _no_servers  # type: ignore[method-assign]


def _marks_fast(path: Path) -> bool:
    """Whether a test file, or any test file under a folder, marks a test ``fast`` (read, not imported)."""
    files = [path] if path.is_file() else path.rglob("test_*.py")
    return any("pytest.mark.fast" in file.read_text(encoding="utf-8") for file in files)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the fast tier, files and folders without a ``fast`` test are not even imported (their imports may start
    jsii); a file that is imported must not import aws-cdk-lib at module level."""
    if not FAST_TIER or collection_path == ROOT / "test":
        return None
    if collection_path.is_dir() or collection_path.name.startswith("test_"):
        return None if _marks_fast(collection_path) else True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the fast tier, only tests marked ``fast`` run, whatever paths or ``-m`` were given."""
    if not FAST_TIER:
        return
    deselected = [item for item in items if item.get_closest_marker("fast") is None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item.get_closest_marker("fast") is not None]


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
