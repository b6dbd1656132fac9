"""A Powertools REST resolver that answers every error in the contract's format."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response

from . import config
from .errors import ApiError, internal_error

JSON = "application/json"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    """A JSON response with compact encoding."""
    return Response(status, JSON, json.dumps(body, separators=(",", ":")), headers=headers)


class EnvironmentCors(CORSConfig):
    """Powertools' CORS with the allowed origins read from ``CORS_ALLOWED_ORIGINS`` on every response: an allowed
    ``Origin`` is echoed (with ``Vary: Origin``) on every answer, errors included; any other origin gets nothing."""

    def __init__(self) -> None:
        super().__init__(allow_origin="", allow_headers=list(config.CORS_ALLOW_HEADERS), max_age=600)

    def allowed_origin(self, extracted_origin: str | None) -> str | None:
        """The request's origin when it is allowed, else None."""
        return extracted_origin if extracted_origin and extracted_origin in config.cors_allowed_origins() else None

    def to_dict(self, origin: str | None) -> dict[str, str]:
        """The CORS headers of a response to ``origin`` (none for an origin that is not allowed)."""
        if self.allowed_origin(origin) is None:
            return {}
        return {
            "Access-Control-Allow-Origin": str(origin),
            "Access-Control-Allow-Headers": ",".join(sorted(self.allow_headers)),
            "Access-Control-Max-Age": str(self.max_age),
            "Vary": "Origin",
        }


def create_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A resolver whose 404/405/4xx/5xx bodies follow ``{"error": {...}}`` and never carry a stack trace, and whose
    answers carry CORS headers for the allowed origins (``CORS_ALLOWED_ORIGINS``)."""
    app = APIGatewayRestResolver(strip_prefixes=None, cors=EnvironmentCors())

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
