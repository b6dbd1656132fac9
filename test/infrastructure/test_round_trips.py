"""Fewer round trips to aws-cdk-lib's Node process while a synth builds (issue 10.3): what the construct already knows
in Python is not asked of aws-cdk-lib, and a module asks nothing at import that a synth does not need. Every template
stays byte-identical (``bench/template_identity.py`` compares all of them with a reference run)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import aws_cdk as cdk
from aws_cdk import Duration

from cached_booking_api.infrastructure import durations, monitoring


def test_the_alarm_defaults_known_in_python_are_what_aws_cdk_lib_says() -> None:
    """The default thresholds and the iterator-age text are written in Python (no Duration, no round trip); they are
    what ``Duration`` answers for the documented defaults (2 seconds, 1 minute), so the alarms do not change."""
    age = Duration.minutes(1)
    assert (Duration.seconds(2).to_milliseconds(), age.to_milliseconds(), age.to_human_string()) == (
        monitoring.API_P99_LATENCY_MS,
        monitoring.INVALIDATION_ITERATOR_AGE_MS,
        monitoring.INVALIDATION_ITERATOR_AGE_TEXT,
    )


def test_each_duration_of_the_construct_is_made_once_and_is_the_duration_asked_for() -> None:
    assert durations.days(30) is durations.days(30) and durations.days(30).to_days() == 30
    assert durations.hours(6).to_minutes() == 360 and durations.minutes(5).to_seconds() == 300
    assert durations.seconds(10) is durations.seconds(10) and durations.seconds(10).to_seconds() == 10
    token = cdk.CfnParameter(cdk.Stack(cdk.App(), "Durations"), "Timeout", type="Number").value_as_number
    assert durations.seconds(token) is durations.seconds(token)
    assert cdk.Token.is_unresolved(durations.seconds(token).to_seconds())


def test_importing_the_construct_asks_aws_cdk_lib_nothing_for_the_regulated_profile() -> None:
    """Regression: regulated.py made a Duration (unused) and read three ``Aws`` tokens at import, four round trips in
    every synth, also without ``regulated=True``. Counted in a fresh process, from the first request after
    ``import aws_cdk``."""
    script = textwrap.dedent(
        """
        import json, traceback
        import aws_cdk
        from jsii._kernel.providers import process
        send, asked = process._NodeProcess.send, []
        def counting(self, request, *args, **kwargs):
            frames = [f.filename for f in traceback.extract_stack()]
            asked.append(any(name.endswith("infrastructure/regulated.py") for name in frames))
            return send(self, request, *args, **kwargs)
        process._NodeProcess.send = counting
        import cached_booking_api.infrastructure.construct
        print(json.dumps({"requests": len(asked), "from_regulated": sum(asked)}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["requests"] > 0  # the count works: other modules do ask (e.g. the Lambda runtime, the period)
    assert counts["from_regulated"] == 0
