"""Port the version bumps Dependabot makes in generated files back into .projenrc.py.

Dependabot edits requirements-dev.txt, package.json and .github/workflows/*.yml, which projen generates from
.projenrc.py; the generated-files check then fails until .projenrc.py says the same. This script copies each pinned
version found in those files into the matching literal of .projenrc.py (`"name==X"`, `"name": "X"`,
`"owner/action@X"`); run projen afterwards (the `dependabot-projen` workflow does both on Dependabot's pull requests).

    python scripts/sync_pins.py          prints what it changed; exit 0
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generated_pins(root: Path = ROOT) -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the literal in .projenrc.py, its replacement) for every pin in the generated files."""
    rules: list[tuple[re.Pattern[str], str]] = []
    requirements = root / "requirements-dev.txt"
    if requirements.is_file():
        for line in requirements.read_text(encoding="utf-8").splitlines():
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.strip())
            if match:
                name, extras, version = match.group(1), match.group(2) or "", match.group(3)
                rules.append((re.compile(rf'"{re.escape(name + extras)}==[^"]+"'), f'"{name}{extras}=={version}"'))
    package = root / "package.json"
    if package.is_file():
        for name, version in json.loads(package.read_text(encoding="utf-8")).get("devDependencies", {}).items():
            rules.append((re.compile(rf'"{re.escape(name)}": "[^"]+"'), f'"{name}": "{version}"'))
    for workflow in sorted((root / ".github" / "workflows").glob("*.yml")):
        for action, ref in re.findall(r"uses:\s*([\w.-]+/[\w./-]+)@(\S+)", workflow.read_text(encoding="utf-8")):
            rules.append((re.compile(rf'"{re.escape(action)}@[^"]+"'), f'"{action}@{ref}"'))
    return rules


def sync(root: Path = ROOT) -> list[str]:
    """Rewrite .projenrc.py so its pins equal the generated files'; returns the literals that changed.

    A literal may appear in several generated files (an action in two workflows); Dependabot may have bumped only one,
    so the value that differs from .projenrc.py wins."""
    projenrc = root / ".projenrc.py"
    text = original = projenrc.read_text(encoding="utf-8")
    wanted: dict[str, tuple[re.Pattern[str], list[str]]] = {}
    for pattern, replacement in generated_pins(root):
        wanted.setdefault(pattern.pattern, (pattern, []))[1].append(replacement)
    changed = []
    for pattern, replacements in wanted.values():
        new = [r for r in replacements if r not in original] or replacements
        for match in sorted(set(pattern.findall(text))):
            if match != new[0]:
                changed.append(f"{match} -> {new[0]}")
        text = pattern.sub(new[0], text)
    if text != original:
        projenrc.write_text(text, encoding="utf-8")
    return sorted(changed)


def main() -> int:
    """Entry point."""
    for change in sync():
        print(change)
    return 0


if __name__ == "__main__":
    sys.exit(main())
