"""What API Gateway does before a handler runs, emulated for the local mode: API key, usage-plan throttle, required
request parameters (from the same OpenAPI document the construct uses), and the routes' handlers.

``Gateway.answer`` is the whole of it, free of any HTTP server: the local HTTP front (``http_front.py``) parses the wire
and hands it method, path, query, headers and body.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from ..runtime import config
from .gateway import cors_headers, preflight_headers, proxy_event

OPENAPI = Path(__file__).resolve().parent.parent / "runtime" / "openapi.json"


def error_body(code: str, message: str) -> str:
    """The contract's error body (as the construct's gateway responses render it)."""
    return json.dumps({"error": {"code": code, "message": message, "details": []}})


class TokenBucket:
    """The usage plan's throttle: ``rate`` tokens per second, up to ``burst``. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Whether a request may pass now."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass(frozen=True)
class Route:
    """A method + resource of the API and the handler module that serves it."""

    method: str
    resource: str
    handler_module: str

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when ``method path`` is this route, else None."""
        if method != self.method:
            return None
        want, got = self.resource.strip("/").split("/"), path.strip("/").split("/")
        if len(want) != len(got):
            return None
        parameters = {}
        for pattern, value in zip(want, got, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not value:
                    return None
                parameters[pattern[1:-1]] = value
            elif pattern != value:
                return None
        return parameters


ROUTES = (
    Route("GET", "/search", "search"),
    Route("POST", "/bookings", "bookings"),
    Route("GET", "/bookings/{bookingId}", "bookings"),
    Route("DELETE", "/bookings/{bookingId}", "bookings"),
)


@cache
def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return {(method.upper(), path): op for path, item in document["paths"].items() for method, op in item.items()}


def missing_parameters(route: Route, query: dict[str, str], headers: dict[str, str]) -> list[str]:
    """Required query/header parameters the request lacks (API Gateway's request validator)."""
    operation = _operations().get((route.method, route.resource), {})
    lowered = {name.lower() for name in headers}
    missing = []
    for parameter in operation.get("parameters", []):
        if not parameter.get("required"):
            continue
        if parameter["in"] == "query" and not query.get(parameter["name"]):
            missing.append(parameter["name"])
        if parameter["in"] == "header" and parameter["name"].lower() not in lowered:
            missing.append(parameter["name"])
    return missing


TIMEOUTS_MS = {"search": 10_000, "bookings": 15_000}
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
JSON_TYPE = "application/json"


class LocalContext:
    """The Lambda context attributes the handlers read."""

    memory_limit_in_mb = 512
    aws_request_id = "local"

    def __init__(self, function_name: str, timeout_ms: int) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Answer:
    """What the gateway sends back: status, headers and a text body."""

    status: int
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON_TYPE})
    body: str = ""


def gateway_error(status: int, code: str, message: str) -> Answer:
    """One of API Gateway's own answers, in the contract's error format (the construct's gateway responses)."""
    return Answer(status, {"Content-Type": JSON_TYPE}, error_body(code, message))


def _load_handlers() -> dict[str, Handler]:
    return {module: importlib.import_module(f"..runtime.handlers.{module}", __package__).handler
            for module in TIMEOUTS_MS}  # fmt: skip


class Gateway:
    """API Gateway in front of the handlers: routes, API key, the usage plan's throttle, required parameters, the
    proxy event, and a 502 when a handler crashes. Thread-safe; called once per request with what the wire said."""

    def __init__(self, api_key: str, throttle_rps: float, handlers: Mapping[str, Handler] | None = None) -> None:
        self.api_key = api_key
        self.bucket = TokenBucket(throttle_rps, max(1, int(throttle_rps * 2)))
        self.handlers: dict[str, Handler] = dict(handlers) if handlers is not None else _load_handlers()

    def answer(self, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """API Gateway's answer to one request. ``path`` as on the wire (percent-encoded: a path parameter may hold an
        encoded ``/``), ``headers`` as received (the last value of a repeated name). CORS as the construct sets it up
        from ``cors_allowed_origins`` (here ``CORS_ALLOWED_ORIGINS``): with origins, a route's OPTIONS preflight needs
        no key, and every answer, the gateway's own errors included, carries the headers for an allowed origin only."""
        origin = next((value for name, value in headers.items() if name.lower() == "origin"), None)
        allowed = config.cors_allowed_origins()
        routes = [route for route in ROUTES if route.match(route.method, path) is not None]
        if method == "OPTIONS" and routes and allowed:  # the construct adds OPTIONS methods only with CORS origins
            methods = sorted({route.method for route in routes})
            return Answer(204, preflight_headers(origin, allowed, methods), "")
        answer = self._answer(method, path, query_string, headers, body)
        answer.headers.update(cors_headers(origin, allowed))
        return answer

    def _answer(self, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes) -> Answer:
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        for route in ROUTES:
            parameters = route.match(method, path)
            if parameters is not None:
                parameters = {name: unquote(value) for name, value in parameters.items()}
                path = unquote(path)
                break
        else:
            return gateway_error(403, "FORBIDDEN", "Missing or invalid API key.")  # as API Gateway answers
        lowered = {name.lower(): value for name, value in headers.items()}
        if lowered.get("x-api-key") != self.api_key:
            return gateway_error(403, "FORBIDDEN", "Missing or invalid API key.")
        if not self.bucket.take():
            return gateway_error(429, "TOO_MANY_REQUESTS", "Rate limit exceeded; retry later.")
        missing = missing_parameters(route, query, dict(headers))
        if missing:
            return gateway_error(
                400, "VALIDATION_ERROR", f"Missing required request parameters: [{', '.join(missing)}]"
            )
        event = proxy_event(
            method, path, query=query or None, headers=dict(headers), body=body.decode(errors="replace") or None,
            resource=route.resource, path_parameters=parameters or None,
        )  # fmt: skip
        event["requestContext"]["identity"]["apiKeyId"] = "local-api-key"
        context = LocalContext(route.handler_module, TIMEOUTS_MS[route.handler_module])
        try:
            response = self.handlers[route.handler_module](event, context)
        except Exception as exc:  # the handlers answer their own errors; this is API Gateway's 502
            print(f"local: handler crashed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return gateway_error(502, "INTERNAL_ERROR", "Internal error.")
        merged = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
        merged.update(response.get("headers") or {})
        return Answer(int(response["statusCode"]), merged, str(response.get("body") or ""))
