"""Synthesize every template a change to the construct's code must leave byte-identical, and compare with a reference.

    python bench/template_identity.py OUT            # write OUT/<name>.template.json for every app below
    python bench/template_identity.py OUT --compare REF   # ... and exit 1 naming each file that differs from REF

What is synthesized (bundling skipped, as the tests do: asset hashes do not depend on bundling): the three example
apps with their CLI context (cdk.json, cdk.context.json), every minimal stack of the construct tests
(test/infrastructure/conftest.py ``MINIMAL``: the defaults and one prop group each) and the regulated stack
(test/infrastructure/test_regulated.py). Used to prove that a change made for synth speed changes no template.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aws_cdk as cdk  # noqa: E402

from test.examples.conftest import example_context, load_example  # noqa: E402
from test.infrastructure.conftest import MINIMAL  # noqa: E402
from test.infrastructure.test_regulated import regulated_stack  # noqa: E402

EXAMPLES = ("booking_platform", "existing_resources", "partner_integration")


def synthesize_all(out: Path) -> list[Path]:
    """Every template, as ``out/<app>.<stack>.template.json``."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def synth(name: str, app: cdk.App) -> None:
        assembly = app.synth()
        for stack in assembly.stacks:
            target = out / f"{name}.{stack.stack_name}.template.json"
            target.write_bytes(Path(assembly.directory, stack.template_file).read_bytes())
            written.append(target)

    def fresh_app(context: dict[str, object] | None = None) -> cdk.App:
        return cdk.App(outdir=tempfile.mkdtemp(prefix="identity-"),
                       context={**(context or {}), "aws:cdk:bundling-stacks": []})  # fmt: skip

    for name in EXAMPLES:
        app = fresh_app(example_context(name))
        load_example(name).build_app(app)
        synth(f"example-{name}", app)
    for name, build in {**MINIMAL, "regulated": regulated_stack}.items():
        app = fresh_app()
        build(app)
        synth(f"stack-{name}", app)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, help="reference directory written by an earlier run")
    args = parser.parse_args()
    written = synthesize_all(args.out)
    print(f"{len(written)} templates in {args.out}")
    if args.compare:
        reference = sorted(p.name for p in args.compare.glob("*.template.json"))
        ours = sorted(p.name for p in written)
        problems = [f"only in {args.compare}: {n}" for n in sorted(set(reference) - set(ours))]
        problems += [f"only in {args.out}: {n}" for n in sorted(set(ours) - set(reference))]
        problems += [f"differs: {n}" for n in sorted(set(reference) & set(ours))
                     if not filecmp.cmp(args.compare / n, args.out / n, shallow=False)]  # fmt: skip
        print("\n".join(problems) or f"all {len(reference)} templates byte-identical to {args.compare}")
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
