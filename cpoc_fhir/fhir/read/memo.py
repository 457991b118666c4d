"""A bounded memo for the readers' string parsers (dates, references).

Records repeat the same strings — a patient's reference in every resource, a cycle's dates in
every order — so each distinct string is parsed once. The memo is cleared when full, which
bounds memory over millions of patients without the bookkeeping of an LRU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_UNSEEN = object()


class BoundedMemo(Generic[T]):
    """``compute(text)``, remembered for up to ``limit`` distinct strings."""

    __slots__ = ("_compute", "_limit", "_seen")

    def __init__(self, compute: Callable[[str], T], limit: int = 100_000) -> None:
        self._compute = compute
        self._limit = limit
        self._seen: dict[str, object] = {}

    def __call__(self, text: str) -> T:
        found = self._seen.get(text, _UNSEEN)
        if found is _UNSEEN:
            found = self._compute(text)
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen[text] = found
        return found  # type: ignore[return-value]
