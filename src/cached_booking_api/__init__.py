"""cached-booking-api: an AWS CDK construct for a cached, secure booking search API.

>>> from cached_booking_api import CachedSearchApi, CacheOptions
"""

from .construct import CachedSearchApi
from .options import AlarmOptions, CacheOptions, ThrottleOptions

__all__ = ["AlarmOptions", "CacheOptions", "CachedSearchApi", "ThrottleOptions"]
__version__ = "0.1.0"
