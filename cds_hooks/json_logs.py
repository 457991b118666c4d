"""JSON log lines (``CPOC_LOG_FORMAT=json``): one object per line, for log collectors.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, while a CDS
Hooks call is served, its ``hookInstance``, ``service`` (the CDS service id) and ``hook``.
Never patient data beyond resource ids, never a token (issue 17 item 7):

- the messages this service logs name resource ids and settings only (engineering.md);
- whatever a message holds, bearer tokens, JWTs and ``access_token``/``client_secret`` values
  are masked (:func:`redact`, applied by the plain format too);
- an exception is logged as its type and stack frames (file, line, function) only: its
  message may quote a value of the request, e.g. a name in a resource that failed to parse.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime

from cds_hooks.log_context import current

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")  # 8+: not "bearer of"
_SECRET_FIELD = re.compile(
    r"(?i)(\"?(?:access_token|refresh_token|id_token|client_secret|password)\"?\s*[:=]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&}]+)"
)
_MASK = "[redacted]"
_MAX_FRAMES = 30


def redact(text: str) -> str:
    """``text`` with bearer tokens, JWTs and secret-named values masked."""
    text = _JWT.sub(_MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", text)
    return _SECRET_FIELD.sub(lambda m: m.group(1) + _MASK, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for its members)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, object] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(_ANSI.sub("", record.getMessage())),
        }
        context = current()
        if "hook_instance" in context:
            line["hookInstance"] = context["hook_instance"]
        for name in ("service", "hook"):
            if name in context:
                line[name] = context[name]
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            frames = traceback.extract_tb(tb)[-_MAX_FRAMES:]
            line["exception"] = {
                "type": f"{kind.__module__}.{kind.__qualname__}",
                "frames": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames],
            }
        return json.dumps(line, ensure_ascii=True)
