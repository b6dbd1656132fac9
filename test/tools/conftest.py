"""The bundling tests compare the bundled asset with the construct's synthesized template."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from test.infrastructure.conftest import Synthesized


@pytest.fixture(scope="session")
def construct_template() -> Synthesized:
    """The construct with its defaults (the construct tests' ``default`` minimal stack), synthesized with bundling
    skipped (imported here so the fast tier never loads aws-cdk-lib)."""
    from test.infrastructure.conftest import MINIMAL, synthesize

    return synthesize(MINIMAL["default"])
