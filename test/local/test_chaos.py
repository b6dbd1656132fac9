"""Chaos and abuse against the local mode (marker ``chaos``: ``make chaos`` runs only these; ``make test`` runs all).

Load loops are bounded in time and count and only talk to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cached_booking_api.local.gateway_rules import TIMEOUTS_MS
from cached_booking_api.local.processes import DynamoDBLocal, RedisServer
from test.conftest import listing, stay
from test.local.conftest import Local, request, running_local

pytestmark = pytest.mark.chaos

LOAD_SECONDS = float(os.environ.get("CHAOS_SECONDS", "30"))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    listings = [listing(f"lis-{i}", price=10000 + i, units=5) for i in range(6)]
    listings.append(listing("scarce", destination="Porto", units=5, price=5000))
    # The asynchronous side runs as in `cached-booking-api local`: every 0.5 s, alongside the load.
    folder = tmp_path_factory.mktemp("chaos")
    with running_local(folder, listings, poll_seconds=0.5, CIRCUIT_COOLDOWN_SECONDS="1") as running:
        yield running


def search_url(local: Local, offset: int, nights: int = 2, destination: str = "Lisbon") -> str:
    check_in, check_out = stay(offset, nights)
    return f"{local.url}/search?destination={destination}&checkIn={check_in}&checkOut={check_out}"


class Load:
    """Threads searching until stopped (or ``LOAD_SECONDS`` x 3, whichever first), recording every answer."""

    def __init__(self, urls: Any, threads: int = 4) -> None:
        self.urls = urls
        self.samples: list[tuple[float, int, str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        self.started = time.monotonic()

    def _run(self, worker: int) -> None:
        deadline = self.started + LOAD_SECONDS * 3
        n = 0
        while not self._stop.is_set() and time.monotonic() < deadline and n < 100_000:
            sent = time.monotonic() - self.started  # samples are placed by when the request was sent
            status, headers, body = request(self.urls(worker, n))
            with self._lock:
                self.samples.append((sent, status, headers.get("X-Cache", "-"), body))
            n += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def window(self, start: float, end: float) -> list[tuple[float, int, str, dict[str, Any]]]:
        with self._lock:
            return [s for s in self.samples if start <= s[0] < end]


def test_killing_redis_during_load_never_fails_a_search(local: Local) -> None:
    warm = [search_url(local, 10 + i) for i in range(4)]
    for url in warm:
        request(url)
    third = LOAD_SECONDS / 3
    with Load(lambda worker, n: warm[(worker + n) % len(warm)]) as load:
        time.sleep(third)
        local.platform.stop_server(RedisServer)
        killed = time.monotonic()  # once it is down: a request sent while it was stopping may still have reached it
        time.sleep(third)
        restarting = time.monotonic() - load.started  # requests sent from here on may meet the new server
        local.platform.start_server(RedisServer)
        restarted = time.monotonic() - load.started
        time.sleep(third)
    statuses = Counter(status for _, status, _, _ in load.samples)
    assert not [s for s in statuses if s >= 500], statuses
    before = Counter(cache for _, _, cache, _ in load.window(0, third))
    down = Counter(cache for _, _, cache, _ in load.window(killed - load.started + 1, restarting))
    after = Counter(cache for _, _, cache, _ in load.window(restarted + 2, LOAD_SECONDS * 3))
    assert before["HIT"] > 0
    assert down and set(down) == {"BYPASS"}, down
    assert after["HIT"] > 0, after


def test_stopping_dynamodb_keeps_hits_serving_and_misses_answer_503(local: Local) -> None:
    warm = [search_url(local, 40 + i) for i in range(3)]
    for url in warm:
        request(url)
    cold = iter(range(100_000))

    def url(worker: int, n: int) -> str:
        # A fresh query is one of a destination never searched before: the cache holds data per destination and
        # month (issue 9.5), so any Lisbon month a search filled before the stop would answer later Lisbon searches.
        fresh = f"Nowhere-{next(cold)}"
        return warm[n % len(warm)] if n % 2 == 0 else search_url(local, 60 + n % 200, 1 + n % 5, fresh)

    third = LOAD_SECONDS / 3
    with Load(url, threads=3) as load:
        time.sleep(third / 2)
        local.platform.stop_server(DynamoDBLocal)
        stopped = time.monotonic() - load.started
        time.sleep(third)
        restarting = time.monotonic() - load.started
        local.platform.start_server(DynamoDBLocal)  # tables re-created, data reloaded; the HTTP server never restarts
        restarted = time.monotonic() - load.started
        time.sleep(third)
    down = load.window(stopped + 1, restarting)
    assert down
    for _, status, cache, body in down:
        if status == 200:
            assert cache in ("HIT", "STALE")
        else:
            assert status == 503 and body["error"]["code"] == "SERVICE_UNAVAILABLE", (status, body)
            assert "Traceback" not in json.dumps(body)
    assert any(status == 503 for _, status, _, _ in down), "fresh queries must have missed"
    after = load.window(restarted + 1, LOAD_SECONDS * 3)
    assert after and all(status == 200 for _, status, _, _ in after), Counter(s for _, s, _, _ in after)
    # The months that answered 503 are filled by the first searches after the restart: the cache holds data per
    # destination-month (issue 9.5), so with three busy clients that happens within the first second.
    assert any(cache == "MISS" for _, _, cache, _ in load.window(restarted, LOAD_SECONDS * 3))


#: How long a booking client retries the contract's retryable answers (503, 409 REQUEST_IN_PROGRESS): longer than an
#: idempotency record stays in progress (the invocation's remaining time: the bookings function's timeout), so the
#: last retry finds the first attempt finished or its record expired. A retry budget of 40 x 0.25 s (~10 s) was
#: shorter, and a request whose own first attempt left its record in progress ended on REQUEST_IN_PROGRESS.
RETRY_SECONDS = 2 * TIMEOUTS_MS["bookings"] / 1000
#: A client's patience for one answer in the burst: 200 bookings queue for 64 handler threads and one DynamoDB Local.
BURST_TIMEOUT = 120.0


def test_two_hundred_concurrent_bookings_over_http_confirm_five_with_five_events(local: Local) -> None:
    check_in, check_out = stay(20, 2)
    payload = {"listingId": "scarce", "checkIn": check_in, "checkOut": check_out, "guests": 1,
               "customer": {"name": "Ana Silva", "email": "ana@example.com"}}  # fmt: skip
    barrier = threading.Barrier(200)
    answers: list[tuple[int, str]] = []
    retried: Counter[str] = Counter()
    lock = threading.Lock()

    def book(i: int) -> None:
        barrier.wait()
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                status, _, body = request(f"{local.url}/bookings", method="POST", body=payload, timeout=BURST_TIMEOUT,
                                          headers={"Idempotency-Key": f"http-{i:04d}"})  # fmt: skip
            except OSError as exc:  # no answer at all: recorded, so the count below says so
                with lock:
                    answers.append((0, type(exc).__name__))
                return
            code = body.get("error", {}).get("code", "")
            if (status == 503 or code == "REQUEST_IN_PROGRESS") and time.monotonic() < deadline:
                with lock:  # the contract's retryable answers: a client tries again
                    retried[code] += 1
                time.sleep(0.25)
                continue
            break
        with lock:
            answers.append((status, code or body.get("bookingId", "")))

    threads = [threading.Thread(target=book, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert Counter(status for status, _ in answers) == {201: 5, 409: 195}, (Counter(answers), retried)
    assert Counter(code for status, code in answers if status == 409) == {"UNAVAILABLE": 195}, retried
    confirmed = {code for status, code in answers if status == 201}

    # The same requests retried over HTTP are answered from the idempotency records: no sixth booking.
    for i in range(3):
        status, _, body = request(f"{local.url}/bookings", method="POST", body=payload,
                                  headers={"Idempotency-Key": f"http-{i:04d}"})  # fmt: skip
        assert status in (201, 409)
        if status == 201:
            assert body["bookingId"] in confirmed

    def booked() -> list[str]:
        events_file = Path(local.platform.events_file)
        events = [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []
        return sorted(e["detail"]["bookingId"] for e in events if e["detail-type"] == "booking.confirmed"
                      and e["detail"]["listingId"] == "scarce")  # fmt: skip

    deadline = time.monotonic() + 60
    while len(booked()) < len(confirmed) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.5)  # a few more rounds: a sixth event would show up now
    assert booked() == sorted(confirmed)


QUERY_FIELDS = ["destination", "checkIn", "checkOut", "guests", "limit", "cursor", "extra"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(QUERY_FIELDS), TEXT | st.integers(-5, 200).map(str), max_size=7))
def test_fuzzed_searches_never_5xx_and_errors_follow_the_format(local: Local, query: dict[str, str]) -> None:
    from urllib.parse import urlencode

    status, _, body = request(f"{local.url}/search?{urlencode(query)}")
    assert status < 500, body
    if status >= 400:
        assert set(body["error"]) == {"code", "message", "details"}


BODY = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=BODY
    | st.fixed_dictionaries(
        {"listingId": TEXT, "checkIn": TEXT, "checkOut": TEXT, "guests": st.integers(), "customer": BODY}
    ),  # fmt: skip
    key=st.one_of(st.none(), TEXT, st.from_regex(r"[A-Za-z0-9_-]{8,20}", fullmatch=True)),
)
def test_fuzzed_bookings_never_5xx_and_errors_follow_the_format(local: Local, body: Any, key: str | None) -> None:
    headers = {"Idempotency-Key": key} if key and key.isascii() and key.isprintable() else {}
    status, _, answer = request(f"{local.url}/bookings", method="POST", body=body, headers=headers)
    assert status < 500 or (status == 503 and answer["error"]["code"] == "SERVICE_UNAVAILABLE"), answer
    if status >= 400:
        assert set(answer["error"]) == {"code", "message", "details"}
