"""Hostile HTTP/1.1 requests over raw sockets against the running local mode (issue 8, item 12).

Each request here confused the hand-written ``http.server`` front: a request hidden in a body was executed after a
413, chunked bodies were parsed as requests, ``Content-Length: abc`` dropped the connection with a traceback, partial
requests were never timed out, undeclared methods got an HTML 501, the ``Server`` header named the Python version,
and handlers ran for clients that had already left. Every one must now get a JSON 4xx or a closed connection: never a
hang, never HTML, never a second request executed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cached_booking_api.local.http_front import LocalApi
from cached_booking_api.local.platform import LocalPlatform
from cached_booking_api.local.processes import free_port
from test.conftest import listing, stay
from test.local.conftest import KEY, request, running_local

CHECK_IN, CHECK_OUT = stay(9, 2)
HEADER_TIMEOUT_BOUND = 14.0  # seconds a test waits for the server to give up on a stalled client


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalPlatform]]:
    # one unit per listing: a booking that was executed behind the client's back makes the next one fail
    listings = [listing(f"one-{i}", units=1) for i in range(8)]
    with running_local(tmp_path_factory.mktemp("front"), listings) as running:
        yield running.url, running.platform


@dataclass
class Reply:
    """One HTTP response read off the wire."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Wire:
    """Everything a raw connection received until the server closed it (or the read timed out)."""

    replies: list[Reply] = field(default_factory=list)
    closed: bool = False
    rest: bytes = b""


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def exchange(url: str, payload: bytes, *, wait: float = 5.0, head: bool = False) -> Wire:
    """Send ``payload`` on one connection; read until the server closes it or ``wait`` passes."""
    wire = Wire()
    data = b""
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=wait) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):  # the server answered and closed before reading it all
            wire.closed = True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                wire.closed = True
                break
            if not chunk:
                wire.closed = True
                break
            data += chunk
    wire.replies, wire.rest = _parse(data, head_request=head)
    return wire


def _parse(data: bytes, *, head_request: bool = False) -> tuple[list[Reply], bytes]:
    replies = []
    while b"\r\n\r\n" in data:
        head, _, tail = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head_request else int(headers.get("content-length", "0"))
        if len(tail) < length:
            break
        replies.append(Reply(int(status_line.split()[1]), headers, tail[:length]))
        data = tail[length:]
    return replies, data


