"""Release helpers, run by the GitHub workflows (.projenrc.py writes them) and by `make dist` / `make release-notes`.

    python scripts/release.py version               the package version (its one source: __version__ in __init__.py)
    python scripts/release.py check-tag v0.2.0      fails unless the tag is "v" + the version and CHANGELOG.md has
                                                    a dated section for it
    python scripts/release.py notes v0.2.0          the CHANGELOG.md section of that version (GitHub release notes)
    python scripts/release.py build [--isolation]   sdist into dist/, then the wheel built FROM that sdist
    python scripts/release.py check [VERSION]       twine check --strict + the files each artifact must contain
    python scripts/release.py smoke                 install the wheel with each extra into a clean venv and run the CLI
    python scripts/release.py floors-installed FILE this environment has exactly the versions FILE pins (make floors)

Only the standard library is imported at module level, so the tag check runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "src" / "cached_booking_api" / "__init__.py"
CHANGELOG = ROOT / "CHANGELOG.md"
DIST = ROOT / "dist"
NAME = "cached_booking_api"
EXTRAS = ("", "runtime", "cli", "local")

# Files every artifact must carry (paths inside the package directory, or at the top of the sdist / .dist-info).
PACKAGE_FILES = (
    "__init__.py",
    "py.typed",
    "tools/cli.py",
    "tools/sample.py",
    "infrastructure/construct.py",
    "runtime/handlers/search.py",
    "runtime/handlers/bookings.py",
    "runtime/handlers/forwarder.py",
    "runtime/requirements.txt",
    "runtime/openapi.json",
    "tools/prices-us-east-1.json",
)
LEGAL_FILES = ("LICENSE", "NOTICE")


class ReleaseError(Exception):
    """A release check failed; the message says what to fix."""


def version(init: Path = INIT) -> str:
    """The package version: the `__version__ = "..."` line of the package's __init__.py."""
    match = re.search(r'^__version__ = "([^"]+)"$', init.read_text(encoding="utf-8"), re.M)
    if not match:
        raise ReleaseError(f'{init}: no line `__version__ = "X.Y.Z"`')
    return match.group(1)


def changelog_section(release: str, changelog: Path = CHANGELOG) -> str:
    """The body of the `## [release] - YYYY-MM-DD` section of a Keep a Changelog file."""
    text = changelog.read_text(encoding="utf-8")
    heading = re.compile(rf"^## \[{re.escape(release)}\] - \d{{4}}-\d{{2}}-\d{{2}}[ \t]*$", re.M)
    match = heading.search(text)
    if not match:
        raise ReleaseError(
            f"{changelog.name} has no section '## [{release}] - YYYY-MM-DD': rename '## [Unreleased]' to it "
            f"(python scripts/release.py prepare {release})"
        )
    following = re.compile(r"^## \[", re.M).search(text, match.end())
    body = text[match.end() : following.start() if following else len(text)]
    body = re.split(r"^\[[^\]]+\]: ", body, maxsplit=1, flags=re.M)[0]  # link references at the end of the file
    if not body.strip():
        raise ReleaseError(f"{changelog.name}: the section of {release} is empty")
    return body.strip() + "\n"


def check_tag(tag: str, init: Path = INIT, changelog: Path = CHANGELOG) -> str:
    """Raise unless ``tag`` is "v" + the package version and the changelog has that release; return the version."""
    current = version(init)
    if tag != f"v{current}":
        raise ReleaseError(
            f"tag {tag!r} does not match the package version {current!r} ({init.name}): "
            f"tag v{current}, or bump __version__ first"
        )
    changelog_section(current, changelog)
    return current


def prepare(release: str, day: str, init: Path = INIT, changelog: Path = CHANGELOG) -> None:
    """Set __version__ to ``release`` and turn the changelog's [Unreleased] section into ``[release] - day``."""
    if not re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", release):
        raise ReleaseError(f"not a release version (X.Y.Z): {release!r}")
    text = changelog.read_text(encoding="utf-8")
    if "## [Unreleased]" not in text:
        raise ReleaseError(f"{changelog.name} has no '## [Unreleased]' section")
    text = text.replace("## [Unreleased]", f"## [Unreleased]\n\n## [{release}] - {day}", 1)
    changelog.write_text(text, encoding="utf-8")
    source = init.read_text(encoding="utf-8")
    init.write_text(re.sub(r'^__version__ = "[^"]+"$', f'__version__ = "{release}"', source, flags=re.M), "utf-8")


def floors_installed(constraints: Path) -> list[str]:
    """Each `name==version` of ``constraints`` that this environment does not have installed at that version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from packaging.version import Version

    wrong = []
    for line in constraints.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, wanted = line.split("==")
        try:
            have = installed(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed (want {wanted})")
            continue
        if Version(have) != Version(wanted):
            wrong.append(f"{name}: {have} installed, the floor is {wanted}")
    return wrong


# -- artifacts -----------------------------------------------------------------------------------------------
def build(out: Path = DIST, isolation: bool = True) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from the unpacked sdist (what pip does for an sdist-only install)."""
    shutil.rmtree(out, ignore_errors=True)
    flags = [] if isolation else ["--no-isolation"]
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out), *flags, str(ROOT)], check=True)
    [sdist] = out.glob(f"{NAME}-*.tar.gz")
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(sdist) as archive:
            archive.extractall(unpacked, filter="data")
        [tree] = Path(unpacked).iterdir()
        subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), *flags, str(tree)], check=True)
    [wheel] = out.glob(f"{NAME}-*.whl")
    return sdist, wheel


