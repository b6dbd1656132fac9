"""Generates API.md from the source: signatures, docstrings, every prop with type and default, every attribute.

Reads the code with ``ast`` (nothing is imported or synthesized), so the output depends only on the source text.
Run ``make docgen``; CI fails when API.md differs from what this prints.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "cached_booking_api"
OUTPUT = ROOT / "API.md"

SECTIONS = [
    ("infrastructure/construct.py", "CachedSearchApi"),
    ("infrastructure/options.py", "CacheOptions"),
    ("infrastructure/options.py", "ThrottleOptions"),
    ("infrastructure/options.py", "AlarmOptions"),
    ("infrastructure/observability.py", "ObservabilityOptions"),
    ("infrastructure/cache_cluster.py", "Cache"),
]


def _class(module: str, name: str) -> ast.ClassDef:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    [node] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name]
    return node


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _attributes(node: ast.ClassDef) -> list[tuple[str, str, str | None, str]]:
    """(name, type, default, doc) of annotated class-level attributes followed by a docstring."""
    found = []
    body = node.body
    for index, statement in enumerate(body):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            following = body[index + 1] if index + 1 < len(body) else None
            doc = ""
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                doc = str(following.value.value)
            default = ast.unparse(statement.value) if statement.value is not None else None
            found.append((statement.target.id, ast.unparse(statement.annotation), default, doc))
    return found


def _arg_docs(docstring: str) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring, by argument name."""
    match = re.search(r"Args:\n(.*?)(?:\n\s*\n|\Z)", docstring, re.S)
    docs: dict[str, str] = {}
    current = None
    for line in (match.group(1) if match else "").splitlines():
        head = re.match(r"\s{4}(\w+): (.*)", line)
        if head:
            current = head.group(1)
            docs[current] = head.group(2)
        elif current:
            docs[current] += " " + line.strip()
    return docs


def _constructor(node: ast.ClassDef) -> list[str]:
    [init] = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    docs = _arg_docs(ast.get_docstring(init) or "")
    positional = [a.arg for a in init.args.args[1:]]
    lines = [
        "```python",
        f"{node.name}({', '.join(positional)}, *, ...)",
        "```",
        "",
        "| prop | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True):
        type_ = ast.unparse(arg.annotation) if arg.annotation else ""
        shown = f"`{ast.unparse(default)}`" if default is not None else "required"
        lines.append(f"| `{arg.arg}` | `{_one_line(type_)}` | {shown} | {_one_line(docs.get(arg.arg, ''))} |")
    raises = re.search(r"Raises:\n(.*)", ast.get_docstring(init) or "", re.S)
    if raises:
        lines += ["", f"Raises: {_one_line(raises.group(1))}"]
    return lines


def _section(module: str, name: str) -> list[str]:
    node = _class(module, name)
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    lines = [
        f"## `{name}`" + (f" ({bases})" if bases else ""),
        "",
        f"Module `cached_booking_api.{module[:-3].replace('/', '.')}`.",
        "",
    ]
    lines += [textwrap.dedent(ast.get_docstring(node) or ""), ""]
    is_dataclass = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
    if is_dataclass:
        lines += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        for field, type_, default, doc in _attributes(node):
            shown = f"`{default}`" if default is not None else "required"
            lines.append(f"| `{field}` | `{_one_line(type_)}` | {shown} | {_one_line(doc)} |")
        lines.append("")
        return lines
    if any(isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in node.body) and name == "CachedSearchApi":
        lines += ["### Props", ""] + _constructor(node) + [""]
    attributes = _attributes(node)
    properties = [
        n for n in node.body
        if isinstance(n, ast.FunctionDef) and any(ast.unparse(d) == "property" for d in n.decorator_list)
    ]  # fmt: skip
    if attributes or properties:
        lines += ["### Attributes", "", "| attribute | type | description |", "| --- | --- | --- |"]
        for attr, type_, _, doc in attributes:
            lines.append(f"| `{attr}` | `{_one_line(type_)}` | {_one_line(doc)} |")
        for prop in properties:
            type_ = ast.unparse(prop.returns) if prop.returns else ""
            lines.append(f"| `{prop.name}` | `{type_}` | {_one_line(ast.get_docstring(prop) or '')} |")
        lines.append("")
    return lines


def render() -> str:
    """The whole API.md."""
    lines = [
        "# API reference",
        "",
        "<!-- Generated by scripts/docgen.py from the source. Do not edit: run `make docgen`. -->",
        "",
        "```python",
        "from cached_booking_api import CachedSearchApi, CacheOptions, ThrottleOptions, AlarmOptions",
        "```",
        "",
    ]
    for module, name in SECTIONS:
        lines += _section(module, name)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
