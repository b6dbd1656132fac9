"""Local-mode benchmarks (issue P1-P5 + throughput), each next to its baseline from the same run.

P1  search cache hit vs raw redis GET (floor): p50/p99 in-process and over local HTTP
P2  DynamoDB requests per cache-miss search (50 listings x 7 nights): see search_bench.py
P3  50 concurrent identical misses -> DynamoDB queries issued
P4  hit ratio of a Zipf(1.1) trace over 20k distinct queries, TTL 300 s (simulated clock), vs an ideal TTL cache
P5  cold start in a new process (import + first hit) vs a minimal handler importing boto3 + redis doing one GET
    throughput of the local server for cache hits (requests/s, 2 cores) - context only

Writes bench/out/local.json and bench/out/latency.png (hit / miss / bypass latency distribution).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import redis  # noqa: E402
from figures import latency_chart, table  # noqa: E402
from search_bench import Context, percentiles, timed  # noqa: E402  (sets the AWS/Powertools environment)

from cached_booking_api.local.gateway import proxy_event  # noqa: E402
from cached_booking_api.local.http_front import LocalApi  # noqa: E402
from cached_booking_api.local.platform import LocalOptions, LocalPlatform  # noqa: E402
from cached_booking_api.local.processes import free_port  # noqa: E402
from cached_booking_api.runtime.models import today_utc  # noqa: E402

OUT = ROOT / "bench" / "out"
DESTINATIONS = [f"City{i:02d}" for i in range(20)]
TRACE_REQUESTS = int(os.environ.get("BENCH_TRACE", "3000"))


def listings_file(folder: Path) -> Path:
    start = today_utc()
    lines = []
    for d, destination in enumerate(DESTINATIONS):
        for n in range(50 if d == 0 else 3):
            inventory = {(start + timedelta(days=i)).isoformat(): 50 for i in range(130)}
            record = {
                "listingId": f"l{d:02d}-{n:02d}",
                "name": f"L {d}/{n}",
                "destination": destination,
                "pricePerNight": 5000 + 100 * n,
                "currency": "EUR",
                "maxGuests": 4,
                "inventory": inventory,
            }
            lines.append(json.dumps(record))  # fmt: skip
    path = folder / "bench-listings.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def query(destination: str, offset: int, nights: int, guests: int = 1, limit: int = 20) -> dict[str, str]:
    check_in = today_utc() + timedelta(days=1 + offset)
    check_out = check_in + timedelta(days=nights)
    return {
        "destination": destination,
        "checkIn": check_in.isoformat(),
        "checkOut": check_out.isoformat(),
        "guests": str(guests),
        "limit": str(limit),
    }


def handler_latencies(search: Any, redis_url: str) -> dict[str, list[float]]:
    """In-process latency samples of HIT, MISS and BYPASS answers."""
    context = Context()
    samples: dict[str, list[float]] = {"HIT": [], "MISS": [], "BYPASS": []}
    hot = proxy_event("GET", "/search", query=query(DESTINATIONS[0], 2, 7))
    search.handler(hot, context)
    samples["HIT"] = timed(lambda: search.handler(hot, context), 2000)
    client = redis.Redis.from_url(redis_url)
    for i in range(300):  # a new query each time: a real miss
        event = proxy_event("GET", "/search", query=query(DESTINATIONS[0], 3 + i % 100, 1 + i // 100))
        client.flushall()
        started = time.perf_counter_ns()
        search.handler(event, context)
        samples["MISS"].append((time.perf_counter_ns() - started) / 1e6)
    breaker = search.search_service().breaker
    breaker._opened_at, breaker.cooldown_seconds = time.monotonic(), 3600  # force the BYPASS path
    samples["BYPASS"] = timed(lambda: search.handler(hot, context), 300)
    breaker.record_success()
    return samples


def http_hits(port: int, key: str, seconds: float = 0, count: int = 2000) -> list[float]:
    """Keep-alive HTTP requests for one hot query: latency samples (ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    path = "/search?" + "&".join(f"{k}={v}" for k, v in query(DESTINATIONS[0], 2, 7).items())
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        conn.request("GET", path, headers={"x-api-key": key})
        conn.getresponse().read()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples[100:]


def throughput(port: int, key: str, clients: int = 8, seconds: float = 5.0) -> float:
    """Cache-hit requests per second the local server answers with ``clients`` keep-alive clients."""
    done = [0] * clients
    stop = time.monotonic() + seconds
    path = "/search?" + "&".join(f"{k}={v}" for k, v in query(DESTINATIONS[0], 2, 7).items())

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            conn.request("GET", path, headers={"x-api-key": key})
            conn.getresponse().read()
            done[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def concurrent_misses(search: Any, redis_url: str) -> int:
    """P3: DynamoDB Query calls made by 50 concurrent identical misses."""
    redis.Redis.from_url(redis_url).flushall()
    queries: list[int] = []
    search.search_service().repository.client.meta.events.register(
        "before-call.dynamodb.Query", lambda **_: queries.append(1)
    )
    event = proxy_event("GET", "/search", query=query(DESTINATIONS[0], 5, 7))
    barrier = threading.Barrier(50)

    def one() -> None:
        barrier.wait()
        search.handler(event, Context())

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(queries)


def zipf_trace(search: Any, redis_url: str) -> dict[str, Any]:
    """P4: the real handler on a Zipf(1.1) trace at 50k searches/day, with the cache's clock simulated."""
    distinct = [(d, offset, nights, guests) for d in DESTINATIONS for offset in range(100) for nights in (1, 2, 3, 4, 7)
                for guests in (1, 2)]  # fmt: skip
    assert len(distinct) == 20_000
    rng = random.Random(11)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(distinct))]
    picks = rng.choices(range(len(distinct)), weights=weights, k=TRACE_REQUESTS)
    interval = 86_400 / 50_000  # seconds between searches at 50k/day
    now = [1_000_000.0]
    cache = search.search_service().cache
    cache._clock = lambda: now[0]
    redis.Redis.from_url(redis_url).flushall()
    served, ideal_expiry, ideal_hits = {"HIT": 0, "STALE": 0, "MISS": 0, "BYPASS": 0}, {}, 0
    ttl = cache.policy.ttl_seconds
    context = Context()
    for pick in picks:
        now[0] += rng.expovariate(1 / interval)
        d, offset, nights, guests = distinct[pick]
        response = search.handler(proxy_event("GET", "/search", query=query(d, offset, nights, guests)), context)
        served[response["multiValueHeaders"]["X-Cache"][0]] += 1
        if ideal_expiry.get(pick, 0) > now[0]:
            ideal_hits += 1
        else:
            ideal_expiry[pick] = now[0] + ttl
    cache._clock = time.time
    return {
        "requests": TRACE_REQUESTS,
        "served": served,
        "hit_ratio": (served["HIT"] + served["STALE"]) / TRACE_REQUESTS,
        "ideal_hit_ratio": ideal_hits / TRACE_REQUESTS,
        "simulated_hours": round((now[0] - 1_000_000) / 3600, 1),
    }