def artifacts(out: Path = DIST) -> tuple[Path, Path]:
    """The one sdist and the one wheel in ``out``."""
    sdists, wheels = sorted(out.glob(f"{NAME}-*.tar.gz")), sorted(out.glob(f"{NAME}-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise ReleaseError(f"{out}: expected one sdist and one wheel, found {[p.name for p in sdists + wheels]}")
    return sdists[0], wheels[0]


def missing_files(sdist: Path, wheel: Path) -> list[str]:
    """Files an artifact should carry and does not (empty when both are complete)."""
    missing = []
    wheel_names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = next((n.split("/")[0] for n in wheel_names if n.split("/")[0].endswith(".dist-info")), "?")
    for name in PACKAGE_FILES:
        if f"{NAME}/{name}" not in wheel_names:
            missing.append(f"{wheel.name}: {NAME}/{name}")
    for name in LEGAL_FILES:
        if f"{dist_info}/licenses/{name}" not in wheel_names:
            missing.append(f"{wheel.name}: {dist_info}/licenses/{name}")
    with tarfile.open(sdist) as archive:
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in (*LEGAL_FILES, "README.md", "pyproject.toml", *(f"src/{NAME}/{n}" for n in PACKAGE_FILES)):
        if name not in sdist_names:
            missing.append(f"{sdist.name}: {name}")
    return missing


def check(out: Path = DIST, expected_version: str | None = None) -> None:
    """twine check --strict, the artifacts' version, and their contents."""
    sdist, wheel = artifacts(out)
    expected = expected_version or version()
    for artifact in (sdist, wheel):
        if not artifact.name.startswith(f"{NAME}-{expected}"):
            raise ReleaseError(f"{artifact.name} is not version {expected}")
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], check=True)
    missing = missing_files(sdist, wheel)
    if missing:
        raise ReleaseError("missing from the artifacts:\n  " + "\n  ".join(missing))


def smoke(out: Path = DIST, extras: tuple[str, ...] = EXTRAS) -> None:
    """Install the wheel with each extra into a clean venv and run the command line there."""
    _, wheel = artifacts(out)
    with tempfile.TemporaryDirectory() as work:
        for extra in extras:
            env_dir = Path(work) / f"venv-{extra or 'base'}"
            venv.create(env_dir, with_pip=True)
            python, cli = env_dir / "bin" / "python", str(env_dir / "bin" / "cached-booking-api")
            requirement = f"{wheel}[{extra}]" if extra else str(wheel)
            subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
                           check=True)  # fmt: skip
            _expect([cli, "--help"], 0, "sample")
            _expect([cli, "cost"], 0, "total")
            _expect([cli, "sample", "--nights", "2"], 0, '"inventory"')
            missing = str(Path(work) / "missing.jsonl")
            if extra:  # the loader's imports (boto3, pydantic, the runtime) succeed; then the file is checked
                _expect([cli, "load", "--table", "t", missing], 2, "no such file")
            else:
                _expect([cli, "load", "--table", "t", missing], 2, "pip install 'cached-booking-api[runtime]'")
            if extra in ("cli", "local"):  # the load command's progress bar comes with these extras
                _expect([str(python), "-c", "import tqdm; print('tqdm', tqdm.__version__)"], 0, "tqdm")
            if extra == "local":
                with socket.socket() as taken:  # the local mode's imports succeed, then the port is checked
                    taken.bind(("127.0.0.1", 0))
                    taken.listen()
                    _expect([cli, "local", "--port", str(taken.getsockname()[1])], 2, "already in use")
            print(f"smoke: {wheel.name}[{extra}] OK", flush=True)


def _expect(command: list[str], code: int, text: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    if result.returncode != code or text not in output:
        raise ReleaseError(f"{' '.join(command[-4:])}: exit {result.returncode} (want {code}), "
                           f"{text!r} not in:\n{output[-2000:]}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version")
    commands.add_parser("check-tag").add_argument("tag")
    commands.add_parser("notes").add_argument("tag")
    prep = commands.add_parser("prepare")
    prep.add_argument("release")
    prep.add_argument("--date", required=True, help="release date, YYYY-MM-DD")
    build_parser = commands.add_parser("build")
    build_parser.add_argument("--no-isolation", action="store_true", help="use this environment's setuptools")
    build_parser.add_argument("--outdir", type=Path, default=DIST)
    check_parser = commands.add_parser("check")
    check_parser.add_argument("version", nargs="?", help="expected version (default: the package's)")
    check_parser.add_argument("--outdir", type=Path, default=DIST)
    commands.add_parser("smoke")
    commands.add_parser("floors-installed").add_argument("constraints", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "version":
            print(version())
        elif args.command == "check-tag":
            print(f"tag {args.tag} matches version {check_tag(args.tag)}")
        elif args.command == "notes":
            sys.stdout.write(changelog_section(args.tag.removeprefix("v")))
        elif args.command == "prepare":
            prepare(args.release, args.date)
        elif args.command == "build":
            for artifact in build(args.outdir.resolve(), isolation=not args.no_isolation):
                print(artifact)
        elif args.command == "check":
            check(args.outdir.resolve(), expected_version=args.version)
        elif args.command == "smoke":
            smoke()
        elif args.command == "floors-installed":
            wrong = floors_installed(args.constraints)
            if wrong:
                raise ReleaseError("not at the declared floors:\n  " + "\n  ".join(wrong))
            print(f"every floor of {args.constraints} is installed")
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
