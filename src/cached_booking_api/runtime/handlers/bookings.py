"""``POST /bookings`` (idempotent, oversell-proof), ``GET`` and ``DELETE /bookings/{bookingId}`` (scoped to the API key
that made the booking)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import config, metric_names, tracing
from ..booking_request import IDEMPOTENCY_KEY, parse_booking, request_body
from ..booking_service import BookingService
from ..emf import leveled_metrics
from ..errors import ApiError, service_unavailable, validation_error
from ..http import create_resolver, json_response
from ..settings import BookingSettings

logger = Logger()
metrics = leveled_metrics()
app = create_resolver(logger)

MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_EXPIRY_SECONDS = 24 * 3600
BOOKING_ID = re.compile(r"bk_[0-9a-f]{24}")  # matched whole (fullmatch): "$" also matches before a trailing newline
BY_ID = "/bookings/{bookingId}"  # the API's resource (what API Gateway matched the request to)


@cache
def booking_service() -> BookingService:
    """The process-wide service (one DynamoDB client reused across invocations)."""
    settings = BookingSettings.from_environment()
    cutoff = settings.cancellation_cutoff_seconds
    return BookingService(
        config.dynamodb_client(settings.dynamodb),  # standard retries (the time-budget fit is the search's)
        settings.table_name,
        cancellation_cutoff=None if cutoff is None else timedelta(seconds=cutoff),
    )


@cache
def idempotent_booking() -> tuple[Callable[..., dict[str, Any]], DynamoDBPersistenceLayer, IdempotencyConfig]:
    """``book(payload=...)`` and the Powertools idempotency it is wrapped with for each request (``idempotent_book``):
    records in their own table, 24 h, body validated.

    The records share the bookings' DynamoDB client: one client to build on a cold start, not two.
    """
    persistence = DynamoDBPersistenceLayer(
        table_name=BookingSettings.from_environment().idempotency_table_name, boto3_client=booking_service().client
    )
    idempotency = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    # Powertools configures the store on first use and flags it configured before compiling the key expression: a
    # concurrent first request (the local mode serves several on threads) would find no expression. Configure it now.
    persistence.configure(idempotency)

    def book(payload: dict[str, Any]) -> dict[str, Any]:
        request = parse_booking(payload["body"])  # the body as validated below: no Pydantic on the cold path
        return booking_service().create(request, payload["key"], payload["owner"])

    return book, persistence, idempotency


def idempotent_book(lambda_context: LambdaContext | None) -> Callable[..., dict[str, Any]]:
    """``book`` wrapped by Powertools idempotency for one request, with a copy of the config registered with this
    request's context: its in-progress record lasts as long as this invocation may run. (One config registered by
    every request gave a request another's remaining time when requests run on threads, as in the local mode.)"""
    book, persistence, idempotency = idempotent_booking()
    config = copy.copy(idempotency)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    wrapped: Callable[..., dict[str, Any]] = idempotent_function(
        book, data_keyword_argument="payload", persistence_store=persistence, config=config
    )
    return wrapped


@app.post("/bookings")
def create_booking() -> Response[str]:
    """Book a stay (contract: BRIEF §3)."""
    metrics.add_metric(name=metric_names.BOOKING_REQUEST, unit=MetricUnit.Count, value=1)
    event = app.current_event
    try:
        raw = event.decoded_body or ""
    except ValueError:  # binascii.Error (not base64) or UnicodeDecodeError (not UTF-8), both ValueErrors
        raw = None  # answered as "body: must be a JSON object"
    if raw is not None and len(raw.encode(errors="surrogatepass")) > MAX_BODY_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"The body is over {MAX_BODY_BYTES // 1024} KiB.")
    key = event.headers.get("idempotency-key") or event.headers.get("Idempotency-Key")
    problems = []
    if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
        problems.append({"field": "Idempotency-Key", "message": "header required: 8-128 characters [A-Za-z0-9_-]"})
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's limit
        body = None
    if not isinstance(body, dict):
        problems.append({"field": "body", "message": "must be a JSON object"})
    if problems:
        raise validation_error(problems)
    request = parse_booking(body)
    client = _client(app.current_event)
    book = idempotent_book(app.lambda_context)
    try:
        booking = book(
            payload={
                "key": f"{client}:{key}",
                "owner": client,
                "body": request_body(request),
            }
        )
    except IdempotencyAlreadyInProgressError:
        raise ApiError(409, "REQUEST_IN_PROGRESS", "A request with this Idempotency-Key is still running.") from None
    except IdempotencyValidationError:
        raise ApiError(422, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different body.") from None
    except IdempotencyPersistenceLayerError as exc:
        logger.error(
            "idempotency store unavailable", extra={"error": type(exc).__name__, "cause": repr(exc.__cause__)[:300]}
        )
        raise service_unavailable() from None
    metrics.add_metric(name=metric_names.BOOKING_CONFIRMED, unit=MetricUnit.Count, value=1)
    return json_response(201, booking)


def _booking_id(booking_id: str) -> str:
    """The booking id of the request's path, matched whole; 404 BOOKING_NOT_FOUND for anything else.

    Powertools' route regex ends in ``$``, which also matches before a trailing newline: ``/bookings/bk_...%0A``
    matched the route with the newline dropped from ``booking_id``, and answered (or cancelled) the caller's own
    booking. The path's last segment, as API Gateway decoded it, is the id the caller sent."""
    sent = app.current_event.path.rsplit("/", 1)[-1]
    if sent != booking_id or not BOOKING_ID.fullmatch(sent):
        raise ApiError(404, "BOOKING_NOT_FOUND", f"No booking {sent}.")
    return sent


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    """A request API Gateway sent to ``/bookings/{bookingId}`` that no route here matched (an id with ``\\r\\n`` or
    more than one trailing newline): the booking does not exist. Any other path: the resolver's NOT_FOUND."""
    event = app.current_event
    if event.resource == BY_ID and event.http_method in ("GET", "DELETE"):
        sent = event.path.rsplit("/", 1)[-1]
        return json_response(404, ApiError(404, "BOOKING_NOT_FOUND", f"No booking {sent}.").body())
    return json_response(404, ApiError(404, "NOT_FOUND", "No such route.").body())


def _client(event: Any) -> str:
    """The API key id API Gateway identified the caller by (bookings are scoped to it)."""
    return str(event.request_context.identity.api_key_id or "anonymous")


@app.get("/bookings/<booking_id>")
def get_booking(booking_id: str) -> Response[str]:
    """A booking by id, if the caller's API key made it."""
    metrics.add_metric(name=metric_names.BOOKING_READ, unit=MetricUnit.Count, value=1)
    booking_id = _booking_id(booking_id)  # before the service is built: an odd id is a 404 whatever the settings
    return json_response(200, booking_service().get(booking_id, _client(app.current_event)))


@app.delete("/bookings/<booking_id>")
def cancel_booking(booking_id: str) -> Response[str]:
    """Cancel a booking the caller's API key made: every night given back once, booking.cancelled sent once."""
    metrics.add_metric(name=metric_names.CANCELLATION_REQUEST, unit=MetricUnit.Count, value=1)
    booking_id = _booking_id(booking_id)
    booking = booking_service().cancel(booking_id, _client(app.current_event))
    metrics.add_metric(name=metric_names.BOOKING_CANCELLED, unit=MetricUnit.Count, value=1)
    return json_response(200, booking)


@logger.inject_lambda_context(log_event=False)
@tracing.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (API Gateway REST proxy integration)."""
    return app.resolve(event, context)
