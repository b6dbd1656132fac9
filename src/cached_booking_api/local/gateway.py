"""API Gateway REST proxy events, built the way API Gateway builds them, and the CORS headers the deployed API adds,
for the local mode and the tests."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..runtime.config import CORS_ALLOW_HEADERS


def proxy_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy integration event."""
    is_binary = isinstance(body, bytes)
    encoded = base64.b64encode(body).decode() if isinstance(body, bytes) else body
    request_id = str(uuid.uuid4())
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": dict(headers or {}),
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "identity": {"sourceIp": source_ip},
        },
        "body": encoded,
        "isBase64Encoded": is_binary,
    }


def cors_headers(origin: str | None, allowed_origins: Sequence[str]) -> dict[str, str]:
    """The CORS headers the deployed API puts on an answer to ``origin``: the origin echoed (with ``Vary: Origin``)
    when it is one of ``allowed_origins`` (the construct's ``cors_allowed_origins``), nothing otherwise."""
    if not origin or origin not in allowed_origins:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(origin: str | None, allowed_origins: Sequence[str], methods: Sequence[str]) -> dict[str, str]:
    """The OPTIONS (preflight) answer's headers, as the construct's CORS mock integration gives them."""
    headers = cors_headers(origin, allowed_origins)
    if headers:
        headers["Access-Control-Allow-Methods"] = ",".join([*methods, "OPTIONS"])
        headers["Access-Control-Allow-Headers"] = ",".join(CORS_ALLOW_HEADERS)
    return headers
