"""Issue 10 figures, each next to its baseline measured in the same run (fresh processes, medians).

cold   cold start of each API function (import + first request, new process) vs a minimal boto3 + redis handler
       doing the same first call; import alone vs ``import boto3, redis``. Lambda-like environment: tracing on,
       the invocation unsampled (``Sampled=0``, what the default sampling rule gives most requests); a sampled cold
       start is printed as context.
cost   ``cached-booking-api cost`` at 50k searches + 1k bookings/day and idle, from the example's synthesized template.
synth  the example app's synth vs a bare aws-cdk-lib Python app of the same resources and, when node_modules has
       aws-cdk-lib, the same app in JavaScript (bench/js-synth); the second synth reuses the bundle cache.

Run: ``make bench`` (or ``python bench/perf_bench.py [cold|cost|synth ...]``); JSON goes to bench/out/perf.json.
``--src DIR`` measures another checkout's ``src`` (e.g. the commit before a change) with this run's baselines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from figures import table  # noqa: E402

OUT = ROOT / "bench" / "out"
RUNS = int(os.environ.get("BENCH_COLD_RUNS", "9"))

LAMBDA_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",  # UDP: nothing listens, nothing waits
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "PYTHONDONTWRITEBYTECODE": "1",
}
UNSAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=0"
SAMPLED = UNSAMPLED.replace("Sampled=0", "Sampled=1")

OURS = """
import time
started = time.perf_counter()
from cached_booking_api.runtime.handlers import {module} as function
imported = time.perf_counter()
import json, sys
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "{module}", 512, "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:{module}"
    def get_remaining_time_in_millis(self): return 10000
response = function.handler(json.loads(sys.argv[1]), Context())
done = time.perf_counter()
assert response["statusCode"] == {status}, response
print(json.dumps({{"import_ms": (imported - started) * 1000, "total_ms": (done - started) * 1000,
                  "xray_loaded": "aws_xray_sdk" in sys.modules}}))
"""
MINIMAL_SEARCH = """
import time
started = time.perf_counter()
import boto3, redis
imported = time.perf_counter()
import json, sys
client = redis.Redis.from_url(sys.argv[2])
assert client.get(sys.argv[3])
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "total_ms": (done - started) * 1000}))
"""
MINIMAL_BOOKING = """
import time
started = time.perf_counter()
import boto3, redis
imported = time.perf_counter()
import json, sys, uuid
client = boto3.client("dynamodb", endpoint_url=sys.argv[2])
table, key = sys.argv[3], "bench#" + uuid.uuid4().hex
item = lambda sk: {"pk": {"S": key}, "sk": {"S": sk}}
client.put_item(TableName=table, Item=item("idem"), ConditionExpression="attribute_not_exists(pk)")
client.get_item(TableName=table, Key=item("listing"), ConsistentRead=True)
client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item(f"n{i}"),
                            "ConditionExpression": "attribute_not_exists(pk)"}} for i in range(5)])
