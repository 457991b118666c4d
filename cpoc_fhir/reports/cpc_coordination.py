"""Oncology–primary care coordination (value-and-models §15.3; proposal II-G: complement, not
duplicate): the patients billed under an oncology pack who are attributed to a CPC+ practice,
and the calendar months in which both pay care management.

Oncology care management: a CPOC Treatment Month or Active Monitoring line, an EOM / OCM MEOS
line (not-billable lines left out), of whatever pack the selection (packs/selection.py) bills
the patient under. Primary care: the CPC+ care management fee (CMF) of a calendar month. A
month overlaps when an oncology line's period shares a day with it; an oncology month that
straddles two calendar months is listed in both, and counted once in the totals. Pure: the
CLI (cpc_coordination_cli.py) reads the records and evaluates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.terminal import WIDTH, fit_lines

ONCOLOGY = frozenset({Component.TREATMENT_MONTH, Component.ACTIVE_MONITORING, Component.MEOS})
CMF_PACK = "cpcplus"


@dataclass(frozen=True)
class Practice:
    """The CPC+ practice and track of a CMF month (from the attribution row)."""

    practice_id: str
    practice_name: str
    track: int


def oncology_lines(lines: Iterable[BillingLine]) -> list[BillingLine]:
    return [
        line
        for line in lines
        if line.component in ONCOLOGY
        and line.model != CMF_PACK
        and line.status is not LineStatus.NOT_BILLABLE
    ]


def _line(line: BillingLine, month_start: date, month_end: date) -> dict[str, Any]:
    days = (min(line.end, month_end) - max(line.start, month_start)).days + 1
    return {
        "model": line.model,
        "code": line.code,
        "component": line.component.value,
        "start": line.start.isoformat(),
        "end": line.end.isoformat(),
        "amount": str(line.amount),
        "status": line.status.value,
        "overlap_days": days,
    }


def patient_rows(
    patient_ref: str,
    oncology: list[BillingLine],
    cmf: Iterable[tuple[BillingLine, Practice]],
    start: date | None,
    end: date | None,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the patient's summary, its overlap months); (None, []) when the patient is not both
    billed under an oncology pack and attributed to a CPC+ practice in the window."""
    chosen = [
        (line, practice)
        for line, practice in cmf
        if (start is None or line.start >= start) and (end is None or line.start <= end)
    ]
    if not oncology or not chosen:
        return None, []
    months: list[dict[str, Any]] = []
    for line, practice in chosen:
        both = [o for o in oncology if o.start <= line.end and line.start <= o.end]
        if not both:
            continue
        months.append(
            {
                "patient": patient_ref,
                "month": f"{line.start:%Y-%m}",
                "practice_id": practice.practice_id,
                "practice_name": practice.practice_name,
                "track": practice.track,
                "tier": line.level,
                "cmf_code": line.code,
                "cmf_amount": str(line.amount),
                "oncology": [_line(o, line.start, line.end) for o in both],
            }
        )
    summary = {
        "patient": patient_ref,
        "models": sorted({o.model for o in oncology}),
        "practices": sorted({f"{p.practice_name} ({p.practice_id})" for _l, p in chosen}),
        "cmf_months": len(chosen),
        "overlap_months": len(months),
    }
    return summary, months


