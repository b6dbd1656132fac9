"""What API Gateway does before a handler runs, emulated for the local mode: API key, usage-plan throttle, required
request parameters (from the same OpenAPI document the construct uses), and the routes' handlers."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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
