"""Mutated CDS Hooks bodies: valid requests of the three hooks and feedback, then broken.

Shared by tests/test_cds_fuzz.py (hypothesis draws every choice, so failures shrink) and
scripts/fuzz_hooks.py (a seeded ``random.Random`` draws them, for 10 000+ bodies). A body is a
valid one with 1-3 mutations at random places: wrong types, deletions, huge strings, unicode,
lists for objects and objects for lists, deep nesting, numbers JSON or Python cannot hold,
duplicated entries, unknown members; a few are not JSON at all. Every string a mutation writes
contains ``CANARY``: an error body must never repeat it (it would be a request value).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cds_support import full_prefetch, hook_body, make_app, medication_order, record_on
from flask import Flask

T = TypeVar("T")
CANARY = "zqxcanary"
# Member names the fuzzer adds. Error paths name members that are plain identifiers (an
# element name) and show any other name as "*": these carry the canary in a name that is none.
ODD_NAME = f"{CANARY}-"
PID = "appendix-a-folfox"
DAY = "2025-03-03"  # the first FOLFOX cycle: a small record, so each body is quick to answer
ENDPOINTS = {
    "order-sign": "/cds-services/cpoc-order-sign",
    "order-select": "/cds-services/cpoc-order-select",
    "patient-view": "/cds-services/cpoc-patient-view",
    "feedback": "/cds-services/cpoc-order-sign/feedback",
}
_DEEP = "\u0000DEEP\u0000"  # stands in for a nesting spliced into the text
_RAW = "\u0000RAW\u0000"  # stands in for a raw number token


class Chooser(Protocol):
    def integer(self, low: int, high: int) -> int: ...
    def choice(self, items: Sequence[T]) -> T: ...
    def text(self, max_size: int) -> str: ...


class RandomChooser:
    """Choices from a seeded ``random.Random`` (the script)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def integer(self, low: int, high: int) -> int:
        return self.rnd.randint(low, high)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.rnd.randrange(len(items))]

    def text(self, max_size: int) -> str:
        # Any code point, surrogates included (they reach the body as \\udXXX escapes).
        size = self.rnd.randint(0, max_size)
        return "".join(chr(self.rnd.choice(_CODE_POINTS)(self.rnd)) for _ in range(size))


_CODE_POINTS: list[Callable[[random.Random], int]] = [
    lambda r: r.randint(0x20, 0x7E),
    lambda r: r.randint(0xA0, 0x2FFF),
    lambda r: r.randint(0xD800, 0xDFFF),
    lambda r: r.randint(0x1F300, 0x1FAFF),
    lambda r: r.choice([0, 9, 10, 13, 0x2028, 0xFEFF]),
]


@dataclass(frozen=True)
class Request:
    endpoint: str
    path: str
    data: bytes
    content_type: str
    mutations: tuple[str, ...]


def fuzz_app(folder: Path) -> Flask:
    return make_app(folder, today=DAY)


def valid_bodies() -> dict[str, dict[str, Any]]:
    record = record_on(PID, DAY)
    drafts = [
        medication_order("ox", PID, "32592", "oxaliplatin", DAY),
        medication_order("lv", PID, "6313", "leucovorin", DAY),
        medication_order("fu", PID, "4492", "fluorouracil", DAY),
    ]
    prefetch = full_prefetch(record, PID)
    select = hook_body("order-select", PID, drafts, prefetch)
    select["context"]["selections"] = ["MedicationRequest/ox"]
    feedback = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "will-document", "system": "https://x.example/cs"},
                    "userComment": "documented tomorrow",
                },
                "outcomeTimestamp": "2025-03-03T10:00:00Z",
            },
            {
                "card": "a2b9c6de-55f7-4c0e-9f0a-5b3f0c9d3c11",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2025-03-03T10:01:00Z",
            },
        ]
    }
    return {
        "order-sign": hook_body("order-sign", PID, drafts, prefetch),
        "order-select": select,
        "patient-view": hook_body("patient-view", PID, prefetch=prefetch),
        "feedback": feedback,
    }


