"""Lambda assets of the handlers, bundled without Docker.

The asset holds ``cached_booking_api/runtime`` (the handler code shipped in this wheel, under an empty package
``__init__``) and the pinned dependencies of ``runtime/requirements.txt``, installed by the local pip for arm64 and
CPython 3.14 from binary wheels only and without byte-compiling, so the bytes do not depend on the machine. A Docker
image is only the fallback when local pip cannot do it. The asset hash is computed from those inputs, so it is stable
across machines and runs, and identical whether or not bundling is skipped.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PACKAGE_DIR = Path(__file__).resolve().parent
RUNTIME_DIR = PACKAGE_DIR / "runtime"
REQUIREMENTS = RUNTIME_DIR / "requirements.txt"
PYTHON_VERSION = "3.14"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PLATFORM = "manylinux2014_aarch64"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")


def pip_command(target: str) -> list[str]:
    """The pip arguments that install the pinned runtime dependencies for the Lambda platform into ``target``."""
    return ["install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-compile", "--only-binary=:all:",
            "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
            "--target", target, "--requirement", str(REQUIREMENTS)]  # fmt: skip


def copy_handler_sources(output_dir: Path) -> None:
    """Copy the runtime package into the asset under a CDK-free ``cached_booking_api`` package."""
    package = output_dir / "cached_booking_api"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Handler code of cached-booking-api (Lambda asset)."""\n')
    shutil.copytree(RUNTIME_DIR, package / "runtime", ignore=_IGNORED, dirs_exist_ok=True)


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """Bundles with the pip of the running Python; returns False (→ Docker) when that fails."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        """Install dependencies and copy the handler sources into ``output_dir``."""
        result = subprocess.run([sys.executable, "-m", "pip", *pip_command(output_dir)], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"cached-booking-api: local pip bundling failed, trying Docker:\n{result.stderr}", file=sys.stderr)
            return False
        for junk in ("bin",):
            shutil.rmtree(Path(output_dir) / junk, ignore_errors=True)
        copy_handler_sources(Path(output_dir))
        return True


@cache
def asset_hash() -> str:
    """A hash of everything that goes into the asset: the pins, the platform and the handler sources."""
    digest = hashlib.sha256(f"{PLATFORM}|{PYTHON_VERSION}\n".encode())
    digest.update(REQUIREMENTS.read_bytes())
    for path in sorted(RUNTIME_DIR.rglob("*.py")):
        digest.update(path.relative_to(RUNTIME_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def handler_code() -> lambda_.Code:
    """The code asset shared by every function of the construct (each picks its handler module)."""
    docker_script = (
        f"pip {' '.join(pip_command('/asset-output'))} && mkdir -p /asset-output/cached_booking_api && "
        "cp -r /asset-input/runtime /asset-output/cached_booking_api/ && "
        "touch /asset-output/cached_booking_api/__init__.py"
    ).replace(str(REQUIREMENTS), "/asset-input/runtime/requirements.txt")
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(),
        exclude=["*", "!runtime", "!runtime/**"],
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            command=["bash", "-c", docker_script],
            local=LocalPipBundling(),
        ),
    )
