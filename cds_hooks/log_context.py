"""What the service's log lines say about the call being served: its hookInstance and service.

The blueprint binds these once it has read them from the request; the JSON log formatter
(cds_hooks/json_logs.py) adds them to every record logged while that request is served. Only
identifiers go here — never the patient's data, never a token (issue 17 item 7).
"""

from __future__ import annotations

import re
from typing import Any

from flask import g, has_request_context

# CDS Hooks 2.0.1 §hookInstance: "a universally unique identifier (UUID) for this particular
# hook call". Anything else the caller sends is not repeated in the logs (it could be any text).
_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_KEY = "cpoc_log_context"


def bind(**fields: str | None) -> None:
    """Add ``fields`` (hookInstance, service, hook) to the current request's log context; a
    value that is no plain identifier is left out. Outside a request: nothing."""
    if not has_request_context():
        return
    context: dict[str, str] = dict(g.get(_KEY, {}))
    for name, value in fields.items():
        if isinstance(value, str) and _SAFE_ID.fullmatch(value):
            context[name] = value
    setattr(g, _KEY, context)


def current() -> dict[str, Any]:
    """The current request's log context ({} outside a request)."""
    if not has_request_context():
        return {}
    return dict(g.get(_KEY, {}))
