"""The circuit breaker on its own, with an injected clock: no Redis, no timing."""

from __future__ import annotations

import pytest

from cached_booking_api.runtime.circuit import CircuitBreaker

pytestmark = pytest.mark.fast


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, opened: list[float] | None = None) -> CircuitBreaker:
    on_open = (lambda: opened.append(clock.now)) if opened is not None else None
    return CircuitBreaker(failure_threshold=3, cooldown_seconds=30, clock=clock, on_open=on_open)


def test_a_closed_circuit_lets_every_call_through() -> None:
    circuit = breaker(Clock())
    assert [circuit.allow() for _ in range(5)] == [True] * 5
    assert not circuit.is_open


def test_it_opens_at_the_threshold_of_consecutive_failures_and_says_so_once() -> None:
    clock, opened = Clock(), []
    circuit = breaker(clock, opened)
    circuit.record_failure()
    circuit.record_failure()
    assert not circuit.is_open and circuit.allow()
    circuit.record_failure()
    assert circuit.is_open and not circuit.allow()
    circuit.record_failure()  # more failures while open do not re-announce
    assert opened == [1000.0]


def test_a_success_resets_the_count_of_failures() -> None:
    circuit = breaker(Clock())
    for _ in range(2):
        circuit.record_failure()
    circuit.record_success()
    for _ in range(2):
        circuit.record_failure()
    assert not circuit.is_open


def test_after_the_cool_down_exactly_one_trial_goes_through() -> None:
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.now += 29.9
    assert not circuit.allow()
    clock.now += 0.1
    assert circuit.allow()  # the half-open trial
    assert not circuit.allow()  # concurrent callers keep skipping while it runs


def test_a_successful_trial_closes_the_circuit() -> None:
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.now += 30
    assert circuit.allow()
    circuit.record_success()
    assert not circuit.is_open
    assert [circuit.allow() for _ in range(3)] == [True] * 3


def test_a_failed_trial_reopens_for_a_whole_new_cool_down() -> None:
    clock, opened = Clock(), []
    circuit = breaker(clock, opened)
    for _ in range(3):
        circuit.record_failure()
    clock.now += 30
    assert circuit.allow()
    circuit.record_failure()
    assert circuit.is_open and opened == [1000.0, 1030.0]
    clock.now += 29
    assert not circuit.allow()
    clock.now += 1
    assert circuit.allow()