def mutated(valid: dict[str, dict[str, Any]], choose: Chooser) -> Request:
    """One request: an endpoint's valid body with 1-3 mutations."""
    endpoint = choose.choice(sorted(ENDPOINTS))
    body: Any = copy.deepcopy(valid[endpoint])
    splices: list[tuple[str, str]] = []  # (placeholder, raw JSON text put in its place)
    kinds = []
    for _ in range(choose.integer(1, 3)):
        kind = choose.choice(MUTATIONS)
        body = _apply(body, kind, choose, splices)
        kinds.append(kind)
    content_type = "application/json"
    if choose.integer(0, 49) == 0:  # a few that are not JSON bodies at all
        kinds.append("content-type")
        content_type = choose.choice(["text/plain", "application/x-www-form-urlencoded", ""])
    text = json.dumps(body, ensure_ascii=choose.integer(0, 1) == 1)
    for placeholder, raw in splices:
        text = text.replace(json.dumps(placeholder), raw, 1)
    data = text.encode("utf-8", "surrogatepass")
    if choose.integer(0, 99) == 0:
        kinds.append("truncated")
        data = data[: choose.integer(0, len(data))]
    return Request(endpoint, ENDPOINTS[endpoint], data, content_type, tuple(kinds))


MUTATIONS = (
    "type",
    "type",
    "delete",
    "huge",
    "unicode",
    "list-for-object",
    "object-for-list",
    "deep",
    "number",
    "duplicate",
    "member",
)
_WRONG: tuple[Any, ...] = (0, -1, 1.5, True, False, None, "", [], {}, CANARY)


def _apply(body: Any, kind: str, choose: Chooser, splices: list[tuple[str, str]]) -> Any:
    paths = list(_paths(body, ()))
    # Half the time a shallow place (the request's own members), else anywhere (mostly inside
    # the prefetched resources, where the readers are).
    shallow = [p for p in paths if len(p) <= 3]
    path = choose.choice(shallow if shallow and choose.integer(0, 1) else paths)
    value = _get(body, path)
    if kind == "type":
        new: Any = choose.choice(_WRONG)
    elif kind == "delete":
        return _delete(body, path)
    elif kind == "huge":
        new = CANARY + "x" * choose.choice([1_000, 100_000, 1_000_000])
    elif kind == "unicode":
        new = CANARY + choose.text(40)
    elif kind == "list-for-object":
        new = [value]
    elif kind == "object-for-list":
        new = {"0": value} if isinstance(value, list) else {ODD_NAME: value}
    elif kind == "deep":
        depth = choose.choice([10, 63, 65, 1_000, 100_000])
        nested = (
            "[" * depth + "]" * depth
            if choose.integer(0, 1)
            else '{"a":' * depth + "0" + "}" * depth
        )
        splices.append((_DEEP, nested))
        new = _DEEP
    elif kind == "number":
        token = choose.choice(["1e400", "-1e400", "NaN", "Infinity", "1" + "0" * 400, "-0"])
        splices.append((_RAW, token))
        new = _RAW
    elif kind == "duplicate":
        if not isinstance(value, list) or not value:
            return body
        new = value * choose.integer(2, 20)
    else:  # member: an unknown member with an odd name
        if not isinstance(value, dict):
            return body
        new = dict(value)
        new[ODD_NAME + choose.text(10)] = CANARY
    return _set(body, path, new)


def _paths(value: Any, path: tuple[Any, ...]) -> Any:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _get(body: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        body = body[step]
    return body


def _set(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(body, path[:-1])[path[-1]] = value
    return body


def _delete(body: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return None
    parent = _get(body, path[:-1])
    del parent[path[-1]]
    return body


@dataclass
class Tally:
    sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: list[Request] = field(default_factory=list)
    bad_errors: list[tuple[Request, str]] = field(default_factory=list)


def check(request: Request, status: int, mimetype: str, text: str, tally: Tally) -> str | None:
    """What is wrong with the answer, or None; counted in ``tally``."""
    tally.sent += 1
    tally.by_status[status] = tally.by_status.get(status, 0) + 1
    if status >= 500:
        tally.server_errors.append(request)
        return f"HTTP {status}"
    problem = _error_problem(status, mimetype, text) if status >= 400 else None
    if problem:
        tally.bad_errors.append((request, problem))
    return problem


def _error_problem(status: int, mimetype: str, text: str) -> str | None:
    if mimetype != "application/json":
        return f"HTTP {status} answered {mimetype or 'no media type'}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"HTTP {status} body is not JSON"
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) and body[k] for k in ("error", "message")
    ):
        return f"HTTP {status} body lacks error/message"
    if CANARY in text:
        return f"HTTP {status} body repeats a request value"
    return None
