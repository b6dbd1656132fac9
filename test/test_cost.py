"""The cost estimate: its arithmetic on the shipped prices, the idle floor, the comparison, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cached_booking_api import cli, cost


def test_idle_floor_is_only_the_fixed_costs() -> None:
    prices = cost.load_prices()
    idle = cost.estimate(0, 0)
    minimum_cache = 0.1 * prices["elasticache_serverless_valkey_gb_hour"] * cost.HOURS_PER_MONTH
    assert idle.lines["ElastiCache (serverless valkey)"] == pytest.approx(minimum_cache)
    assert idle.lines["API Gateway (REST)"] == 0 and idle.lines["X-Ray"] == 0
    assert 5 < idle.total < 20  # cache minimum, dashboard, alarms, table storage


def test_costs_grow_with_traffic_and_beat_the_nat_design() -> None:
    small, large = cost.estimate(50_000, 1_000), cost.estimate(5_000_000, 100_000)
    assert all(large.lines[name] >= small.lines[name] for name in small.lines)
    assert small.lines["API Gateway (REST)"] == pytest.approx(51_000 * 30 / 1e6 * 3.50)
    nat = cost.nat_design(50_000, 1_000)
    assert nat.total - small.total > 60  # NAT hours and two nodes
    assert cost.estimate(0, 0, cache_mode="provisioned").lines["ElastiCache (provisioned valkey)"] == pytest.approx(
        2 * 0.0256 * 730
    )


def test_cost_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "--searches-per-day", "50000", "--bookings-per-day", "1000"]) == 0
    out = capsys.readouterr().out
    assert "ElastiCache (serverless valkey)" in out and "NAT gateway" in out and "total" in out
    assert "as of 2026-11-01" in out


def test_bad_input_is_refused_with_a_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["cost", "--hit-ratio", "1.5"]) == 2
    assert "--hit-ratio" in capsys.readouterr().err
    partial = tmp_path / "prices.json"
    partial.write_text(json.dumps({"region": "x"}))
    assert cli.main(["cost", "--prices", str(partial)]) == 2
    assert "missing price(s): as_of" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{\n oops")
    assert cli.main(["cost", "--prices", str(broken)]) == 2
    assert "line 2" in capsys.readouterr().err
