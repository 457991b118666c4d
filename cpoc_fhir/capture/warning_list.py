"""A capture run's warnings: what the readers and the engine could not interpret, by kind.

A warning reads "Type/id: message" (``fhir.read`` context) or is a sentence of the engine. Its
*kind* is the resource type with the message, dates and numbers blanked, so the summary can say
"12 × MedicationRequest: route not stated…" with a few resource ids as examples, and
``--warnings FILE`` writes every one (CSV or NDJSON) for the people who fix the record. The
text carries resource ids only, never patient data (engineering.md).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from cpoc_fhir.errors import InputError
from cpoc_fhir.terminal import WIDTH, wrapped

_ABOUT = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64}): (?P<message>.+)$")
_VARIABLE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T[0-9:.+\-Z]*)?|\d+(?:\.\d+)?")
EXAMPLES = 3
SHOWN_KINDS = 10


@dataclass(frozen=True)
class CaptureWarning:
    patient: str  # Patient/<id>
    resource: str  # Type/id the warning is about, or "" for an engine sentence
    kind: str
    message: str


def capture_warning(patient: str, text: str) -> CaptureWarning:
    match = _ABOUT.match(text)
    if match is None:
        return CaptureWarning(patient, "", _blank(text), text)
    resource = f"{match['type']}/{match['id']}"
    return CaptureWarning(patient, resource, f"{match['type']}: {_blank(match['message'])}", text)


def _blank(text: str) -> str:
    return _VARIABLE.sub("#", text)


@dataclass(frozen=True)
class KindCount:
    kind: str
    count: int
    examples: tuple[str, ...]  # resource ids (or patients, for engine sentences)


def by_kind(warnings: Iterable[CaptureWarning]) -> list[KindCount]:
    """Kinds, most frequent first (then by name), each with its first few examples."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for warning in warnings:
        counts[warning.kind] += 1
        shown = examples.setdefault(warning.kind, [])
        example = warning.resource or warning.patient
        if len(shown) < EXAMPLES and example not in shown:
            shown.append(example)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [KindCount(kind, n, tuple(examples[kind])) for kind, n in ordered]


def summary_lines(warnings: list[CaptureWarning], path: str | None) -> list[str]:
    """The summary's lines under "warnings N"."""
    kinds = by_kind(warnings)
    out = [  # wrapped to 80 columns, under the kind (issue 17 item 6)
        line
        for k in kinds[:SHOWN_KINDS]
        for line in wrapped(
            f"{k.kind} (e.g. {', '.join(k.examples)})", WIDTH, f"    {k.count:>5} × ", " " * 12
        )
    ]
    if len(kinds) > SHOWN_KINDS:
        more = sum(k.count for k in kinds[SHOWN_KINDS:])
        out.append(f"    {more:>5} × {len(kinds) - SHOWN_KINDS} other kind(s)")
    if warnings:
        out.append(f"    every warning → {path}" if path else "    every warning: --warnings FILE")
    return out


def write_warnings(path: Path, warnings: Iterable[CaptureWarning]) -> None:
    """Every warning, as CSV (``.csv``) or NDJSON (``.ndjson``/``.jsonl``)."""
    rows = [asdict(w) for w in warnings]
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(
                    handle, fieldnames=["patient", "resource", "kind", "message"]
                )
                writer.writeheader()
                writer.writerows(rows)
        elif suffix in (".ndjson", ".jsonl"):
            with path.open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(row) + "\n" for row in rows)
        else:
            raise InputError("--warnings", f"{path.name}: give a .csv or .ndjson file name")
    except OSError as exc:
        raise InputError("--warnings", f"cannot write {path}: {exc.strerror}") from None


def check_warnings_path(path: Path | None) -> None:
    """Refuse a --warnings name of another format before the run, not after it."""
    if path is not None and path.suffix.lower() not in (".csv", ".ndjson", ".jsonl"):
        raise InputError("--warnings", f"{path.name}: give a .csv or .ndjson file name")
