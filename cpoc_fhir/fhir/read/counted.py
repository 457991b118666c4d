"""A record source whose patient iterator draws the progress bar (issue 17 item 6).

The long reports (``cpoc model``, ``cpoc report value|pbp|eom-services|model-episodes|
episodes|corridors|savings|cpc-coordination|revenue``) iterate patients deep inside their modules;
wrapping the source they are given, rather than each loop, gives every one of them the same bar
(``cpoc_fhir.progress``: stderr, off when not a terminal or with ``--no-progress``) without
touching their code. The total is the source's patient count when it knows it (a Bundle, a
folder, an NDJSON export: indexed first anyway); a FHIR server or a partitioned export answers
None, and the bar counts with a rate and no ETA.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, TextIO

from cpoc_fhir.fhir.read.index import Index
from cpoc_fhir.fhir.read.record_source import RecordSource
from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.progress import progress, shown


class CountedSource(RecordSource):
    """``source`` with a bar over each ``patients()`` pass; everything else is the source's."""

    def __init__(self, source: RecordSource, quiet: bool = False, stream: TextIO | None = None):
        super().__init__(source.where)
        self.source = source
        self.quiet = quiet
        self.stream = stream

    def __getattr__(self, name: str) -> Any:
        # Only for names RecordSource does not define (ServerSource.patient, .client …).
        return getattr(self.__dict__["source"], name)

    @property
    def warnings(self) -> list[str]:
        return self.source.warnings

    @property
    def shared(self) -> dict[str, Any]:
        return self.source.shared

    def patient_count(self, patient_ids: set[str] | None = None) -> int | None:  # type: ignore[override]
        return self.source.patient_count(patient_ids)

    def scan(self) -> None:
        self.source.scan()

    def patients(self, patient_ids: set[str] | None = None) -> Iterator[PatientResources]:
        # The bar is shown only when drawn (progress.shown), so a pipe never pays for the count.
        drawn = shown(sys.stderr if self.stream is None else self.stream, self.quiet)
        total = self.patient_count(patient_ids) if drawn else None
        with progress(total, "patient", self.quiet, self.stream) as bar:
            for resources in self.source.patients(patient_ids):
                yield resources
                bar.update(1)

    def _scan(self, index: Index) -> None:  # never used: every reading goes to the source
        return None


def counted(source: RecordSource, args: Any) -> RecordSource:
    """``source`` with the bar, unless the command was given ``--no-progress``."""
    return CountedSource(source, bool(getattr(args, "no_progress", False)))
