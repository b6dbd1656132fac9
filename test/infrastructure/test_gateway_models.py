"""API Gateway's request models are JSON Schema draft 4, built from the OpenAPI 3.1 document (issue 8, item 10)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft4Validator

from test.infrastructure.conftest import Synthesized


@pytest.fixture(scope="module")
def booking_model(default_stack: Synthesized) -> dict[str, Any]:
    models = [m["Properties"] for m in default_stack.resources("AWS::ApiGateway::Model").values()]
    assert len(models) == 1
    schema: dict[str, Any] = models[0]["Schema"]
    return schema


def test_the_booking_model_is_a_valid_draft_4_schema(booking_model: dict[str, Any]) -> None:
    """AWS: "In API Gateway, models are defined using the JSON schema draft 4." ("Data models for REST APIs", API
    Gateway Developer Guide). The model the construct derives from the 3.1 document must itself be draft 4, with
    nothing of 2020-12 in it."""
    assert booking_model["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(booking_model)
    text = repr(booking_model)
    for later_keyword in ("anyOf", "const", "examples", "'null'", "$defs", "prefixItems"):
        assert later_keyword not in text


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"guests": 17}, False),
        ({"checkIn": "1 Dec"}, False),
        ({"listingId": "a b"}, False),
        ({"customer": {"name": "Ana", "email": "not-an-email"}}, False),
        ({"extra": 1}, False),
        ({"customer": {"name": "Ana\x00", "email": "ana@example.com"}}, False),
    ],
)
def test_the_booking_model_validates_like_the_runtime(
    booking_model: dict[str, Any], change: dict[str, Any], valid: bool
) -> None:
    """The gateway accepts what the runtime model accepts and rejects the same shape errors before any Lambda runs."""
    body = {"listingId": "lis-101", "checkIn": "2030-01-01", "checkOut": "2030-01-03", "guests": 2,
            "customer": {"name": "Ana Silva", "email": "ana@example.com"}, **change}  # fmt: skip
    assert Draft4Validator(booking_model).is_valid(body) is valid
