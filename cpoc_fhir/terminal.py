"""Terminal output that fits: the default width (80 columns) and wrapping (issue 17 item 6).

Tables for people fit ``WIDTH`` columns unless ``--wide`` asks for every column on one line;
explanations, warnings and other prose are wrapped with a hanging indent. Standard library
only: the CLI imports this before it knows the subcommand.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence

WIDTH = 80  # the default: a terminal, an e-mail, a printed page


def line_width(wide: bool) -> int | None:
    """The width text is fitted to: ``WIDTH``, or None (no limit) with ``--wide``."""
    return None if wide else WIDTH


def wrapped(text: str, width: int | None, first: str = "", rest: str | None = None) -> list[str]:
    """``text`` as lines of at most ``width`` columns, the first prefixed ``first`` and the
    others ``rest`` (default: spaces as wide as ``first``). A word longer than the room (a long
    resource id) is kept whole on a line of its own: a broken id could not be searched for."""
    rest = " " * len(first) if rest is None else rest
    if width is None:
        return [first + text]
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [first.rstrip()]


def wrap_all(
    texts: Iterable[str], width: int | None, first: str, rest: str | None = None
) -> list[str]:
    """Each of ``texts`` wrapped as by :func:`wrapped`."""
    return [line for text in texts for line in wrapped(text, width, first, rest)]


_QUERY_BREAK = re.compile(r"(?<=[&,?])")


def wrapped_query(text: str, width: int | None, first: str, rest: str) -> list[str]:
    """A search ("Observation?subject=…&code=…") cut only after its ``?``, ``&`` and ``,``
    so that the pieces, joined, are the search again; a piece longer than the room stands
    alone."""
    if width is None:
        return [first + text]
    lines: list[str] = []
    current = first
    for piece in _QUERY_BREAK.split(text):
        prefix = first if not lines else rest
        if len(current) + len(piece) > width and current != prefix:
            lines.append(current)
            current = rest
        current += piece
    lines.append(current)
    return lines


def fit_lines(lines: Iterable[str], width: int | None) -> list[str]:
    """Each line longer than ``width`` wrapped between words under its own indent plus two (a
    report's prose and notes); a word longer than the room (an id) kept whole. None: as is."""
    out: list[str] = []
    for line in lines:
        if width is None or len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out += wrapped(line.strip(), width, indent, indent + "  ")
    return out


def fit_table(
    rows: Sequence[tuple[str, ...]],
    width: int | None,
    keep: tuple[int, ...] = (0,),
    gap: int = 2,
    least: int = 10,
) -> list[str]:
    """``rows`` (the first one the header) in columns ``gap`` apart, fitted to ``width``: the
    widest columns not in ``keep`` (an id column) are narrowed one step at a time, never under
    ``least``, and their cells wrapped onto more lines, the row's other cells on its first
    line. ``width`` None, or a table that cannot fit: one line a row as wide as it needs."""
    if not rows:
        return []
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    if width is not None:
        room = width - gap * (count - 1)
        narrowable = [i for i in range(count) if i not in keep]
        while sum(widths) > room and narrowable:
            widest = max(narrowable, key=lambda i: widths[i])
            if widths[widest] <= least:
                break  # cannot fit: the narrowest sensible table, a little over
            widths[widest] -= 1
    out: list[str] = []
    for row in rows:
        cells = [
            textwrap.wrap(cell, widths[i], break_on_hyphens=False) or [""]
            if len(cell) > widths[i]
            else [cell]
            for i, cell in enumerate(row)
        ]
        for k in range(max(len(c) for c in cells)):
            parts = [(c[k] if k < len(c) else "").ljust(widths[i]) for i, c in enumerate(cells)]
            out.append((" " * gap).join(parts).rstrip())
    return out
