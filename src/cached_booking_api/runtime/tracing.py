"""X-Ray tracing that costs nothing unless the invocation is sampled.

Lambda puts each invocation's trace header in the ``_X_AMZN_TRACE_ID`` environment variable
(``Root=...;Parent=...;Sampled=1``). Only when it says ``Sampled=1`` is the X-Ray SDK loaded (through the Powertools
``Tracer``, created on first need) and are subsegments recorded. An unsampled invocation - most of them under the
construct's sampling rule - never imports ``aws_xray_sdk`` (~140 ms of cold start) and creates no subsegment. Tracing
is also off when ``POWERTOOLS_TRACE_DISABLED`` is true, as Powertools itself would have it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
Handler = TypeVar("Handler", bound=Callable[..., Any])

_tracer: Tracer | None = None


def sampled(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the current invocation is sampled (its trace header has ``Sampled=1``) and tracing is enabled."""
    if env.get(TRACE_DISABLED_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    return "Sampled=1" in (part.strip() for part in env.get(TRACE_HEADER_ENV, "").split(";"))


def tracer() -> Tracer:
    """The one Powertools ``Tracer`` of the process, created (and the X-Ray SDK loaded) on first call."""
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer()
    return _tracer


@contextmanager
def subsegment(name: str) -> Iterator[None]:
    """An X-Ray subsegment around the block when the invocation is sampled; nothing at all otherwise."""
    if not sampled():
        yield
        return
    with tracer().provider.in_subsegment(name):
        yield


def capture_lambda_handler(handler: Handler) -> Handler:
    """Wrap a Lambda entry point: Powertools' ``capture_lambda_handler`` for sampled invocations only."""
    traced: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not sampled():
            return handler(event, context)
        if not traced:
            traced.append(tracer().capture_lambda_handler(handler, capture_response=False))
        return traced[0](event, context)

    return wrapper  # type: ignore[return-value]
