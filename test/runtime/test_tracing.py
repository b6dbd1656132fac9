"""X-Ray: the SDK is loaded and subsegments recorded only for sampled invocations (fresh processes, real servers)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest
import redis

from cached_booking_api.runtime import config, tracing
from test.conftest import create_table, listing, stay
from test.runtime.conftest import load

TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
CHECK_IN, CHECK_OUT = stay(12, 2)

INVOKE = """
import json, sys
from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime.handlers import search
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "search", 512, "trace-test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:search"
    def get_remaining_time_in_millis(self): return 10000
query = json.loads(sys.argv[1])
response = search.handler(proxy_event("GET", "/search", query=query), Context())
print(json.dumps({"status": response["statusCode"], "cache": (response.get("multiValueHeaders") or {}).get("X-Cache"),
                  "xray_loaded": "aws_xray_sdk" in sys.modules, "boto3_loaded": "boto3" in sys.modules}))
"""


@pytest.fixture
def traced_env(redis_server: Any, dynamodb_local: Any, dynamodb: Any) -> dict[str, str]:
    """The environment of a search function in Lambda (tracing on), its daemon address a UDP socket of the test."""
    table = create_table(dynamodb)
    load(dynamodb, table, listing("lis-t1", destination="Tracetown"))
    redis.Redis.from_url(redis_server.url).flushall()
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update({
        config.TABLE_NAME: table,
        config.DYNAMODB_ENDPOINT: dynamodb_local.endpoint,
        config.CACHE_URL: redis_server.url,
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "search",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "POWERTOOLS_SERVICE_NAME": "search",
    })  # fmt: skip
    return env


def invoke(env: dict[str, str], sampled: str, daemon: socket.socket) -> dict[str, Any]:
    host, port = daemon.getsockname()
    env = {**env, "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
           tracing.TRACE_HEADER_ENV: f"Root={TRACE_ROOT};Parent=557abcec3ee5a047;Sampled={sampled}"}  # fmt: skip
    query = {"destination": "Tracetown", "checkIn": CHECK_IN, "checkOut": CHECK_OUT}
    done = subprocess.run([sys.executable, "-c", INVOKE, json.dumps(query)], env=env, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def received_documents(daemon: socket.socket) -> list[dict[str, Any]]:
    """Every segment document the SDK sent to the daemon address (``header\\nbody`` datagrams)."""
    daemon.settimeout(0.5)
    documents = []
    while True:
        try:
            datagram = daemon.recv(65_536)
        except TimeoutError:
            return documents
        header, _, body = datagram.decode().partition("\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))


@pytest.fixture
def daemon() -> Any:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


def test_an_unsampled_invocation_never_loads_the_xray_sdk(traced_env: dict[str, str], daemon: socket.socket) -> None:
    """Lambda custom runtime docs: "Get the X-Ray tracing header from the Lambda-Runtime-Trace-Id header in the API
    response. Set the _X_AMZN_TRACE_ID environment variable locally with the same value. The X-Ray SDK uses this value
    to connect trace data between services." An invocation whose header says Sampled=0 is not traced: nothing to load.
    """
    result = invoke(traced_env, "0", daemon)
    assert result == {"status": 200, "cache": ["MISS"], "xray_loaded": False, "boto3_loaded": True}
    assert received_documents(daemon) == []


def test_a_sampled_invocation_is_traced_with_its_subsegments(traced_env: dict[str, str], daemon: socket.socket) -> None:
    result = invoke(traced_env, "1", daemon)
    assert result == {"status": 200, "cache": ["MISS"], "xray_loaded": True, "boto3_loaded": True}
    documents = received_documents(daemon)
    names = {doc["name"] for doc in documents}
    assert {"## handler", "cache.read", "dynamodb.catalogue", "dynamodb.sellable"} <= names, names  # a miss fills both
    assert {doc["trace_id"] for doc in documents} == {TRACE_ROOT}
    handler = next(doc for doc in documents if doc["name"] == "## handler")
    assert handler["annotations"] == {"ColdStart": True, "Service": "search"}


def test_a_cold_cache_hit_loads_neither_boto3_nor_the_xray_sdk(
    traced_env: dict[str, str], daemon: socket.socket
) -> None:
    """Cold start: a search the cache answers needs no DynamoDB client, so none is built (boto3 is not imported)."""
    assert invoke(traced_env, "0", daemon)["cache"] == ["MISS"]
    result = invoke(traced_env, "0", daemon)
    assert result == {"status": 200, "cache": ["HIT"], "xray_loaded": False, "boto3_loaded": False}


@pytest.mark.parametrize(
    ("header", "disabled", "expected"),
    [
        ("Root=1-a;Parent=b;Sampled=1", "", True),
        ("Root=1-a;Parent=b;Sampled=1;Lineage=c:1", "", True),
        ("Root=1-a;Parent=b;Sampled=0", "", False),
        ("Root=1-a;Parent=b;Sampled=?", "", False),
        ("", "", False),
        ("Root=1-a;Parent=b;Sampled=1", "true", False),
    ],
)
@pytest.mark.fast
def test_sampled_reads_the_trace_header(header: str, disabled: str, expected: bool) -> None:
    env = {tracing.TRACE_HEADER_ENV: header, tracing.TRACE_DISABLED_ENV: disabled}
    assert tracing.sampled(env) is expected
