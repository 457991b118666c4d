"""Logging of ``cpoc serve`` and ``cpoc demo``: one line per record on stderr, plain text.

Werkzeug colours its request lines with ANSI escapes whatever the stream; in a log file or a
journal those are noise (``\\x1b[33m…``). The handler here keeps them only on a terminal.
Under gunicorn or another WSGI server, that server's logging applies and this is not used.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class PlainFormatter(logging.Formatter):
    """Formats records and strips ANSI escapes unless the stream is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(FORMAT)
        self._keep_colours = _is_terminal(stream)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if self._keep_colours else _ANSI.sub("", text)


def configure_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send every logger's records at ``level`` and above to ``stream`` (default stderr);
    replaces an earlier call's handler."""
    target = stream if stream is not None else sys.stderr
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cpoc", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(target)
    handler.setFormatter(PlainFormatter(target))
    handler._cpoc = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # The store's schema migrations narrate every step at INFO: only their problems matter.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False
