"""What every example test shares: an example app loaded from its own ``app.py`` (no ``sys.path`` change), given the
context the CDK CLI would give it (its ``cdk.json`` ``context`` and its ``cdk.context.json``), synthesized once per
test module with both cdk-nag packs (AwsSolutions + Serverless) and bundling skipped; and cfn-lint on the template.

An example test checks three things through this module: the app synthesizes, cdk-nag reports no unacknowledged
finding (``Synthesized.nag_findings == []``), cfn-lint is clean (``cfn_lint(...) == ""``); plus the behaviours that
make the example what its README claims."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType
from typing import Any

import aws_cdk as cdk

from test.conftest import ROOT
from test.infrastructure.conftest import Synthesized, cfn_lint, synthesize

__all__ = ["EXAMPLES", "Synthesized", "cfn_lint", "example_context", "load_example", "synthesize_example"]

EXAMPLES = ROOT / "examples"


def load_example(name: str) -> ModuleType:
    """``examples/<name>/app.py`` as a module, loaded from its file."""
    path = EXAMPLES / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_context(name: str) -> dict[str, Any]:
    """The context ``cdk synth`` gives the example: ``cdk.json``'s ``context``, then ``cdk.context.json`` (the
    cached lookups) over it, as the CLI merges them."""
    folder = EXAMPLES / name
    context: dict[str, Any] = dict(json.loads((folder / "cdk.json").read_text()).get("context", {}))
    cached = folder / "cdk.context.json"
    if cached.exists():
        context.update(json.loads(cached.read_text()))
    return context


def synthesize_example(name: str) -> Synthesized:
    """The example's own ``build_app`` on an app with its CLI context, bundling skipped, both nag packs attached.
    Each example app has exactly one stack."""
    build_app = load_example(name).build_app

    def build(app: cdk.App) -> cdk.Stack:
        build_app(app)
        [stack] = [child for child in app.node.children if isinstance(child, cdk.Stack)]
        return stack

    return synthesize(build, context=example_context(name))