client.update_item(TableName=table, Key=item("idem"), UpdateExpression="SET s = :s",
                   ExpressionAttributeValues={":s": {"S": "COMPLETED"}})
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "total_ms": (done - started) * 1000}))
"""
"""The floor of a booking: the DynamoDB round trips a booking cannot avoid, done by hand (idempotency record put,
consistent listing read, one 5-item transaction, idempotency record update)."""


def run_once(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"cold-start script failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def paired(ours: Any, baseline: Any, runs: int = RUNS) -> dict[str, Any]:
    """``runs`` fresh processes of each, interleaved (ours, baseline, ours, ...) so that the load of a shared machine
    falls on both alike; medians of each and the median of the per-pair ratios."""
    pairs = [(ours(), baseline()) for _ in range(runs)]
    result: dict[str, Any] = {"runs": runs}
    for key in ("import_ms", "total_ms"):
        result[key] = round(statistics.median(o[key] for o, _ in pairs), 1)
        result[f"baseline_{key}"] = round(statistics.median(b[key] for _, b in pairs), 1)
        result[f"{key.removesuffix('_ms')}_ratio"] = round(statistics.median(o[key] / b[key] for o, b in pairs), 2)
    result["xray_loaded"] = any(o["xray_loaded"] for o, _ in pairs)
    return result


def cold(src: Path) -> dict[str, Any]:
    """Cold start of the search and bookings functions vs their minimal handlers (median of RUNS processes)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
        os.environ.setdefault(name, LAMBDA_ENV[name])
    import boto3
    import redis

    from cached_booking_api.local.gateway import proxy_event
    from cached_booking_api.local.processes import DynamoDBLocal, RedisServer
    from cached_booking_api.runtime import config, schema
    from cached_booking_api.runtime.loader import load_listings
    from cached_booking_api.runtime.models import today_utc

    check_in = today_utc() + timedelta(days=3)
    inventory = {(check_in + timedelta(days=d)).isoformat(): 10_000 for d in range(10)}
    records = [json.dumps({"listingId": f"cold-{i:02d}", "name": f"Cold {i}", "destination": "Coldville",
                           "pricePerNight": 5000 + i, "currency": "EUR", "maxGuests": 4, "inventory": inventory})
               for i in range(20)]  # fmt: skip
    query = {"destination": "Coldville", "checkIn": check_in.isoformat(),
             "checkOut": (check_in + timedelta(days=3)).isoformat()}  # fmt: skip
    with RedisServer() as redis_server, DynamoDBLocal(search_from=[ROOT]) as dynamodb:
        client = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)
        for table in ("bench", "bench-idempotency"):
            idempotency = {
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            }
            definition = schema.table_definition() if table == "bench" else idempotency  # fmt: skip
            client.create_table(TableName=table, **definition)
        assert load_listings(client, "bench", records).ok
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "_X_AMZN"))}, **LAMBDA_ENV,
               config.TABLE_NAME: "bench", config.IDEMPOTENCY_TABLE_NAME: "bench-idempotency",
               config.DYNAMODB_ENDPOINT: dynamodb.endpoint, config.CACHE_URL: redis_server.url,
               "PYTHONPATH": str(src), "_X_AMZN_TRACE_ID": UNSAMPLED}  # fmt: skip
        search_event = proxy_event("GET", "/search", query=query, headers={"x-api-key": "bench"})
        # Warm the cache: the cold process answers a HIT, as the minimal handler GETs an existing key.
        run_once(OURS.format(module="search", status=200), [json.dumps(search_event)],
                 {**env, "POWERTOOLS_SERVICE_NAME": "search"})  # fmt: skip
        raw = redis.Redis.from_url(redis_server.url)
        entry_key = next(k.decode() for k in raw.keys("sr:*") if raw.type(k) == b"string")

        def booking_event() -> str:
            import uuid

            body = {"listingId": "cold-01", "checkIn": query["checkIn"], "checkOut": query["checkOut"], "guests": 1,
                    "customer": {"name": "Cold Start", "email": "cold@example.com"}}  # fmt: skip
            headers = {"x-api-key": "bench", "Idempotency-Key": uuid.uuid4().hex}
            return json.dumps(proxy_event("POST", "/bookings", body=json.dumps(body), headers=headers))

        results: dict[str, Any] = {}
        search_env = {**env, "POWERTOOLS_SERVICE_NAME": "search"}
        ours_search = OURS.format(module="search", status=200)
        results["search"] = paired(
            lambda: run_once(ours_search, [json.dumps(search_event)], search_env),
            lambda: run_once(MINIMAL_SEARCH, ["-", redis_server.url, entry_key], env),
        )
        sampled_env = {**search_env, "_X_AMZN_TRACE_ID": SAMPLED}
        results["search_sampled_ms"] = statistics.median(
            run_once(ours_search, [json.dumps(search_event)], sampled_env)["total_ms"] for _ in range(3)
        )
        booking_env = {**env, "POWERTOOLS_SERVICE_NAME": "bookings"}
        ours_booking = OURS.format(module="bookings", status=201)
        results["bookings"] = paired(
            lambda: run_once(ours_booking, [booking_event()], booking_env),
            lambda: run_once(MINIMAL_BOOKING, ["-", dynamodb.endpoint, "bench"], env),
        )
    return results


