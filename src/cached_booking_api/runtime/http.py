"""A Powertools REST resolver that answers every error in the contract's format."""

from __future__ import annotations

import json
import threading
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


class PerThreadRestResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with the request being resolved kept per thread.

    Powertools keeps the current event and Lambda context in class attributes (``BaseRouter.current_event``, shared by
    every resolver of the process) and the matched route in the resolver's ``context`` dict, cleared after each
    request: right in Lambda, which gives a process one request at a time, wrong in the local mode, which runs the
    handlers on many threads of one process. There a request read another's event and booked the other client's key.
    Here each thread sees its own; with one thread (Lambda) nothing changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._per_thread = threading.local()
        super().__init__(*args, **kwargs)

    @property
    def current_event(self) -> Any:
        """The event this thread is resolving."""
        return getattr(self._per_thread, "current_event", None)

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._per_thread.current_event = value

    @property
    def lambda_context(self) -> Any:
        """The Lambda context of the request this thread is resolving."""
        return getattr(self._per_thread, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._per_thread.lambda_context = value

    @property
    def context(self) -> dict[str, Any]:
        """This thread's resolution context (matched route, its arguments, appended keys)."""
        if not hasattr(self._per_thread, "context"):
            self._per_thread.context = {}
        context: dict[str, Any] = self._per_thread.context
        return context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._per_thread.context = value

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        """Resolve ``event`` with this thread's current event and context set first (Powertools then sets its shared
        class attributes too, which this resolver no longer reads)."""
        self.current_event = self._to_proxy_event(event)
        self.lambda_context = context
        return super().resolve(event, context)


def create_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A resolver whose 404/405/4xx/5xx bodies follow ``{"error": {...}}`` and never carry a stack trace, and whose
    answers carry CORS headers for the allowed origins (``CORS_ALLOWED_ORIGINS``)."""
    app = PerThreadRestResolver(strip_prefixes=None, cors=EnvironmentCors())

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
