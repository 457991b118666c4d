"""Logging of the CDS Hooks service: level and format from ``CPOC_LOG_LEVEL`` and
``CPOC_LOG_FORMAT``, one line per record on stderr (issue 17 item 7).

================  ===================================================================
``CPOC_LOG_LEVEL``   ``DEBUG``, ``INFO`` (default), ``WARNING`` or ``ERROR``
``CPOC_LOG_FORMAT``  ``plain`` (default): ``time LEVEL logger: message``; ``json``: one JSON
                     object per line with the call's hookInstance (cds_hooks/json_logs.py)
================  ===================================================================

Any other value stops the start with a message naming the variable. ``cpoc serve`` and ``cpoc
demo`` always configure logging so; under gunicorn, ``create_app()`` does when either variable
is set (otherwise the server's logging applies). Werkzeug colours its request lines with ANSI
escapes whatever the stream; in a log file or a journal those are noise (``\\x1b[33m…``): the
plain format keeps them only on a terminal, the JSON format never.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from cds_hooks.json_logs import JsonFormatter, redact
from cpoc_fhir.errors import InputError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
FORMATS = ("plain", "json")
LEVEL_VARIABLE, FORMAT_VARIABLE = "CPOC_LOG_LEVEL", "CPOC_LOG_FORMAT"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PROBE_LINE = re.compile(r'"GET /(?:healthz|readyz) HTTP/[0-9.]+" 200 ')


@dataclass(frozen=True)
class LogSettings:
    level: int = logging.INFO
    format: str = "plain"


def load_log_settings(environ: Mapping[str, str]) -> LogSettings:
    """The two variables, checked; a bad value is an ``InputError`` naming it."""
    level_text = (environ.get(LEVEL_VARIABLE) or "INFO").strip().upper()
    if level_text not in LEVELS:
        raise InputError(
            LEVEL_VARIABLE,
            f"expected one of {', '.join(LEVELS)}, got {environ.get(LEVEL_VARIABLE)!r}",
        )
    format_text = (environ.get(FORMAT_VARIABLE) or "plain").strip().lower()
    if format_text not in FORMATS:
        raise InputError(
            FORMAT_VARIABLE,
            f"expected plain or json, got {environ.get(FORMAT_VARIABLE)!r}",
        )
    return LogSettings(LEVELS[level_text], format_text)


def wants_logging(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for this logging (either variable set)."""
    return any((environ.get(name) or "").strip() for name in (LEVEL_VARIABLE, FORMAT_VARIABLE))


def configure_from_environ(environ: Mapping[str, str], stream: TextIO | None = None) -> LogSettings:
    """Configure logging from ``CPOC_LOG_LEVEL`` / ``CPOC_LOG_FORMAT`` in ``environ``."""
    settings = load_log_settings(environ)
    configure_logging(stream, settings.level, settings.format)
    return settings


class QuietProbes(logging.Filter):
    """Drops the development server's access lines of answered probes (``GET /healthz`` or
    ``/readyz`` with 200: the kubelet's, every few seconds); a failed probe's line stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "werkzeug" or record.levelno != logging.INFO:
            return True
        return not _PROBE_LINE.search(record.getMessage())


class PlainFormatter(logging.Formatter):
    """Formats records, masks tokens, and strips ANSI escapes unless the stream is a
    terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(FORMAT)
        self._keep_colours = _is_terminal(stream)

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        return text if self._keep_colours else _ANSI.sub("", text)


def configure_logging(
    stream: TextIO | None = None, level: int = logging.INFO, fmt: str = "plain"
) -> None:
    """Send every logger's records at ``level`` and above to ``stream`` (default stderr), in
    ``fmt`` (plain or json); replaces an earlier call's handler."""
    target = stream if stream is not None else sys.stderr
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cpoc", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter(target))
    handler.addFilter(QuietProbes())
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
