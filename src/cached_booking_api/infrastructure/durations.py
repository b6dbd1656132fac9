"""``Duration`` values made once per process.

A ``Duration`` is an immutable value, but each ``Duration.<unit>(n)`` from Python is a round trip to aws-cdk-lib's Node
process: the construct's own durations (timeouts, retentions, periods) come from here, so that each distinct one is
made once however many resources use it. A duration given as a prop is used as it is.
"""

from __future__ import annotations

from functools import cache

from aws_cdk import Duration


@cache
def seconds(amount: float) -> Duration:
    """``Duration.seconds(amount)`` (a number token too: the same token is the same duration)."""
    return Duration.seconds(amount)


@cache
def minutes(amount: int) -> Duration:
    """``Duration.minutes(amount)``."""
    return Duration.minutes(amount)


@cache
def hours(amount: int) -> Duration:
    """``Duration.hours(amount)``."""
    return Duration.hours(amount)


@cache
def days(amount: int) -> Duration:
    """``Duration.days(amount)``."""
    return Duration.days(amount)
