"""``cached-booking-api smoke`` against the local mode (issue 7.12): every step passes on a working API, the exit
code says so, a real booking is read back, CORS is checked, and a broken API fails with a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from cached_booking_api.runtime import config
from cached_booking_api.tools import cli
from test.conftest import listing, stay
from test.local.conftest import KEY, running_local

ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_local(tmp_path_factory.mktemp("smoke"), [listing("lis-1", units=3)],
                       **{config.CORS_ALLOWED_ORIGINS: ORIGIN}) as running:  # fmt: skip
        yield running.url


def test_dry_run_passes_every_step(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_in, _ = stay(7, 2)
    code = cli.main(["smoke", "--url", url, "--api-key", KEY, "--check-in", check_in, "--origin", ORIGIN])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert [line.split()[1] for line in lines[:-1]] == ["api", "search", "book", "read", "cors", "cors"]
    assert all(line.startswith("PASS") for line in lines[:-1]) and " ms " in lines[1]
    assert lines[-1].startswith("6/6 steps passed")


def test_real_booking_is_read_back(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_in, _ = stay(9, 2)
    code = cli.main(["smoke", "--url", url, "--api-key", KEY, "--check-in", check_in, "--listing", "lis-1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS  book" in out and "PASS  read back" in out and "201 booking bk_" in out
    assert "PASS  cancel" in out and "CANCELLED" in out


def test_a_real_booking_run_gives_its_unit_back(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The smoke run cancels what it booked, so running it against production leaves no booking and no unit taken:
    the listing (3 units) can be smoke-booked on the same nights more than 3 times."""
    check_in, _ = stay(11, 2)
    for _ in range(4):
        code = cli.main(["smoke", "--url", url, "--api-key", KEY, "--check-in", check_in, "--listing", "lis-1"])
        out = capsys.readouterr().out
        assert code == 0, out


def test_failures_exit_non_zero(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["smoke", "--url", url, "--api-key", "wrong-key", "--check-in", date.today().isoformat(),
                     "--origin", "https://evil.example.com"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1 and "FAIL  search" in out and "FAIL  cors" in out and "FAILED: " in out
    assert cli.main(["smoke", "--url", "http://127.0.0.1:9", "--api-key", KEY]) == 1  # nothing listens there
    assert "FAIL" in capsys.readouterr().out


def test_api_key_id_that_cannot_be_read_is_a_clear_error(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    code = cli.main(["smoke", "--url", url, "--api-key-id", "abc123", "--region", "us-east-1"])
    assert code == 2 and capsys.readouterr().err.startswith("error: --api-key-id abc123: ")  # no AWS reachable here
