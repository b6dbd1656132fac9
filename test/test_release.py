"""The release pipeline, checked offline: the version check the tag job runs, the artifacts' contents and metadata
(twine check --strict), the changelog, the workflows' structure, and the declared floors' constraints file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import release
from test.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_release(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return loaded


def triggers(document: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` block (YAML 1.1 reads the bare key `on` as True)."""
    on: dict[str, Any] = document.get("on", document.get(True))
    return on


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"])


# -- one version source ------------------------------------------------------------------------------------------
@pytest.mark.fast
def test_the_version_has_one_source() -> None:
    """pyproject.toml reads the version from __init__.py; it is typed nowhere else."""
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cached_booking_api.__version__"}
    import cached_booking_api

    assert release.version() == cached_booking_api.__version__
    typed = [
        str(path.relative_to(ROOT))
        for path in [ROOT / ".projenrc.py", ROOT / "pyproject.toml", *(ROOT / "src").rglob("*.py")]
        if re.search(
            rf'^\s*(__version__|VERSION|version)\s*=\s*"{re.escape(release.version())}"', path.read_text(), re.M
        )  # fmt: skip
    ]
    assert typed == ["src/cached_booking_api/__init__.py"]


# -- the tag job's check ---------------------------------------------------------------------------------------------
@pytest.fixture
def project_copy(tmp_path: Path) -> tuple[Path, Path]:
    init, changelog = tmp_path / "__init__.py", tmp_path / "CHANGELOG.md"
    init.write_text('"""x"""\n__version__ = "0.2.0"\n')
    changelog.write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-11-30\n\n### Added\n- the thing\n\n"
        "## [0.1.0] - 2026-01-01\n\n- old\n\n[0.2.0]: https://example.invalid/v0.2.0\n"
    )
    return init, changelog


@pytest.mark.fast
def test_a_tag_equal_to_the_version_passes(project_copy: tuple[Path, Path]) -> None:
    init, changelog = project_copy
    assert release.check_tag("v0.2.0", init, changelog) == "0.2.0"
    assert release.changelog_section("0.2.0", changelog) == "### Added\n- the thing\n"


@pytest.mark.fast
@pytest.mark.parametrize("tag", ["v0.2.1", "0.2.0", "v0.2", "v0.2.0rc1", "release-0.2.0"])
def test_a_tag_other_than_the_version_fails(project_copy: tuple[Path, Path], tag: str) -> None:
    init, changelog = project_copy
    with pytest.raises(release.ReleaseError, match=rf"tag '{re.escape(tag)}' does not match the package version"):
        release.check_tag(tag, init, changelog)


@pytest.mark.fast
def test_a_version_without_a_dated_changelog_section_fails(project_copy: tuple[Path, Path]) -> None:
    init, changelog = project_copy
    init.write_text('__version__ = "0.3.0"\n')
    with pytest.raises(release.ReleaseError, match=r"no section '## \[0.3.0\] - YYYY-MM-DD'"):
        release.check_tag("v0.3.0", init, changelog)


def test_the_tag_check_command_exits_non_zero_on_a_mismatch() -> None:
    """What the release workflow's first job runs, against this repository's real version."""
    current = release.version()
    wrong = run_release("check-tag", f"v{current}.1")
    assert wrong.returncode == 1 and "does not match the package version" in wrong.stderr
    right = run_release("check-tag", f"v{current}")
    # the tag matches; whether it passes depends only on the changelog having the release's section
    assert "does not match" not in right.stderr
    assert right.returncode == 0 or f"no section '## [{current}]" in right.stderr


@pytest.mark.fast
def test_prepare_bumps_the_version_and_dates_the_unreleased_section(tmp_path: Path) -> None:
    init, changelog = tmp_path / "__init__.py", tmp_path / "CHANGELOG.md"
    init.write_text('__all__ = []\n__version__ = "0.1.0"\n')
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n### Added\n- everything\n")
    release.prepare("0.2.0", "2026-11-30", init, changelog)
    assert '__version__ = "0.2.0"' in init.read_text()
    assert release.check_tag("v0.2.0", init, changelog) == "0.2.0"
    assert release.changelog_section("0.2.0", changelog) == "### Added\n- everything\n"
    assert changelog.read_text().index("## [Unreleased]") < changelog.read_text().index("## [0.2.0] - 2026-11-30")
    with pytest.raises(release.ReleaseError, match="not a release version"):
        release.prepare("0.2", "2026-11-30", init, changelog)


# -- the changelog ---------------------------------------------------------------------------------------------------
@pytest.mark.fast
def test_the_changelog_follows_keep_a_changelog_and_states_the_tested_cdk_range() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "https://keepachangelog.com/" in text and "## [Unreleased]" in text
    for heading in re.findall(r"^## (.+)$", text, re.M):
        assert heading == "[Unreleased]" or re.fullmatch(r"\[\d+\.\d+\.\d+\S*\] - \d{4}-\d{2}-\d{2}", heading), heading
    floor = re.search(r"aws-cdk-lib>=([\d.]+)", " ".join(PYPROJECT["project"]["dependencies"]))
    assert floor
    newest_section = text.split("## [", 2)[1]
    assert re.search(rf"aws-cdk-lib {re.escape(floor.group(1))} \(floor\) to \d+\.\d+\.\d+", newest_section)