def cold_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for function, what in (("search", "boto3+redis, 1 GET"), ("bookings", "boto3+redis, same 4 DynamoDB calls")):
        m = r[function]
        total = f"{m['total_ms']:.0f} ({m['total_ratio']:.2f}x)"
        imported = f"{m['import_ms']:.0f} ({m['import_ratio']:.2f}x)"
        rows.append((f"cold start {function} ms (import + 1st request)", total, f"{what} {m['baseline_total_ms']:.0f}",
                     "<= 1.5x"))  # fmt: skip
        rows.append((f"cold import {function} ms", imported, f"import boto3, redis {m['baseline_import_ms']:.0f}",
                     "<= 1.3x"))  # fmt: skip
        rows.append((f"    X-Ray SDK loaded, unsampled {function}", str(m["xray_loaded"]), "-", "False"))
    rows.append(
        ("    cold start search, sampled ms", f"{r['search_sampled_ms']:.0f}", "(loads the X-Ray SDK)", "context")
    )
    rows.append((f"    (ratios: median of {r['search']['runs']} interleaved pairs of fresh processes)", "", "", ""))
    return rows


EXAMPLE = (
    "import sys, aws_cdk as cdk; sys.path.insert(0, {examples!r}); from app import build_app;"
    " build_app(cdk.App(outdir={outdir!r}{context})).synth()"
)
BARE = (
    "import aws_cdk as cdk; from aws_cdk.cloudformation_include import CfnInclude; app = cdk.App(outdir={outdir!r});"
    " CfnInclude(cdk.Stack(app, 'BookingPlatform'), 'Template', template_file={template!r}); app.synth()"
)
JS_APP = ROOT / "bench" / "js-synth"


def timed_process(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:2]} failed:\n{done.stderr[-3000:]}")
    return elapsed


