"""A failure while the request's resources are interpreted, as a 400 naming the resource.

The readers and the engine take what a request carries; a shape none of them expected (a
``status`` given as an object, a ``search`` given as a list) must not become a 500 (fuzzing once
found 483 HTTP 500s from 6 causes). The resource is found without re-running anything:
the innermost frame of the traceback holding one of the request's resources (by identity,
``HookRequest.origins``) names it. A failure with no request resource on its stack stays an
internal error (500): it is ours, not the caller's. The operator's log gets the traceback's
frames and the exception's type, never its message (it may quote the request's values).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping

from cds_hooks.hook_request import RequestError

log = logging.getLogger(__name__)


def culprit(exc: BaseException, origins: Mapping[int, str]) -> str | None:
    """The JSON path of the request's resource nearest to where ``exc`` was raised."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):  # innermost first: the most specific resource
        for value in frame.f_locals.values():
            if isinstance(value, dict) and id(value) in origins:
                return origins[id(value)]
    return None


def uninterpretable(exc: Exception, origins: Mapping[int, str], call: str) -> RequestError | None:
    """The 400 for ``exc`` when it was raised while one of the request's resources was being
    read (logged for the operator with its frames, not its message); None when no resource
    of the request is involved: then it is an internal error (a 500)."""
    where = culprit(exc, origins)
    if where is None:
        return None
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "%s: %s while interpreting %s (a 400 to the caller)\n%s",
        call,
        type(exc).__name__,
        where,
        stack,
    )
    return RequestError(where, "could not be interpreted (the failure was logged)")
