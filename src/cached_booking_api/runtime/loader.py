"""Loads a listing file (JSON Lines, BRIEF §3) into the table, safely, as often as you like.

Every line is validated before anything is written; a bad line is reported with its number and nothing of that listing
is written. A good listing is written as its listing item (a plain put: names, prices, guests) and its month items of
inventory, each night's **capacity** set only where it is not below the units already booked: a month that does not
exist yet is created by a ``PutItem`` conditional on its absence (nothing can be booked in it), an existing one by a
conditional ``UpdateItem`` of the nights whose capacity changes (``SET cDD = :cap`` only if ``bDD <= :cap``; nothing
else is written when the read shows the index keys and booked attributes in place), and a month that would not change
is not written at all (a strongly consistent read of the listing's months tells which).
Booked units are never written here, so re-running a load (or retrying a failed one) cannot hand a booked unit back.
A night whose new capacity is below what is booked is reported (listing, night, capacity, booked) and left as it is;
the other nights of that month are applied in a second, still conditional, update. ``apply_capacity`` is the one safe
path of the loader; ``capacity_update`` is the conditional write the inbound ``inventory.updated`` consumer uses too.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from . import schema
from .models import ListingRecord, describe_errors

BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ATTEMPTS = 8
#: Conditional updates of one month are retried this often when bookings keep racing the load.
MAX_CONDITION_ROUNDS = 5
#: An update rejected because a booking transaction holds the month item is sent again this often (jittered backoff).
MAX_TRANSACTION_CONFLICTS = 8
DEFAULT_WORKERS = 8


def conflict_backoff(attempt: int) -> float:
    """How long to wait before sending again a write that met another transaction (``attempt`` from 1): "full
    jitter", a random pause up to 0.1 s, 0.2 s, 0.4 s ... capped at 1 s, so writers that collided do not collide again
    in step. The loader and the inbound ``inventory.updated`` consumer use it."""
    return random.uniform(0, min(0.05 * 2**attempt, 1.0))


class LoadError(RuntimeError):
    """A load (or an inventory update) stopped part-way; what was written stays valid and loading again is safe."""

    def __str__(self) -> str:
        return f"{super().__str__()}; load again (it is safe to repeat)"


@dataclass(frozen=True)
class LineError:
    """Why one line of the file was rejected."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class CapacityConflict:
    """A night whose new capacity is below the units already booked: reported, not applied."""

    listing_id: str
    night: date
    capacity: int
    booked: int

    def __str__(self) -> str:
        return (
            f"{self.listing_id} {self.night.isoformat()}: capacity {self.capacity} is below the {self.booked} "
            "unit(s) already booked; not applied"
        )


@dataclass
class CapacityResult:
    """What ``apply_capacity`` did for one listing: nights whose capacity changed, nights refused."""

    changed: int = 0
    conflicts: list[CapacityConflict] = field(default_factory=list)


