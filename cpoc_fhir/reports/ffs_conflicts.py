"""FFS conflicts across the practice, from the ChargeItems and Claims on the server (issue 17
item 4; cpoc-rules §10, value-and-models §15): the review app's dashboard counts them per month.

A conflict is a fee-for-service charge — a ChargeItem not of ours (no identifier in the
practice's system) or a Claim line, read as capture reads a patient's charges
(capture/ffs.py ``ffs_charges``) — carrying a visit/infusion code the CPOC proposal replaces
(II-D, packs/cpoc/ffs.py), dated inside the period of a billable item of the same patient of a
pack that replaces fee-for-service (``PaymentModelPack.replaces_fee_for_service``). Capture
checks each patient's timeline; this checks the charges already on the server, without
reading any patient's record. Reported, never changed. Pure: the caller reads the resources
(the Claims of ``model_patients`` are the only ones that can conflict).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from cpoc_fhir.capture.ffs import ffs_charges
from cpoc_fhir.exports import Table
from cpoc_fhir.fhir.read.references import reference_key
from cpoc_fhir.reports.revenue import NOT_BILLABLE, RevenueFilters, RevenueRow
from cpoc_fhir.reports.revenue_items import PackIndex, revenue_row
from cpoc_fhir.reports.revenue_payers import Payers, with_payers

CHARGE_TYPES = ("ChargeItem", "Claim")  # what capture/ffs.py reads as FFS charges
COLUMNS = ("month", "patient", "charge", "cpt_code", "date", "model_item", "model_code")


@dataclass(frozen=True)
class FfsConflictRow:
    """One replaced-code charge inside a model item's period."""

    month: str  # the model item's month (YYYY-MM of its start)
    patient_ref: str
    charge_ref: str  # "ChargeItem/<id>" or "Claim/<id>#item<sequence>"
    cpt_code: str
    on: date
    item_id: str  # the model's ChargeItem id
    code: str  # the model's code (e.g. the CPOC Treatment Month's)
    model: str


def ffs_conflicts(
    resources: Iterable[Mapping[str, Any]],
    packs: PackIndex,
    own_system: str,
    replacing: Collection[str],
    filters: RevenueFilters,
    payers: Payers | None = None,
) -> list[FfsConflictRow]:
    """The conflicts whose model item is in ``filters``' months, provider, pack and (with
    ``payers``) payer; its code, group and level filters are ignored: a conflict is about the
    month, not a code. One row per charge code, by month, patient and date."""
    every = list(resources)
    items = [r for r in every if r.get("resourceType") == "ChargeItem"]
    wide = replace(filters, code="", group="", level=None, payer=filters.payer if payers else "")
    ends: dict[str, date] = {}
    model_rows: list[RevenueRow] = []
    for item in items:
        row = revenue_row(item, packs)
        # None: a code no pack claims (an FFS charge itself), not a model item.
        if row is None or row.model not in replacing or row.group == NOT_BILLABLE:
            continue
        if payers is not None:
            row = next(with_payers([row], payers))
        model_rows.append(row)
        ends[row.item_id] = _end(item) or row.start
    chosen = [r for r in model_rows if wide.keep(r)]
    by_patient: dict[str, list[RevenueRow]] = {}
    for row in chosen:
        by_patient.setdefault(_key(row.patient_ref), []).append(row)
    found: list[FfsConflictRow] = []
    for charged in every:
        if charged.get("resourceType") not in CHARGE_TYPES:
            continue
        # ChargeItem.subject / Claim.patient, as the model items name their patient
        patient = _patient(charged)
        periods = by_patient.get(patient)
        if not periods:
            continue
        for charge in ffs_charges([charged], own_system):
            holding = [r for r in periods if r.start <= charge.on <= ends[r.item_id]]
            if not holding:
                continue
            # one conflict per charge: with the item starting last (on a New Patient day that
            # is also a month's first day, the two hold it), ties by item id
            row = max(holding, key=lambda r: (r.start, r.item_id))
            found.append(
                FfsConflictRow(
                    row.month,
                    patient,
                    charge.ref,
                    charge.code,
                    charge.on,
                    row.item_id,
                    row.code,
                    row.model,
                )
            )
    found.sort(key=lambda c: (c.month, c.patient_ref, c.on, c.charge_ref, c.cpt_code))
    return found


def model_patients(
    resources: Iterable[Mapping[str, Any]], packs: PackIndex, replacing: Collection[str]
) -> set[str]:
    """The patients ("Patient/x", as the items name them) with a billable or planned item of
    a pack that replaces fee-for-service: the only ones whose Claims can conflict."""
    found: set[str] = set()
    for item in resources:
        if item.get("resourceType") != "ChargeItem":
            continue
        row = revenue_row(item, packs)
        if row is not None and row.model in replacing and row.group != NOT_BILLABLE:
            found.add(row.patient_ref)
    return found


def _patient(resource: Mapping[str, Any]) -> str:
    field = "subject" if resource.get("resourceType") == "ChargeItem" else "patient"
    return _key(str((resource.get(field) or {}).get("reference", "")))


def _key(reference: str) -> str:
    """ "Patient/x" of a relative or absolute reference: an item and a Claim may differ."""
    return reference_key(reference) or reference


def per_month(conflicts: Iterable[FfsConflictRow]) -> dict[str, int]:
    """Month → conflicts, months in order."""
    return dict(sorted(Counter(c.month for c in conflicts).items()))


def conflicts_table(conflicts: Iterable[FfsConflictRow], names: Mapping[str, str]) -> Table:
    """The rows for CSV/Excel, the patient's name beside its reference."""
    headers = (COLUMNS[0], COLUMNS[1], "name", *COLUMNS[2:])
    return Table(
        headers,
        tuple(
            (
                c.month,
                c.patient_ref,
                names.get(c.patient_ref, ""),
                c.charge_ref,
                c.cpt_code,
                c.on.isoformat(),
                f"ChargeItem/{c.item_id}",
                c.code,
            )
            for c in conflicts
        ),
    )


def _end(resource: Mapping[str, Any]) -> date | None:
    value = (resource.get("occurrencePeriod") or {}).get("end")
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
