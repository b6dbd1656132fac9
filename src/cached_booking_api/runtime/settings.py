"""One typed settings contract per function: the construct writes it, the handler reads it, defaults live here once.

Each function has a frozen settings class (``SearchSettings``, ``BookingSettings``, ``InvalidationSettings``,
``ForwarderSettings``). The construct builds one from its props and puts ``settings.to_environment()`` in the
function's environment (and ``timeout_seconds`` on the function); the handler calls ``from_environment()`` and builds
its clients from the result. A field the construct does not set falls back to the default written here, which is the
only place any of these defaults is written: ``CacheOptions``, ``CachePolicy``, ``RedisSettings`` and
``CircuitBreaker`` refer to these classes for theirs.

Every field carries the name of its environment variable (the names are in ``config``); groups shared by several
functions (``CacheConnectionSettings``, ``CacheTimings``, ``CircuitBreakerSettings``, ``DynamoDBSettings``) are nested
settings classes that read and write the same flat environment.

Standard library only: the construct imports this module.
"""

from __future__ import annotations

import dataclasses
import math
import os
import struct
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, Union

from . import config

if TYPE_CHECKING:
    from .cache import CachePolicy
    from .redis_client import RedisSettings

SettingsT = TypeVar("SettingsT", bound="EnvironmentSettings")

#: Variables laid over ``os.environ`` when one function's settings are read from it (handler module → variables).
#: Lambda gives each function an environment of its own, so this stays empty there; the local mode serves every
#: function from one process and puts here what differs for one of them (``local/platform.py``).
FUNCTION_ENVIRONMENTS: dict[str, dict[str, str]] = {}

_ENV = "env"
_SET_BY_LAMBDA = "set_by_lambda"
_MINIMUM = "minimum"


def is_deploy_time_number(value: object) -> bool:
    """Whether ``value`` is a number aws-cdk-lib resolves at deploy time (a token, e.g. a ``CfnParameter``'s value):
    aws-cdk-lib encodes one as a double whose top 16 bits are 0xFBFF (about -1.89e+289; ``createTokenDouble`` in
    aws-cdk-lib's ``core/lib/private/encoding.ts``). The construct passes such settings through unchecked, as
    aws-cdk-lib does; the handler checks the resolved value it reads from the environment. Standard library only."""
    return isinstance(value, float) and struct.pack(">d", value)[:2] == b"\xfb\xff"


def _env(name: str, *, minimum: float | None = None, set_by_lambda: bool = False) -> dict[str, Any]:
    """Field metadata: the environment variable, an optional lower bound, and whether Lambda (not us) sets it."""
    return {_ENV: name, _MINIMUM: minimum, _SET_BY_LAMBDA: set_by_lambda}


def _format(value: object) -> str:
    """How a value is written to the environment: booleans ``true``/``false``, whole numbers without ``.0``,
    sequences comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    return str(value)


def parse_origins(raw: str) -> tuple[str, ...]:
    """A comma-separated list (``CORS_ALLOWED_ORIGINS``): items stripped, empty items dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _parse(name: str, raw: str, kind: Any) -> Any:
    """Read ``raw`` (the value of variable ``name``) as ``kind``; a ValueError names the variable and the value."""
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if int in options:  # e.g. a port: ``int | str`` (a deploy-time token is a string at synth)
            try:
                return int(raw)
            except ValueError:
                if str in options:
                    return raw
                raise ValueError(f"{name}={raw!r}: not a whole number") from None
        return _parse(name, raw, options[0])
    if origin is tuple:
        return parse_origins(raw)
    if kind is bool:
        if raw.strip().lower() in {"1", "true", "yes"}:
            return True
        if raw.strip().lower() in {"0", "false", "no"}:
            return False
        raise ValueError(f"{name}={raw!r}: not a boolean (use true or false)")
    if kind in (int, float):
        try:
            number = kind(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r}: not a {'whole ' if kind is int else ''}number") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"{name}={raw!r}: not a finite number")
        return number
    return raw


