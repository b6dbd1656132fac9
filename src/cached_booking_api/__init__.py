"""cached-booking-api: an AWS CDK construct for a cached, idempotent, secure booking API.

>>> from cached_booking_api import CachedSearchApi, CacheOptions

The construct classes are imported on first use (PEP 562), so the command line, the local mode and the handler code
(``cached_booking_api.runtime``) start without loading aws-cdk-lib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .infrastructure.cache_cluster import Cache
    from .infrastructure.construct import CachedSearchApi
    from .infrastructure.observability import ObservabilityOptions
    from .infrastructure.options import AlarmOptions, CacheOptions, Partner, ThrottleOptions

__all__ = [
    "AlarmOptions",
    "Cache",
    "CacheOptions",
    "CachedSearchApi",
    "ObservabilityOptions",
    "Partner",
    "ThrottleOptions",
]
__version__ = "0.1.0"

_EXPORTS = {
    "CachedSearchApi": "infrastructure.construct",
    "Cache": "infrastructure.cache_cluster",
    "AlarmOptions": "infrastructure.options",
    "CacheOptions": "infrastructure.options",
    "ThrottleOptions": "infrastructure.options",
    "ObservabilityOptions": "infrastructure.observability",
    "Partner": "infrastructure.options",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
