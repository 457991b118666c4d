"""The ChargeItems a capture run builds for one patient: only those its plan can look at.

``capture.plan`` uses a desired item in two cases only: its line starts in the billed window
(``first`` … the run's month: create or update), or an item on record stands for its identifier
(compare, keep, report a review conflict, and not retire it). A line before the window with no
item on record is skipped there without being read, so building its ChargeItem is wasted work:
in a 2 000-patient export that was 16 508 items built for 1 888 written, and the largest cost of
offline capture (docs/performance.md, "Offline capture: only the ChargeItems it needs").

The identifier is computed without building the item (``charge_item_identifier``, the same
function ``build_charge_item`` uses), and the items on record are matched by their identifier
and its base (a staff correction ``<identifier>-c<n>`` stands for ``<identifier>``): a superset
of the plan's live items, so no item the plan reads is left out. The lines kept stay in their
order, so the plan's steps — and what is written — are the same as with every line built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from cpoc_fhir.capture.plan import identifier_of
from cpoc_fhir.engine.lines import BillingLine
from cpoc_fhir.fhir.write import ChargeContext, build_charge_item, charge_item_identifier
from cpoc_fhir.fhir.write.review_marks import base_identifier

Resource = dict[str, Any]


def on_record(existing: Iterable[Resource], system: str) -> set[str]:
    """The identifiers (and base identifiers) of the items on record, whatever their status."""
    found: set[str] = set()
    for resource in existing:
        ident = identifier_of(resource, system)
        if ident is not None:
            found.add(ident)
            found.add(base_identifier(ident))
    return found


def needed_lines(
    lines: Sequence[BillingLine], patient_ref: str, recorded: set[str], first: date
) -> list[BillingLine]:
    """The lines whose ChargeItem the plan can use, in their order.

    ``plan`` keeps the *last* desired item of an identifier (a dict by identifier), so an
    identifier is decided by its last line's start; all its lines are then kept, as before."""
    idents = [charge_item_identifier(patient_ref, line) for line in lines]
    last_start: dict[str, date] = {}
    for ident, line in zip(idents, lines, strict=True):
        last_start[ident] = line.start
    return [
        line
        for ident, line in zip(idents, lines, strict=True)
        if ident in recorded or last_start[ident] >= first
    ]


def desired_items(
    lines: Sequence[BillingLine],
    context: ChargeContext,
    existing: Iterable[Resource],
    first: date,
) -> list[Resource]:
    """The ChargeItems (built unvalidated: only what is sent is validated) the plan needs of
    ``lines`` (the timeline's lines up to the run's month), given the patient's ``existing``
    items and the first day billed."""
    system = context.settings.practice_identifier_system
    needed = needed_lines(lines, context.patient_ref, on_record(existing, system), first)
    return [build_charge_item(line, context, validate=False) for line in needed]
