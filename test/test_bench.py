"""The benchmark tooling itself: `make bench` must run on a fresh clone (issue 8.13, 10.6)."""

from __future__ import annotations

import json
import math
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from figures import latency_chart, table  # noqa: E402


def test_chart_is_written_with_the_projects_own_dependencies(tmp_path: Path) -> None:
    """Regression (8.13): the last step of `make bench` imported matplotlib, which the project did not install."""
    path = tmp_path / "latency.png"
    latency_chart({"HIT": [0.3, 0.4, 0.5], "MISS": [5.0, 7.5], "BYPASS": [2.0]}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.fast
def test_figures_table_prints_goal_value_and_baseline_on_every_row() -> None:
    text = table(
        [("cold start ms", "210", "boto3+redis 150", "<= 1.5x (225)"), ("synth s", "2.1", "JS 2.4", "<= 1.0x")]
    )
    header, rule, *rows = text.splitlines()
    assert header.split()[:2] == ["measure", "value"] and header.rstrip().endswith("goal")
    assert set(rule) == {"-"}
    assert rows[0].split("  ")[0] == "cold start ms" and "boto3+redis 150" in rows[0] and rows[0].endswith("(225)")
    assert rows[1].endswith("<= 1.0x")


@pytest.mark.fast
def test_a_row_without_a_goal_is_refused() -> None:
    with pytest.raises(ValueError, match="measure, value, baseline and goal"):
        table([("cold start ms", "210", "boto3+redis 150")])  # type: ignore[list-item]


@pytest.mark.fast
def test_the_hit_ratio_bench_books_through_the_real_stream_consumer_path() -> None:
    """The bench's bookings are the stream records a booking writes (NEW_AND_OLD_IMAGES of each month item, a stay
    over two months is two records): the real ``cache_changes`` turns them into one write-through per month, with the
    booked unit gone from exactly the nights booked."""
    from datetime import date

    from hit_ratio_bench import Event, Table

    from cached_booking_api.runtime import schema
    from cached_booking_api.runtime.invalidation_scopes import cache_changes
    from cached_booking_api.runtime.sellable import decode, month_sellable

    table_ = Table()
    event = Event(0.0, True, "Destination 00", date.today() + timedelta(days=40), 3, 1)
    records = table_.book(event)
    assert 1 <= len(records) <= 2 and len(records) == len(schema.nights_by_month(event.stay))
    writes = cache_changes(records).month_writes
    assert [w.destination_tag for w in writes] == [schema.destination_tag("Destination 00")] * len(records)
    for record, write in zip(records, writes, strict=True):
        new, old = month_sellable(record["dynamodb"]["NewImage"]), month_sellable(record["dynamodb"]["OldImage"])
        assert decode(write.value) == new
        assert {day for day in new if new[day] != old[day]} == {
            n.day for n in event.stay if n.strftime("%Y-%m") == write.month
        }


def test_make_bench_runs_every_part_without_arguments() -> None:
    """Regression: `make bench` calls perf_bench.py without arguments, and argparse refused its own default list."""
    import perf_bench

    assert perf_bench.parse([]).parts == ["cold", "cost", "synth"]
    assert perf_bench.parse(["synth", "--before", "a1a527d"]).before == "a1a527d"
    with pytest.raises(SystemExit):
        perf_bench.parse(["bogus"])


def test_before_after_table_has_before_after_baseline_and_goal_on_every_row() -> None:
    from figures import before_after_table

    text = before_after_table([("cold start search", "1.46x", "1.06x", "2205 ms", "<= 1.5x")])
    header, rule, row = text.splitlines()
    assert header.startswith("goal (issue 10)") and header.endswith("goal") and set(rule) == {"-"}
    assert [word in header for word in ("before", "after", "baseline (same run)")] == [True, True, True]
    assert row.startswith("cold start search") and row.endswith("<= 1.5x") and "1.46x" in row and "1.06x" in row
    with pytest.raises(ValueError, match="measure, before, after, baseline and goal"):
        before_after_table([("cold start", "1.46x", "1.06x", "2205 ms")])  # type: ignore[list-item]


def test_load_bench_compares_the_0_1_0_write_pattern_with_todays_loader(
    dynamodb_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench/load_bench.py (issue 9.2): the 0.1.0 loader writes one item per listing-night in 25-item batches; today's
    loader one listing batch, one read per listing and one conditional put per new listing-month. Counted requests pin
    both patterns."""
    import load_bench

    monkeypatch.setattr(load_bench, "OUT", tmp_path)
    listings, nights = 3, 40
    results = load_bench.main(
        ["--listings", str(listings), "--nights", str(nights), "--endpoint", dynamodb_local.endpoint]
    )
    months = len({(date.today() + timedelta(days=1 + d)).strftime("%Y-%m") for d in range(nights)})
    for kind in ("first", "reload", "reload_changed"):  # 0.1.0: every item again, 25 a request
        assert results[f"before_{kind}"]["requests"] == math.ceil(listings * (1 + nights) / 25)
    # now: the listing items in one batch; per listing one read of its months, then one put per new month ...
    assert results["after_first"]["requests"] == 1 + listings * (1 + months)
    assert results["after_reload"]["requests"] == 1 + listings  # ... nothing for a month that would not change ...
    assert results["after_reload_changed"]["requests"] == 1 + listings * (1 + months)  # ... one update if it would
    assert json.loads((tmp_path / "load.json").read_text())["listings"] == listings
    printed = capsys.readouterr().out
    assert f"first load s, {listings} x {nights} listing-nights" in printed and "0.1.0 loader" in printed


def test_the_0_1_0_loader_of_the_load_bench_writes_the_0_1_0_layout(dynamodb_local: Any, dynamodb: Any) -> None:
    import load_bench

    table = f"old-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(TableName=table, **load_bench.table_definition_0_1_0())
    lines = load_bench.listing_file(2, 10, date.today())
    assert load_bench.load_0_1_0(dynamodb, table, lines) == 2 * 11
    items = dynamodb.scan(TableName=table)["Items"]
    nights = [item for item in items if item["sk"]["S"].startswith("NIGHT#")]
    assert len(nights) == 20 and all(set(item) == {"pk", "sk", "available", "destinationTag"} for item in nights)
    indexes = dynamodb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
    assert [index["IndexName"] for index in indexes] == ["byDestination"]


def test_the_cold_rows_say_whether_the_bookings_cold_start_loaded_pydantic() -> None:
    """Issue 10.1: the bookings function's cold start is Pydantic-free; the bench shows it next to the X-Ray row."""
    import perf_bench

    figures = {"runs": 3, "import_ms": 1.0, "total_ms": 2.0, "import_ratio": 1.0, "total_ratio": 1.0,
               "baseline_import_ms": 1.0, "baseline_total_ms": 2.0, "xray_loaded": False}  # fmt: skip
    results = {"search": {**figures, "pydantic_loaded": True}, "bookings": {**figures, "pydantic_loaded": False}}
    rows = perf_bench.cold_rows({**results, "search_sampled_ms": 3.0})
    [row] = [row for row in rows if "Pydantic" in row[0]]
    assert row == ("    Pydantic loaded, bookings cold start", "False", "-", "False")
    assert "pydantic_loaded" in perf_bench.OURS


def test_the_load_bench_runs_a_past_loader_next_to_todays(
    dynamodb_local: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """``--before REV``: the loader of a git revision runs the same three steps in the same run (its own rows)."""
    import load_bench

    monkeypatch.setattr(load_bench, "OUT", tmp_path)
    past = load_bench.loader_at("HEAD")
    assert past.load_listings is not load_bench.load_listings and past.__name__.startswith("cached_booking_api.runtime")
    results = load_bench.main(["--listings", "2", "--nights", "3", "--endpoint", dynamodb_local.endpoint,
                               "--before", "HEAD"])  # fmt: skip
    assert (
        results["revision"] == "HEAD" and results["revision_reload"]["requests"] == results["after_reload"]["requests"]
    )
    assert any("loader now vs at HEAD" in row[0] for row in load_bench.rows(results))
    with pytest.raises(SystemExit, match="no-such-rev"):
        load_bench.loader_at("no-such-rev")


@pytest.mark.fast
def test_the_synth_rows_say_where_each_sides_time_goes() -> None:
    """Issue 10.3: the synth figure comes with its breakdown (medians per phase, the rest of the wall time as exit)
    and the example's jsii round trips, so what blocks the goal is measured, not guessed."""
    import perf_bench

    runs = [{"import_cdk_s": 0.9 + d, "import_app_s": 0.8, "build_s": 2.0 + d, "synth_s": 5.0,
             "in_process_s": 8.7 + d, "wall_s": 10.5 + 2 * d, "requests": {"start": 17, "build": 540, "synth": 13}}
            for d in (0.0, 0.1, 0.3)]  # fmt: skip
    ours = perf_bench.phase_medians(runs)
    assert ours["build_s"] == 2.1 and ours["exit_s"] == 1.9 and ours["requests"]["build"] == 540
    js = perf_bench.phase_medians([{"node_start_s": 0.05, "require_s": 0.1, "build_s": 1.4, "synth_s": 4.2,
                                    "in_process_s": 5.75, "wall_s": 7.0}])  # fmt: skip
    rows = perf_bench.phase_rows({"example": ours, "js": js})
    assert [row[1] for row in rows] == [
        "1.00 / 0.80 / 2.10 / 5.00 / 1.90",
        "540 / 13",
        "0.05 / 0.10 / 1.40 / 4.20 / 1.25",
    ]
    assert all(row[3] == "context" for row in rows)


@pytest.mark.fast
def test_the_synth_rows_show_each_sides_floor_and_what_1x_leaves_the_example() -> None:
    """Issue 10.3: a one-resource app measures what each side pays before any platform (start, jsii, aws-cdk-lib's
    fixed synth work, exit); the L2 app minus that floor is the platform's own cost, the JS app minus Python's floor
    is the most the example's platform may cost for 1.0x, next to what only including the finished template costs."""
    import perf_bench

    r = {"example_cached_s": 7.4, "js_s": 5.1, "one_resource_python_s": 3.8, "one_resource_js_s": 3.0,
         "bare_python_s": 5.2, "example_no_validation_s": 3.0, "js_no_validation_s": 1.5,
         "no_validation_ratio": 2.0}  # fmt: skip
    rows = perf_bench.floor_rows(r)
    assert [(row[1], row[2]) for row in rows] == [
        ("3.80", "JS 3.00"),
        (
            "3.60",
            "JS 2.10; 1.0x allows the example 1.30; a Python app that only CfnIncludes the finished template 1.40",
        ),
        ("3.00 (2.00x)", "JS L2 app 1.50"),
    ]
    assert all(row[3] == "context" for row in rows)


@pytest.mark.fast
def test_the_hit_ratio_bench_names_the_baseline_it_ran() -> None:
    """``--before REF`` runs REF's own code: the table must name REF, not the default baseline's scheme."""
    from hit_ratio_bench import BASELINE_REF, baseline_label

    assert baseline_label("2f8eac9") == "baseline (2f8eac9)"
    assert BASELINE_REF in baseline_label(BASELINE_REF)