@dataclass
class LoadReport:
    """What a load did (or, with ``dry_run``, would do)."""

    listings: int = 0
    inventory_items: int = 0
    nights_changed: int = 0
    rejected: list[LineError] = field(default_factory=list)
    conflicts: list[CapacityConflict] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no line was rejected and no capacity was refused."""
        return not self.rejected and not self.conflicts


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


def listing_item(record: ListingRecord) -> dict[str, Any]:
    """The listing item (low-level attribute values): everything but inventory."""
    item: dict[str, Any] = {
        **schema.listing_key(record.listingId),
        **schema.destination_index_keys(record.destination, record.pricePerNight, record.listingId),
        "listingId": record.listingId,
        "name": record.name,
        "destination": record.destination,
        "pricePerNight": record.pricePerNight,
        "currency": record.currency,
        "maxGuests": record.maxGuests,
    }
    return _to_attribute_values(item)


def capacity_update(
    table_name: str,
    listing_id: str,
    destination: str,
    month: str,
    capacities: dict[date, int],
    *,
    known: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The conditional ``UpdateItem`` request setting the capacity of some nights of one month item: ``SET cDD =
    :cap`` only if ``attribute_not_exists(bDD) OR bDD <= :cap`` for each night, ``bDD`` created as 0 where missing, the
    index keys set.

    ``known`` is the month item as a strongly consistent read just found it (the loader reads a listing's months
    first). It only makes the request smaller, never laxer: index keys it shows with these values are not set again,
    and a night whose ``bDD`` it shows (no write path ever removes one) gets ``SET cDD = :cap`` with the condition
    ``bDD <= :cap`` alone. Whether a capacity may be set is still decided by the condition, at write time. Without
    ``known`` the request also returns the old values (``UPDATED_OLD``) so the caller can count what changed; with
    it, the read tells that, and DynamoDB Local answers much faster without it (``bench/load_bench.py``).
    """
    known = known or {}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets: list[str] = []
    conditions: list[str] = []
    index_keys = schema.inventory_index_keys(destination, listing_id, month)
    for i, (name, value) in enumerate(
        [*index_keys.items(), (schema.DESTINATION_TAG_ATTRIBUTE, schema.destination_tag(destination))]
    ):
        if known.get(name) == {"S": value}:
            continue
        names[f"#k{i}"] = name
        values[f":k{i}"] = {"S": value}
        sets.append(f"#k{i} = :k{i}")
    for night, capacity in sorted(capacities.items()):
        day = f"{night.day:02d}"
        names[f"#c{day}"], names[f"#b{day}"] = schema.capacity_attribute(night), schema.booked_attribute(night)
        values[f":c{day}"] = {"N": str(capacity)}
        if schema.booked_attribute(night) in known:
            sets.append(f"#c{day} = :c{day}")
            conditions.append(f"#b{day} <= :c{day}")
        else:
            values[":zero"] = {"N": "0"}
            sets.append(f"#c{day} = :c{day}, #b{day} = if_not_exists(#b{day}, :zero)")
            conditions.append(f"(attribute_not_exists(#b{day}) OR #b{day} <= :c{day})")
    request: dict[str, Any] = {
        "TableName": table_name,
        "Key": {name: {"S": value} for name, value in schema.month_key(listing_id, month).items()},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if not known:
        request["ReturnValues"] = "UPDATED_OLD"
    if conditions:
        request["ConditionExpression"] = " AND ".join(conditions)
    return request


def month_item(listing_id: str, destination: str, month: str, capacities: dict[date, int]) -> dict[str, Any]:
    """A new month item (low-level attribute values): the nights' capacity, nothing booked, the index keys."""
    item: dict[str, Any] = {
        **schema.month_key(listing_id, month),
        **schema.inventory_index_keys(destination, listing_id, month),
        schema.DESTINATION_TAG_ATTRIBUTE: schema.destination_tag(destination),
    }
    for night, capacity in capacities.items():
        item[schema.capacity_attribute(night)] = capacity
        item[schema.booked_attribute(night)] = 0
    return _to_attribute_values(item)


def apply_capacity(
    client: Any,
    table_name: str,
    listing_id: str,
    destination: str,
    capacities: dict[date, int],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> CapacityResult:
    """Set the capacity of some nights of a listing, never below what is booked (the one safe write path).

    The listing's month items are read first (strongly consistent, one ``BatchGetItem``), only to leave out writes
    that would change nothing: a month whose nights already have these capacities (and whose index keys match) is not
    written at all, and a month that does not exist yet is created by a ``PutItem`` conditional on its absence. Every
    other month gets one conditional ``UpdateItem`` of the nights that change; when a night's booked units exceed its
    new capacity, DynamoDB returns the item as it is (``ReturnValuesOnConditionCheckFailure``), those nights are
    reported and the rest re-applied, still conditionally (a booking may land in between). Whether a capacity may be
    set is decided by those conditions, never by the read. An update that meets a booking's ongoing transaction on the
    same month item (``TransactionConflictException``, which botocore does not retry) is sent again after a jittered
    backoff; a month that stays busy raises ``LoadError``.
    """
    result = CapacityResult()
    grouped = schema.nights_by_month(capacities)
    existing = read_months(client, table_name, listing_id, grouped)
    tag = {schema.DESTINATION_TAG_ATTRIBUTE: {"S": schema.destination_tag(destination)}}
    for month, nights in grouped.items():
        wanted = {night: capacities[night] for night in nights}
        item = existing.get(month)
        if item is None:
            try:
                client.put_item(
                    TableName=table_name,
                    Item=month_item(listing_id, destination, month, wanted),
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
                )
                result.changed += len(wanted)
                continue
            except (client.exceptions.ConditionalCheckFailedException, client.exceptions.TransactionConflictException):
                pending = wanted  # created meanwhile (or being booked): the conditional update decides
        else:
            keys = {n: {"S": v} for n, v in schema.inventory_index_keys(destination, listing_id, month).items()} | tag
            if any(item.get(name) != value for name, value in keys.items()):
                pending = wanted  # the destination changed: every night is rewritten with the new index keys
            else:
                pending = {n: c for n, c in wanted.items() if item.get(schema.capacity_attribute(n)) != {"N": str(c)}}
        _update_month(client, table_name, listing_id, destination, month, pending, result, sleep, item)
    return result


def _update_month(
    client: Any,
    table_name: str,
    listing_id: str,
    destination: str,
    month: str,
    pending: dict[date, int],
    result: CapacityResult,
    sleep: Callable[[float], None],
    known: dict[str, Any] | None = None,
) -> None:
    rounds = busy = 0
    while pending:
        request = capacity_update(table_name, listing_id, destination, month, pending, known=known)
        try:
            answer = client.update_item(**request)
        except client.exceptions.ConditionalCheckFailedException as exc:
            current = exc.response.get("Item", {})
            for night in list(pending):
                booked = int(current.get(schema.booked_attribute(night), {}).get("N", "0"))
                if booked > pending[night]:
                    result.conflicts.append(CapacityConflict(listing_id, night, pending.pop(night), booked))
            rounds += 1
            if pending and rounds >= MAX_CONDITION_ROUNDS:
                raise LoadError(f"{listing_id} {month}: bookings kept racing the capacity update") from None
            continue
        except client.exceptions.TransactionConflictException:
            busy += 1
            if busy > MAX_TRANSACTION_CONFLICTS:
                raise LoadError(
                    f"{listing_id} {month}: the month item stayed in booking transactions ({busy} transaction "
                    "conflicts)"
                ) from None
            sleep(conflict_backoff(busy))
            continue
        old = answer.get("Attributes", {}) if "ReturnValues" in request else known or {}
        result.changed += sum(
            1 for night, cap in pending.items() if old.get(schema.capacity_attribute(night)) != {"N": str(cap)}
        )
        pending = {}


def read_months(client: Any, table_name: str, listing_id: str, months: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The month items of a listing (strongly consistent): what ``--dry-run`` reports, and what lets
    ``apply_capacity`` leave out writes that would change nothing (never what decides whether a capacity may be
    set). A key DynamoDB leaves unprocessed after the retries is simply missing from the answer."""
    keys = [{n: {"S": v} for n, v in schema.month_key(listing_id, month).items()} for month in months]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(keys, 100):
        pending: dict[str, Any] = {table_name: {"Keys": chunk, "ConsistentRead": True}}
        for attempt in range(MAX_UNPROCESSED_ATTEMPTS):
            response = client.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(table_name, []):
                found[schema.month_from_sort_key(item[schema.SORT_KEY]["S"])] = item
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 2.0))
    return found


def plan_listing(client: Any, table_name: str, record: ListingRecord) -> tuple[list[str], list[CapacityConflict]]:
    """What loading ``record`` would change (``--dry-run``): human-readable lines and the nights it would refuse."""
    lines: list[str] = []
    existing = client.get_item(
        TableName=table_name,
        Key={n: {"S": v} for n, v in schema.listing_key(record.listingId).items()},
        ConsistentRead=True,
    ).get("Item")
    wanted = listing_item(record)
    if existing is None:
        lines.append(f"{record.listingId}: new listing")
    else:
        for name in schema.LISTING_ATTRIBUTES:
            if existing.get(name) != wanted.get(name):
                before = next(iter(existing.get(name, {"S": "-"}).values()))
                lines.append(f"{record.listingId}: {name} {before} -> {next(iter(wanted[name].values()))}")
    grouped = schema.nights_by_month(record.inventory)
    months = read_months(client, table_name, record.listingId, grouped)
    conflicts: list[CapacityConflict] = []
    changed = 0
    for month, nights in grouped.items():
        item = months.get(month, {})
        for night in nights:
            capacity = record.inventory[night]
            booked = int(item.get(schema.booked_attribute(night), {}).get("N", "0"))
            if booked > capacity:
                conflicts.append(CapacityConflict(record.listingId, night, capacity, booked))
            elif item.get(schema.capacity_attribute(night)) != {"N": str(capacity)}:
                changed += 1
    if changed:
        lines.append(f"{record.listingId}: capacity of {changed} night(s) would change")
    return lines, conflicts


def load_listings(
    client: Any,
    table_name: str,
    lines: Iterable[str],
    *,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[int], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """Validate then write (or with ``dry_run`` only describe) a listing file; see the module docstring and
    ``load_records``."""
    records, errors = parse_listings(lines)
    report = load_records(client, table_name, records, dry_run=dry_run, workers=workers, progress=progress, sleep=sleep)
    report.rejected[:0] = errors
    return report


def load_records(
    client: Any,
    table_name: str,
    records: Sequence[ListingRecord],
    *,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[int], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """Write (or with ``dry_run`` only describe) validated listing records (``parse_listings``).

    ``progress`` is called, from the calling thread, with the number of nights of each listing just finished: the
    total is ``sum(len(r.inventory) for r in records)`` (a progress bar's total). ``workers`` listings are written in
    parallel (one conditional update per month each).
    """
    report = LoadReport()
    if dry_run:
        for record in records:
            changes, conflicts = plan_listing(client, table_name, record)
            report.changes.extend(changes)
            report.conflicts.extend(conflicts)
            if progress is not None:
                progress(len(record.inventory))
        report.listings = len(records)
        return report
    put_items(client, table_name, [listing_item(record) for record in records], sleep=sleep)

    def one(record: ListingRecord) -> CapacityResult:
        return apply_capacity(
            client, table_name, record.listingId, record.destination, dict(record.inventory), sleep=sleep
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for record, result in zip(records, pool.map(one, records), strict=True):
            report.nights_changed += result.changed
            report.conflicts.extend(result.conflicts)
            report.inventory_items += len(schema.nights_by_month(record.inventory))
            if progress is not None:
                progress(len(record.inventory))
    report.listings = len(records)
    return report


def put_items(
    client: Any, table_name: str, items: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Plain puts of items (low-level attribute values) in ``BatchWriteItem`` requests of 25, one after the other,
    unprocessed items sent again with a growing pause; ``LoadError`` if DynamoDB keeps some unprocessed. Only for
    items no condition guards: the loader's listing items (and bench/load_bench.py's 0.1.0 loader)."""
    for chunk in _chunks(items, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
        for attempt in range(MAX_UNPROCESSED_ATTEMPTS):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise LoadError("DynamoDB kept items unprocessed")


def _to_attribute_values(item: dict[str, Any]) -> dict[str, Any]:
    return {name: {"N": str(value)} if isinstance(value, int) else {"S": value} for name, value in item.items()}


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
