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


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, *, executed_only: bool = False, on_import_only: bool = False) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against its package). With
    ``executed_only``, not those under ``if TYPE_CHECKING:`` (never executed); with ``on_import_only``, also not those
    inside functions (executed when the function is called, not when the module is imported)."""
    package = ["cached_booking_api", *path.parent.relative_to(PACKAGE).parts] if path.is_relative_to(PACKAGE) else []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (executed_only or on_import_only) and isinstance(node, ast.If) and _is_type_checking(node.test):
            node.body = []
        if on_import_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
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


#: What ``pip install cached-booking-api`` (no extras) installs for the constructs: aws-cdk-lib (with jsii, its
#: runtime) and constructs. The handler dependencies (redis, pydantic, Powertools, boto3) come with ``[runtime]`` only.
CONSTRUCT_DEPENDENCIES = frozenset({"aws_cdk", "constructs", "jsii"})
RUNTIME_DEPENDENCIES = ("redis", "pydantic", "aws_lambda_powertools", "boto3", "botocore")


def module_file(name: str) -> Path | None:
    """The source file of a ``cached_booking_api`` module (``None`` for a name that is a class or a function)."""
    parts = name.split(".")[1:]
    candidates = [PACKAGE.joinpath(*parts).with_suffix(".py"), PACKAGE.joinpath(*parts, "__init__.py")]
    return next(
        (path for path in candidates if parts and path.is_file()), PACKAGE / "__init__.py" if not parts else None
    )


def reached_by_the_constructs() -> dict[Path, set[str]]:
    """Every package module that importing ``cached_booking_api`` and its ``infrastructure`` package can execute
    (followed through package imports, parent ``__init__`` files included), with the outside modules each imports."""
    todo = [PACKAGE / "__init__.py", *sorted((PACKAGE / "infrastructure").glob("*.py"))]
    reached: dict[Path, set[str]] = {}
    while todo:
        path = todo.pop()
        if path in reached:
            continue
        # the construct modules' own imports all count (a construct method's import breaks synth); a runtime or
        # tools module they reach is imported, not run: its function-level (lazy) imports are the handler's business
        in_constructs = path == PACKAGE / "__init__.py" or path.is_relative_to(PACKAGE / "infrastructure")
        imports = imported_modules(path, executed_only=True, on_import_only=not in_constructs)
        reached[path] = {name for name in imports if name.split(".")[0] != "cached_booking_api"}
        for name in imports:
            if name.startswith("cached_booking_api"):
                file = module_file(name)
                parents = [module_file(".".join(name.split(".")[:i])) for i in range(1, name.count(".") + 1)]
                todo += [f for f in (file, *parents) if f is not None]
    return reached


@pytest.mark.fast
def test_the_constructs_import_only_cdk_and_standard_library_runtime_modules() -> None:
    """``pip install cached-booking-api`` then ``from cached_booking_api import CachedSearchApi`` and ``cdk synth`` must
    work without the ``[runtime]`` extra: the infrastructure layer (and every runtime or tools module it reaches, e.g.
    the settings contract, the metric names, the inventory event pattern) imports only the standard library and
    aws-cdk-lib/constructs. Read statically, so this runs in the fast tier; the wheel test checks the same for real."""
    allowed = set(sys.stdlib_module_names) | CONSTRUCT_DEPENDENCIES
    reached = reached_by_the_constructs()
    offending = {
        str(path.relative_to(PACKAGE)): sorted(name for name in outside if name.split(".")[0] not in allowed)
        for path, outside in reached.items()
    }
    assert {module: names for module, names in offending.items() if names} == {}
    runtime = {str(p.relative_to(PACKAGE)) for p in reached if p.is_relative_to(PACKAGE / "runtime")}
    assert "runtime/settings.py" in runtime and "runtime/metric_names.py" in runtime  # the walk follows the imports
    cdk_free = {
        module: sorted(n for n in reached[PACKAGE / module] if n.split(".")[0] in CONSTRUCT_DEPENDENCIES)
        for module in runtime
    }
    assert {module: names for module, names in cdk_free.items() if names} == {}, "runtime/ imports nothing from CDK"


@pytest.mark.fast
def test_the_layout_walk_finds_a_runtime_dependency_behind_a_runtime_module(tmp_path: Path) -> None:
    """The walk above is not vacuous: a runtime dependency imported by a module it reaches is reported, one under
    ``if TYPE_CHECKING:`` is not."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nimport redis\nif TYPE_CHECKING:\n    import pydantic\n"
        "def later():\n    import aws_lambda_powertools\n",
        encoding="utf-8",
    )
    imports = imported_modules(source, executed_only=True)
    assert {"redis", "aws_lambda_powertools"} <= imports and "pydantic" not in imports
    assert {m for m in RUNTIME_DEPENDENCIES if m in imports} == {"redis", "aws_lambda_powertools"}
    assert {m for m in RUNTIME_DEPENDENCIES if m in imported_modules(source, on_import_only=True)} == {"redis"}
