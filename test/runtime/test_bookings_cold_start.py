"""Issue 10.1: a bookings function's cold start (import + first booking, fresh process, real DynamoDB Local) loads
neither Pydantic nor the X-Ray SDK; the first bad body of the process answers the contract's 400 through the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from cached_booking_api.local.gateway import proxy_event
from cached_booking_api.runtime import tracing
from test.conftest import ROOT
from test.runtime.conftest import body

COLD_START = """
import json, sys
from cached_booking_api.runtime.handlers import bookings
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "bookings", 512, "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bookings"
    def get_remaining_time_in_millis(self): return 10000
answers = []
for event in json.loads(sys.argv[1]):
    response = bookings.handler(event, Context())
    answers.append([response["statusCode"], json.loads(response["body"]), "pydantic" in sys.modules,
                    "aws_xray_sdk" in sys.modules])
print(json.dumps(answers))
"""


def event(payload: Any, key: str) -> dict[str, Any]:
    return proxy_event("POST", "/bookings", headers={"Idempotency-Key": key}, body=json.dumps(payload))


def test_a_cold_booking_loads_no_pydantic_and_a_bad_body_still_gets_the_contracts_400(
    booking_env: dict[str, str],
) -> None:
    unsampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=0"
    env = {**os.environ, **booking_env, "PYTHONPATH": str(ROOT / "src"), "POWERTOOLS_SERVICE_NAME": "bookings",
           tracing.TRACE_HEADER_ENV: unsampled}  # fmt: skip
    events = [event(body(), "cold-start-01"), event(body(), "cold-start-01"), event(body(guests=0), "cold-start-02")]
    done = subprocess.run([sys.executable, "-c", COLD_START, json.dumps(events)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, replay, bad = json.loads(done.stdout.strip().splitlines()[-1])
    assert first[0] == 201 and first[1]["status"] == "CONFIRMED" and first[2:] == [False, False]
    assert replay[:3] == [201, first[1], False]  # the idempotent replay too
    assert bad[0] == 400 and bad[1]["error"]["code"] == "VALIDATION_ERROR"
    assert bad[1]["error"]["details"] == [
        {"field": "guests", "message": "Input should be greater than or equal to 1"}
    ]  # the model's words
    assert bad[2] is True
