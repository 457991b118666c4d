"""A one-time message after an action (issue 17 item 1: "the message shown once, no banner on
reload"): the action's 303 sets a short-lived cookie holding only an outcome code and counts;
the page that shows the message clears it, so a reload, or the Back button, shows none.

The cookie carries no text and no patient data: the page chooses the words (views.MESSAGES),
and an unknown code or a malformed value reads as no message. Same attributes as the session
cookie (``__Host-``, Secure, HttpOnly, SameSite=None, Partitioned: the app runs in an EHR
iframe).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Request
from werkzeug.wrappers import Response

COOKIE = "__Host-cpoc_flash"
MAX_AGE_S = 120  # the redirect follows at once; a stale one must not surface later
_VALUE = re.compile(r"([a-z\-]{1,20})((?:\.[a-z]{1,12}-\d{1,5}){0,5})")


def remember(response: Response, outcome: str, counts: Mapping[str, int] | None = None) -> Response:
    """``response`` with the one-time message ``outcome`` (and ``counts``) attached."""
    value = outcome + "".join(f".{k}-{int(n)}" for k, n in (counts or {}).items())
    if _VALUE.fullmatch(value):
        _set_cookie(response, value, MAX_AGE_S)
    return response


def read(request: Request) -> tuple[str, dict[str, int]] | None:
    """The pending message: (outcome, counts), or None."""
    match = _VALUE.fullmatch(request.cookies.get(COOKIE) or "")
    if match is None:
        return None
    counts = {}
    for part in match.group(2).split(".")[1:]:
        key, _, number = part.rpartition("-")
        counts[key] = int(number)
    return match.group(1), counts


def cleared(response: Response) -> Response:
    """``response`` with the message used up."""
    _set_cookie(response, "", 0)
    return response


def _set_cookie(response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )
