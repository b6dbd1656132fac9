"""The contract's error body and the exceptions that map to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    """An error the API answers with ``{"error": {"code", "message", "details"}}`` and the given status."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def validation_error(details: list[dict[str, Any]]) -> ApiError:
    """400 VALIDATION_ERROR naming each bad field in ``details``."""
    fields = ", ".join(sorted({str(d["field"]) for d in details}))
    return ApiError(400, "VALIDATION_ERROR", f"Invalid request: {fields}", details)


def unavailable(nights: list[str]) -> ApiError:
    """409 UNAVAILABLE: ``details`` names each night without a unit left (``field`` "nights", ``night`` the date)."""
    details = [{"field": "nights", "message": f"no unit left on {night}", "night": night} for night in nights]
    return ApiError(409, "UNAVAILABLE", "Not enough inventory on some night(s).", details)


def service_unavailable() -> ApiError:
    """503 when a dependency the request needs is down (no internal detail leaks)."""
    return ApiError(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable; retry shortly.")


def internal_error() -> ApiError:
    """500 for anything unexpected (the stack trace goes to the log, never to the client)."""
    return ApiError(500, "INTERNAL_ERROR", "Internal error.")