class EnvironmentSettings:
    """Base of the settings classes (frozen dataclasses): ``to_environment()`` and ``from_environment()``.

    A field is either a value with ``metadata={"env": NAME}`` or a nested settings class sharing the environment.
    """

    #: The function these settings configure (``runtime/handlers/<handler_module>.py``); empty for nested groups.
    handler_module: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            minimum = item.metadata.get(_MINIMUM)
            checkable = isinstance(value, int | float) and not is_deploy_time_number(value)
            if minimum is not None and checkable and not value >= minimum:
                raise ValueError(f"{item.metadata[_ENV]}={value}: must be at least {minimum:g} ({type(self).__name__}"
                                 f".{item.name})")  # fmt: skip

    def to_environment(self) -> dict[str, str]:
        """The environment variables of these settings (fields left None or empty are not written; nor is what
        Lambda sets itself, such as ``AWS_REGION``)."""
        environment: dict[str, str] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if isinstance(value, EnvironmentSettings):
                environment.update(value.to_environment())
            elif value is not None and value != () and not item.metadata[_SET_BY_LAMBDA]:
                environment[item.metadata[_ENV]] = _format(value)
        return environment

    @classmethod
    def from_environment(cls: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
        """These settings from ``environ`` (default: ``os.environ``); unset or empty variables take the defaults.

        A function's settings read from ``os.environ`` see its ``FUNCTION_ENVIRONMENTS`` entry laid over it.

        Raises:
            ValueError: a required variable is missing, or a value does not parse (the message names the variable).
        """
        if environ is None:
            overlay = FUNCTION_ENVIRONMENTS.get(cls.handler_module) if cls.handler_module else None
            environ = {**os.environ, **overlay} if overlay else os.environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = hints[item.name]
            if isinstance(kind, type) and issubclass(kind, EnvironmentSettings):
                values[item.name] = kind.from_environment(environ)
                continue
            name = item.metadata[_ENV]
            raw = environ.get(name)
            if raw is None or raw == "":
                if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                    raise ValueError(f"{name}: required by {cls.__name__} ({cls.__name__}.{item.name}) and not set")
                continue
            values[item.name] = _parse(name, raw, kind)
        return cls(**values)

    @classmethod
    def environment_names(cls) -> tuple[str, ...]:
        """Every environment variable these settings read, nested groups included."""
        names: list[str] = []
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = hints[item.name]
            if isinstance(kind, type) and issubclass(kind, EnvironmentSettings):
                names.extend(kind.environment_names())
            else:
                names.append(item.metadata[_ENV])
        return tuple(names)


# -- groups shared by several functions ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CacheConnectionSettings(EnvironmentSettings):
    """How to reach the cache: an ElastiCache endpoint with IAM authentication (AWS), or ``url`` (local mode)."""

    endpoint: str | None = field(default=None, metadata=_env(config.CACHE_ENDPOINT))
    """The cache's endpoint address."""
    port: int | str = field(default=6379, metadata=_env(config.CACHE_PORT))
    """The cache's port (a deploy-time token, hence a string, at synth)."""
    user_id: str | None = field(default=None, metadata=_env(config.CACHE_USER_ID))
    """The ElastiCache user the function authenticates as (IAM)."""
    cache_name: str | None = field(default=None, metadata=_env(config.CACHE_NAME))
    """The serverless cache's or replication group's name (the IAM token is signed for it)."""
    serverless: bool = field(default=True, metadata=_env(config.CACHE_SERVERLESS))
    """A serverless cache (the IAM token names ``ResourceType=ServerlessCache``)."""
    cluster_mode: bool = field(default=False, metadata=_env(config.CACHE_CLUSTER_MODE))
    """Talk cluster protocol (serverless caches are always cluster-mode)."""
    timeout_ms: int = field(default=50, metadata=_env(config.CACHE_TIMEOUT_MS, minimum=1))
    """Socket timeout of every cache command, in milliseconds: a slower cache is bypassed."""
    connect_timeout_ms: int = field(default=1000, metadata=_env(config.CACHE_CONNECT_TIMEOUT_MS, minimum=1))
    """Timeout of connection set-up (TCP, TLS, AUTH with the IAM token, CLUSTER SLOTS), in milliseconds."""
    url: str | None = field(default=None, metadata=_env(config.CACHE_URL))
    """``redis://host:port`` without IAM: the local mode and tests only."""
    region: str | None = field(default=None, metadata=_env("AWS_REGION", set_by_lambda=True))
    """The region the IAM token is signed for (Lambda sets ``AWS_REGION``)."""

    def redis_settings(self) -> RedisSettings:
        """The redis client's settings."""
        from .redis_client import RedisSettings

        if self.url:
            return RedisSettings(url=self.url, cluster=self.cluster_mode, socket_timeout_ms=self.timeout_ms,
                                 connect_timeout_ms=self.connect_timeout_ms)  # fmt: skip
        return RedisSettings(
            host=self.endpoint,
            port=int(self.port),
            user_id=self.user_id,
            cache_name=self.cache_name,
            region=self.region,
            serverless=self.serverless,
            cluster=self.cluster_mode,
            socket_timeout_ms=self.timeout_ms,
            connect_timeout_ms=self.connect_timeout_ms,
        )


@dataclass(frozen=True, kw_only=True)
class CacheTimings(EnvironmentSettings):
    """How long search results stay in the cache (``CacheOptions.ttl``, ``stale_window``, ``negative_ttl``)."""

    ttl_seconds: float = field(default=300.0, metadata=_env(config.CACHE_TTL_SECONDS, minimum=1))
    """How long a search result is fresh (±10 % jitter is added)."""
    stale_seconds: float = field(default=600.0, metadata=_env(config.CACHE_STALE_SECONDS, minimum=0))
    """How long after expiry a result may still be served while it is refreshed, or when DynamoDB fails."""
    negative_ttl_seconds: float = field(default=30.0, metadata=_env(config.CACHE_NEGATIVE_TTL_SECONDS, minimum=1))
    """How long an empty result is cached."""

    def policy(self, *, load_worst_case_seconds: float | None = None) -> CachePolicy:
        """The cache-aside policy. ``load_worst_case_seconds`` (see ``config.dynamodb_worst_case_seconds``) sets the
        single-flight lock's lifetime: the lock must not expire while its holder's DynamoDB client may still be
        retrying, or every waiter loads too."""
        from .cache import CachePolicy

        lock_ttl_ms = CachePolicy.lock_ttl_ms
        if load_worst_case_seconds is not None:
            lock_ttl_ms = max(lock_ttl_ms, math.ceil(load_worst_case_seconds * 1000))
        return CachePolicy(ttl_seconds=self.ttl_seconds, stale_seconds=self.stale_seconds,
                           negative_ttl_seconds=self.negative_ttl_seconds, lock_ttl_ms=lock_ttl_ms)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerSettings(EnvironmentSettings):
    """When the search stops calling a failing cache, and for how long (``CacheOptions.circuit_*``)."""

    failure_threshold: int = field(default=3, metadata=_env(config.CIRCUIT_FAILURE_THRESHOLD, minimum=1))
    """Consecutive cache failures that open the breaker."""
    cooldown_seconds: float = field(default=30.0, metadata=_env(config.CIRCUIT_COOLDOWN_SECONDS, minimum=0))
    """How long an open breaker skips the cache before one trial call."""


@dataclass(frozen=True, kw_only=True)
class DynamoDBSettings(EnvironmentSettings):
    """The DynamoDB client: read timeout (retries are fitted in the function's timeout), endpoint for the local mode."""

    read_timeout_seconds: float = field(default=2.0, metadata=_env(config.DYNAMODB_READ_TIMEOUT_SECONDS, minimum=0.1))
    """Read timeout of one DynamoDB request."""
    endpoint: str | None = field(default=None, metadata=_env(config.DYNAMODB_ENDPOINT))
    """DynamoDB Local's endpoint (local mode and tests only)."""


# -- one class per function ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FunctionSettings(EnvironmentSettings):
    """What every function has: its Powertools service name and metrics namespace, and its timeout."""

    service_name: str = field(default="cached-booking-api", metadata=_env("POWERTOOLS_SERVICE_NAME"))
    """Powertools service name: the ``service`` dimension of the function's EMF metrics."""
    metrics_namespace: str = field(default="CachedBookingApi", metadata=_env("POWERTOOLS_METRICS_NAMESPACE"))
    """CloudWatch namespace of the function's EMF metrics (the construct's ``metrics_namespace``)."""
    timeout_seconds: int = field(default=30, metadata=_env(config.FUNCTION_TIMEOUT_SECONDS, minimum=1))
    """The function's timeout (the construct sets it on the function; the search handler fits its time budget in it)."""


@dataclass(frozen=True, kw_only=True)
class SearchSettings(FunctionSettings):
    """``GET /search`` (``runtime/handlers/search.py``)."""

    handler_module: ClassVar[str] = "search"
    timeout_seconds: int = field(default=10, metadata=_env(config.FUNCTION_TIMEOUT_SECONDS, minimum=1))
    """Well under API Gateway's 29 s; a whole load (DynamoDB retries), the cache's worst case, the single-flight lock
    and waits fit in it (``config.dynamodb_client_config``)."""
    table_name: str = field(metadata=_env(config.TABLE_NAME))
    """The listings table."""
    dynamodb: DynamoDBSettings = field(default_factory=DynamoDBSettings)
    cache: CacheConnectionSettings = field(default_factory=CacheConnectionSettings)
    timings: CacheTimings = field(default_factory=CacheTimings)
    circuit_breaker: CircuitBreakerSettings = field(default_factory=CircuitBreakerSettings)
    cors_allowed_origins: tuple[str, ...] = field(default=(), metadata=_env(config.CORS_ALLOWED_ORIGINS))
    """Exact origins allowed by CORS (none: no CORS headers)."""


@dataclass(frozen=True, kw_only=True)
class BookingSettings(FunctionSettings):
    """``POST /bookings``, ``GET`` and ``DELETE /bookings/{bookingId}`` (``runtime/handlers/bookings.py``)."""

    handler_module: ClassVar[str] = "bookings"
    timeout_seconds: int = field(default=15, metadata=_env(config.FUNCTION_TIMEOUT_SECONDS, minimum=1))
    """Well under API Gateway's 29 s."""
    table_name: str = field(metadata=_env(config.TABLE_NAME))
    """The listings table (inventory, bookings, outbox)."""
    idempotency_table_name: str = field(metadata=_env(config.IDEMPOTENCY_TABLE_NAME))
    """Powertools idempotency records."""
    dynamodb: DynamoDBSettings = field(default_factory=DynamoDBSettings)
    cancellation_cutoff_seconds: float | None = field(
        default=None, metadata=_env(config.CANCELLATION_CUTOFF_SECONDS, minimum=0)
    )
    """Cancellation closes this long before 00:00 UTC of the check-in day (None: always open)."""
    cors_allowed_origins: tuple[str, ...] = field(default=(), metadata=_env(config.CORS_ALLOWED_ORIGINS))
    """Exact origins allowed by CORS (none: no CORS headers)."""


@dataclass(frozen=True, kw_only=True)
class InvalidationSettings(FunctionSettings):
    """The table-stream consumer that writes inventory through to the cache (``runtime/handlers/invalidation.py``)."""

    handler_module: ClassVar[str] = "invalidation"
    cache: CacheConnectionSettings = field(default_factory=CacheConnectionSettings)


@dataclass(frozen=True, kw_only=True)
class ForwarderSettings(FunctionSettings):
    """search.completed log lines → the bus (``runtime/handlers/forwarder.py``)."""

    handler_module: ClassVar[str] = "forwarder"
    event_bus_name: str = field(metadata=_env(config.EVENT_BUS_NAME))
    """The bus events are put on."""
    event_source: str = field(default=config.DEFAULT_EVENT_SOURCE, metadata=_env(config.EVENT_SOURCE))
    """The ``source`` of every event (the construct's ``event_source``)."""
    dead_letter_queue_url: str | None = field(default=None, metadata=_env(config.DEAD_LETTER_QUEUE_URL))
    """Where events the bus rejected after retries go (None: they are logged and dropped)."""


@dataclass(frozen=True, kw_only=True)
class OutboxPublisherSettings(FunctionSettings):
    """The outbox Pipe's target: booking.confirmed and booking.cancelled → the bus
    (``runtime/handlers/outbox_publisher.py``)."""

    handler_module: ClassVar[str] = "outbox_publisher"
    event_bus_name: str = field(metadata=_env(config.EVENT_BUS_NAME))
    """The bus events are put on."""
    event_source: str = field(default=config.DEFAULT_EVENT_SOURCE, metadata=_env(config.EVENT_SOURCE))
    """The ``source`` of every event (the construct's ``event_source``)."""


@dataclass(frozen=True, kw_only=True)
class InventoryUpdatesSettings(FunctionSettings):
    """Inbound inventory.updated events → capacity (``runtime/handlers/inventory_updates.py``)."""

    handler_module: ClassVar[str] = "inventory_updates"
    table_name: str = field(metadata=_env(config.TABLE_NAME))
    """The table (listings, month items, event receipts)."""
    inventory_sources: tuple[str, ...] = field(default=(), metadata=_env(config.INVENTORY_SOURCES))
    """The sources allowed to send inventory.updated events (the construct's ``inventory_sources``)."""
    dead_letter_queue_url: str | None = field(default=None, metadata=_env(config.DEAD_LETTER_QUEUE_URL))
    """Where events that can never be applied go, with the reason (the construct always sets it)."""


#: Every function's settings class.
FUNCTION_SETTINGS: tuple[type[FunctionSettings], ...] = (
    SearchSettings,
    BookingSettings,
    InvalidationSettings,
    ForwarderSettings,
    OutboxPublisherSettings,
    InventoryUpdatesSettings,
)
