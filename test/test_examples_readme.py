"""The README's "Examples" list and the examples/ folder agree: every example is listed with an absolute link to its
own README (the README is the PyPI page), and every example has the files its README promises."""

from __future__ import annotations

import re

import pytest

from test.conftest import ROOT

EXAMPLES = sorted(path.name for path in (ROOT / "examples").iterdir() if (path / "app.py").exists())
LINK = "https://github.com/cached-booking-api/cached-booking-api/blob/main/examples/{}/README.md"


@pytest.mark.fast
def test_every_example_is_listed_in_the_readme_with_an_absolute_link() -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Examples", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(
        r"\]\(https://github\.com/cached-booking-api/cached-booking-api/blob/main/examples/([^/]+)/", section
    )
    assert sorted(listed) == EXAMPLES
    assert all(LINK.format(name) in section for name in EXAMPLES)


@pytest.mark.fast
@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_has_a_readme_an_app_a_cdk_json_and_a_test(name: str) -> None:
    folder = ROOT / "examples" / name
    assert (folder / "README.md").read_text(encoding="utf-8").startswith("# Example: ")
    assert '"app": "python app.py"' in (folder / "cdk.json").read_text(encoding="utf-8")
    assert (ROOT / "test" / "examples" / f"test_{name}.py").exists()
