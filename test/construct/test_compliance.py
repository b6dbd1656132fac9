"""cdk-nag (AwsSolutions + Serverless) and cfn-lint on every example variant, and snapshots of each template."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from test.construct.conftest import VARIANTS, Synthesized, cfn_lint


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_unacknowledged_nag_findings(variants: dict[str, Synthesized], variant: str) -> None:
    assert variants[variant].nag_findings == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cfn_lint_is_clean(variants: dict[str, Synthesized], variant: str) -> None:
    assert cfn_lint(variants[variant].template_path) == ""


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_template_snapshot(variants: dict[str, Synthesized], variant: str, json_snapshot: SnapshotAssertion) -> None:
    assert variants[variant].template == json_snapshot