COLD_OURS = """
import json, os, sys, time
started = time.perf_counter()
from cached_booking_api.runtime.handlers import search
from cached_booking_api.local.gateway import proxy_event
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "search", 512, "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:search"
    def get_remaining_time_in_millis(self): return 10000
response = search.handler(proxy_event("GET", "/search", query=json.loads({query!r})), Context())
assert response["multiValueHeaders"]["X-Cache"] == ["HIT"], response
print((time.perf_counter() - started) * 1000)
"""
COLD_MINIMAL = """
import time
started = time.perf_counter()
import boto3, redis
client = redis.Redis.from_url({url!r})
client.get("anything")
print((time.perf_counter() - started) * 1000)
"""


def cold_starts(redis_url: str) -> dict[str, float]:
    """P5: median of 5 fresh processes each (import + first hit)."""
    q = json.dumps(query(DESTINATIONS[0], 2, 7))
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"}
    results = {}
    for name, script in (("search_handler_ms", COLD_OURS.format(query=q)),
                         ("minimal_boto3_redis_ms", COLD_MINIMAL.format(url=redis_url))):  # fmt: skip
        runs = []
        for _ in range(5):
            done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            runs.append(float(done.stdout.strip().splitlines()[-1]))
        results[name] = round(statistics.median(runs), 1)
    return results


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-local-"))
    platform = LocalPlatform(LocalOptions(data=listings_file(folder), poll_seconds=3600, search_from=[ROOT])).start()
    from cached_booking_api.runtime.handlers import search

    search.logger.registered_handler.setStream(io.StringIO())
    search.logger.setLevel("WARNING")
    sink = contextlib.redirect_stdout(io.StringIO())  # EMF metric lines go to the Lambda log pipe, not the table
    sink.__enter__()
    try:
        raw_client = redis.Redis.from_url(platform.redis_url, decode_responses=True)
        samples = handler_latencies(search, platform.redis_url)
        entry_key = next(k for k in raw_client.keys("sr:*"))
        raw = percentiles(timed(lambda: raw_client.get(entry_key), 2000))
        port = free_port()
        server = LocalApi(port, "bench", throttle_rps=1_000_000, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        http_hit = percentiles(http_hits(port, "bench"))
        rps = throughput(port, "bench")
        server.shutdown()
        p3 = concurrent_misses(search, platform.redis_url)
        p4 = zipf_trace(search, platform.redis_url)
        search.handler(proxy_event("GET", "/search", query=query(DESTINATIONS[0], 2, 7)), Context())  # re-warm
        p5 = cold_starts(platform.redis_url)
    finally:
        sink.__exit__(None, None, None)
        platform.stop()
    hit, miss, bypass = (percentiles(samples[k]) for k in ("HIT", "MISS", "BYPASS"))
    raw_text = f"raw GET {raw['p50']:.3f} / {raw['p99']:.3f}"
    ideal = f"ideal TTL cache {p4['ideal_hit_ratio']:.1%}"
    minimal = f"boto3+redis GET {p5['minimal_boto3_redis_ms']:.0f}"
    rows = [
        ("P1 hit in-process p50/p99 ms", f"{hit['p50']:.3f} / {hit['p99']:.3f}", raw_text,
         f"<= raw + 0.5 / <= 2.0 ({raw['p50'] + 0.5:.3f} / 2.000)"),
        ("P1 hit over local HTTP p50/p99 ms", f"{http_hit['p50']:.3f} / {http_hit['p99']:.3f}", "(same raw GET)",
         "context"),
        ("    miss / bypass p50 ms (in-process)", f"{miss['p50']:.2f} / {bypass['p50']:.2f}", "DynamoDB Local",
         "context"),
        ("P3 DynamoDB queries, 50 identical misses", str(p3), "without single-flight: 50", "1"),
        ("P4 hit ratio, Zipf(1.1), 20k queries", f"{p4['hit_ratio']:.1%}", ideal, "= ideal (within 1 point)"),
        ("P5 cold start ms (import + 1st hit)", f"{p5['search_handler_ms']:.0f}", minimal,
         f"<= 1.5x ({1.5 * p5['minimal_boto3_redis_ms']:.0f}); per function: bench/perf_bench.py"),
        ("local server cache hits req/s (8 clients)", f"{rps:.0f}", "2 cores", "context"),
    ]  # fmt: skip
    print(table(rows))
    print(f"(P4: {p4['requests']} requests, {p4['simulated_hours']} simulated hours at 50k/day: {p4['served']})")
    latency_chart(samples, OUT / "latency.png")
    result = {"hit": hit, "miss": miss, "bypass": bypass, "raw_get": raw, "http_hit": http_hit, "p3": p3, "p4": p4,
              "p5": p5, "throughput_rps": rps}  # fmt: skip
    (OUT / "local.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
