"""Search benchmarks, each printed next to its baseline measured in the same run.

1. raw redis-py GET of a cached entry vs the search handler answering a cache hit (in-process invoke, 20 results);
2. DynamoDB requests per cache-miss search, 50 listings x 7 nights, vs the target 1 + ceil(keys / 100);
   and DynamoDB loads of 20 identical concurrent misses when a load takes 1.8 s, vs the previous lock policy;
   and cache entry compression on the shipped sample data: size ratio, and the hit path compressed vs uncompressed;
3. synth wall time of the example app vs an app with only a bare Stack (fresh processes);
4. the search asset's size vs the 15 MiB budget.

Run: ``make bench`` (JSON goes to bench/out/search.json). Real redis-server and DynamoDB Local, started here.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "search",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)

import boto3  # noqa: E402
import redis  # noqa: E402
from figures import table  # noqa: E402

from cached_booking_api.local.gateway import proxy_event  # noqa: E402
from cached_booking_api.local.processes import DynamoDBLocal, RedisServer  # noqa: E402
from cached_booking_api.runtime import config, schema  # noqa: E402
from cached_booking_api.runtime.loader import load_listings  # noqa: E402
from cached_booking_api.runtime.models import today_utc  # noqa: E402
from cached_booking_api.tools.sample import sample_lines  # noqa: E402

ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "3000"))
LISTINGS, NIGHTS = 50, 7


class Context:
    function_name = "search"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:search"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50": round(statistics.median(ordered), 4),
        "p99": round(ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)], 4),
        "n": len(ordered),
    }


def timed(call: Any, iterations: int) -> list[float]:
    for _ in range(min(200, iterations)):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def listings() -> list[str]:
    start = today_utc() + timedelta(days=1)
    lines = []
    for i in range(LISTINGS):
        inventory = {(start + timedelta(days=d)).isoformat(): 5 for d in range(NIGHTS + 30)}
        lines.append(json.dumps({
            "listingId": f"bench-{i:03d}", "name": f"Bench {i}", "destination": "Benchville",
            "pricePerNight": 5000 + 100 * i, "currency": "EUR", "maxGuests": 4, "inventory": inventory,
        }))  # fmt: skip
    return lines


def search_benchmarks(redis_url: str, dynamodb_endpoint: str) -> dict[str, Any]:
    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint)
    table = "bench"
    client.create_table(TableName=table, **schema.table_definition())
    assert load_listings(client, table, listings()).ok
    os.environ.update(
        {config.TABLE_NAME: table, config.DYNAMODB_ENDPOINT: dynamodb_endpoint, config.CACHE_URL: redis_url}
    )
    from cached_booking_api.runtime.handlers import search

    check_in = today_utc() + timedelta(days=2)
    query = {"destination": "Benchville", "checkIn": check_in.isoformat(),
             "checkOut": (check_in + timedelta(days=NIGHTS)).isoformat(), "limit": "20"}  # fmt: skip
    event = proxy_event("GET", "/search", query=query, headers={"x-api-key": "bench"})
    context = Context()

    # P2: requests per cache-miss search, counted on the wire (botocore events), not estimated.
    requests: list[str] = []
    service = search.search_service()
    service.repository.client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: requests.append(model.name)
    )
    redis.Redis.from_url(redis_url).flushall()
    sink = io.StringIO()
    search.logger.registered_handler.setStream(sink)  # the logger keeps the stdout it was created with
    with contextlib.redirect_stdout(sink):
        miss = search.handler(event, context)
    assert miss["multiValueHeaders"]["X-Cache"] == ["MISS"], miss
    keys = LISTINGS * NIGHTS
    dynamodb = {"requests": len(requests), "by_operation": {op: requests.count(op) for op in sorted(set(requests))},
                "keys": keys, "target": 1 + math.ceil(keys / 100)}  # fmt: skip

    # P1: raw GET of the same entry vs the handler's hit. Handler output (EMF, the search.completed line) goes to a
    # sink, as it goes to the Lambda log pipe.
    raw_client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry_key = next(k for k in raw_client.keys("sr:*"))
    raw = timed(lambda: raw_client.get(entry_key), ITERATIONS)

    def hit() -> None:
        response = search.handler(event, context)
        if response["statusCode"] != 200:
            raise AssertionError(response)

    with contextlib.redirect_stdout(sink):
        hits = timed(hit, ITERATIONS)
        body = json.loads(search.handler(event, context)["body"])
        entry_bytes = len(raw_client.get(entry_key) or "")  # before the runs below flush the cache
        slow = slow_dynamodb_single_flight()
        compression = compression_figures(dynamodb_endpoint, ITERATIONS)
    return {
        "compression": compression,
        "slow_dynamodb_loads": slow,
        "raw_get_ms": percentiles(raw),
        "handler_hit_ms": percentiles(hits),
        "hit_result_count": body["count"],
        "entry_bytes": entry_bytes,
        "dynamodb_per_miss": dynamodb,
    }


def slow_dynamodb_single_flight(load_seconds: float = 1.8, concurrent: int = 20) -> dict[str, int]:
    """DynamoDB loads made by ``concurrent`` identical misses when a load takes ``load_seconds`` (injected before the
    Query is sent), with today's lock policy and, as the baseline, the previous one (lock 3 s, waiters give up after
    1.5 s). Threads share one interpreter here, so the cache timeout is raised to keep the timeout path out of it."""
    import dataclasses
    import threading

    from cached_booking_api.runtime.handlers import search

    os.environ[config.CACHE_TIMEOUT_MS] = "2000"
    os.environ[config.FUNCTION_TIMEOUT_SECONDS] = "30"  # the raised cache timeout must still fit the time budget
    search.search_service.cache_clear()
    service = search.search_service()
    loads: list[int] = []
    client = service.repository.client
    client.meta.events.register("before-call.dynamodb.Query", lambda **_: loads.append(1))
    client.meta.events.register("before-send.dynamodb.Query", lambda **_: time.sleep(load_seconds))
    current = service.cache.policy
    previous = dataclasses.replace(current, lock_ttl_ms=3000, wait_for_fill_ms=1500)
    results = {}
    for offset, (name, policy) in enumerate((("lock_policy", current), ("previous_policy", previous))):
        service.cache.policy = policy
        check_in = today_utc() + timedelta(days=3 + offset)  # a new query: every run starts with a miss
        query = {"destination": "Benchville", "checkIn": check_in.isoformat(),
                 "checkOut": (check_in + timedelta(days=2)).isoformat()}  # fmt: skip
        event = proxy_event("GET", "/search", query=query, headers={"x-api-key": "bench"})
        barrier = threading.Barrier(concurrent)

        def one(event: dict[str, Any] = event, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            search.handler(event, Context())

        loads.clear()
        threads = [threading.Thread(target=one) for _ in range(concurrent)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results[name] = len(loads)
    os.environ.pop(config.CACHE_TIMEOUT_MS)
    os.environ.pop(config.FUNCTION_TIMEOUT_SECONDS)
    search.search_service.cache_clear()
    return results


def compression_figures(dynamodb_endpoint: str, iterations: int) -> dict[str, Any]:
    """Entry size with and without compression for every destination of the shipped sample data, and the hit path
    (handler answering a HIT) with compressed vs uncompressed entries, interleaved in one run; plus the bare decode."""
    import dataclasses
    import zlib

    from cached_booking_api.runtime import cache as cache_module
    from cached_booking_api.runtime.handlers import search

    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint)
    table = "bench-sample"
    client.create_table(TableName=table, **schema.table_definition())
    lines = [line.rstrip("\n") for line in sample_lines()]
    assert load_listings(client, table, lines).ok
    records = [json.loads(line) for line in lines]
    sample_start = min(date.fromisoformat(night) for record in records for night in record["inventory"])
    first_night = max(today_utc() + timedelta(days=1), sample_start)
    nights = [(first_night + timedelta(days=i)).isoformat() for i in range(3)]
    os.environ[config.TABLE_NAME] = table
    search.search_service.cache_clear()
    service = search.search_service()
    per_destination = {}
    for destination in sorted({r["destination"] for r in records}):
        results = service.repository.find_available(destination, [date.fromisoformat(n) for n in nights], 1)
        plain = json.dumps({"gen": 0, "fresh_until": time.time() + 300, "results": results}, separators=(",", ":"))
        packed = cache_module._compress(plain)
        per_destination[destination] = {"results": len(results), "plain_bytes": len(plain),
                                        "compressed_bytes": len(packed),  # what is stored: base64 of zlib
                                        "zlib_bytes": len(zlib.compress(plain.encode(), 6))}  # fmt: skip
    plain_total = sum(d["plain_bytes"] for d in per_destination.values())
    packed_total = sum(d["compressed_bytes"] for d in per_destination.values())

    largest = max(per_destination, key=lambda d: per_destination[d]["plain_bytes"])
    query = {"destination": largest, "checkIn": nights[0],
             "checkOut": (date.fromisoformat(nights[-1]) + timedelta(days=1)).isoformat()}  # fmt: skip
    event = proxy_event("GET", "/search", query=query, headers={"x-api-key": "bench"})
    policies = {"compressed": dataclasses.replace(service.cache.policy, compress=True),
                "uncompressed": dataclasses.replace(service.cache.policy, compress=False)}  # fmt: skip
    samples: dict[str, list[float]] = {name: [] for name in policies}
    entries: dict[str, str] = {}
    for name, policy in policies.items():  # one entry of each kind, written by the handler itself
        service.cache.policy = policy
        redis.Redis.from_url(os.environ[config.CACHE_URL]).flushall()
        assert search.handler(event, Context())["multiValueHeaders"]["X-Cache"] == ["MISS"]
        raw = redis.Redis.from_url(os.environ[config.CACHE_URL], decode_responses=True)
        entries[name] = raw.get(next(iter(raw.keys("sr:*"))))
    key = next(iter(redis.Redis.from_url(os.environ[config.CACHE_URL], decode_responses=True).keys("sr:*")))
    writer = redis.Redis.from_url(os.environ[config.CACHE_URL], decode_responses=True)
    for _ in range(max(1, iterations // 100)):  # interleaved rounds so drift hits both sides alike
        for name in policies:
            writer.set(key, entries[name], keepttl=True)
            round_samples = timed(lambda: search.handler(event, Context()), 100)
            samples[name] += round_samples
    decode = {name: percentiles(timed(lambda e=entry: cache_module._decode(e), iterations))
              for name, entry in entries.items()}  # fmt: skip
    os.environ[config.TABLE_NAME] = "bench"
    search.search_service.cache_clear()
    return {
        "sample_destinations": per_destination,
        "ratio": round(plain_total / packed_total, 2),
        "ratio_before_base64": round(plain_total / sum(d["zlib_bytes"] for d in per_destination.values()), 2),
        "hit_destination": largest,
        "hit_entry_bytes": {name: len(entry) for name, entry in entries.items()},
        "handler_hit_ms": {name: percentiles(values) for name, values in samples.items()},
        "decode_ms": decode,
    }


def synth_times() -> dict[str, float]:
    """Fresh-process synth wall time: bare Stack, the example without bundling, the example with bundling."""
    scripts = {
        "bare_stack_s": "import aws_cdk as cdk; app = cdk.App(outdir=OUT); cdk.Stack(app, 'S'); app.synth()",
        "example_no_bundling_s": (
            "import sys, aws_cdk as cdk; sys.path.insert(0, 'examples/booking_platform'); from app import build_app;"
            " build_app(cdk.App(outdir=OUT, context={'aws:cdk:bundling-stacks': []})).synth()"
        ),
        "example_bundled_s": (
            "import sys, aws_cdk as cdk; sys.path.insert(0, 'examples/booking_platform'); from app import build_app;"
            " build_app(cdk.App(outdir=OUT)).synth()"
        ),
    }
    results = {}
    for name, script in scripts.items():
        runs = []
        for _ in range(2):
            outdir = tempfile.mkdtemp(prefix="bench-synth-")
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"OUT = {outdir!r}; {script}"], cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip
            runs.append(time.perf_counter() - started)
        results[name] = round(min(runs), 2)
        results[f"{name}_outdir"] = outdir  # type: ignore[assignment]
    return results


def asset_size(outdir: str) -> dict[str, float]:
    """Unzipped and zipped size of the handler asset of a bundled synth."""
    import zipfile

    [asset] = [p for p in Path(outdir).iterdir() if p.is_dir() and (p / "cached_booking_api").is_dir()]
    files = [p for p in asset.rglob("*") if p.is_file()]
    archive = Path(tempfile.mkdtemp()) / "asset.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, path.relative_to(asset))
    return {"unzipped_mib": round(sum(p.stat().st_size for p in files) / 2**20, 2),
            "zipped_mib": round(archive.stat().st_size / 2**20, 2), "budget_mib": 15}  # fmt: skip


def main() -> None:
    with RedisServer() as redis_server, DynamoDBLocal(search_from=[ROOT]) as dynamodb:
        search = search_benchmarks(redis_server.url, dynamodb.endpoint)  # type: ignore[attr-defined]
    synth = synth_times()
    size = asset_size(str(synth.pop("example_bundled_s_outdir")))
    synth = {k: v for k, v in synth.items() if not k.endswith("_outdir")}
    raw, hit = search["raw_get_ms"], search["handler_hit_ms"]
    rows = [
        ("P1 cache hit p50 (ms)", f"{hit['p50']:.3f}", f"raw GET {raw['p50']:.3f}",
         f"<= raw + 0.5 = {raw['p50'] + 0.5:.3f}"),
        ("P1 cache hit p99 (ms)", f"{hit['p99']:.3f}", f"raw GET {raw['p99']:.3f}", "<= 2.000"),
        ("P2 DynamoDB requests per miss", str(search["dynamodb_per_miss"]["requests"]),
         json.dumps(search["dynamodb_per_miss"]["by_operation"]), f"<= {search['dynamodb_per_miss']['target']}"),
        ("P3 slow DynamoDB: loads, 20 misses", str(search["slow_dynamodb_loads"]["lock_policy"]),
         f"1.5 s waiters: {search['slow_dynamodb_loads']['previous_policy']}", "1 (load 1.8 s)"),
        ("Entry compression ratio (sample)", f"{search['compression']['ratio']:.2f}x",
         f"zlib before base64 {search['compression']['ratio_before_base64']:.2f}x", "uncompressed 1.00x"),
        ("Hit p50, compressed entry (ms)", f"{search['compression']['handler_hit_ms']['compressed']['p50']:.3f}",
         f"uncompressed {search['compression']['handler_hit_ms']['uncompressed']['p50']:.3f}", "<= +0.05 ms"),
        ("Hit p99, compressed entry (ms)", f"{search['compression']['handler_hit_ms']['compressed']['p99']:.3f}",
         f"uncompressed {search['compression']['handler_hit_ms']['uncompressed']['p99']:.3f}", "(same run)"),
        ("Entry decode p50 (ms)", f"{search['compression']['decode_ms']['compressed']['p50']:.4f}",
         f"uncompressed {search['compression']['decode_ms']['uncompressed']['p50']:.4f}", "(same run)"),
        ("Synth: example (s)", f"{synth['example_no_bundling_s']:.2f}", f"bare Stack {synth['bare_stack_s']:.2f}",
         f"bundled {synth['example_bundled_s']:.2f}"),
        ("Search asset (MiB)", f"{size['unzipped_mib']:.2f}", f"zipped {size['zipped_mib']:.2f}", "<= 15"),
    ]  # fmt: skip
    print(table(rows))
    print(f"(hit: {search['hit_result_count']} results, entry {search['entry_bytes']} bytes, {hit['n']} samples)")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps({"search": search, "synth": synth, "asset": size}, indent=2) + "\n")


if __name__ == "__main__":
    main()
