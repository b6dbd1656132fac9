"""The fast test tier (`make test-fast`) keeps its promise: a test marked ``fast`` that needs aws-cdk-lib (Node), Redis
or DynamoDB Local (Java) fails there, and files without a fast test are not even imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from cached_booking_api.local.processes import DynamoDBLocal, RedisServer
from test import conftest

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("name", ["aws_cdk", "aws_cdk.aws_s3", "constructs", "jsii", "cdk_nag"])
def test_the_fast_tier_refuses_to_import_cdk(name: str) -> None:
    with pytest.raises(ImportError, match="the fast tier runs without aws-cdk-lib"):
        conftest._NoCdk().find_spec(name, None)


def test_the_fast_tier_lets_everything_else_be_imported() -> None:
    assert conftest._NoCdk().find_spec("pydantic", None) is None  # None: the regular finders decide


@pytest.mark.parametrize("server", [RedisServer, DynamoDBLocal])
def test_the_fast_tier_refuses_to_start_a_test_server(server: type[RedisServer | DynamoDBLocal]) -> None:
    with pytest.raises(RuntimeError, match=f"{server.__name__}: the fast tier runs without Redis and Java"):
        conftest._no_servers(server())


def test_only_files_and_folders_with_a_fast_test_are_collected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, other = tmp_path / "fast", tmp_path / "other"
    fast.mkdir()
    other.mkdir()
    (fast / "test_a.py").write_text("import pytest\n\n@pytest.mark.fast\ndef test_a() -> None: ...\n")
    (other / "test_b.py").write_text("import aws_cdk\n\ndef test_b() -> None: ...\n")
    monkeypatch.setattr(conftest, "FAST_TIER", True)
    ignored = {path.name: conftest.pytest_ignore_collect(path, None) for path in (fast, other, fast / "test_a.py",
                                                                                  other / "test_b.py")}  # type: ignore[arg-type]  # fmt: skip
    assert ignored == {"fast": None, "other": True, "test_a.py": None, "test_b.py": True}
    monkeypatch.setattr(conftest, "FAST_TIER", False)
    assert conftest.pytest_ignore_collect(other, None) is None  # type: ignore[arg-type]


def test_make_test_runs_the_fast_tier_first_and_the_rest_after() -> None:
    makefile = (conftest.ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\ntest: test-fast lint typecheck generated-check unit\n" in makefile
    assert "CBA_TEST_TIER=fast" in makefile and '-m "not fast"' in makefile
