"""The local platform: the real handlers wired to redis-server, DynamoDB Local and an EventBridge stand-in (moto).

``LocalPlatform.start()`` starts (or connects to) the servers, creates the tables from the shared schema, loads the
listings, and runs the asynchronous side with the code that runs in AWS: the table stream feeds the cache-invalidation
consumer and the outbox → bus path (filtered and shaped as the Pipe does); search.completed log lines feed the
forwarder, as the log subscription does. Every event delivered to the bus is appended to ``events_file``.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..runtime import config
from ..runtime.settings import FUNCTION_ENVIRONMENTS, BookingSettings
from .gateway_rules import TIMEOUTS_MS
from .processes import DynamoDBLocal, ManagedProcess, RedisServer, ServerError, free_port

Child = TypeVar("Child", bound=ManagedProcess)

#: The search's time budget in the local mode: the timeout the local gateway gives the search handler (as the construct
#: gives the function), so the DynamoDB client's retries and the single-flight lock are fitted in it as on AWS. Many
#: threads share this process's clients (in Lambda each request has its own process), hence a longer cache command
#: timeout; the DynamoDB read timeout is the longest that still fits a whole load in the budget (2 calls x 3 s).
TIME_BUDGET = {
    config.FUNCTION_TIMEOUT_SECONDS: str(TIMEOUTS_MS["search"] // 1000),
    config.CACHE_TIMEOUT_MS: "250",
    config.DYNAMODB_READ_TIMEOUT_SECONDS: "2",
}
#: The bookings function's own environment in the local mode, laid over the process's (``FUNCTION_ENVIRONMENTS``): its
#: timeout, and a DynamoDB read timeout as long. AWS's 2 s (the search's, above) is hundreds of times DynamoDB's usual
#: latency, but one DynamoDB Local on a shared 2-core machine, queueing the requests of up to 64 handler threads,
#: answers a burst of 200 bookings in seconds (p99 3.6-11.7 s at load 13-21). A client that gives up sooner sends its
#: write again while DynamoDB Local still performs the first: the idempotency record's retry meets the record its own
#: first attempt wrote (409 REQUEST_IN_PROGRESS) or every attempt times out (503), and each retry lengthens the queue
#: (at load 14: 543 requests sent, 95 answered; 183 bookings answered 503, none confirmed). Connection errors and
#: DynamoDB Local's own 500s are still retried (standard mode). test/local/test_slow_dynamodb.py
BOOKINGS_ENVIRONMENT = {
    config.FUNCTION_TIMEOUT_SECONDS: str(TIMEOUTS_MS["bookings"] // 1000),
    config.DYNAMODB_READ_TIMEOUT_SECONDS: str(TIMEOUTS_MS["bookings"] // 1000),
}
EVENT_SOURCE = "booking.platform"
LINES_PER_ROUND = 500


@dataclass
class LocalOptions:
    """What the ``local`` command was asked for."""

    data: Path | None = None  # None: the sample listings, inventory generated at start from today (UTC) for a year
    redis_url: str | None = None
    dynamodb_endpoint: str | None = None
    events_file: Path | None = None
    poll_seconds: float = 0.5
    search_from: list[Path] = field(default_factory=list)
    #: Sources allowed to put inventory.updated events (the construct's ``inventory_sources``; empty: none).
    inventory_sources: list[str] = field(default_factory=list)


class LogTap(io.TextIOBase):
    """Stands where the search function's stdout goes: keeps the search.completed lines for the forwarder.

    Bounded: if the bus falls behind by more than ``limit`` lines, the oldest are dropped and counted.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.lines: list[str] = []
        self.limit = limit
        self.dropped = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if '"search.completed"' in line:
                with self._lock:
                    self.lines.append(line)
                    if len(self.lines) > self.limit:
                        del self.lines[0]
                        self.dropped += 1
        return len(text)

    def drain(self, limit: int) -> list[str]:
        """Up to ``limit`` of the oldest lines collected and not yet drained."""
        with self._lock:
            lines, self.lines = self.lines[:limit], self.lines[limit:]
        return lines