def raw_request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def booking_body(listing_id: str) -> bytes:
    return json.dumps(
        {
            "listingId": listing_id,
            "checkIn": CHECK_IN,
            "checkOut": CHECK_OUT,
            "guests": 1,
            "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        }  # fmt: skip
    ).encode()


def booking_request(listing_id: str, key: str, **extra: str) -> bytes:
    body = booking_body(listing_id)
    headers = {"x-api-key": KEY, "Idempotency-Key": key, "Content-Type": "application/json",
               "Content-Length": str(len(body)), **extra}  # fmt: skip
    return raw_request("POST", "/bookings", headers, body)


def still_bookable(url: str, listing_id: str) -> bool:
    """Whether the listing's only unit is still free (a legitimate booking for it succeeds)."""
    status, _, _ = request(
        f"{url}/bookings", method="POST", raw=booking_body(listing_id),
        headers={"Idempotency-Key": f"check-{listing_id}-{time.monotonic_ns()}", "Content-Type": "application/json"},
    )  # fmt: skip
    return status == 201


def assert_not_html(reply: Reply) -> None:
    assert b"<html" not in reply.body.lower() and b"<!doctype" not in reply.body.lower(), reply.body
    assert "html" not in reply.headers.get("content-type", "")


def assert_json_error(reply: Reply, status: int | None = None) -> dict[str, Any]:
    assert_not_html(reply)
    if status is not None:
        assert reply.status == status, (reply.status, reply.body)
    assert reply.headers.get("content-type", "").startswith("application/json"), reply.headers
    error: dict[str, Any] = reply.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


def test_a_request_hidden_behind_a_413_is_never_executed(local: tuple[str, LocalPlatform]) -> None:
    """A declared body over the limit is answered 413 and the connection closes: its bytes are never a request."""
    url, _ = local
    hidden = booking_request("one-0", "hidden-after-413")
    head = raw_request(
        "POST", "/bookings",
        {"x-api-key": KEY, "Idempotency-Key": "too-large-0001", "Content-Type": "application/json",
         "Content-Length": str(64 * 1024 * 1024)},
    )  # fmt: skip
    wire = exchange(url, head + hidden)
    assert [r.status for r in wire.replies] == [413]
    assert assert_json_error(wire.replies[0])["code"] == "PAYLOAD_TOO_LARGE"
    assert wire.replies[0].headers.get("connection") == "close" and wire.closed
    assert still_bookable(url, "one-0")


def test_a_chunked_body_is_read_as_a_body(local: tuple[str, LocalPlatform]) -> None:
    """``Transfer-Encoding: chunked`` is HTTP/1.1: the chunks make the body, never a request of their own."""
    url, _ = local
    body = booking_body("one-1")
    chunks = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = raw_request(
        "POST", "/bookings",
        {"x-api-key": KEY, "Idempotency-Key": "chunked-body-1", "Content-Type": "application/json",
         "Transfer-Encoding": "chunked", "Connection": "close"},
    )  # fmt: skip
    wire = exchange(url, head + chunks)
    assert [r.status for r in wire.replies] == [201], wire
    assert wire.replies[0].json()["listingId"] == "one-1"
    assert not still_bookable(url, "one-1")


def test_a_chunked_body_over_the_limit_is_413_and_closes(local: tuple[str, LocalPlatform]) -> None:
    url, _ = local
    chunk = b"x" * (1024 * 1024)
    head = raw_request(
        "POST", "/bookings",
        {"x-api-key": KEY, "Idempotency-Key": "chunked-big-1", "Content-Type": "application/json",
         "Transfer-Encoding": "chunked"},
    )  # fmt: skip
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(11))
    wire = exchange(url, head + body + b"0\r\n\r\n" + booking_request("one-2", "hidden-after-chunks"), wait=10)
    assert [r.status for r in wire.replies] == [413]
    assert assert_json_error(wire.replies[0])["code"] == "PAYLOAD_TOO_LARGE"
    assert wire.closed
    assert still_bookable(url, "one-2")


def test_content_length_and_chunked_together_are_refused(local: tuple[str, LocalPlatform]) -> None:
    """The classic smuggling pair (RFC 9112 §6.1: a server MAY reject it, and must then close) is refused."""
    url, _ = local
    smuggled = booking_request("one-3", "hidden-cl-te-1")
    head = raw_request(
        "POST", "/search",
        {"x-api-key": KEY, "Content-Length": "5", "Transfer-Encoding": "chunked"},
    )  # fmt: skip
    wire = exchange(url, head + b"0\r\n\r\n" + smuggled)
    assert len(wire.replies) <= 1 and all(400 <= r.status < 500 for r in wire.replies), wire
    for reply in wire.replies:
        assert_not_html(reply)
    assert wire.closed
    assert still_bookable(url, "one-3")


@pytest.mark.parametrize("length", ["abc", "-1", "1, 2"])
def test_a_malformed_content_length_is_400_and_closes(
    local: tuple[str, LocalPlatform], length: str, capfd: pytest.CaptureFixture[str]
) -> None:
    url, _ = local
    head = raw_request("POST", "/bookings", {"x-api-key": KEY, "Idempotency-Key": "bad-length-1",
                                             "Content-Length": length})  # fmt: skip
    wire = exchange(url, head + b"{}")
    assert [r.status for r in wire.replies] == [400], wire
    assert_not_html(wire.replies[0])
    assert wire.closed
    assert "Traceback" not in capfd.readouterr().err


