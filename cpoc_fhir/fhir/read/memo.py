"""A bounded memo for the readers' string parsers (dates, references).

Records repeat the same strings — a patient's reference in every resource, a cycle's dates in
every order — so each distinct string is parsed once. The memo is cleared when full, which
bounds memory over millions of patients without the bookkeeping of an LRU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
UNSEEN = object()  # never a remembered answer: "not looked up yet"


class BoundedMemo(Generic[T]):
    """``compute(text)``, remembered for up to ``limit`` distinct strings."""

    __slots__ = ("_compute", "_limit", "_seen")

    def __init__(self, compute: Callable[[str], T], limit: int = 100_000) -> None:
        self._compute = compute
        self._limit = limit
        self._seen: dict[str, object] = {}

    @property
    def table(self) -> dict[str, object]:
        """The remembered answers, for a hot loop to look up without a call (``__call__``
        costs four times a ``dict.get``); the same dict for the memo's life (emptied in
        place when full), so a caller may keep it. Read it, never write it."""
        return self._seen

    def __call__(self, text: str) -> T:
        found = self._seen.get(text, UNSEEN)
        if found is UNSEEN:
            found = self._compute(text)
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen[text] = found
        return found  # type: ignore[return-value]