class LocalPlatform:
    """Everything behind the local HTTP server. ``start()`` then ``stop()`` (stops every child it started)."""

    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.children: list[ManagedProcess] = []
        self.moto: Any = None
        self.events_file = options.events_file or Path(tempfile.mkdtemp(prefix="cached-booking-api-")) / "events.jsonl"
        self.table = f"local-{uuid.uuid4().hex[:8]}"
        self.bus_name = f"{self.table}-bus"  # moto keeps one backend per process: names must not collide
        self.idempotency_table = f"{self.table}-idempotency"
        self.log_tap = LogTap()
        self._stop = threading.Event()
        self._pump_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.loaded = 0
        self._stopped: dict[type[ManagedProcess], int] = {}
        self._sample_dir: Path | None = None
        #: Outcome of every inbound inventory.updated event the consumer handled, by (source, eventId).
        self.inventory_results: dict[tuple[str, str], dict[str, Any]] = {}
        self.inventory_dead_letters: list[dict[str, Any]] = []

    # -- start-up ---------------------------------------------------------------------------------------------
    def start(self) -> LocalPlatform:
        """Start or connect to the servers, create and load the tables, start the asynchronous side."""
        try:
            redis_url = self.options.redis_url or self._child(RedisServer()).url
            endpoint = (
                self.options.dynamodb_endpoint
                or self._child(DynamoDBLocal(search_from=self.options.search_from)).endpoint
            )
            moto_endpoint = self._start_moto()
            self._configure(redis_url, endpoint, moto_endpoint)
            self._create_tables()
            self._sample_data()
            self._load()
            self._wire_bus()
        except BaseException:
            self.stop()
            raise
        self._worker = threading.Thread(target=self._async_loop, name="local-async", daemon=True)
        self._worker.start()
        return self

    def _child(self, process: Child) -> Child:
        self.children.append(process)
        process.start()
        return process

    def _start_moto(self) -> str:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise ServerError("the local mode needs moto: pip install 'cached-booking-api[local]'") from exc
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        port = free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.moto.start()
        return f"http://127.0.0.1:{port}"

    def _configure(self, redis_url: str, dynamodb_endpoint: str, moto_endpoint: str) -> None:
        from ..runtime import config

        defaults = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1",
                    "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                    "POWERTOOLS_METRICS_NAMESPACE": "CachedBookingApiLocal", "POWERTOOLS_SERVICE_NAME": "local",
                    "POWERTOOLS_METRICS_DISABLED": "true"}  # fmt: skip
        for name, value in defaults.items():
            os.environ.setdefault(name, value)
        os.environ.update(
            {
                config.TABLE_NAME: self.table,
                config.IDEMPOTENCY_TABLE_NAME: self.idempotency_table,
                config.DYNAMODB_ENDPOINT: dynamodb_endpoint,
                config.CACHE_URL: redis_url,
                config.EVENT_BUS_NAME: self.bus_name,
                config.EVENT_SOURCE: EVENT_SOURCE,
                **TIME_BUDGET,
            }
        )
        os.environ.setdefault(config.CIRCUIT_COOLDOWN_SECONDS, "5")  # retry a restarted cache sooner than in AWS
        FUNCTION_ENVIRONMENTS[BookingSettings.handler_module] = dict(BOOKINGS_ENVIRONMENT)
        self.redis_url, self.dynamodb_endpoint, self.moto_endpoint = redis_url, dynamodb_endpoint, moto_endpoint

    def _create_tables(self) -> None:
        import boto3

        from ..runtime import schema

        self.dynamodb = boto3.client("dynamodb", endpoint_url=self.dynamodb_endpoint)
        self.dynamodb.create_table(TableName=self.table, **schema.table_definition())
        self.dynamodb.create_table(TableName=self.idempotency_table, **schema.idempotency_table_definition())
        stream_arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        from .streams import StreamReader

        self.stream = StreamReader(boto3.client("dynamodbstreams", endpoint_url=self.dynamodb_endpoint), stream_arn)

    def _sample_data(self) -> None:
        """Without a listing file, write the sample with inventory from today, so it is never out of date."""
        if self.options.data is None:
            from ..tools.sample import write_sample

            self._sample_dir = Path(tempfile.mkdtemp(prefix="cached-booking-api-sample-"))
            self.options.data = write_sample(self._sample_dir / "sample-listings.jsonl")

    def _load(self) -> None:
        from ..runtime.loader import load_listings

        assert self.options.data is not None, "_sample_data() runs first"
        with self.options.data.open(encoding="utf-8") as lines:
            report = load_listings(self.dynamodb, self.table, lines)
        if not report.ok:
            problems = "\n".join(f"{self.options.data}:{error}" for error in report.rejected)
            raise ServerError(f"the listing file has bad lines (nothing of them was loaded):\n{problems}")
        self.loaded = report.listings

    def _wire_bus(self) -> None:
        import boto3

        self.events = boto3.client("events", endpoint_url=self.moto_endpoint)
        self.sqs = boto3.client("sqs", endpoint_url=self.moto_endpoint)
        self.events.create_event_bus(Name=self.bus_name)
        self.queue_url = self.sqs.create_queue(QueueName=f"{self.table}-events")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(
            Name="all-events", EventBusName=self.bus_name, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
        )
        self.events.put_targets(Rule="all-events", EventBusName=self.bus_name, Targets=[{"Id": "q", "Arn": queue_arn}])
        self.inventory_queue_url: str | None = None
        if self.options.inventory_sources:  # the construct's inbound rule: inventory.updated of the allowed sources
            from ..runtime.inventory_contract import inventory_event_pattern

            self.inventory_queue_url = self.sqs.create_queue(QueueName=f"{self.table}-inventory")["QueueUrl"]
            inventory_arn = self.sqs.get_queue_attributes(
                QueueUrl=self.inventory_queue_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            pattern = inventory_event_pattern(self.options.inventory_sources)
            self.events.put_rule(Name="inventory-updated", EventBusName=self.bus_name, EventPattern=json.dumps(pattern))
            self.events.put_targets(
                Rule="inventory-updated", EventBusName=self.bus_name, Targets=[{"Id": "i", "Arn": inventory_arn}]
            )
        from ..runtime.events import EventPublisher
        from ..runtime.handlers import search

        self.publisher = EventPublisher(self.events, bus_name=self.bus_name)
        search.logger.registered_handler.setStream(self.log_tap)  # type: ignore[attr-defined]
        search.logger.setLevel("INFO")  # the search.completed line is an event channel, whatever the log level

    # -- the asynchronous side ------------------------------------------------------------------------------
    def _async_loop(self) -> None:
        while not self._stop.wait(self.options.poll_seconds):
            self.pump()

    def pump(self) -> dict[str, int]:
        """One round of the asynchronous side; returns what it moved (also called by tests to flush)."""

        moved = {"inventory_events": 0, "invalidated": 0, "booking_events": 0, "search_events": 0, "delivered": 0}
        with self._pump_lock:
            self._pump(moved)
        return moved

    def _pump(self, moved: dict[str, int]) -> None:
        from ..runtime.handlers import forwarder, invalidation, outbox_publisher

        try:
            moved["inventory_events"] = self._consume_inventory_events()  # its writes reach the stream read next
            records = self.stream.poll()
            if records:
                moved["invalidated"] = len(invalidation.invalidate(records, invalidation.search_cache()))
                # the Pipe's filter and its target, the outbox publisher (each event as its own detail type)
                published = outbox_publisher.publish_records(records, self.publisher, EVENT_SOURCE)
                moved["booking_events"] = published.delivered
            lines = self.log_tap.drain(LINES_PER_ROUND)  # bounded, so every round also delivers what is queued
            if lines:
                moved["search_events"] = forwarder.forward(
                    subscription_payload(lines), self.publisher, source=EVENT_SOURCE
                ).delivered
            moved["delivered"] = self._drain_queue()
        except Exception as exc:  # a server restarting (chaos tests): the next round catches up
            print(f"local: asynchronous side paused: {type(exc).__name__}: {exc}", flush=True)

    def _consume_inventory_events(self) -> int:
        """The inbound rule's target: each inventory.updated event the rule matched, through the consumer's code."""
        from ..runtime.handlers.inventory_updates import process

        if self.inventory_queue_url is None:
            return 0
        count = 0
        while messages := self.sqs.receive_message(QueueUrl=self.inventory_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                event = json.loads(message["Body"])
                outcome = process(event, self.dynamodb, self.table, self.options.inventory_sources,
                                  self.inventory_dead_letters.append)  # fmt: skip
                key = (str(event.get("source")), str((event.get("detail") or {}).get("eventId")))
                self.inventory_results[key] = outcome
                self.sqs.delete_message(QueueUrl=self.inventory_queue_url, ReceiptHandle=message["ReceiptHandle"])
                count += 1
        return count

    def put_inventory_event(self, event: object) -> tuple[int, dict[str, Any]]:
        """The local-only ``POST /local/inventory-events``: put one event on the local bus as a sender would (a
        PutEvents entry, or the event as a rule delivers it), let the inbound rule and consumer handle it, and answer
        with its outcome: 200 applied or duplicate, 400 invalid (also what the consumer dead-lettered), 403 when no
        rule takes its source (in AWS the event would just match nothing)."""
        from ..runtime.inventory_events import InvalidInventoryEvent, parse_event

        try:
            source, detail = parse_event(event)
        except InvalidInventoryEvent as exc:
            return 400, exc.body()
        if source not in self.options.inventory_sources:
            message = (f"source {source!r} is not allowed to send inventory.updated events; start the local mode with "
                       f"--inventory-source {source} (the construct's inventory_sources prop)")  # fmt: skip
            return 403, {"error": {"code": "SOURCE_NOT_ALLOWED", "message": message,
                                   "details": [{"field": "source", "message": "not allowed"}]}}  # fmt: skip
        entry = {"Source": source, "DetailType": "inventory.updated", "EventBusName": self.bus_name,
                 "Detail": json.dumps(detail.model_dump(mode="json"))}  # fmt: skip
        result = self.events.put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            return 503, {"error": {"code": "SERVICE_UNAVAILABLE", "message": "the local bus refused the event",
                                   "details": []}}  # fmt: skip
        self.pump()
        outcome = self.inventory_results.get((source, detail.eventId))
        if outcome is None:
            return 503, {"error": {"code": "SERVICE_UNAVAILABLE", "message": "the event was not consumed; retry",
                                   "details": []}}  # fmt: skip
        if outcome.get("status") == "REJECTED":
            return 400, {"error": outcome["error"]}
        return 200, outcome

    def _drain_queue(self) -> int:
        count = 0
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return count
            with self.events_file.open("a", encoding="utf-8") as out:
                for message in messages:
                    out.write(json.dumps(json.loads(message["Body"]), separators=(",", ":")) + "\n")
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            count += len(messages)

    # -- outages (chaos tests) -----------------------------------------------------------------------------
    def stop_server(self, kind: type[ManagedProcess]) -> None:
        """Stop the started redis-server or DynamoDB Local (its port is kept for ``start_server``)."""
        server = next(c for c in self.children if isinstance(c, kind))
        self.children.remove(server)
        server.stop()
        self._stopped[kind] = server.port

    def start_server(self, kind: type[ManagedProcess]) -> None:
        """Start it again on the same port. Both keep data in memory only: Redis comes back empty, as after a
        failover; DynamoDB Local gets its tables re-created and the listings reloaded."""
        port = self._stopped.pop(kind)
        if kind is DynamoDBLocal:
            self._child(DynamoDBLocal(port, search_from=self.options.search_from))
            self._create_tables()
            self._load()
        else:
            self._child(RedisServer(port))

    # -- shut-down ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the asynchronous side and every child process this platform started."""
        self._stop.set()
        FUNCTION_ENVIRONMENTS.pop(BookingSettings.handler_module, None)
        if self._worker is not None:
            self._worker.join(timeout=5)
        if self.moto is not None:
            self.moto.stop()
            self.moto = None  # stop() may run twice (a failed start, then the command's own clean-up)
        for child in reversed(self.children):
            child.stop()
        if self._sample_dir is not None:
            import shutil

            shutil.rmtree(self._sample_dir, ignore_errors=True)


def subscription_payload(lines: list[str]) -> dict[str, Any]:
    """Log lines as CloudWatch Logs hands them to a subscription's Lambda destination."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/local/search",
        "logEvents": [{"id": str(i), "timestamp": 0, "message": line} for i, line in enumerate(lines)],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}
