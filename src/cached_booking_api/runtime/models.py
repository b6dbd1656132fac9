"""Request and response models of the HTTP contract (BRIEF §3) and of the listing file.

The same models validate requests at run time and generate the OpenAPI document (see ``openapi.py``) from which the
construct builds API Gateway's request validation. The bookings function checks a body against that document's
``BookingRequest`` schema first and imports these models only for a body the schema refuses (``booking_request.py``):
the stay rules live there, standard library only, and ``StayMixin`` applies them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from .booking_request import (
    IDEMPOTENCY_KEY,
    ISO_DATE,
    MAX_NIGHTS,
    nights_of,
    parse_iso_date,
    stay_problem,
    today_utc,
)
from .errors import ApiError, validation_error

NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Free text without control characters (NUL, newlines, escapes ...): a pattern, so the document says it too."""


IsoDate = Annotated[
    date,
    BeforeValidator(parse_iso_date),
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "pattern": ISO_DATE.pattern}),
]
"""A ``YYYY-MM-DD`` string that is a real calendar date (JSON Schema ``format: date``), parsed strictly (no timestamps,
no other formats) into a ``date``."""


class DeferredModel(BaseModel):
    """Base of every model: its validator is built on first use, so a function builds only the models it uses."""

    model_config = ConfigDict(defer_build=True)


class StayMixin(DeferredModel):
    """Check-in/check-out rules shared by search and booking."""

    check_in: IsoDate = Field(
        alias="checkIn",
        description="First night: a calendar date, YYYY-MM-DD, not before today (UTC).",
        examples=["2030-06-01"],
    )
    check_out: IsoDate = Field(
        alias="checkOut",
        description=f"Departure day, YYYY-MM-DD: after checkIn and at most {MAX_NIGHTS} nights after it.",
        examples=["2030-06-04"],
    )

    @model_validator(mode="after")
    def _stay_is_valid(self) -> StayMixin:
        problem = stay_problem(*self.stay)  # the rules the bookings function's cold path applies too
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def stay(self) -> tuple[date, date]:
        """(check-in, check-out) as dates."""
        return self.check_in, self.check_out

    @property
    def nights(self) -> list[date]:
        """Every night of the stay: check-in up to the night before check-out."""
        return nights_of(*self.stay)


class SearchQuery(StayMixin):
    """Query string of ``GET /search``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    destination: str = Field(
        min_length=1,
        max_length=100,
        pattern=NO_CONTROL,
        description="City or region, case-insensitive.",
        examples=["Lisbon"],
    )
    guests: int = Field(default=1, ge=1, le=16, description="Number of guests, 1-16.", examples=[2])
    limit: int = Field(default=20, ge=1, le=100, description="Page size, 1-100.")
    cursor: str | None = Field(default=None, max_length=512, description="Opaque cursor from a previous page.")

    @model_validator(mode="after")
    def _destination_not_blank(self) -> SearchQuery:
        if not self.destination.strip():
            raise ValueError("destination: must not be blank")
        return self


class SearchResult(DeferredModel):
    """One listing available for the whole stay."""

    listingId: str
    name: str
    destination: str
    pricePerNight: int = Field(description="Minor units (cents) per night.")
    totalPrice: int = Field(description="Minor units for the whole stay.")
    currency: str = Field(description="ISO 4217 code.")
    available: int = Field(description="Fewest units left over the nights of the stay.")


class SearchResponse(DeferredModel):
    """Body of a 200 answer to ``GET /search``."""

    results: list[SearchResult]
    count: int
    nextCursor: str | None


class ErrorDetail(DeferredModel):
    """One thing wrong with a request: the field (or ``nights`` for a 409 UNAVAILABLE) and why."""

    field: str
    message: str
    night: str | None = Field(
        default=None,
        description="409 UNAVAILABLE only: a night (YYYY-MM-DD) without a unit left.",
        json_schema_extra={"format": "date"},
    )


class ErrorInfo(DeferredModel):
    """What went wrong."""

    code: str = Field(description="UPPER_SNAKE error code, e.g. VALIDATION_ERROR.")
    message: str
    details: list[ErrorDetail]


class ErrorResponse(DeferredModel):
    """Body of every 4xx/5xx answer."""

    error: ErrorInfo


EMAIL = r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]{2,}$"


class Customer(DeferredModel):
    """Who stays. Stored with the booking; never put in an event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL, examples=["Ana Silva"])
    email: str = Field(max_length=254, pattern=EMAIL, examples=["ana@example.com"])


class BookingRequest(StayMixin):
    """Body of ``POST /bookings``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    listingId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["lis-101"])
    guests: int = Field(ge=1, le=16, description="1-16, and at most the listing's maxGuests (else 400).", examples=[2])
    customer: Customer


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class Booking(DeferredModel):
    """A booking as the API returns it (201, ``GET`` and ``DELETE /bookings/{bookingId}``). No customer data."""

    bookingId: str
    status: str = Field(description="CONFIRMED or CANCELLED")
    listingId: str
    checkIn: str
    checkOut: str
    guests: int
    totalPrice: int = Field(description="Minor units, computed from the listing's price.")
    currency: str
    createdAt: str = Field(description="ISO 8601 UTC.")
    cancelledAt: Annotated[str | None, WithJsonSchema({"type": "string"})] = Field(
        default=None,
        description="ISO 8601 UTC; only on a cancelled booking.",
        json_schema_extra=_no_default,  # absent, never null, in the document
    )


class ListingRecord(DeferredModel):
    """One line of a listing file (JSON Lines), see BRIEF §3."""

    model_config = ConfigDict(extra="forbid")

    listingId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    destination: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL)
    pricePerNight: int = Field(gt=0, lt=10**12)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    maxGuests: int = Field(ge=1, le=16)
    inventory: dict[IsoDate, Annotated[int, Field(ge=0, le=100_000)]]


Model = TypeVar("Model", bound=BaseModel)


def parse_or_400(model: type[Model], data: Any) -> Model:
    """Validate ``data`` against ``model``; on failure raise the contract's 400 naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``[{"field", "message"}]``, using the contract's (camelCase) field names."""
    details: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"])
        if not location and ":" in message:  # model-level rule: "field: message"
            location, message = (part.strip() for part in message.removeprefix("Value error, ").split(":", 1))
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        details.append({"field": location or "body", "message": message.removeprefix("Value error, ")})
    return details


__all__ = [
    "IDEMPOTENCY_KEY",
    "MAX_NIGHTS",
    "ApiError",
    "ErrorResponse",
    "ListingRecord",
    "SearchQuery",
    "SearchResponse",
    "SearchResult",
    "parse_or_400",
    "today_utc",
]