def report(
    patients: list[dict[str, Any]],
    months: list[dict[str, Any]],
    as_of: date,
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    cmf_total = sum((Decimal(m["cmf_amount"]) for m in months), Decimal("0"))
    unique: dict[tuple[str, str, str, str], Decimal] = {}
    for month in months:
        for o in month["oncology"]:
            unique[(month["patient"], o["model"], o["code"], o["start"])] = Decimal(o["amount"])
    return {
        "as_of": as_of.isoformat(),
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "patients": patients,
        "months": months,
        "totals": {
            "patients": len(patients),
            "patients_with_overlap": sum(1 for p in patients if p["overlap_months"]),
            "overlap_months": len(months),
            "cmf_amount": str(cmf_total),
            "oncology_lines": len(unique),
            "oncology_amount": str(sum(unique.values(), Decimal("0"))),
        },
    }


CSV_HEADER = [
    "patient",
    "month",
    "practice_id",
    "practice_name",
    "track",
    "tier",
    "cmf_code",
    "cmf_amount",
    "oncology_model",
    "oncology_code",
    "oncology_start",
    "oncology_end",
    "oncology_amount",
    "overlap_days",
]


def csv_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per (CMF month, oncology line) pair."""
    out = [CSV_HEADER]
    for m in result["months"]:
        for o in m["oncology"]:
            out.append(
                [
                    m["patient"],
                    m["month"],
                    m["practice_id"],
                    m["practice_name"],
                    str(m["track"]),
                    str(m["tier"]),
                    m["cmf_code"],
                    m["cmf_amount"],
                    o["model"],
                    o["code"],
                    o["start"],
                    o["end"],
                    o["amount"],
                    str(o["overlap_days"]),
                ]
            )
    return out


def table(result: dict[str, Any], width: int | None = WIDTH) -> str:
    """The overlap for people in ``width`` columns (None: ``--wide``, a line per oncology line).

    Fitted (issue 17 item 6), each CMF month is a line and the oncology lines of that month
    are indented under it (one line needs some 105 columns); the prose is wrapped."""
    window = ""
    if result["from"] or result["to"]:
        window = f", months {result['from'] or '…'} to {result['to'] or '…'}"
    lines = [
        f"Oncology and CPC+ care management as of {result['as_of']}{window}",
        "(proposal II-G: complement, not duplicate)",
        "",
    ]
    if not result["patients"]:
        lines.append("no patient billed under an oncology pack is attributed to a CPC+ practice")
    for p in result["patients"]:
        lines.append(
            f"{p['patient']}: {', '.join(p['models'])}; CPC+ {'; '.join(p['practices'])}; "
            f"{p['cmf_months']} CMF month(s), {p['overlap_months']} with oncology care management"
        )
    if result["months"] and width is not None:
        lines += ["", *_fitted_months(result["months"])]
    elif result["months"]:
        lines += [
            "",
            f"{'patient':<24} {'month':<7} {'CMF':<10} {'amount':>8}  "
            f"{'oncology':<8} {'code':<8} {'period':<21} {'amount':>9}",
        ]
        for m in result["months"]:
            for o in m["oncology"]:
                lines.append(
                    f"{m['patient']:<24} {m['month']:<7} {m['cmf_code']:<10} "
                    f"{m['cmf_amount']:>8}  {o['model']:<8} {o['code']:<8} "
                    f"{o['start'] + '…' + o['end']:<21} {o['amount']:>9}"
                )
    t = result["totals"]
    lines += [
        "",
        f"patients {t['patients']}, with overlap {t['patients_with_overlap']}; overlap months "
        f"{t['overlap_months']}: CMF {t['cmf_amount']}, oncology {t['oncology_amount']} "
        f"({t['oncology_lines']} line(s))",
    ]
    return "\n".join(fit_lines(lines, width)) + "\n"


def _fitted_months(months: list[dict[str, Any]]) -> list[str]:
    """A CMF month a line (patient, month, CMF code and amount), its oncology lines under it."""
    lines = [
        f"{'patient':<24} {'month':<7} {'CMF':<10} {'amount':>8}",
        f"    {'oncology':<8} {'code':<8} {'period':<21} {'amount':>9}",
    ]
    for m in months:
        lines.append(f"{m['patient']:<24} {m['month']:<7} {m['cmf_code']:<10} {m['cmf_amount']:>8}")
        for o in m["oncology"]:
            lines.append(
                f"    {o['model']:<8} {o['code']:<8} {o['start'] + '…' + o['end']:<21} "
                f"{o['amount']:>9}"
            )
    return lines
