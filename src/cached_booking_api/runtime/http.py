"""A Powertools REST resolver that answers every error in the contract's format."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from .errors import ApiError, internal_error

JSON = "application/json"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    """A JSON response with compact encoding."""
    return Response(status, JSON, json.dumps(body, separators=(",", ":")), headers=headers)


def create_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A resolver whose 404/405/4xx/5xx bodies follow ``{"error": {...}}`` and never carry a stack trace."""
    app = APIGatewayRestResolver(strip_prefixes=None)

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def _api_error(error: ApiError) -> Response[str]:
        return json_response(error.status, error.body())

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return json_response(404, ApiError(404, "NOT_FOUND", "No such route.").body())

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(_: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return json_response(500, internal_error().body())

    return app
