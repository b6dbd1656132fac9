"""Publishing to EventBridge reliably: batches of 10, every entry's result checked, failed entries retried, then DLQ."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

PUT_EVENTS_LIMIT = 10
MAX_ATTEMPTS = 4

#: The only fields a search.completed event may carry (no names, e-mails, API keys or IP addresses).
SEARCH_COMPLETED_FIELDS = (
    "queryHash", "destination", "checkIn", "checkOut", "guests", "resultCount", "cache", "latencyMs",
)  # fmt: skip


@dataclass
class PublishReport:
    """Outcome of a publish: entries delivered, retried, and sent to the dead-letter queue."""

    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    calls: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


class EventPublisher:
    """Puts entries on a bus; retries exactly the entries EventBridge reports as failed; dead-letters the rest."""

    def __init__(
        self,
        events_client: Any,
        *,
        bus_name: str,
        dead_letter: Callable[[list[dict[str, Any]]], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.events = events_client
        self.bus_name = bus_name
        self.dead_letter = dead_letter
        self._sleep = sleep

    def publish(self, source: str, detail_type: str, details: Sequence[dict[str, Any]]) -> PublishReport:
        """Publish one event per detail; returns what happened to each."""
        report = PublishReport()
        entries = [
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, separators=(",", ":")),
                "EventBusName": self.bus_name,
            }
            for detail in details
        ]
        for batch in _chunks(entries, PUT_EVENTS_LIMIT):
            self._publish_batch(batch, report)
        return report

    def _publish_batch(self, batch: list[dict[str, Any]], report: PublishReport) -> None:
        pending = batch
        errors: list[dict[str, Any]] = []
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                report.retried += len(pending)
                self._sleep(min(0.1 * 2**attempt, 1.0))
            report.calls += 1
            try:
                response = self.events.put_events(Entries=pending)
            except Exception as exc:  # throttling or a network error: the whole batch failed
                errors = [{"entry": e, "errorCode": type(exc).__name__} for e in pending]
                continue
            results = response.get("Entries", [])
            failed = [
                (entry, result) for entry, result in zip(pending, results, strict=False) if result.get("ErrorCode")
            ]
            report.delivered += len(pending) - len(failed)
            errors = [
                {"entry": e, "errorCode": r.get("ErrorCode"), "errorMessage": r.get("ErrorMessage")} for e, r in failed
            ]
            pending = [entry for entry, _ in failed]
            if not pending:
                return
        report.failures.extend(errors)
        if self.dead_letter is not None:
            self.dead_letter(errors)
            report.dead_lettered += len(errors)
        else:
            raise RuntimeError(f"{len(errors)} event(s) could not be delivered and no dead-letter queue is configured")


def sqs_dead_letter(sqs_client: Any, queue_url: str) -> Callable[[list[dict[str, Any]]], None]:
    """A dead-letter sink that sends the failed entries, with their error codes, as one SQS message."""

    def send(failures: list[dict[str, Any]]) -> None:
        sqs_client.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"failedEntries": failures}))

    return send


def search_completed_detail(fields: dict[str, Any]) -> dict[str, Any]:
    """The event detail, limited to the contract's fields whatever else the log line held."""
    return {name: fields[name] for name in SEARCH_COMPLETED_FIELDS if name in fields}


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