# -- packaging metadata ----------------------------------------------------------------------------------------------
@pytest.mark.fast
def test_the_metadata_pypi_shows() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE", "NOTICE"]
    assert not any(c.startswith("License ::") for c in project["classifiers"]), "PEP 639: expression, no classifier"
    floor = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    assert int(re.search(r">=(\d+)", floor).group(1)) >= 77, "license expressions need setuptools >= 77"  # type: ignore[union-attr]
    assert (ROOT / "LICENSE").read_text().count("Apache License") >= 1 and "END OF TERMS AND CONDITIONS" in (
        ROOT / "LICENSE"
    ).read_text()
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(project["urls"])
    assert project["authors"] and len(project["keywords"]) >= 5
    minimum = tuple(int(n) for n in project["requires-python"].removeprefix(">=").split("."))
    pythons = [c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.fullmatch(r".*:: Python :: 3\.\d+", c)]
    assert pythons and tuple(int(n) for n in pythons[0].split(".")) == minimum
    ci = workflow("ci.yml")["jobs"]["package"]["strategy"]["matrix"]["python"]
    assert ci == pythons, "every classified Python is installed and smoke-tested in CI"


@pytest.mark.fast
def test_the_readme_is_a_pypi_page() -> None:
    """PyPI renders the README without the repository: every link is absolute."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = [target for target in re.findall(r"\]\(([^)]+)\)", text) if not target.startswith(("https://", "#"))]
    assert relative == []
    assert "not on Construct Hub" in " ".join(text.split()) and "pip install 'cached-booking-api[local]'" in text


# -- the artifacts (built offline with this venv's setuptools) -------------------------------------------------------
@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = run_release("build", "--no-isolation", "--outdir", str(out))
    assert built.returncode == 0, built.stderr[-3000:]
    return out


def test_the_wheel_is_built_from_the_sdist_and_passes_twine_check_strict(dist: Path) -> None:
    sdist, wheel = release.artifacts(dist)
    version = release.version()
    assert sdist.name == f"cached_booking_api-{version}.tar.gz" and wheel.name.startswith(
        f"cached_booking_api-{version}-"
    )
    release.check(dist)  # twine check --strict + LICENSE, NOTICE, handler sources, data in both
    metadata = zipfile.ZipFile(wheel).read(f"cached_booking_api-{version}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata and "License-File: NOTICE" in metadata
    assert (
        "Project-URL: Changelog, https://" in metadata
        and "Classifier: Programming Language :: Python :: 3.14" in metadata
    )
    assert "Provides-Extra: local" in metadata and "Provides-Extra: runtime" in metadata


def test_an_artifact_without_license_or_handlers_is_reported(dist: Path, tmp_path: Path) -> None:
    sdist, wheel = release.artifacts(dist)
    stripped = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith(("/licenses/NOTICE", "handlers/search.py")):
                target.writestr(item, source.read(item))
    missing = release.missing_files(sdist, stripped)
    assert f"{wheel.name}: cached_booking_api/runtime/handlers/search.py" in missing
    assert any(m.endswith("/licenses/NOTICE") for m in missing)


def test_twine_check_strict_fails_on_a_broken_description(dist: Path, tmp_path: Path) -> None:
    """The check is real: a wheel whose README-based description says it is rST but is not, fails --strict."""
    _, wheel = release.artifacts(dist)
    broken = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("/METADATA"):
                data = data.replace(b"Description-Content-Type: text/markdown", b"Description-Content-Type: text/x-rst")
                data += b"\n\n`broken rst <\n"
            target.writestr(item, data)
    result = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(broken)], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode != 0


def test_the_sdist_carries_what_a_rebuild_needs(dist: Path) -> None:
    sdist, _ = release.artifacts(dist)
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "NOTICE", "README.md", "pyproject.toml", "src/cached_booking_api/runtime/openapi.json"} <= names
    assert not any(name.startswith((".venv", "node_modules", "cdk.out")) for name in names)


# -- the workflows (they cannot run here: their structure is checked) ----------------------------------------------
@pytest.mark.fast
def test_the_release_workflow_checks_the_tag_before_publishing_with_trusted_publishing() -> None:
    document = workflow("release.yml")
    assert triggers(document) == {"push": {"tags": ["v*"]}}
    assert document["permissions"] == {"contents": "read"}, "no write or id-token permission at the workflow level"
    jobs = document["jobs"]
    assert 'release.py check-tag "$GITHUB_REF_NAME"' in steps_text(jobs["check"])
    assert "check" in jobs["build"]["needs"]
    publish = jobs["publish"]
    assert {"check", "build"} <= set(publish["needs"])
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    assert [s["uses"] for s in publish["steps"] if s.get("uses", "").startswith("pypa/")] == [
        "pypa/gh-action-pypi-publish@release/v1"
    ]
    assert "password" not in str(publish) and "secrets." not in str(publish), "trusted publishing: no token"
    build = steps_text(jobs["build"])
    assert build.index("release.py build") < build.index("release.py check") < build.index("upload-artifact")
    github_release = jobs["github-release"]
    assert github_release["needs"] == ["publish"] and github_release["permissions"] == {"contents": "write"}
    text = steps_text(github_release)
    assert 'release.py notes "$GITHUB_REF_NAME"' in text and "gh release create" in text and "--notes-file" in text


@pytest.mark.fast
def test_the_pull_request_workflow_runs_the_suite_the_package_checks_and_the_floors() -> None:
    document = workflow("ci.yml")
    assert "pull_request" in triggers(document)
    jobs = document["jobs"]
    assert ".ci/run" in steps_text(jobs["test"])
    package = steps_text(jobs["package"])
    assert package.index("release.py build") < package.index("release.py check") < package.index("release.py smoke")
    assert "make floors" in steps_text(jobs["floors"])
    assert sum(job["timeout-minutes"] for job in jobs.values() if "strategy" not in job) <= 90 + 30


def test_every_release_command_a_workflow_or_the_makefile_runs_exists() -> None:
    texts = [p.read_text() for p in WORKFLOWS.glob("*.yml")] + [(ROOT / "Makefile").read_text()]
    used = {m for text in texts for m in re.findall(r"release\.py ([a-z-]+)", text)}
    assert used >= {"check-tag", "build", "check", "smoke", "notes", "floors-installed"}
    for command in used:
        assert run_release(command, "--help").returncode == 0, command


@pytest.mark.fast
def test_dependabot_updates_every_pinned_ecosystem() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    assert {u["package-ecosystem"] for u in config["updates"]} == {"pip", "npm", "github-actions"}


# -- the floors ------------------------------------------------------------------------------------------------------
@pytest.mark.fast
def test_the_floor_constraints_pin_every_declared_lower_bound() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / ".ci" / "floors-constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    project = PYPROJECT["project"]
    declared = [*project["dependencies"], *(d for deps in project["optional-dependencies"].values() for d in deps)]
    declared += PYPROJECT["build-system"]["requires"]
    for requirement in declared:
        name = re.split(r"[\[<>=, ]", requirement, maxsplit=1)[0]
        lower = re.search(r">=\s*([^,\s]+)", requirement)
        assert lower, f"{requirement} declares no lower bound"
        assert pins.get(name) == lower.group(1), requirement


@pytest.mark.fast
def test_floors_installed_reports_a_version_other_than_the_floor(tmp_path: Path) -> None:
    import pytest as installed_pytest

    constraints = tmp_path / "c.txt"
    constraints.write_text(f"# x\npytest=={installed_pytest.__version__}\npyyaml==1.0\nnot-a-package-xyz==1.0\n")
    wrong = release.floors_installed(constraints)
    assert len(wrong) == 2 and wrong[0].startswith("pyyaml: ") and "not installed" in wrong[1]
    assert shutil.which("make")


@pytest.mark.fast
def test_sync_pins_ports_dependabot_bumps_into_projenrc(tmp_path: Path) -> None:
    """Dependabot edits generated files; sync_pins copies each bump into .projenrc.py so projen regenerates the same."""
    from scripts import sync_pins

    assert sync_pins.generated_pins(ROOT), "the generated files carry pins"
    for name in (".projenrc.py", "requirements-dev.txt", "package.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    for path in WORKFLOWS.glob("*.yml"):
        shutil.copy(path, tmp_path / ".github" / "workflows" / path.name)
    requirements = tmp_path / "requirements-dev.txt"
    twine = re.search(r"^twine==(\S+)$", requirements.read_text(), re.M)
    checkout = re.search(r"actions/checkout@(\S+)", (WORKFLOWS / "ci.yml").read_text())
    assert twine and checkout
    requirements.write_text(requirements.read_text().replace(f"twine=={twine.group(1)}", "twine==99.1.0"))
    package = tmp_path / "package.json"
    package.write_text(re.sub(r'"aws-cdk": "[^"]+"', '"aws-cdk": "2.9999.0"', package.read_text()))
    ci = tmp_path / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text().replace(f"actions/checkout@{checkout.group(1)}", "actions/checkout@v99"))
    changes = sync_pins.sync(tmp_path)
    assert f'"twine=={twine.group(1)}" -> "twine==99.1.0"' in changes and '"aws-cdk": "2.9999.0"' in " ".join(changes)
    assert f'"actions/checkout@{checkout.group(1)}" -> "actions/checkout@v99"' in changes
    projenrc = (tmp_path / ".projenrc.py").read_text()
    assert '"twine==99.1.0"' in projenrc and '"actions/checkout@v99"' in projenrc
    assert '"aws-cdk": "2.9999.0"' in projenrc
