"""Issue 10 figures, each next to its baseline measured in the same run (fresh processes, medians).

cold   cold start of each API function (import + first request, new process) vs a minimal boto3 + redis handler
       doing the same first call; import alone vs ``import boto3, redis``. Lambda-like environment: tracing on,
       the invocation unsampled (``Sampled=0``, what the default sampling rule gives most requests); a sampled cold
       start is printed as context.
cost   ``cached-booking-api cost`` at 50k searches + 1k bookings/day and idle, from the example's synthesized template.
synth  the example app's synth vs the same platform written by hand in JavaScript with aws-cdk-lib's L2 constructs
       (bench/js-synth/platform.js, the seed's TapStack way; it stages the same handler bundle, and the bench refuses
       to time it unless it builds as many resources of each type as the example); as context a
       JavaScript and a bare Python app that only CfnInclude the example's template; the second synth of the example
       reuses the bundle cache.

``--before REF`` (e.g. ``--before a1a527d``, the commit issue 10 was filed against) extracts that commit's ``src`` and
``examples`` and measures them in the same run, interleaved with today's: every goal gets a before / after row
(``bench/out/before_after.txt``). Run: ``make bench`` (or ``python bench/perf_bench.py [cold|cost|synth ...]``);
JSON goes to bench/out/perf.json. ``--src DIR`` measures another checkout's ``src`` with this run's baselines.
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

from figures import before_after_table, table  # noqa: E402

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
                  "xray_loaded": "aws_xray_sdk" in sys.modules, "pydantic_loaded": "pydantic" in sys.modules}}))
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


def paired(ours: Any, baseline: Any, runs: int = RUNS, before: Any = None) -> dict[str, Any]:
    """``runs`` fresh processes of each, interleaved (ours, baseline[, before], ours, ...) so that the load of a shared
    machine falls on each alike; medians of each and the median of the per-pair ratios to the baseline."""
    triples = [(ours(), baseline(), before() if before else None) for _ in range(runs)]
    result: dict[str, Any] = {"runs": runs}
    for key in ("import_ms", "total_ms"):
        result[key] = round(statistics.median(o[key] for o, _, _ in triples), 1)
        result[f"baseline_{key}"] = round(statistics.median(b[key] for _, b, _ in triples), 1)
        result[f"{key.removesuffix('_ms')}_ratio"] = round(statistics.median(o[key] / b[key] for o, b, _ in triples), 2)
        if before:
            result[f"before_{key}"] = round(statistics.median(x[key] for _, _, x in triples if x), 1)
            result[f"before_{key.removesuffix('_ms')}_ratio"] = round(
                statistics.median(x[key] / b[key] for _, b, x in triples if x), 2
            )
    result["xray_loaded"] = any(o["xray_loaded"] for o, _, _ in triples)
    result["pydantic_loaded"] = any(o["pydantic_loaded"] for o, _, _ in triples)
    return result


SETUP = """
import json, sys
import boto3
from cached_booking_api.runtime import schema
from cached_booking_api.runtime.loader import load_listings
endpoint, table, idempotency, records = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
client = boto3.client("dynamodb", endpoint_url=endpoint)
client.create_table(TableName=table, **schema.table_definition())
client.create_table(TableName=idempotency, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
assert load_listings(client, table, records).ok
"""
"""Tables and listings of one ``src``, made with that src's own schema and loader (layouts differ across versions)."""


def cold(src: Path, before: Path | None = None) -> dict[str, Any]:
    """Cold start of the search and bookings functions vs their minimal handlers (median of RUNS processes); with
    ``before``, that src's functions too, interleaved in the same run, each against its own tables and cache."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
        os.environ.setdefault(name, LAMBDA_ENV[name])
    import contextlib

    import redis

    from cached_booking_api.local.gateway import proxy_event
    from cached_booking_api.local.processes import DynamoDBLocal, RedisServer
    from cached_booking_api.runtime import config
    from cached_booking_api.runtime.models import today_utc

    check_in = today_utc() + timedelta(days=3)
    inventory = {(check_in + timedelta(days=d)).isoformat(): 10_000 for d in range(10)}
    records = [json.dumps({"listingId": f"cold-{i:02d}", "name": f"Cold {i}", "destination": "Coldville",
                           "pricePerNight": 5000 + i, "currency": "EUR", "maxGuests": 4, "inventory": inventory})
               for i in range(20)]  # fmt: skip
    query = {"destination": "Coldville", "checkIn": check_in.isoformat(),
             "checkOut": (check_in + timedelta(days=3)).isoformat()}  # fmt: skip
    search_event = json.dumps(proxy_event("GET", "/search", query=query, headers={"x-api-key": "bench"}))

    def booking_event() -> str:
        import uuid

        body = {"listingId": "cold-01", "checkIn": query["checkIn"], "checkOut": query["checkOut"], "guests": 1,
                "customer": {"name": "Cold Start", "email": "cold@example.com"}}  # fmt: skip
        headers = {"x-api-key": "bench", "Idempotency-Key": uuid.uuid4().hex}
        return json.dumps(proxy_event("POST", "/bookings", body=json.dumps(body), headers=headers))

    sources = {"ours": src, **({"before": before} if before else {})}
    with contextlib.ExitStack() as stack:
        dynamodb = stack.enter_context(DynamoDBLocal(search_from=[ROOT]))
        base = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "_X_AMZN"))}
        envs: dict[str, dict[str, str]] = {}
        entry_key = ""
        redis_url = ""
        for label, path in sources.items():
            server = stack.enter_context(RedisServer())
            table = f"bench-{label}"
            subprocess.run([sys.executable, "-c", SETUP, dynamodb.endpoint, table, f"{table}-idempotency",
                            json.dumps(records)], env={**base, **LAMBDA_ENV, "PYTHONPATH": str(path)},
                           check=True, capture_output=True)  # fmt: skip
            envs[label] = {**base, **LAMBDA_ENV, config.TABLE_NAME: table,
                           config.IDEMPOTENCY_TABLE_NAME: f"{table}-idempotency",
                           config.DYNAMODB_ENDPOINT: dynamodb.endpoint, config.CACHE_URL: server.url,
                           "PYTHONPATH": str(path), "_X_AMZN_TRACE_ID": UNSAMPLED}  # fmt: skip
            # Warm the cache: the cold process answers a HIT, as the minimal handler GETs an existing key.
            run_once(OURS.format(module="search", status=200), [search_event],
                     {**envs[label], "POWERTOOLS_SERVICE_NAME": "search"})  # fmt: skip
            if label == "ours":
                raw = redis.Redis.from_url(server.url)
                strings = [k for k in raw.keys("*") if raw.type(k) == b"string"]
                entry_key = max(strings, key=lambda k: raw.strlen(k)).decode()  # the cached result: the largest
                redis_url = server.url

        def function(label: str, module: str, status: int, event: Any) -> Any:
            script = OURS.format(module=module, status=status)
            env = {**envs[label], "POWERTOOLS_SERVICE_NAME": module}
            return lambda: run_once(script, [event() if callable(event) else event], env)

        baseline_env = envs["ours"]
        results: dict[str, Any] = {}
        results["search"] = paired(
            function("ours", "search", 200, search_event),
            lambda: run_once(MINIMAL_SEARCH, ["-", redis_url, entry_key], baseline_env),
            before=function("before", "search", 200, search_event) if before else None,
        )
        sampled_env = {**envs["ours"], "POWERTOOLS_SERVICE_NAME": "search", "_X_AMZN_TRACE_ID": SAMPLED}
        results["search_sampled_ms"] = statistics.median(
            run_once(OURS.format(module="search", status=200), [search_event], sampled_env)["total_ms"]
            for _ in range(3)
        )
        results["bookings"] = paired(
            function("ours", "bookings", 201, booking_event),
            lambda: run_once(MINIMAL_BOOKING, ["-", dynamodb.endpoint, "bench-ours"], baseline_env),
            before=function("before", "bookings", 201, booking_event) if before else None,
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
        if function == "bookings":  # a valid booking is validated without Pydantic (runtime/booking_request.py)
            rows.append(("    Pydantic loaded, bookings cold start", str(m["pydantic_loaded"]), "-", "False"))
    rows.append(
        ("    cold start search, sampled ms", f"{r['search_sampled_ms']:.0f}", "(loads the X-Ray SDK)", "context")
    )
    rows.append((f"    (ratios: median of {r['search']['runs']} interleaved pairs of fresh processes)", "", "", ""))
    return rows


EXAMPLE = """
import json, sys, time
started = time.perf_counter()
requests = {{"build": 0, "synth": 0}}
phase = ["start"]
try:  # count the requests to aws-cdk-lib's Node process (jsii's private API: only counted where it exists)
    from jsii._kernel.providers import process as _process

    _send = _process._NodeProcess.send

    def send(self, *args, **kwargs):
        requests[phase[0]] = requests.get(phase[0], 0) + 1
        return _send(self, *args, **kwargs)

    _process._NodeProcess.send = send
except (ImportError, AttributeError):
    requests = {{}}
import aws_cdk as cdk
imported_cdk = time.perf_counter()
sys.path.insert(0, {examples!r})
from app import build_app
imported_app = time.perf_counter()
phase[0] = "build"
app = build_app(cdk.App(outdir={outdir!r}{context}))
built = time.perf_counter()
phase[0] = "synth"
app.synth()
done = time.perf_counter()
print(json.dumps({{"import_cdk_s": imported_cdk - started, "import_app_s": imported_app - imported_cdk,
                  "build_s": built - imported_app, "synth_s": done - built, "in_process_s": done - started,
                  "requests": requests}}))
"""
"""The example's synth in a fresh process; prints where its time went (phases) and its requests to aws-cdk-lib's Node
process (jsii round trips) by phase. What is left of the wall time is interpreter start-up and exit, where Python
waits for the Node process to end."""
BARE = (
    "import aws_cdk as cdk; from aws_cdk.cloudformation_include import CfnInclude; app = cdk.App(outdir={outdir!r});"
    " CfnInclude(cdk.Stack(app, 'BookingPlatform'), 'Template', template_file={template!r}); app.synth()"
)
JS_APP = ROOT / "bench" / "js-synth"
ONE_RESOURCE_PY = (
    "import aws_cdk as cdk; app = cdk.App(outdir={outdir!r}); cdk.CfnResource(cdk.Stack(app, 'Floor'), 'Handle',"
    " type='AWS::CloudFormation::WaitConditionHandle'); app.synth()"
)
ONE_RESOURCE_JS = (
    "const cdk = require({lib!r}); const app = new cdk.App({{outdir: {outdir!r}}}); new cdk.CfnResource("
    "new cdk.Stack(app, 'Floor'), 'Handle', {{type: 'AWS::CloudFormation::WaitConditionHandle'}}); app.synth();"
)
"""The floor of each side: an app with one resource pays interpreter and (Python) jsii start, aws-cdk-lib's fixed
synth work (its built-in template validation compiles a WebAssembly engine on every synth) and exit, nothing that
depends on the platform. What is left of each L2 app's time is what its platform costs."""
NO_VALIDATION = {"CDK_VALIDATION": "false"}
"""aws-cdk-lib's documented switch for its built-in CloudFormation validation (context only: both sides, to show its
share; the example and the figures keep it on)."""


def resource_types(template: dict[str, Any]) -> dict[str, int]:
    """How many resources of each CloudFormation type a template has."""
    counts: dict[str, int] = {}
    for resource in template.get("Resources", {}).values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    return dict(sorted(counts.items()))


def parity_problems(example: dict[str, Any], js: dict[str, Any]) -> list[str]:
    """Where the JS baseline's template differs from the example's by resource type counts (empty: same platform)."""
    ours, theirs = resource_types(example), resource_types(js)
    return [f"{kind}: example {ours.get(kind, 0)}, bench/js-synth/platform.js {theirs.get(kind, 0)}"
            for kind in sorted(set(ours) | set(theirs)) if ours.get(kind, 0) != theirs.get(kind, 0)]  # fmt: skip


def js_platform(outdir: str, bundle: Path) -> list[str]:
    """The command that synthesizes bench/js-synth/platform.js into ``outdir``, staging ``bundle`` (its directory
    name is its hash, as in the bundle cache)."""
    return ["node", str(JS_APP / "platform.js"), outdir, str(bundle), bundle.name]


def timed_process(command: list[str], env: dict[str, str], phases: list[dict[str, Any]] | None = None) -> float:
    """Wall time of ``command``; with ``phases``, its last stdout line (JSON: where its time went) is appended."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:2]} failed:\n{done.stderr[-3000:]}")
    if phases is not None:
        phases.append({**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": elapsed})
    return elapsed


def phase_medians(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each phase (s), the rest of the wall time as ``exit_s``, and the request counts (same every run)."""
    result: dict[str, Any] = {}
    for key in [k for k in phases[0] if k.endswith("_s")]:
        result[key] = round(statistics.median(p[key] for p in phases), 2)
    result["exit_s"] = round(statistics.median(p["wall_s"] - p["in_process_s"] for p in phases), 2)
    if phases[0].get("requests"):
        result["requests"] = phases[0]["requests"]
    return result


def synth(
    src: Path, runs: int = int(os.environ.get("BENCH_SYNTH_RUNS", "3")), before: Path | None = None
) -> dict[str, Any]:
    """Fresh-process synth wall times of the example (bundle cache cold, then warm; no bundling), of the same platform
    in JavaScript with L2 constructs, and (context) of a JavaScript and a bare Python app including the example's
    template; with ``before``, that src's example too. All interleaved."""
    base_env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env = {**base_env, "PYTHONPATH": str(src)}
    cache_dir = tempfile.mkdtemp(prefix="bench-bundles-")
    env[bundling_env()] = cache_dir

    phases: dict[str, list[dict[str, Any]]] = {"example": [], "js": [], "before": []}

    def example(
        context: str = "", source: Path = src, environment: dict[str, str] = env,
        phases_of: list[dict[str, Any]] | None = None,
    ) -> tuple[float, str]:  # fmt: skip
        outdir = tempfile.mkdtemp(prefix="bench-synth-")
        examples = str(source.parent / "examples" / "booking_platform")
        script = EXAMPLE.format(examples=examples, outdir=outdir, context=context)
        return timed_process([sys.executable, "-c", script], environment, phases_of), outdir

    first, outdir = example()  # builds the bundle into the (empty) cache: what every synth did before the cache
    bundle = next(p for p in Path(cache_dir).iterdir() if p.is_dir() and not p.name.startswith("."))
    template = json.loads((Path(outdir) / "BookingPlatform.template.json").read_text())
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    included = Path(tempfile.mkdtemp(prefix="bench-include-")) / "BookingPlatform.template.json"
    included.write_text(json.dumps(template))
    js = (JS_APP / "node_modules" / "aws-cdk-lib").is_dir()
    samples: dict[str, list[float]] = {"example_cached_s": [], "example_no_bundling_s": [], "bare_python_s": [],
                                       "one_resource_python_s": [], "example_no_validation_s": []}  # fmt: skip
    if js:
        samples["js_s"], samples["js_include_s"], samples["one_resource_js_s"] = [], [], []
        samples["js_no_validation_s"] = []
        # Same platform or no figure: the JS app must build as many resources of each type as the example (untimed;
        # it also warms the file cache for the JS side, as the first example synth above does for ours).
        js_outdir = tempfile.mkdtemp(prefix="bench-js-")
        timed_process(js_platform(js_outdir, bundle), env)
        js_template = json.loads((Path(js_outdir) / "BookingPlatform.template.json").read_text())
        problems = parity_problems(template, js_template)
        if problems:
            raise RuntimeError("bench/js-synth/platform.js does not build the example's platform (resources by type):\n"
                               + "\n".join(problems))  # fmt: skip
    before_env = {**base_env, "PYTHONPATH": str(before)} if before else {}
    before_outdir = ""
    if before:
        samples["before_s"] = []
        example(source=before, environment=before_env)  # untimed: builds its bundle if its runtime differs from ours
    for _ in range(runs):  # interleaved, so that the load of a shared machine falls on each alike
        samples["example_cached_s"].append(example(phases_of=phases["example"])[0])
        if js:
            command = js_platform(tempfile.mkdtemp(prefix="bench-js-"), bundle)
            samples["js_s"].append(timed_process(command, {**env, "BENCH_PHASES": "1"}, phases["js"]))
        if before:
            elapsed, before_outdir = example(source=before, environment=before_env, phases_of=phases["before"])
            samples["before_s"].append(elapsed)
        samples["example_no_bundling_s"].append(example(", context={'aws:cdk:bundling-stacks': []}")[0])
        bare = BARE.format(outdir=tempfile.mkdtemp(prefix="bench-bare-"), template=str(included))
        samples["bare_python_s"].append(timed_process([sys.executable, "-c", bare], env))
        floor = ONE_RESOURCE_PY.format(outdir=tempfile.mkdtemp(prefix="bench-floor-"))
        samples["one_resource_python_s"].append(timed_process([sys.executable, "-c", floor], env))
        samples["example_no_validation_s"].append(example(environment={**env, **NO_VALIDATION})[0])
        if js:
            command = ["node", str(JS_APP / "app.js"), str(included), tempfile.mkdtemp(prefix="bench-js-")]
            samples["js_include_s"].append(timed_process(command, env))
            floor = ONE_RESOURCE_JS.format(lib=str(JS_APP / "node_modules" / "aws-cdk-lib"),
                                           outdir=tempfile.mkdtemp(prefix="bench-floor-"))  # fmt: skip
            samples["one_resource_js_s"].append(timed_process(["node", "-e", floor], env))
            command = js_platform(tempfile.mkdtemp(prefix="bench-js-"), bundle)
            samples["js_no_validation_s"].append(timed_process(command, {**env, **NO_VALIDATION}))
    result: dict[str, Any] = {k: round(statistics.median(v), 2) for k, v in samples.items()}
    if js:  # per-run ratios: each pair ran back to back
        result["ratio"] = round(statistics.median(
            o / b for o, b in zip(samples["example_cached_s"], samples["js_s"], strict=True)), 2)  # fmt: skip
        result["no_validation_ratio"] = round(statistics.median(o / b for o, b in zip(
            samples["example_no_validation_s"], samples["js_no_validation_s"], strict=True)), 2)  # fmt: skip
        if before:
            result["before_ratio"] = round(statistics.median(
                o / b for o, b in zip(samples["before_s"], samples["js_s"], strict=True)), 2)  # fmt: skip
    result["phases"] = {side: phase_medians(found) for side, found in phases.items() if found}
    result["example_first_s"] = round(first, 2)
    result["resources"] = sum(resource_types(template).values())
    result["runs"] = runs
    result["template"] = str(Path(outdir) / "BookingPlatform.template.json")
    if before_outdir:
        result["before_template"] = str(Path(before_outdir) / "BookingPlatform.template.json")
    result["js_cdk"] = (
        json.loads((JS_APP / "node_modules" / "aws-cdk-lib" / "package.json").read_text())["version"] if js else None
    )
    return result


def bundling_env() -> str:
    """``cached_booking_api.tools.bundling.BUNDLE_CACHE_ENV`` (not imported: it would start jsii in this process)."""
    return "CACHED_BOOKING_API_BUNDLE_CACHE"


def synth_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if r.get("js_s"):
        ratio = r["ratio"]
        rows = [
            ("example synth s (bundle cached)", f"{r['example_cached_s']:.2f} ({ratio:.2f}x)",
             f"JS aws-cdk-lib {r['js_cdk']} L2 app, same {r.get('resources', '?')} resources {r['js_s']:.2f}",
             "<= 1.0x"),
            ("    vs a JS app that only CfnIncludes the example's template",
             f"{r['example_cached_s'] / r['js_include_s']:.2f}x", f"JS CfnInclude {r['js_include_s']:.2f}",
             "context"),
        ]  # fmt: skip
        rows += floor_rows(r)
    else:
        rows = [("example synth s (bundle cached)", f"{r['example_cached_s']:.2f}", "JS baseline not installed",
                 "<= 1.0x")]  # fmt: skip
    rows += [
        ("    vs a bare Python app that only CfnIncludes it", f"{r['example_cached_s'] / r['bare_python_s']:.2f}x",
         f"bare Python {r['bare_python_s']:.2f}", "context"),
        ("example synth s, first (builds the bundle)", f"{r['example_first_s']:.2f}", "what every synth cost before",
         "context"),
        ("example synth s, bundling skipped (tests)", f"{r['example_no_bundling_s']:.2f}", "-", "context"),
        (f"    (synth: medians of {r['runs']} interleaved fresh processes)", "", "", ""),
    ]  # fmt: skip
    return rows + phase_rows(r.get("phases", {}))


def floor_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """What each side pays before any platform (a one-resource app), what its platform costs on top, the most the
    example's platform may cost for 1.0x next to what merely including the finished template costs in Python, and
    the ratio with aws-cdk-lib's built-in validation off on both sides."""
    python_floor, js_floor = r["one_resource_python_s"], r["one_resource_js_s"]
    return [
        ("    a one-resource app (start, jsii, aws-cdk-lib's fixed synth work, exit)", f"{python_floor:.2f}",
         f"JS {js_floor:.2f}", "context"),
        ("    the platform's own cost: L2 app - one-resource app", f"{r['example_cached_s'] - python_floor:.2f}",
         f"JS {r['js_s'] - js_floor:.2f}; 1.0x allows the example {r['js_s'] - python_floor:.2f}; a Python app"
         f" that only CfnIncludes the finished template {r['bare_python_s'] - python_floor:.2f}", "context"),
        ("    built-in validation off on both sides (CDK_VALIDATION=false)",
         f"{r['example_no_validation_s']:.2f} ({r['no_validation_ratio']:.2f}x)",
         f"JS L2 app {r['js_no_validation_s']:.2f}", "context"),
    ]  # fmt: skip


def phase_rows(phases: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Where each side's synth time goes (medians, s), and the example's jsii round trips."""
    rows: list[tuple[str, str, str, str]] = []
    js = phases.get("js")
    for side in ("example", "before"):
        ours = phases.get(side)
        if not ours:
            continue
        rows.append((f"    {side}: import aws_cdk (jsii start) / import app / build / synth / exit s",
                     " / ".join(f"{ours[k]:.2f}" for k in ("import_cdk_s", "import_app_s", "build_s", "synth_s",
                                                            "exit_s")), "-", "context"))  # fmt: skip
        if ours.get("requests"):
            counts = ours["requests"]
            rows.append((f"    {side}: jsii round trips, build / synth", f"{counts.get('build', 0)} / "
                         f"{counts.get('synth', 0)}", "-", "context"))  # fmt: skip
    if js:
        rows.append(("    JS app: node start / require / build / synth / exit s",
                     " / ".join(f"{js[k]:.2f}" for k in ("node_start_s", "require_s", "build_s", "synth_s",
                                                         "exit_s")), "-", "context"))  # fmt: skip
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


BEFORE_COST = """
import json
from cached_booking_api import cost
print(json.dumps([cost.estimate(50_000, 1_000).total, cost.estimate(0, 0).total]))
"""
"""What the ``before`` commit's own cost model printed (its assumptions, its construct defaults)."""


def before_cost(before: Path, template: str | None) -> dict[str, Any]:
    """The before commit's cost: as its own model claimed, and as today's model prices its synthesized template."""
    from cached_booking_api.tools import cost

    done = subprocess.run([sys.executable, "-c", BEFORE_COST], env={**os.environ, "PYTHONPATH": str(before)},
                          capture_output=True, text=True, check=True)  # fmt: skip
    claimed = json.loads(done.stdout)
    result: dict[str, Any] = {"claimed_design": claimed[0], "claimed_idle": claimed[1]}
    if template:
        deployment = cost.Deployment.from_template(Path(template))
        result["design"] = cost.estimate(50_000, 1_000, deployment=deployment).total
        result["idle"] = cost.estimate(0, 0, deployment=deployment).total
    return result


def extract(ref: str) -> Path:
    """``src`` and ``examples`` of a commit, in a temporary directory (returns its ``src``)."""
    target = Path(tempfile.mkdtemp(prefix="bench-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src", "examples"], capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def before_after_rows(ref: str, results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One row per issue-10 goal: measure, before, after, baseline (same run), goal."""
    rows: list[tuple[str, str, str, str, str]] = []
    cold_ = results.get("cold")
    if cold_:
        for function in ("search", "bookings"):
            m = cold_[function]
            rows.append((f"cold start {function} (import + 1st request) / minimal handler",
                         f"{m['before_total_ratio']:.2f}x ({m['before_total_ms']:.0f} ms)",
                         f"{m['total_ratio']:.2f}x ({m['total_ms']:.0f} ms)", f"{m['baseline_total_ms']:.0f} ms",
                         "<= 1.5x"))  # fmt: skip
            rows.append((f"cold import {function} / import boto3, redis",
                         f"{m['before_import_ratio']:.2f}x ({m['before_import_ms']:.0f} ms)",
                         f"{m['import_ratio']:.2f}x ({m['import_ms']:.0f} ms)", f"{m['baseline_import_ms']:.0f} ms",
                         "<= 1.3x"))  # fmt: skip
    cost_ = results.get("cost")
    before_cost_ = results.get("before_cost")
    if cost_ and before_cost_:
        for key, label, goal in (("design", "monthly cost $, 50k searches + 1k bookings/day", "<= 25"),
                                 ("idle", "monthly cost $, idle", "<= 10")):  # fmt: skip
            truthful = f"{before_cost_[key]:.2f}" if key in before_cost_ else "-"
            rows.append((f"{label} (today's model, each example's template)", truthful,
                          f"{cost_[f'{key}_total']:.2f}", "-", goal))  # fmt: skip
            rows.append((f"    {key}: what each commit's own model claimed", f"{before_cost_[f'claimed_{key}']:.2f}",
                         f"{cost_[f'{key}_total']:.2f}", "-", "context"))  # fmt: skip
    synth_ = results.get("synth")
    if synth_ and synth_.get("js_s") and "before_s" in synth_:
        rows.append(("example synth / JS L2 app of the same platform", f"{synth_['before_ratio']:.2f}x "
                     f"({synth_['before_s']:.2f} s)", f"{synth_['ratio']:.2f}x ({synth_['example_cached_s']:.2f} s)",
                     f"{synth_['js_s']:.2f} s", "<= 1.0x"))  # fmt: skip
    rows.append((f"    (before = {ref}; after = this checkout; one run, interleaved)", "", "", "", ""))
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: parts to measure (default all three), ``--src``, ``--before REF``, ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", metavar="cold|cost|synth", help="what to measure (default: all three)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src directory whose handlers to measure")
    parser.add_argument("--before", metavar="REF", help="also measure this commit (e.g. a1a527d), interleaved")
    parser.add_argument("--out", default="perf.json", help="file name of the JSON figures in bench/out/")
    args = parser.parse_args(argv)
    args.parts = args.parts or ["cold", "cost", "synth"]
    if set(args.parts) - {"cold", "cost", "synth"}:  # argparse cannot check choices of nargs="*" with a default
        parser.error(f"unknown part(s): {', '.join(sorted(set(args.parts) - {'cold', 'cost', 'synth'}))}")
    return args


def main() -> None:
    args = parse()
    before = extract(args.before) if args.before else None
    results: dict[str, Any] = {}
    rows: list[tuple[str, str, str, str]] = []
    if "cold" in args.parts:
        results["cold"] = cold(args.src.resolve(), before)
        rows += cold_rows(results["cold"])
    if "synth" in args.parts:
        results["synth"] = synth(args.src.resolve(), before=before)
        rows += synth_rows(results["synth"])
    if "cost" in args.parts:
        results["cost"], more = cost_rows(results.get("synth", {}).get("template"))
        rows += more
        if before:
            results["before_cost"] = before_cost(before, results.get("synth", {}).get("before_template"))
    print(table(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    if before:
        text = before_after_table(before_after_rows(args.before, results))
        print()
        print(text)
        (OUT / "before_after.txt").write_text(text + "\n")
    (OUT / args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
