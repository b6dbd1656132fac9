"""What the construct needs to know of the inbound ``inventory.updated`` contract: the detail type, the source rule
and the rule pattern. Standard library only, because the construct imports it and the base package does not install
the handlers' dependencies (pydantic, redis); ``inventory_events`` holds the rest of the contract."""

from __future__ import annotations

from typing import Any

INVENTORY_UPDATED = "inventory.updated"
#: EventBridge's limits on a source (PutEvents): 1-256 characters.
MAX_SOURCE_LENGTH = 256


def inventory_event_pattern(sources: list[str]) -> dict[str, Any]:
    """The EventBridge rule pattern of the inbound consumer: inventory.updated from the allowed sources only (the
    construct's rule and the local mode's use this one definition)."""
    return {"source": list(sources), "detail-type": [INVENTORY_UPDATED]}