def test_partial_requests_are_timed_out(local: tuple[str, LocalPlatform]) -> None:
    """A client that stops half-way through the headers, or through a declared body, is disconnected."""
    url, _ = local
    started = time.monotonic()
    with (
        socket.create_connection(("127.0.0.1", _port(url)), timeout=HEADER_TIMEOUT_BOUND) as headers_only,
        socket.create_connection(("127.0.0.1", _port(url)), timeout=HEADER_TIMEOUT_BOUND) as half_body,
    ):
        headers_only.sendall(b"GET /search?destination=Lisbon HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ")
        half_body.sendall(booking_request("one-4", "half-body-0001")[:-20])
        for sock in (headers_only, half_body):
            try:
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            except ConnectionResetError:
                data = b""
            except TimeoutError:
                pytest.fail("the server kept a stalled request open")
            for reply in _parse(data)[0]:
                assert_json_error(reply)
    assert time.monotonic() - started < HEADER_TIMEOUT_BOUND
    assert still_bookable(url, "one-4")


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PATCH", "TRACE", "PUT", "CONNECT", "PROPFIND"])
def test_undeclared_methods_get_the_gateway_json_error(local: tuple[str, LocalPlatform], method: str) -> None:
    """API Gateway answers a method a resource does not declare as it answers a missing key: 403, JSON."""
    url, _ = local
    target = "127.0.0.1:1" if method == "CONNECT" else "/search?destination=Lisbon"
    wire = exchange(url, raw_request(method, target, {"x-api-key": KEY, "Connection": "close"}), head=method == "HEAD")
    assert len(wire.replies) == 1, wire
    reply = wire.replies[0]
    assert reply.status in (403, 405), reply
    assert_not_html(reply)
    assert reply.headers.get("content-type", "").startswith("application/json")
    if method != "HEAD":  # a HEAD answer has the headers of the answer, no body
        assert assert_json_error(reply)["code"] in ("FORBIDDEN", "METHOD_NOT_ALLOWED")


def test_no_server_header_names_the_software(local: tuple[str, LocalPlatform]) -> None:
    url, _ = local
    for target in (f"/search?destination=Lisbon&checkIn={CHECK_IN}&checkOut={CHECK_OUT}", "/nowhere"):
        wire = exchange(url, raw_request("GET", target, {"x-api-key": KEY, "Connection": "close"}))
        assert wire.replies and "server" not in wire.replies[0].headers, wire.replies[0].headers


def test_a_request_from_a_client_that_left_is_not_executed(local: tuple[str, LocalPlatform]) -> None:
    """A booking whose client hung up while it waited for a free worker is dropped, not executed.

    Scripted timeline: a front with one worker, kept busy 1.5 s by a search made slow on purpose; the booking arrives
    meanwhile and its client leaves at once. The hand-written front ran every request on its own thread, whoever was
    still listening.
    """
    url, platform = local
    server = LocalApi(free_port(), KEY, throttle_rps=10_000, quiet=True, workers=1)
    search = server.handlers["search"]

    def slow_search(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(1.5)
        return search(event, context)

    server.handlers["search"] = slow_search
    threading.Thread(target=server.serve_forever, daemon=True).start()
    front = f"http://127.0.0.1:{server.port}"
    try:
        slow = threading.Thread(target=request, args=(f"{front}/search?destination=Lisbon&checkIn={CHECK_IN}"
                                                      f"&checkOut={CHECK_OUT}",))  # fmt: skip
        slow.start()
        time.sleep(0.3)  # the only worker is busy
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(booking_request("one-5", "left-early-0001"))
        slow.join()
        time.sleep(0.3)
        assert still_bookable(url, "one-5")
    finally:
        server.shutdown()
        server.server_close()


def test_keep_alive_and_pipelining_still_work(local: tuple[str, LocalPlatform]) -> None:
    """The hostile cases above must not cost the ordinary ones: three requests on one connection, in order."""
    url, _ = local
    search = raw_request("GET", f"/search?destination=Lisbon&checkIn={CHECK_IN}&checkOut={CHECK_OUT}",
                         {"x-api-key": KEY})  # fmt: skip
    wire = exchange(url, search + raw_request("GET", "/nowhere", {"x-api-key": KEY}) + search, wait=3)
    assert [r.status for r in wire.replies] == [200, 403, 200]
    assert wire.replies[2].headers["x-cache"] == "HIT"
