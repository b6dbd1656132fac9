"""A progress bar with rate and ETA for long command-line jobs (``cached-booking-api load``), drawn with tqdm.

Shown only where a person watches: on a terminal (the stream's ``isatty()``), not with ``--quiet``, and only once a job
has run for ``SHOW_AFTER_SECONDS`` (a small file finishes without a flash of a bar). It goes to standard error, so
standard output stays clean when piped. tqdm comes with the ``[cli]`` and ``[local]`` extras, never with the Lambda
bundle; without it the job runs the same, without a bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

#: A job that ends sooner draws no bar at all.
SHOW_AFTER_SECONDS = 1.0
#: Redraw at most this often (a bar is cheap, a terminal over SSH is not).
REDRAW_SECONDS = 0.5
INSTALL_HINT = "(no progress bar: pip install 'cached-booking-api[cli]' to get one)"

Advance = Callable[[int], object]


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream counts as not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


@contextmanager
def progress_bar(
    total: int, *, unit: str, description: str, stream: TextIO | None = None, quiet: bool = False
) -> Iterator[Advance | None]:
    """Yield a function that advances a bar of ``total`` units by its argument, or None when no bar is drawn (quiet,
    not a terminal, or tqdm not installed: then one hint line goes to the terminal)."""
    out = sys.stderr if stream is None else stream
    if quiet or total <= 0 or not is_terminal(out):
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        print(INSTALL_HINT, file=out)
        yield None
        return
    with tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=description,
        file=out,
        dynamic_ncols=True,
        mininterval=REDRAW_SECONDS,
        delay=SHOW_AFTER_SECONDS,
        leave=True,
    ) as bar:
        yield bar.update