def synth(src: Path, runs: int = int(os.environ.get("BENCH_SYNTH_RUNS", "3"))) -> dict[str, Any]:
    """Fresh-process synth wall times of the example (bundle cache cold, then warm; no bundling) and of the same
    resources as a bare aws-cdk-lib app in Python and in JavaScript (CfnInclude of the example's template)."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONPATH": str(src)}
    cache_dir = tempfile.mkdtemp(prefix="bench-bundles-")
    env[bundling_env()] = cache_dir
    examples = str(src.parent / "examples" / "booking_platform")

    def example(context: str = "") -> tuple[float, str]:
        outdir = tempfile.mkdtemp(prefix="bench-synth-")
        script = EXAMPLE.format(examples=examples, outdir=outdir, context=context)
        return timed_process([sys.executable, "-c", script], env), outdir

    first, outdir = example()  # builds the bundle into the (empty) cache: what every synth did before the cache
    template = json.loads((Path(outdir) / "BookingPlatform.template.json").read_text())
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    included = Path(tempfile.mkdtemp(prefix="bench-include-")) / "BookingPlatform.template.json"
    included.write_text(json.dumps(template))
    js = (JS_APP / "node_modules" / "aws-cdk-lib").is_dir()
    samples: dict[str, list[float]] = {"example_cached_s": [], "example_no_bundling_s": [], "bare_python_s": []}
    if js:
        samples["js_s"] = []
    for _ in range(runs):  # interleaved, so that the load of a shared machine falls on each alike
        samples["example_cached_s"].append(example()[0])
        samples["example_no_bundling_s"].append(example(", context={'aws:cdk:bundling-stacks': []}")[0])
        bare = BARE.format(outdir=tempfile.mkdtemp(prefix="bench-bare-"), template=str(included))
        samples["bare_python_s"].append(timed_process([sys.executable, "-c", bare], env))
        if js:
            command = ["node", str(JS_APP / "app.js"), str(included), tempfile.mkdtemp(prefix="bench-js-")]
            samples["js_s"].append(timed_process(command, env))
    result: dict[str, Any] = {k: round(statistics.median(v), 2) for k, v in samples.items()}
    result["example_first_s"] = round(first, 2)
    result["runs"] = runs
    result["template"] = str(Path(outdir) / "BookingPlatform.template.json")
    result["js_cdk"] = (
        json.loads((JS_APP / "node_modules" / "aws-cdk-lib" / "package.json").read_text())["version"] if js else None
    )
    return result


def bundling_env() -> str:
    """``cached_booking_api.tools.bundling.BUNDLE_CACHE_ENV`` (not imported: it would start jsii in this process)."""
    return "CACHED_BOOKING_API_BUNDLE_CACHE"


def synth_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    baseline = r.get("js_s") or r["bare_python_s"]
    name = f"JS aws-cdk-lib {r['js_cdk']} app, same resources" if r.get("js_s") else "bare Python aws-cdk-lib app"
    rows = [
        ("example synth s (bundle cached)", f"{r['example_cached_s']:.2f} ({r['example_cached_s'] / baseline:.2f}x)",
         f"{name} {baseline:.2f}", "<= 1.0x"),
        ("    vs a bare Python aws-cdk-lib app, same resources", f"{r['example_cached_s'] / r['bare_python_s']:.2f}x",
         f"bare Python {r['bare_python_s']:.2f}", "context"),
        ("example synth s, first (builds the bundle)", f"{r['example_first_s']:.2f}", "what every synth cost before",
         "context"),
        ("example synth s, bundling skipped (tests)", f"{r['example_no_bundling_s']:.2f}", "-", "context"),
        (f"    (synth: medians of {r['runs']} interleaved fresh processes)", "", "", ""),
    ]  # fmt: skip
    return rows


def cost_rows(template: str | None) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    from cached_booking_api.tools import cost

    deployment = cost.Deployment.from_template(Path(template)) if template else cost.Deployment()
    design, idle = cost.estimate(50_000, 1_000, deployment=deployment), cost.estimate(0, 0, deployment=deployment)
    free = cost.estimate(50_000, 1_000, deployment=deployment, free_tier=True)
    free_idle = cost.estimate(0, 0, deployment=deployment, free_tier=True)
    replaced = cost.nat_design(50_000, 1_000)
    source = "example template" if template else "construct defaults"
    rows = [
        (f"monthly cost $, 50k searches + 1k bookings/day ({source})", f"{design.total:.2f}",
         f"replaced NAT design {replaced.total:.2f}", "<= 25"),
        ("monthly cost $, idle", f"{idle.total:.2f}", "-", "<= 10"),
        ("    the same with the always-free tiers (design / idle)", f"{free.total:.2f} / {free_idle.total:.2f}", "-",
         "context"),
    ]  # fmt: skip
    return {"design": design.lines, "idle": idle.lines, "design_total": design.total, "idle_total": idle.total,
            "free_tier": [free.total, free_idle.total], "source": source}, rows  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", default=["cold", "cost", "synth"], choices=["cold", "cost", "synth"])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src directory whose handlers to measure")
    parser.add_argument("--out", default="perf.json", help="file name of the JSON figures in bench/out/")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    rows: list[tuple[str, str, str, str]] = []
    if "cold" in args.parts:
        results["cold"] = cold(args.src.resolve())
        rows += cold_rows(results["cold"])
    if "synth" in args.parts:
        results["synth"] = synth(args.src.resolve())
        rows += synth_rows(results["synth"])
    if "cost" in args.parts:
        results["cost"], more = cost_rows(results.get("synth", {}).get("template"))
        rows += more
    print(table(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
