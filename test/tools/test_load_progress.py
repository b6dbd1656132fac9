"""`cached-booking-api load` progress bar (issue 9.2): rate and ETA on a terminal, nothing in piped output or with
--quiet, and the same load without tqdm installed."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from cached_booking_api.tools import cli, progress
from test.conftest import create_table, listing

LISTINGS, NIGHTS = 3, 40
RATE_AND_ETA = re.compile(r"\[\d\d:\d\d<\d\d:\d\d, +[\d.]+k? nights/s\]")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def listing_file(tmp_path: Path) -> Path:
    file = tmp_path / "listings.jsonl"
    file.write_text("".join(json.dumps(listing(f"bar-{i}", nights=NIGHTS)) + "\n" for i in range(LISTINGS)))
    return file


def run_load(
    dynamodb: Any, endpoint: str, file: Path, stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> int:
    monkeypatch.setattr(sys, "stderr", stderr)
    return cli.main(["load", "--table", create_table(dynamodb), "--endpoint-url", endpoint, str(file), *extra])


def test_a_terminal_gets_a_bar_with_rate_and_eta(
    dynamodb_local: Any, dynamodb: Any, listing_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)  # draw even for a load this short
    terminal = Terminal()
    assert run_load(dynamodb, dynamodb_local.endpoint, listing_file, terminal, monkeypatch) == 0
    bar = terminal.getvalue()
    assert bar.startswith("\rloading:") and f"{LISTINGS * NIGHTS}/{LISTINGS * NIGHTS} " in bar, bar
    assert RATE_AND_ETA.search(bar), bar  # [elapsed<remaining, rate]
    out = capsys.readouterr().out
    assert out.startswith(f"loaded {LISTINGS} listings") and "\r" not in out  # the bar never reaches stdout


def test_a_dry_run_on_a_terminal_shows_the_bar_too(
    dynamodb_local: Any, dynamodb: Any, listing_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    terminal = Terminal()
    assert run_load(dynamodb, dynamodb_local.endpoint, listing_file, terminal, monkeypatch, "--dry-run") == 0
    assert terminal.getvalue().startswith("\rchecking:") and RATE_AND_ETA.search(terminal.getvalue())
    assert capsys.readouterr().out.count(": new listing") == LISTINGS


def test_piped_output_carries_no_bar(
    dynamodb_local: Any, dynamodb: Any, listing_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    piped = io.StringIO()  # isatty() is False, as for `load ... 2>log` or a CI job
    assert run_load(dynamodb, dynamodb_local.endpoint, listing_file, piped, monkeypatch) == 0
    assert piped.getvalue() == ""
    out = capsys.readouterr().out
    assert out.startswith(f"loaded {LISTINGS} listings") and "\r" not in out and "nights/s" not in out


def test_quiet_draws_no_bar_and_prints_no_summary_but_still_reports_problems(
    dynamodb_local: Any, dynamodb: Any, listing_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    with listing_file.open("a") as file:
        file.write("{not json\n")
    terminal = Terminal()
    assert run_load(dynamodb, dynamodb_local.endpoint, listing_file, terminal, monkeypatch, "--quiet") == 1
    assert terminal.getvalue() == f"{listing_file}:line {LISTINGS + 1}: not valid JSON (Expecting property name " \
        "enclosed in double quotes at column 2)\n"  # fmt: skip
    assert capsys.readouterr().out == ""


def test_without_tqdm_the_load_runs_the_same_and_says_how_to_get_a_bar(
    dynamodb_local: Any, dynamodb: Any, listing_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError, as when not installed
    terminal = Terminal()
    assert run_load(dynamodb, dynamodb_local.endpoint, listing_file, terminal, monkeypatch) == 0
    assert terminal.getvalue() == progress.INSTALL_HINT + "\n"
    assert capsys.readouterr().out.startswith(f"loaded {LISTINGS} listings")


def test_a_job_shorter_than_the_delay_draws_nothing() -> None:
    terminal = Terminal()
    with progress.progress_bar(10, unit=" nights", description="loading", stream=terminal) as advance:
        assert advance is not None
        advance(10)
    assert terminal.getvalue() == ""


def test_the_loader_reports_every_night_once(dynamodb_local: Any, dynamodb: Any) -> None:
    """The bar's total is the file's nights; the loader advances it by each listing's nights as they finish."""
    from cached_booking_api.runtime.loader import load_listings

    steps: list[int] = []
    lines = [json.dumps(listing(f"steps-{i}", nights=5 + i)) for i in range(4)]
    assert load_listings(dynamodb, create_table(dynamodb), lines, progress=steps.append).ok
    assert sorted(steps) == [5, 6, 7, 8]
