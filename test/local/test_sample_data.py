"""Without --data the local mode loads the sample generated at start, and the README's curl lines work on any day."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from test.conftest import ROOT
from test.local.conftest import KEY, Local, running_local


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """The local mode as the command starts it without --data (loading a year of 48 listings takes a while)."""
    with running_local(tmp_path_factory.mktemp("sample"), None) as running:
        data = running.platform.options.data
        yield running
    assert data is not None and not data.exists(), "the generated sample is removed when the platform stops"


def readme_curl_lines() -> list[str]:
    """The curl lines of the README's local-mode section (after `cached-booking-api local --api-key ...`)."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Try it without AWS", 1)[1]
    lines = re.findall(r"^curl .*$", section.split("\n## ", 1)[0], re.M)
    assert len(lines) >= 2, "the README shows a search and a booking"
    return lines


def run_readme_line(line: str, local: Local) -> tuple[int, dict[str, object]]:
    """Run the README's line through bash as a reader would, against this test's server and key."""
    key = re.search(r"x-api-key: ([\w-]+)", line)
    assert key, line
    command = line.replace("http://127.0.0.1:8080", local.url).replace(key.group(1), KEY)
    command = command.replace("curl -s ", "curl -s -w '\\n%{http_code}' ", 1)
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True)
    body, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


def test_the_sample_is_generated_at_start_with_inventory_from_today(local: Local) -> None:
    from cached_booking_api.tools.sample import today

    data = local.platform.options.data
    assert data is not None and data.name == "sample-listings.jsonl" and local.platform.loaded == 48
    first = json.loads(data.read_text(encoding="utf-8").splitlines()[0])
    assert min(first["inventory"]) == today().isoformat()


def test_the_readme_curl_lines_find_and_book_a_stay_from_tomorrow(local: Local) -> None:
    search, booking = readme_curl_lines()[:2]
    assert "$(date -u -d tomorrow +%F)" in search, "dates are computed when the line is run"
    status, body = run_readme_line(search, local)
    assert status == 200 and body["count"] > 0, body
    assert all(result["destination"] == "Lisbon" for result in body["results"])  # type: ignore[union-attr]
    status, body = run_readme_line(booking, local)
    assert status == 201 and body["status"] == "CONFIRMED", body
