"""The built wheel installs into a fresh venv and synthesizes the README's usage snippet there (bundling included)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_snippet() -> str:
    """The first Python block of the README's Usage section."""
    usage = (ROOT / "README.md").read_text(encoding="utf-8").split("## Usage", 1)[1]
    match = re.search(r"```python\n(.*?)```", usage, re.S)
    assert match, "README has no python block under ## Usage"
    return match.group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    [built] = out.glob("cached_booking_api-*.whl")
    return built


def test_wheel_ships_handlers_data_and_type_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "cached_booking_api/py.typed",
        "cached_booking_api/runtime/handlers/search.py",
        "cached_booking_api/runtime/handlers/forwarder.py",
        "cached_booking_api/runtime/requirements.txt",
        "cached_booking_api/runtime/openapi.json",
        "cached_booking_api/tools/sample.py",
        "cached_booking_api/tools/prices-us-east-1.json",
    ):
        assert required in names, required
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: aws-cdk-lib<3,>=2.269.0" in text and "Requires-Dist: constructs<11,>=10.5.1" in text
    assert "Requires-Python: >=3.11" in text


@pytest.mark.slow
def test_readme_snippet_synthesizes_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    app_file = tmp_path / "app.py"
    app_file.write_text(readme_snippet(), encoding="utf-8")
    outdir = tmp_path / "cdk.out"
    environment = {**os.environ, "CDK_OUTDIR": str(outdir), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(python), str(app_file)], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    template = (outdir / "Booking.template.json").read_text()
    assert "AWS::ElastiCache::ServerlessCache" in template and "AWS::ApiGateway::UsagePlan" in template
    assets = [p for p in outdir.iterdir() if p.is_dir() and (p / "cached_booking_api" / "runtime").is_dir()]
    assert assets, "the handler asset was bundled from the installed wheel"
