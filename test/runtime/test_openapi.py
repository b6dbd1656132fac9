"""The committed OpenAPI document is the one the models generate (the construct builds gateway validation from it)."""

from __future__ import annotations

from cached_booking_api.runtime import openapi


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
