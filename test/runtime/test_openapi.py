"""The committed OpenAPI document is the one the models generate (the construct builds gateway validation from it)."""

from __future__ import annotations

import json

import pytest

from cached_booking_api.runtime import openapi

pytestmark = pytest.mark.fast


def test_committed_document_matches_the_models() -> None:
    assert openapi.DOCUMENT.read_text(encoding="utf-8") == openapi.render(), (
        "run: python -m cached_booking_api.runtime.openapi"
    )


def test_required_search_parameters_come_from_the_model() -> None:
    parameters = {p["name"]: p["required"] for p in openapi.build_document()["paths"]["/search"]["get"]["parameters"]}
    assert parameters == {
        "destination": True,
        "checkIn": True,
        "checkOut": True,
        "guests": False,
        "limit": False,
        "cursor": False,
    }


def test_the_document_is_valid_openapi() -> None:
    """Issue 8.10: validated by openapi-spec-validator (the 3.0.3 document had ``examples`` in schemas and
    ``type: "null"``, neither of which OpenAPI 3.0 allows)."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    document = json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises on an invalid document
    broken = {**document, "paths": {"/search": {"get": {"responses": {"200": {"content": {}}}}}}}
    with pytest.raises(OpenAPIValidationError):  # the validator does reject: a response needs a description
        validate(broken)


def test_every_operation_declares_the_gateway_answers() -> None:
    """Issue 8.11: API Gateway answers 403 (key) and 429 (usage plan) on every operation, in the error format."""
    document = openapi.build_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in ("403", "429"):
                response = operation["responses"].get(status)
                assert response is not None, f"{method.upper()} {path} lacks {status}"
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }


def test_dates_are_real_calendar_dates_and_the_stay_rules_are_stated() -> None:
    """Issue 8.11: what the server enforces is visible in the document: ``format: date`` (a real calendar date), the
    30-night limit, checkOut after checkIn, guests up to the listing's maxGuests. The example stay is one the server
    accepts (the old one had checkIn = checkOut)."""
    from datetime import date

    document = openapi.build_document()
    parameters = {p["name"]: p for p in document["paths"]["/search"]["get"]["parameters"]}
    request = document["components"]["schemas"]["BookingRequest"]["properties"]
    for schema in (parameters["checkIn"]["schema"], parameters["checkOut"]["schema"], request["checkIn"]):
        assert schema["format"] == "date" and schema["type"] == "string"
    for description in (parameters["checkOut"]["description"], request["checkOut"]["description"]):
        assert "30 nights" in description and "after checkIn" in description
    assert "maxGuests" in request["guests"]["description"]
    for check_in, check_out in (
        (parameters["checkIn"]["schema"]["examples"][0], parameters["checkOut"]["schema"]["examples"][0]),
        (request["checkIn"]["examples"][0], request["checkOut"]["examples"][0]),
    ):
        assert 0 < (date.fromisoformat(check_out) - date.fromisoformat(check_in)).days <= 30
    assert parameters["cursor"]["schema"] == {"maxLength": 512, "title": "Cursor", "type": "string"}


def test_the_409_unavailable_body_matches_the_error_schema() -> None:
    """Issue 8.11: the server's 409 UNAVAILABLE details (one per sold-out night) validate against ErrorResponse."""
    from jsonschema import Draft202012Validator

    from cached_booking_api.runtime.errors import unavailable

    document = openapi.build_document()
    schema = {"$ref": "#/components/schemas/ErrorResponse", "components": document["components"]}
    body = unavailable(["2030-01-02", "2030-01-03"]).body()
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)
    assert [d["night"] for d in body["error"]["details"]] == ["2030-01-02", "2030-01-03"]


def test_free_text_without_control_characters_is_in_the_document_and_enforced() -> None:
    """Issue 8.11 (with 8.9): what the server rejects (control characters in destination, name, e-mail) the document
    says with a pattern, so a schema-valid request is never refused for it."""
    from jsonschema import Draft202012Validator

    from cached_booking_api.runtime.errors import ApiError
    from cached_booking_api.runtime.models import SearchQuery, parse_or_400

    document = openapi.build_document()
    customer = document["components"]["schemas"]["Customer"]["properties"]
    destination = next(p for p in document["paths"]["/search"]["get"]["parameters"] if p["name"] == "destination")
    for schema in (customer["name"], customer["email"], destination["schema"]):
        assert not Draft202012Validator(schema).is_valid("Lis\x00bon@example.com")
    assert Draft202012Validator(destination["schema"]).is_valid("Zürich")
    with pytest.raises(ApiError) as rejected:
        parse_or_400(SearchQuery, {"destination": "Lis\x00bon", "checkIn": "2030-01-01", "checkOut": "2030-01-02"})
    assert rejected.value.details[0]["field"] == "destination"
