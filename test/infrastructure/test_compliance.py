"""cdk-nag (AwsSolutions + Serverless) and cfn-lint on every minimal stack, and snapshots of two templates.

Snapshots kept: ``default`` (the construct as most users deploy it: any change to its template shows in review, as it
will in the users' own snapshot tests) and ``provisioned`` (the other cache path, with resources the default has not:
replication group, subnet group, its security-group rules). The other stacks differ from these by what their own
targeted tests assert (engine and default user; a user's VPC; two instances' names), so a snapshot of each would only
repeat the default's ~140 resources and make every change be reviewed four more times."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from test.infrastructure.conftest import MINIMAL, Stacks, cfn_lint_each

ASSET_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
"""A CDK asset hash (SHA-256 hex): the S3 key ``<hash>.zip`` of a code asset, ``asset.<hash>`` in asset metadata,
image tags; nothing else in these templates is 64 hex digits (construct-path names are shorter)."""


def mask_asset_hashes(template: Any) -> Any:
    """The template with every asset hash replaced by ``<asset-N>``, N counted in order of first appearance.

    Runtime changes alter the Lambda bundle's hash and nothing else in the template; masked, the snapshots change only
    when the infrastructure does. Numbering (rather than one placeholder) keeps the snapshot strict about which
    resources share an asset and which do not.
    """
    seen: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"<asset-{len(seen) + 1}>")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {ASSET_HASH.sub(placeholder, k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return ASSET_HASH.sub(placeholder, value)
        return value

    return walk(template)


def test_mask_asset_hashes_is_stable_and_keeps_which_assets_are_shared() -> None:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    template = {
        "One": {"Code": {"S3Key": f"{a}.zip"}, "Metadata": {"aws:asset:path": f"asset.{a}"}},
        "Two": {"Code": {"S3Key": f"{b}.zip"}},
        "Three": {"Code": {"S3Key": f"{a}.zip"}},
        "Name": "cba-c690e3078754b3903fbf90d463b699967596",
    }
    masked = mask_asset_hashes(template)
    assert masked == {
        "One": {"Code": {"S3Key": "<asset-1>.zip"}, "Metadata": {"aws:asset:path": "asset.<asset-1>"}},
        "Two": {"Code": {"S3Key": "<asset-2>.zip"}},
        "Three": {"Code": {"S3Key": "<asset-1>.zip"}},
        "Name": "cba-c690e3078754b3903fbf90d463b699967596",
    }
    rehashed = {**template, "One": {"Code": {"S3Key": f"{c}.zip"}, "Metadata": {"aws:asset:path": f"asset.{c}"}},
                "Three": {"Code": {"S3Key": f"{c}.zip"}}}  # fmt: skip
    assert mask_asset_hashes(rehashed) == masked  # a new bundle hash: same masked template
    split = {**template, "Three": {"Code": {"S3Key": f"{c}.zip"}}}
    assert mask_asset_hashes(split) != masked  # a function that stops sharing an asset: a real change


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_no_unacknowledged_nag_findings(stacks: Stacks, name: str) -> None:
    assert stacks[name].nag_findings == []


@pytest.fixture(scope="module")
def cfn_lint_findings(stacks: Stacks) -> dict[str, str]:
    """cfn-lint on every minimal stack's template, in one run."""
    paths = {name: synth.template_path for name, synth in stacks.items()}
    found = cfn_lint_each(list(paths.values()))
    return {name: found[path] for name, path in paths.items()}


def test_cfn_lint_each_reports_a_finding_against_its_template_only(tmp_path: Path) -> None:
    """The one cfn-lint run above is not vacuous: a template's finding is reported for it, not for the others."""
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"Nope": 1}}}}))
    good.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}))
    found = cfn_lint_each([bad, good])
    assert "E3002" in found[bad] and found[good] == ""


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_cfn_lint_is_clean(cfn_lint_findings: dict[str, str], name: str) -> None:
    assert cfn_lint_findings[name] == ""


SNAPSHOTS = ("default", "provisioned")


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_template_snapshot(stacks: Stacks, name: str, json_snapshot: SnapshotAssertion) -> None:
    assert mask_asset_hashes(stacks[name].template) == json_snapshot
