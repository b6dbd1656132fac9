"""The bundling tests compare the bundled asset with the example's synthesized template."""

from test.infrastructure.conftest import example, variants  # noqa: F401
