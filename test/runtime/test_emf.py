"""The EMF metric level: handlers publish the alarmed metrics always, the detailed ones only when asked (issue 10.2)."""

from __future__ import annotations

import json

import pytest

from cached_booking_api.runtime import emf


def published(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, detailed: str | None) -> set[str]:
    """Metric names in the EMF document a ``leveled_metrics()`` flushes after one alarmed and one detailed metric."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "search")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the test session disables metrics
    if detailed is None:
        monkeypatch.delenv(emf.DETAILED_METRICS_ENV, raising=False)
    else:
        monkeypatch.setenv(emf.DETAILED_METRICS_ENV, detailed)
    metrics = emf.leveled_metrics()
    metrics.clear_metrics()
    capsys.readouterr()
    metrics.add_metric(name="CacheHit", unit="Count", value=1)
    metrics.add_metric(name="SearchRequest", unit="Count", value=1)
    metrics.flush_metrics()
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_only_alarmed_metrics_are_published_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert published(capsys, monkeypatch, None) == {"CacheHit"}
    assert published(capsys, monkeypatch, "false") == {"CacheHit"}


def test_detailed_metrics_publish_everything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert published(capsys, monkeypatch, "true") == {"CacheHit", "SearchRequest"}


def test_an_invocation_without_alarmed_metrics_publishes_nothing_and_does_not_warn(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A booking publishes only detailed metrics: without them its invocation writes no EMF document at all."""
    import warnings

    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv(emf.DETAILED_METRICS_ENV, raising=False)
    metrics = emf.leveled_metrics()
    metrics.clear_metrics()
    capsys.readouterr()
    metrics.add_metric(name="BookingRequest", unit="Count", value=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        emf.leveled_metrics()  # installs its filter again, as a cold start does
        metrics.flush_metrics()
    assert capsys.readouterr().out.strip() == ""
    assert not [w for w in caught if "No application metrics" in str(w.message)]
