"""The local HTTP front: hypercorn (HTTP/1.1 parsed by h11) serves a small ASGI app that hands each request to the
emulated API Gateway (``gateway_rules.Gateway``), which turns it into a proxy event for the very handlers of the
construct.

Hypercorn does the wire: a strict HTTP/1.1 parser (chunked bodies, ``Content-Length`` checked, a limit on the
request head), a timeout from connect (or the previous answer) to a complete request head, keep-alive and pipelining.
Malformed HTTP gets hypercorn's empty 400 and a closed connection. This module adds what API Gateway adds: a body
limit (413, and the connection closes: the unread rest is never parsed as a request), a deadline for the whole body
(408), a request both chunked and length-delimited refused (400), no ``Server`` header, JSON on every answer, and a
request whose client has left before a worker was free is dropped instead of executed. One line per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .gateway_rules import Answer, Gateway, gateway_error

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
HEAD_TIMEOUT_SECONDS = 5.0  # connect (or the previous answer) → a complete request head, else the connection closes
BODY_TIMEOUT_SECONDS = 10.0  # the whole body, however it trickles in → 408 and the connection closes
WORKERS = 64  # handler threads (the handlers are blocking code, as in Lambda)
BACKLOG = 512  # the listen backlog: bursts of connections must not be reset

#: The local-only endpoint that puts an inventory.updated event on the local bus (see ``LocalPlatform``).
INVENTORY_EVENTS_PATH = "/local/inventory-events"
InventoryEvents = Callable[[object], tuple[int, dict[str, Any]]]
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _ClientGone(Exception):
    pass


class _TooLarge(Exception):
    pass


class LocalApi:
    """The local API on ``127.0.0.1:port``: ``serve_forever()`` (blocks; ``shutdown()`` from another thread stops it,
    so does KeyboardInterrupt), then ``server_close()``. The port is bound when the object is made."""

    def __init__(
        self,
        port: int,
        api_key: str,
        throttle_rps: float,
        *,
        quiet: bool = False,
        workers: int = WORKERS,
        inventory_events: InventoryEvents | None = None,
    ) -> None:
        self.gateway = Gateway(api_key, throttle_rps)
        self.api_key = api_key
        self.inventory_events = inventory_events
        self.quiet = quiet
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # accepted sockets inherit it: headers and body leave as separate writes (no 40 ms Nagle/delayed-ACK stall)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(BACKLOG)  # connections queue from now on, before serve_forever runs
        except OSError:
            listener.close()
            raise
        self.port: int = listener.getsockname()[1]
        self._fd: int | None = listener.detach()  # handed to hypercorn, which closes it when it stops
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="local-api")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._finished = threading.Event()
        self._signalled = False

    @property
    def handlers(self) -> dict[str, Any]:
        """The handler of each handler module (``search``, ``bookings``)."""
        return self.gateway.handlers

    def _config(self, fd: int) -> Any:
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"fd://{fd}"]
        config.include_server_header = False  # no software name or version on any answer
        config.keep_alive_timeout = HEAD_TIMEOUT_SECONDS
        # no read_timeout: hypercorn applies it to every read, also while a client waits for a slow answer
        config.h11_max_incomplete_size = 16 * 1024  # request line + headers
        config.backlog = BACKLOG
        config.graceful_timeout = 1.0
        config.accesslog = None  # our own line per request
        quiet = logging.getLogger("cached_booking_api.local.http")
        quiet.setLevel(logging.ERROR)  # not hypercorn's "Running on ..." banner; its errors still show
        config.errorlog = quiet
        return config

    def serve_forever(self) -> None:
        """Serve until ``shutdown()``. In the main thread, SIGINT/SIGTERM stop it gracefully (answers in flight are
        finished) and then raise KeyboardInterrupt, as the process's own handlers would."""
        self._signalled = False
        asyncio.run(self._serve())
        if self._signalled:
            raise KeyboardInterrupt

    async def _serve(self) -> None:
        from hypercorn.asyncio import serve

        if self._fd is None:
            raise RuntimeError("this LocalApi was closed")
        fd, self._fd = self._fd, None
        self._loop = loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                previous[number] = signal.getsignal(number)
                loop.add_signal_handler(number, self._interrupted)
        self._started.set()
        try:
            await serve(self._app, self._config(fd), shutdown_trigger=self._stopping.wait, mode="asgi")  # type: ignore[arg-type]
        finally:
            for number, handler in previous.items():
                loop.remove_signal_handler(number)
                signal.signal(number, handler)
            self._finished.set()

    def _interrupted(self) -> None:
        self._signalled = True
        if self._stopping is not None:
            self._stopping.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever()`` running in another thread and wait for it."""
        if self._started.is_set() and self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._finished.wait(timeout=10)

    def server_close(self) -> None:
        """Release the port (if never served) and the handler threads."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the ASGI application ---------------------------------------------------------------------------------
    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":  # API Gateway REST has no WebSocket: the gateway's own 403
            await receive()
            answer = gateway_error(403, "FORBIDDEN", "Missing or invalid API key.")
            await send({"type": "websocket.http.response.start", "status": 403, "headers": _wire_headers(answer)})
            await send({"type": "websocket.http.response.body", "body": answer.body.encode()})
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        try:
            status, headers = await self._exchange(scope, receive, send)
        except Exception as exc:  # never hypercorn's empty 500: the gateway's 502, in the error format
            print(f"local: request failed: {type(exc).__name__}: {exc}", flush=True)
            status, headers = 502, {}
            await _send(send, gateway_error(502, "INTERNAL_ERROR", "Internal error."), close=True)
        if not self.quiet:
            elapsed = (time.perf_counter() - started) * 1000
            target = scope["raw_path"].decode("latin-1") + (
                "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
            )
            print(f"{scope['method']} {target} {status} {headers.get('X-Cache', '-')} {elapsed:.1f}ms", flush=True)

    async def _exchange(self, scope: Scope, receive: Receive, send: Send) -> tuple[int, dict[str, str]]:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        declared = headers.get("content-length")  # h11 accepts only digits here
        if declared is not None and "transfer-encoding" in headers:
            # RFC 9112 §6.1: such a request is refused or, if served, the connection must close after it
            message = "A request may not have both Content-Length and Transfer-Encoding."
            return await _close_with(send, gateway_error(400, "BAD_REQUEST", message))
        if declared is not None and int(declared) > MAX_REQUEST_BYTES:
            return await _close_with(send, gateway_error(413, "PAYLOAD_TOO_LARGE", "The request is too large."))
        try:
            body = await asyncio.wait_for(_read_body(receive), BODY_TIMEOUT_SECONDS)
        except _TooLarge:
            return await _close_with(send, gateway_error(413, "PAYLOAD_TOO_LARGE", "The request is too large."))
        except TimeoutError:
            return await _close_with(send, gateway_error(408, "REQUEST_TIMEOUT", "The request body was too slow."))
        except _ClientGone:
            return 499, {}
        gone = threading.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._answer, gone, scope["method"], scope["raw_path"].decode("latin-1"),
                scope["query_string"].decode("latin-1"), headers, body,
            )  # fmt: skip
        finally:
            watcher.cancel()
        if answer is None:  # the client left before a worker was free: nothing was executed
            return 499, {}
        await _send(send, answer, close=False)
        return answer.status, answer.headers

    def _answer(
        self, gone: threading.Event, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Answer | None:
        if gone.is_set():
            return None
        if path == INVENTORY_EVENTS_PATH and self.inventory_events is not None:
            return self._inventory_event(method, headers, body)
        return self.gateway.answer(method, path, query, headers, body)

    def _inventory_event(self, method: str, headers: dict[str, str], body: bytes) -> Answer:
        """The local-only ``POST /local/inventory-events``: puts an ``inventory.updated`` event on the local bus, as
        an external system does with PutEvents (not part of the deployed API: in AWS, systems use the bus)."""
        if {name.lower(): value for name, value in headers.items()}.get("x-api-key") != self.api_key:
            return gateway_error(403, "FORBIDDEN", "Missing or invalid API key.")
        if method != "POST":
            return gateway_error(405, "METHOD_NOT_ALLOWED", f"Use POST {INVENTORY_EVENTS_PATH}.")
        try:
            event = json.loads(body or b"null")
        except ValueError:
            return gateway_error(400, "VALIDATION_ERROR", "The body must be a JSON event.")
        assert self.inventory_events is not None
        status, answer = self.inventory_events(event)
        return Answer(status, {"Content-Type": "application/json"}, json.dumps(answer))


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _watch_disconnect(receive: Receive, gone: threading.Event) -> None:
    while True:
        if (await receive())["type"] == "http.disconnect":
            gone.set()
            return


def _wire_headers(answer: Answer, *, close: bool = False) -> list[tuple[bytes, bytes]]:
    skip = {"content-length", "connection", "transfer-encoding"}
    # names keep the handler's case, as API Gateway keeps it (h11 writes them as given)
    wire = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()
            if name.lower() not in skip]  # fmt: skip
    wire.append((b"content-length", str(len(answer.body.encode())).encode()))
    if close:
        wire.append((b"connection", b"close"))
    return wire


async def _send(send: Send, answer: Answer, *, close: bool) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": _wire_headers(answer, close=close)})
    await send({"type": "http.response.body", "body": answer.body.encode()})


async def _close_with(send: Send, answer: Answer) -> tuple[int, dict[str, str]]:
    """Answer and close the connection: whatever of the request was not read is never parsed as a request."""
    await _send(send, answer, close=True)
    return answer.status, answer.headers


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
