"""A small in-process circuit breaker: after repeated failures, skip a dependency for a cool-down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .settings import CircuitBreakerSettings


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; lets one trial call through after ``cooldown_seconds``.

    Thread-safe: concurrent requests in one process (local mode, tests) share one breaker.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = CircuitBreakerSettings.failure_threshold,
        cooldown_seconds: float = CircuitBreakerSettings.cooldown_seconds,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._on_open = on_open
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while calls are being skipped."""
        return self._opened_at is not None

    def allow(self) -> bool:
        """Whether the caller may try the dependency now (closed, or the single half-open trial)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial_running or self._clock() - self._opened_at < self.cooldown_seconds:
                return False
            self._trial_running = True
            return True

    def record_success(self) -> None:
        """The dependency answered: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        """The dependency failed: count it, and open (or re-open) the circuit at the threshold."""
        with self._lock:
            self._failures += 1
            reopened = self._trial_running
            self._trial_running = False
            if reopened or (self._opened_at is None and self._failures >= self.failure_threshold):
                self._opened_at = self._clock()
                opened = True
            else:
                opened = False
        if opened and self._on_open is not None:
            self._on_open()
