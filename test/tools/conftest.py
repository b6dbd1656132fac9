"""The bundling tests compare the bundled asset with the example's synthesized template."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from test.infrastructure.conftest import Synthesized


@pytest.fixture(scope="session")
def example() -> Synthesized:
    """The booking-platform example, synthesized (imported here so the fast tier never loads aws-cdk-lib)."""
    from test.infrastructure.conftest import VARIANTS, synthesize

    return synthesize(VARIANTS["serverless-valkey"])
