"""The local mode's bookings against a DynamoDB Local that answers slowly, as one JVM on a loaded 2-core machine does
under a burst of bookings (the 64 handler threads of the local mode queue on it).

A DynamoDB Local that is slow is not a DynamoDB that failed: it still performs every request it was sent. A client
that gives up on it after AWS's 2 s read timeout and retries sends the same write again while the first is still
being performed: the retry of the idempotency record's conditional PutItem meets the record its own first attempt
wrote (409 REQUEST_IN_PROGRESS about itself, for as long as the function's timeout), or every attempt times out (503
SERVICE_UNAVAILABLE), and each retry adds to the queue that made the first one slow.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cached_booking_api.runtime.handlers import bookings
from test.conftest import listing, stay
from test.local.conftest import request, running_local
from test.runtime.redis_proxy import RedisProxy

#: Longer than AWS's read timeout of one DynamoDB request (2 s), well within the bookings function's 15 s.
SLOW_REPLY_SECONDS = 2.3


def test_a_booking_waits_for_a_slow_dynamodb_local_instead_of_sending_its_writes_again(
    tmp_path: Path, dynamodb_local: Any, redis_server: Any
) -> None:
    """Every DynamoDB Local answer held 2.3 s (a TCP proxy in front of the real one): the booking is confirmed, and
    DynamoDB Local is sent each of the booking's requests once. Before: 503 after four timed-out PutItem attempts of
    the idempotency record (the first of which DynamoDB Local had performed)."""
    slow = threading.Event()

    def hold_reply(_request: bytes, _index: int) -> None:
        if slow.is_set():
            time.sleep(SLOW_REPLY_SECONDS)

    check_in, check_out = stay(20, 2)
    payload = {"listingId": "lis-1", "checkIn": check_in, "checkOut": check_out, "guests": 1,
               "customer": {"name": "Ana Silva", "email": "ana@example.com"}}  # fmt: skip
    sent: Counter[str] = Counter()

    def count(request: Any, **_: Any) -> None:
        sent[request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1]] += 1

    with RedisProxy(dynamodb_local.port, before_reply=hold_reply) as proxy:
        endpoint = f"http://127.0.0.1:{proxy.port}"
        with running_local(tmp_path, [listing("lis-1", units=5)], dynamodb_endpoint=endpoint,
                           redis_url=redis_server.url) as local:  # fmt: skip
            client = bookings.booking_service().client
            client.meta.events.register("before-send.dynamodb", count)
            slow.set()
            status, _, body = request(f"{local.url}/bookings", method="POST", body=payload,
                                      headers={"Idempotency-Key": "slow-dynamodb-1"})  # fmt: skip
            slow.clear()
    assert status == 201, body
    assert sent == {"PutItem": 1, "GetItem": 1, "TransactWriteItems": 1, "UpdateItem": 1}, sent
