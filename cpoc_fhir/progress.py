"""One progress bar for every long job (issue 17 item 6): on stderr, with the total and an
ETA whenever the total is known, and off when stderr is not a terminal (a pipe, a log file,
CI) or the caller asks for quiet.

tqdm draws it (a dependency already: rate, ETA and terminal width handled, and tested on
every platform): this module only fixes the policy every command shares, so that ``cpoc
capture`` and ``cpoc timeline`` behave alike. tqdm is imported when a bar is shown, never at
the CLI's start.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

NO_PROGRESS_HELP = "no progress bar (none when not a terminal)"


class Bar(Protocol):
    def update(self, n: int = 1) -> bool | None: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...


class _NoBar:
    def update(self, n: int = 1) -> None:
        return None

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        return None


def shown(stream: TextIO, quiet: bool = False) -> bool:
    """Whether a bar is drawn on ``stream``: a terminal, and not ``quiet``."""
    if quiet:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


@contextmanager
def progress(
    total: int | None,
    unit: str,
    quiet: bool = False,
    stream: TextIO | None = None,
    desc: str | None = None,
) -> Iterator[Bar]:
    """A bar counting ``unit`` up to ``total`` (None: a count and a rate, no ETA) on
    ``stream`` (default stderr), ``desc`` before it when a command has two bars of one unit;
    a bar that draws nothing when not :func:`shown`."""
    out = sys.stderr if stream is None else stream
    if not shown(out, quiet):
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, file=out, dynamic_ncols=True, leave=False, desc=desc) as bar:
        yield bar


def add_no_progress(parser: Any) -> None:
    """The ``--no-progress`` option every command with a bar takes."""
    parser.add_argument("--no-progress", action="store_true", help=NO_PROGRESS_HELP)
