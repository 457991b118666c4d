"""Per-launch cookies kept few: at most ``MAX_PER_KIND`` live ones of each kind per browser.

Each launch has a cookie named after its state (``__Host-cpoc_launch_<hash>``, 10 min) and
each signed-in session one named after its handle (``__Host-cpoc_review_<handle>``, 12 h;
sessions.py, issue 17 item 2b). A browser that launches the app from many charts would carry
them all for their max-age, each ~70 bytes on every request. At a launch and at a callback
the browser's cookies of both kinds are looked up in the session store: those whose launch or
session is over are expired at once (``Max-Age=0``), and of the live ones only the newest
``MAX_PER_KIND`` are kept, the one being added included — the oldest expire first and their
store rows are deleted (a session whose cookie is gone can never be used again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import request
from werkzeug.wrappers import Response

from cds_hooks.review import security
from cds_hooks.review.sessions import COOKIE, PENDING_COOKIE, SessionStore, key_of

MAX_PER_KIND = 8


@dataclass(frozen=True)
class CookieKind:
    """Cookies named ``prefix`` + a suffix matching ``suffix``."""

    prefix: str
    suffix: re.Pattern[str]

    def of(self, cookies: Mapping[str, str]) -> dict[str, str]:
        """The cookies of this kind: name → value."""
        return {
            name: value
            for name, value in cookies.items()
            if name.startswith(self.prefix) and self.suffix.fullmatch(name[len(self.prefix) :])
        }


# pending_cookie_name: 16 hex digits of the state's SHA-256; session_cookie_name: the handle.
LAUNCHES = CookieKind(PENDING_COOKIE, re.compile(r"[0-9a-f]{16}"))
SESSIONS = CookieKind(f"{COOKIE}_", re.compile(r"[A-Za-z0-9_\-]{8,32}"))


def to_expire(
    keys: Mapping[str, str], live: Mapping[str, datetime], adding: int, keep: int = MAX_PER_KIND
) -> list[str]:
    """The cookie names to expire. ``keys``: name → store key of the browser's cookies of one
    kind; ``live``: store key → start of those still live; ``adding``: how many new ones of
    the kind the response sets. Dead ones all, then the oldest live beyond ``keep - adding``."""
    dead = [name for name, key in keys.items() if key not in live]
    alive = sorted((n for n in keys if keys[n] in live), key=lambda n: (live[keys[n]], n))
    room = max(keep - adding, 0)
    return sorted(dead) + alive[: max(len(alive) - room, 0)]


def prune(
    response: Response, store: SessionStore, new_launches: int = 0, new_sessions: int = 0
) -> None:
    """Expire the request's surplus and dead per-launch cookies on ``response`` (names the
    response already sets are left to it) and forget their launches and sessions."""
    already = {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}
    kinds = ((LAUNCHES, new_launches), (SESSIONS, new_sessions))
    found = {kind: kind.of(request.cookies) for kind, _ in kinds}
    named = {
        kind: {n: key_of(v) for n, v in cookies.items() if n not in already}
        for kind, cookies in found.items()
    }
    live = store.live({key for keys in named.values() for key in keys.values()})
    ended: list[str] = []
    for kind, adding in kinds:
        keys = named[kind]
        for name in to_expire(keys, live, adding):
            security.clear_session_cookie(response, name)
            if keys[name] in live:
                ended.append(keys[name])
    store.end_all(ended)
