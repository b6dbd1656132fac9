"""Every EMF metric a handler emits is named by a ``runtime.metric_names`` constant, emitted by the function
``EMITTED_BY`` says (the construct's alarms and ``metric_*()`` helpers rely on both). Fast tier: reads the sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cached_booking_api.runtime import metric_names
from cached_booking_api.runtime.handlers import search

pytestmark = pytest.mark.fast

HANDLERS = Path(search.__file__).parent


def emitted() -> dict[str, set[str]]:
    """Handler module → the metric_names constants its ``add_metric`` calls use (or the mapping feeding them)."""
    found: dict[str, set[str]] = {}
    for path in sorted(HANDLERS.glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name":
                        assert not isinstance(keyword.value, ast.Constant), f"{path.name}: literal metric name"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "metric_names":
                names.add(getattr(metric_names, node.attr))
        if names:
            found[path.stem] = names
    return found


def test_handlers_name_their_metrics_with_the_shared_constants() -> None:
    found = emitted()
    assert found["search"] >= {metric_names.CACHE_HIT, metric_names.CIRCUIT_OPEN, metric_names.SEARCH_LATENCY}
    assert metric_names.BOOKING_CONFIRMED in found["bookings"]


def test_each_metric_is_emitted_by_the_function_the_construct_watches() -> None:
    found = emitted()
    for module, names in found.items():
        for name in names:
            assert metric_names.EMITTED_BY[name] == module, name
    assert set(metric_names.EMITTED_BY) == set().union(*found.values())  # no constant that nothing emits
