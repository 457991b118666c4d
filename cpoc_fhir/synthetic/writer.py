"""Bulk FHIR NDJSON: one file per resource type (``Patient.ndjson`` …), one resource a line,
without optional whitespace (as Bulk Data servers send it)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any


def _number(value: object) -> float:
    # FHIR decimals go on the wire as JSON numbers; the claims' amounts have two places, so
    # the float's shortest repr is the same text as the Decimal.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class NdjsonWriter:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.written = 0
        self._files: dict[str, IO[str]] = {}
        out.mkdir(parents=True, exist_ok=True)

    def write(self, resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        handle = self._files.get(kind)
        if handle is None:
            handle = self._files[kind] = (self.out / f"{kind}.ndjson").open("w", encoding="utf-8")
        handle.write(json.dumps(resource, default=_number, separators=(",", ":")) + "\n")
        self.written += 1

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
