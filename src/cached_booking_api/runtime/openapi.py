"""The OpenAPI 3.1 document of the API, generated from the runtime's Pydantic models.

OpenAPI 3.1 because its schemas are JSON Schema 2020-12, the dialect Pydantic generates (``type: "null"``,
``examples``): the document validates as it is. ``python -m cached_booking_api.runtime.openapi`` rewrites
``openapi.json`` next to this file; the construct reads that file (it does not import Pydantic) to build API Gateway's
request validation (draft-4 models, see ``infrastructure/rest_api.py``), and a test checks it is up to date and valid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .models import Booking, BookingRequest, ErrorResponse, SearchQuery, SearchResponse

DOCUMENT = Path(__file__).with_name("openapi.json")


def _parameter_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: an optional parameter is absent, never ``null``."""
    options = [option for option in prop.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        prop.update(options[0])
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def _query_parameters(model: type[SearchQuery]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": prop.pop("description", ""),
            "schema": _parameter_schema(prop),
        }
        for name, prop in schema["properties"].items()
    ]


def build_document() -> dict[str, Any]:
    """The OpenAPI document (deterministic: same models, same bytes)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    booking = {"application/json": {"schema": {"$ref": "#/components/schemas/Booking"}}}
    # API Gateway's own answers (gateway responses in the same error format), on every operation
    gateway = {
        "403": {"description": "FORBIDDEN: missing or wrong API key (also any undeclared route)", "content": error},
        "429": {"description": "TOO_MANY_REQUESTS: over the usage plan's rate or quota", "content": error},
    }
    # What GET and DELETE /bookings/{bookingId} share: the path parameter and the answers besides their own
    booking_id = [{"name": "bookingId", "in": "path", "required": True, "schema": {"type": "string"}}]
    booking_lookup = {
        **gateway,
        "404": {"description": "BOOKING_NOT_FOUND (unknown, or another API key's)", "content": error},
        "503": {"description": "SERVICE_UNAVAILABLE", "content": error},
    }
    components = {
        name: model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, model in (
            ("SearchResponse", SearchResponse),
            ("ErrorResponse", ErrorResponse),
            ("BookingRequest", BookingRequest),
            ("Booking", Booking),
        )
    }
    schemas: dict[str, Any] = {}
    for name, schema in components.items():
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "cached-booking-api", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Listings available for a stay, cached.",
                    "parameters": _query_parameters(SearchQuery),
                    "responses": {
                        "200": {
                            "description": "Results; header X-Cache is HIT, MISS, STALE or BYPASS.",
                            "headers": {
                                "X-Cache": {"schema": {"type": "string", "enum": ["HIT", "MISS", "STALE", "BYPASS"]}}
                            },
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}
                            },
                        },
                        "400": {"description": "VALIDATION_ERROR", "content": error},
                        **gateway,
                        "503": {"description": "SERVICE_UNAVAILABLE", "content": error},
                    },
                }
            },
            "/bookings": {
                "post": {
                    "operationId": "createBooking",
                    "summary": "Book a stay; idempotent per Idempotency-Key.",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,128}$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BookingRequest"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "Confirmed",
                            "content": booking,
                            "links": {
                                "GetBooking": {
                                    "operationId": "getBooking",
                                    "parameters": {"bookingId": "$response.body#/bookingId"},
                                }
                            },
                        },
                        "400": {
                            "description": "VALIDATION_ERROR (also: guests over the listing's maxGuests, a stay "
                            "over 30 nights, checkOut not after checkIn, checkIn before today)",
                            "content": error,
                        },
                        **gateway,
                        "404": {"description": "LISTING_NOT_FOUND", "content": error},
                        "409": {
                            "description": "UNAVAILABLE (details: one entry per night without a unit left) or "
                            "REQUEST_IN_PROGRESS",
                            "content": error,
                        },
                        "413": {"description": "PAYLOAD_TOO_LARGE (over 16 KiB)", "content": error},
                        "422": {"description": "IDEMPOTENCY_KEY_REUSED", "content": error},
                        "503": {"description": "SERVICE_UNAVAILABLE", "content": error},
                    },
                }
            },
            "/bookings/{bookingId}": {
                "get": {
                    "operationId": "getBooking",
                    "summary": "A booking made with this API key.",
                    "parameters": booking_id,
                    "responses": {
                        "200": {"description": "The booking", "content": booking},
                        **booking_lookup,
                    },
                },
                "delete": {
                    "operationId": "cancelBooking",
                    "summary": "Cancel a booking made with this API key; repeating it changes nothing.",
                    "parameters": booking_id,
                    "responses": {
                        "200": {"description": "The booking, status CANCELLED", "content": booking},
                        **booking_lookup,
                        "409": {"description": "CANCELLATION_CLOSED (past the cancellation cut-off)", "content": error},
                    },
                },
            },
        },
    }


def render() -> str:
    """The document as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(render(), encoding="utf-8")
