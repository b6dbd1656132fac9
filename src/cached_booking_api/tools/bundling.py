"""Lambda assets of the handlers, bundled without Docker.

The asset holds ``cached_booking_api/runtime`` (the handler code shipped in this wheel, under an empty package
``__init__``) and the pinned dependencies of ``runtime/requirements.txt``, installed by the local pip for arm64 and
CPython 3.14 from binary wheels only and without byte-compiling, so the bytes do not depend on the machine. A Docker
image is only the fallback when local pip cannot do it. The asset hash is computed from those inputs, so it is stable
across machines and runs, and identical whether or not bundling is skipped.

A bundle is built once per asset hash and kept outside ``cdk.out`` in ``~/.cache/cached-booking-api/bundles/<hash>``
(``$XDG_CACHE_HOME`` is honoured; ``CACHED_BOOKING_API_BUNDLE_CACHE=<dir>`` moves it, ``=off`` disables it): a second
synth hard-links its files into the asset (copies them across file systems) instead of running pip. The hash covers
the handler sources and the pinned requirements, so any change to either builds a new bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PACKAGE_DIR = Path(__file__).resolve().parent.parent
RUNTIME_DIR = PACKAGE_DIR / "runtime"
REQUIREMENTS = RUNTIME_DIR / "requirements.txt"
PYTHON_VERSION = "3.14"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PLATFORM = "manylinux2014_aarch64"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")
BUNDLE_CACHE_ENV = "CACHED_BOOKING_API_BUNDLE_CACHE"
_COMPLETE = ".complete"


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


def bundle_cache_dir() -> Path | None:
    """Where finished bundles are kept (``None``: caching disabled)."""
    configured = os.environ.get(BUNDLE_CACHE_ENV, "").strip()
    if configured.lower() in {"off", "0", "false", "no"}:
        return None
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "cached-booking-api" / "bundles"


def build_bundle(output_dir: Path) -> bool:
    """Install dependencies and copy the handler sources into ``output_dir``; False when local pip cannot."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", *pip_command(str(output_dir))], capture_output=True, text=True
    )
    if result.returncode != 0:
        print(f"cached-booking-api: local pip bundling failed, trying Docker:\n{result.stderr}", file=sys.stderr)
        return False
    for junk in ("bin",):
        shutil.rmtree(output_dir / junk, ignore_errors=True)
    copy_handler_sources(output_dir)
    return True


def cached_bundle(digest: str) -> Path | None:
    """The finished bundle for ``digest``, built (once) into the cache if needed; ``None`` when it cannot be."""
    root = bundle_cache_dir()
    if root is None:
        return None
    bundle = root / digest
    if (bundle / _COMPLETE).is_file():
        return bundle
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root))
    except OSError:
        return None
    if not build_bundle(staging):
        shutil.rmtree(staging, ignore_errors=True)
        return None
    (staging / _COMPLETE).write_text(digest + "\n")
    try:
        staging.rename(bundle)  # atomic; a concurrent synth that got there first wins
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return bundle if (bundle / _COMPLETE).is_file() else None


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """Bundles with the pip of the running Python, once per asset hash (cached); returns False (→ Docker) when that
    fails."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        """Copy the cached bundle of this asset hash into ``output_dir``, building it first if needed."""
        bundle = cached_bundle(asset_hash())
        if bundle is None:
            return build_bundle(Path(output_dir))
        shutil.copytree(bundle, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(_COMPLETE),
                        copy_function=_link_or_copy)  # fmt: skip
        return True


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a cached file into the asset (no bytes copied: CDK never writes into a staged asset), or copy it when
    the cache is on another file system."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@cache
def asset_hash() -> str:
    """A hash of everything that goes into the asset: the pins, the platform and the handler sources."""
    digest = hashlib.sha256(f"{PLATFORM}|{PYTHON_VERSION}\n".encode())
    digest.update(REQUIREMENTS.read_bytes())
    for path in sorted(RUNTIME_DIR.rglob("*")):  # every file the asset ships (sources, openapi.json)
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
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
