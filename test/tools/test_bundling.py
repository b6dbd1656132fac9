"""The Lambda asset, bundled for real with local pip (no Docker): contents, size, and a machine-independent hash."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest

from cached_booking_api import CachedSearchApi
from cached_booking_api.tools import bundling
from test.infrastructure.conftest import Synthesized

MAX_ASSET_BYTES = 15 * 1024 * 1024


def search_code_key(template: dict[str, object]) -> str:
    """The S3 key of the search function's code asset."""
    resources = template["Resources"]  # type: ignore[index]
    [key] = [
        r["Properties"]["Code"]["S3Key"]
        for r in resources.values()  # type: ignore[union-attr]
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler", "").endswith("search.handler")
    ]
    return str(key)


@pytest.fixture(scope="module")
def bundled_asset() -> Path:
    """Synthesize one stack with bundling on and return the bundled asset folder."""
    outdir = tempfile.mkdtemp(prefix="cdk-bundle-")
    app = cdk.App(outdir=outdir)
    CachedSearchApi(cdk.Stack(app, "Bundled"), "Api", api_cloud_watch_role=False)
    app.synth()
    template = json.loads((Path(outdir) / "Bundled.template.json").read_text())
    asset = Path(outdir) / f"asset.{search_code_key(template).removesuffix('.zip')}"
    assert asset.is_dir(), sorted(p.name for p in Path(outdir).iterdir())
    return asset


def test_asset_holds_the_handlers_and_their_pinned_dependencies(bundled_asset: Path) -> None:
    package = bundled_asset / "cached_booking_api"
    assert (package / "runtime" / "handlers" / "search.py").is_file()
    assert (package / "runtime" / "handlers" / "forwarder.py").is_file()
    assert "aws_cdk" not in (package / "__init__.py").read_text()
    for dependency in ("aws_lambda_powertools", "pydantic", "pydantic_core", "redis", "aws_xray_sdk", "fastjsonschema"):
        assert (bundled_asset / dependency).is_dir(), dependency
    [core] = list((bundled_asset / "pydantic_core").glob("*.so"))
    assert "cpython-314-aarch64-linux-gnu" in core.name, "built for the Lambda platform, not this machine"
    assert not list(bundled_asset.rglob("__pycache__")), "--no-compile keeps the bytes reproducible"
    assert not (bundled_asset / "boto3").exists(), "the Lambda runtime provides boto3"


def test_asset_size_is_within_budget(bundled_asset: Path) -> None:
    size = sum(p.stat().st_size for p in bundled_asset.rglob("*") if p.is_file())
    assert size <= MAX_ASSET_BYTES, f"{size / 2**20:.1f} MiB"


def test_asset_hash_is_the_same_bundled_or_not(bundled_asset: Path, construct_template: Synthesized) -> None:
    """The hash comes from the pins and sources, not from the bundle's bytes: the snapshot tests (bundling
    skipped) and a real synth on any machine agree."""
    assert f"asset.{search_code_key(construct_template.template).removesuffix('.zip')}" == bundled_asset.name


def test_handler_sources_ship_inside_the_wheel_package_data() -> None:
    runtime = Path(bundling.RUNTIME_DIR)
    assert (runtime / "requirements.txt").is_file() and (runtime / "openapi.json").is_file()


def test_bundled_asset_imports_its_handlers_without_cdk(bundled_asset: Path, tmp_path: Path) -> None:
    """The asset's handler modules import with only the asset on the path (pure-Python parts; arm64 wheels aside)."""
    archive = tmp_path / "asset.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (bundled_asset / "cached_booking_api").rglob("*.py"):
            zf.write(path, path.relative_to(bundled_asset))
    import subprocess
    import sys

    imports = "import sys, cached_booking_api.runtime.schema as schema"
    code = f"{imports}; assert 'aws_cdk' not in sys.modules; print(schema.PARTITION_KEY)"
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(archive)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pk"


def test_a_second_bundle_of_the_same_hash_is_copied_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bundle once per content hash: the cache outside cdk.out serves a second synth without running pip."""
    monkeypatch.setenv(bundling.BUNDLE_CACHE_ENV, str(tmp_path / "cache"))
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    assert bundling.LocalPipBundling().try_bundle(str(first), image=None)  # type: ignore[arg-type]
    assert (tmp_path / "cache" / bundling.asset_hash() / ".complete").is_file()

    def no_pip(output_dir: Path) -> bool:
        raise AssertionError("pip ran for a hash that is already bundled")

    monkeypatch.setattr(bundling, "build_bundle", no_pip)
    assert bundling.LocalPipBundling().try_bundle(str(second), image=None)  # type: ignore[arg-type]
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert Path("pydantic_core") in {f.parents[-2] for f in files if len(f.parts) > 1}
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files if f.suffix == ".py")
    cached = tmp_path / "cache" / bundling.asset_hash()
    assert all((second / f).stat().st_ino == (cached / f).stat().st_ino for f in files), "hard links, not copies"


def test_a_cache_on_another_file_system_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hard links cannot cross file systems: then the bundle's files are copied."""
    import os

    def cross_device(source: str, target: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    source, target = tmp_path / "a.py", tmp_path / "b.py"
    source.write_text("x = 1\n")
    bundling._link_or_copy(str(source), str(target))
    assert target.read_text() == "x = 1\n" and target.stat().st_ino != source.stat().st_ino


def test_the_bundle_hash_changes_with_any_handler_file_or_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    runtime = tmp_path / "runtime"
    shutil.copytree(bundling.RUNTIME_DIR, runtime, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(bundling, "RUNTIME_DIR", runtime)
    monkeypatch.setattr(bundling, "REQUIREMENTS", runtime / "requirements.txt")
    seen = set()
    for change in (None, "handlers/search.py", "openapi.json", "requirements.txt"):
        if change:
            with (runtime / change).open("a") as file:
                file.write("\n")
        bundling.asset_hash.cache_clear()
        seen.add(bundling.asset_hash())
    bundling.asset_hash.cache_clear()
    assert len(seen) == 4


def test_the_bundle_cache_can_be_moved_or_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bundling.BUNDLE_CACHE_ENV, "off")
    assert bundling.bundle_cache_dir() is None
    monkeypatch.delenv(bundling.BUNDLE_CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert bundling.bundle_cache_dir() == tmp_path / "cached-booking-api" / "bundles"
