"""The layers of the package, as the tree shows them: infrastructure (CDK constructs), runtime (handler code, no CDK),
local (local mode) and tools (CLI, cost, bundling, sample, smoke), with no two modules sharing a name."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from test.conftest import ROOT

PACKAGE = ROOT / "src" / "cached_booking_api"
LAYERS = ("infrastructure", "runtime", "local", "tools")
CDK_MODULES = ("aws_cdk", "constructs", "jsii", "cdk_nag")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against its package)."""
    package = ["cached_booking_api", *path.parent.relative_to(PACKAGE).parts]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.fast
def test_the_package_is_split_into_its_layers() -> None:
    top = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p.is_dir() and p.name != "__pycache__"))
    assert top == ["__init__.py", *sorted(LAYERS)]


@pytest.mark.fast
def test_no_two_modules_share_a_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        by_name[path.stem].append(str(path.relative_to(PACKAGE)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}


@pytest.mark.fast
def test_runtime_imports_nothing_from_cdk_or_the_other_layers() -> None:
    forbidden = (*CDK_MODULES, *(f"cached_booking_api.{layer}" for layer in LAYERS if layer != "runtime"))
    offending = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path) if m.startswith(forbidden))
        for path in (PACKAGE / "runtime").rglob("*.py")
    }
    assert {k: v for k, v in offending.items() if v} == {}


@pytest.mark.fast
def test_the_package_root_the_runtime_and_the_cli_start_without_cdk() -> None:
    """Imported for real in a fresh interpreter: the public classes are lazy (PEP 562), so nothing loads aws-cdk-lib."""
    runtime = sorted(
        ".".join(("cached_booking_api", *p.relative_to(PACKAGE).with_suffix("").parts))
        for p in (PACKAGE / "runtime").rglob("*.py")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, json, sys\n"
        f"for name in {[*runtime, 'cached_booking_api', 'cached_booking_api.tools.cli']!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {CDK_MODULES!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_the_public_classes_import_from_the_package_root() -> None:
    import cached_booking_api
    from cached_booking_api.infrastructure.construct import CachedSearchApi

    assert cached_booking_api.CachedSearchApi is CachedSearchApi
    for name in cached_booking_api.__all__:
        assert getattr(cached_booking_api, name).__module__.startswith("cached_booking_api.infrastructure.")
