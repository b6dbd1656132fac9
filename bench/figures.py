"""The one figures table every benchmark prints: measure, value, baseline from the same run, goal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HEADER = ("measure", "value", "baseline (same run)", "goal")


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    """Rows of ``(measure, value, baseline, goal)`` as aligned text (every row has all four columns)."""
    for row in rows:
        if len(row) != 4 or not all(isinstance(cell, str) for cell in row):
            raise ValueError(f"a figures row needs measure, value, baseline and goal as text: {row!r}")
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(4)]
    lines = []
    for measure, value, baseline, goal in [HEADER, *rows]:
        lines.append(f"{measure:{widths[0]}}  {value:>{widths[1]}}  {baseline:{widths[2]}}  {goal}".rstrip())
    lines.insert(1, "-" * len(max(lines, key=len)))
    return "\n".join(lines)


def latency_chart(samples: dict[str, list[float]], path: Path) -> None:
    """A PNG histogram of HIT / MISS / BYPASS latencies (matplotlib, a dev dependency of the project)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    for label, values in samples.items():
        upper = max(60.0, max(samples["MISS"]))
        axis.hist(values, bins=80, range=(0, upper), alpha=0.6, label=f"{label} (n={len(values)})", log=True)
    axis.set_xlabel("search handler latency, in-process (ms)")
    axis.set_ylabel("requests (log)")
    axis.set_title("cached-booking-api search: HIT / MISS / BYPASS (redis-server + DynamoDB Local)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


BEFORE_AFTER_HEADER = ("goal (issue 10)", "before", "after", "baseline (same run)", "goal")


def before_after_table(rows: Sequence[tuple[str, str, str, str, str]]) -> str:
    """Rows of ``(measure, before, after, baseline, goal)`` as aligned text: one run, before and after side by side."""
    for row in rows:
        if len(row) != 5 or not all(isinstance(cell, str) for cell in row):
            raise ValueError(f"a before/after row needs measure, before, after, baseline and goal as text: {row!r}")
    widths = [max(len(row[i]) for row in [BEFORE_AFTER_HEADER, *rows]) for i in range(5)]
    lines = []
    for measure, before, after, baseline, goal in [BEFORE_AFTER_HEADER, *rows]:
        lines.append(f"{measure:{widths[0]}}  {before:>{widths[1]}}  {after:>{widths[2]}}  {baseline:{widths[3]}}  "
                     f"{goal}".rstrip())  # fmt: skip
    lines.insert(1, "-" * len(max(lines, key=len)))
    return "\n".join(lines)
