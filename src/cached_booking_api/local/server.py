"""The local HTTP server: each request becomes an API Gateway proxy event handed to the same handler functions."""

from __future__ import annotations

import importlib
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .gateway import proxy_event
from .gateway_rules import ROUTES, TokenBucket, error_body, missing_parameters

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
TIMEOUTS_MS = {"search": 10_000, "bookings": 15_000}


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


class LocalApi(ThreadingHTTPServer):
    """A threading HTTP server holding the API key and the usage plan's token bucket."""

    daemon_threads = True
    request_queue_size = 512  # the listen backlog: http.server's default of 5 resets bursts of connections

    def __init__(self, port: int, api_key: str, throttle_rps: float, *, quiet: bool = False) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.api_key = api_key
        self.bucket = TokenBucket(throttle_rps, max(1, int(throttle_rps * 2)))
        self.quiet = quiet
        self.handlers = {module: importlib.import_module(f"..runtime.handlers.{module}", __package__).handler
                         for module in TIMEOUTS_MS}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: LocalApi
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave as two writes: without this, Nagle + delayed ACK add ~40 ms per keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default access log
        return

    def _serve(self) -> None:
        started = time.perf_counter()
        status, headers, body = self._answer()
        payload = body.encode()
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        if not self.server.quiet:
            elapsed = (time.perf_counter() - started) * 1000
            print(f"{self.command} {self.path} {status} {headers.get('X-Cache', '-')} {elapsed:.1f}ms", flush=True)

    def _answer(self) -> tuple[int, dict[str, str], str]:
        json_type = {"Content-Type": "application/json"}
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            return 413, json_type, error_body("PAYLOAD_TOO_LARGE", "The request is too large.")
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name: value for name, value in self.headers.items()}
        for route in ROUTES:
            parameters = route.match(self.command, url.path)
            if parameters is not None:
                break
        else:
            return 403, json_type, error_body("FORBIDDEN", "Missing or invalid API key.")  # as API Gateway answers
        if self.headers.get("x-api-key") != self.server.api_key:
            return 403, json_type, error_body("FORBIDDEN", "Missing or invalid API key.")
        if not self.server.bucket.take():
            return 429, json_type, error_body("TOO_MANY_REQUESTS", "Rate limit exceeded; retry later.")
        missing = missing_parameters(route, query, headers)
        if missing:
            message = f"Missing required request parameters: [{', '.join(missing)}]"
            return 400, json_type, error_body("VALIDATION_ERROR", message)
        event = proxy_event(
            self.command, url.path, query=query or None, headers=headers, body=raw.decode(errors="replace") or None,
            resource=route.resource, path_parameters=parameters or None,
        )  # fmt: skip
        event["requestContext"]["identity"]["apiKeyId"] = "local-api-key"
        context = LocalContext(route.handler_module, TIMEOUTS_MS[route.handler_module])
        try:
            response = self.server.handlers[route.handler_module](event, context)
        except Exception as exc:  # the handlers answer their own errors; this is API Gateway's 502
            print(f"local: handler crashed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return 502, json_type, error_body("INTERNAL_ERROR", "Internal error.")
        merged = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
        merged.update(response.get("headers") or {})
        return int(response["statusCode"]), merged, str(response.get("body") or "")


def curl_examples(url: str, api_key: str, check_in: str, check_out: str) -> list[str]:
    """Three copy-paste curl lines: search, book, get the booking."""
    body = json.dumps({"listingId": "lis-101", "checkIn": check_in, "checkOut": check_out, "guests": 2,
                       "customer": {"name": "Ana Silva", "email": "ana@example.com"}})  # fmt: skip
    return [
        f"curl -s -H 'x-api-key: {api_key}' "
        f"'{url}/search?destination=Lisbon&checkIn={check_in}&checkOut={check_out}&guests=2'",
        f"curl -s -X POST -H 'x-api-key: {api_key}' -H 'Idempotency-Key: try-it-0001' "
        f"-H 'Content-Type: application/json' -d '{body}' {url}/bookings",
        f"curl -s -H 'x-api-key: {api_key}' {url}/bookings/<bookingId from the answer above>",
    ]
