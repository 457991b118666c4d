"""The model's figures over all patients, and the JSON ``cpoc model --format json`` prints.

Money is summed exactly and rounded once per figure (half up, cents), serialised as strings;
a patient's CPOC revenue is the sum of its lines' amounts, each rounded as a payer pays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cpoc_fhir.economics.charges import Charges
from cpoc_fhir.economics.model import (
    ZERO,
    ModelOptions,
    PatientEconomics,
    Scenario,
    neutral_base,
    scenario,
    sum_of,
)
from cpoc_fhir.economics.money import money
from cpoc_fhir.economics.payer_side import PayerSide
from cpoc_fhir.packs.cpoc.codes import CODES, DISPLAY

FURTHEST_BELOW = 20  # V-A step 2: the patients whose CPOC payment falls furthest below FFS
NO_LINE = "none"  # byComponent row of replaced-code revenue in no CPOC line of the period


@dataclass
class ModelResult:
    options: ModelOptions
    patients: Sequence[PatientEconomics]
    charges: Charges
    unmatched_patients: int  # charges of patients with no record in INPUT (left out)
    warnings: list[str]
    fee_schedule: dict[str, Any] | None = None  # the --fee-schedule file's header
    # §14.3 (Option 1): patients not of a CPOC cancer type stay fee-for-service; their charges
    # are neither CPOC's to replace nor part of revenue neutrality: counted apart
    fee_for_service: Sequence[PatientEconomics] = ()

    @property
    def replaced(self) -> Decimal:
        return sum_of(p.replaced for p in self.patients)

    @property
    def rv_sum(self) -> Decimal:
        return sum_of(p.rv_sum for p in self.patients)

    def neutral(self) -> Decimal | None:
        return neutral_base(self.replaced, self.rv_sum)

    def margin_base(self) -> Decimal | None:
        margin = self.options.margin
        return None if margin is None else neutral_base(self.replaced, self.rv_sum, margin)

    def scenario(self) -> Scenario | None:
        return scenario(self.options, self.neutral(), self.margin_base())

    def cpoc(self, patient: PatientEconomics, at: Scenario | None) -> Decimal:
        return ZERO if at is None else sum_of(at.amount(line.rv) for line in patient.lines)

    def as_json(self) -> dict[str, Any]:
        at = self.scenario()
        cpoc = {p.patient_id: self.cpoc(p, at) for p in self.patients}
        drug = sum_of(p.drug for p in self.patients)
        other = sum_of(p.other for p in self.patients)
        replaced = self.replaced
        total_cpoc = sum_of(cpoc.values())
        neutral, margin_base = self.neutral(), self.margin_base()
        side = PayerSide(replaced, total_cpoc, drug + other, self.options.reduction)
        return {
            "period": {"from": self.options.start.isoformat(), "to": self.options.end.isoformat()},
            "asOf": self.options.end.isoformat(),
            "patients": len(self.patients),
            "ffsReplacedRevenue": money(replaced),
            "ffsReplacedOutsideCpocLines": money(sum_of(p.unattributed for p in self.patients)),
            "ffsDrugRevenue": money(drug),
            "ffsOtherRevenue": money(other),
            "ffsItems": self._items_json(),
            "feeForService": {
                "patients": len(self.fee_for_service),
                "replaced": money(sum_of(p.replaced for p in self.fee_for_service)),
                "drug": money(sum_of(p.drug for p in self.fee_for_service)),
                "other": money(sum_of(p.other for p in self.fee_for_service)),
            },
            "cpocLines": sum(len(p.lines) for p in self.patients),
            "cpocRelativeValueSum": str(self.rv_sum),
            "neutralBase": None if neutral is None else str(neutral),
            "margin": None
            if self.options.margin is None
            else {"rate": str(self.options.margin), "base": _opt(margin_base)},
            "scenario": None if at is None else _scenario_json(at, total_cpoc),
            "relativeValues": self.options.relative_values.header(),
            "byComponent": self._by_component(at),
            "byPatient": [self._patient_json(p, cpoc[p.patient_id]) for p in self.patients],
            "byCancer": self._by_cancer(cpoc),
            "byMonth": self._by_month(at),
            "furthestBelow": self._furthest_below(at, cpoc),
            "payer": side.as_json(),
            "feeSchedule": self.fee_schedule,
            "warnings": self.warnings,
        }

    def _items_json(self) -> dict[str, Any]:
        charges = self.charges
        return {
            "priced": dict(sorted(charges.basis.items())),
            "unpriced": charges.unpriced_json(),
            "outsidePeriod": charges.outside_period,
            "skipped": dict(sorted(charges.skipped.items())),
            "patientsWithoutRecord": self.unmatched_patients,
        }

    def _by_component(self, at: Scenario | None) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for patient in self.patients:
            for line in patient.lines:
                row = rows.setdefault(line.code, _zero_row(line.code))
                row["lines"] += 1
                row["rv"] += line.rv
                row["ffs"] += line.ffs
                row["cpoc"] += ZERO if at is None else at.amount(line.rv)
        outside = sum_of(p.unattributed for p in self.patients)
        ordered = [rows[code] for code in CODES if code in rows]
        if outside:
            none = _zero_row(NO_LINE)
            none["ffs"] = outside
            ordered.append(none)
        return [_component_json(row) for row in ordered]

    def _patient_json(self, patient: PatientEconomics, cpoc: Decimal) -> dict[str, Any]:
        return {
            "patient": f"Patient/{patient.patient_id}",
            "cancer": patient.cancer,
            "lines": len(patient.lines),
            "relativeValues": str(patient.rv_sum),
            "ffsReplaced": money(patient.replaced),
            "ffsDrug": money(patient.drug),
            "ffsOther": money(patient.other),
            "cpoc": money(cpoc),
            "variance": money(cpoc - patient.replaced),
        }

    def _by_cancer(self, cpoc: dict[str, Decimal]) -> list[dict[str, Any]]:
        rows: dict[str, list[Decimal]] = {}
        counts: dict[str, int] = {}
        for patient in self.patients:
            row = rows.setdefault(patient.cancer, [ZERO, ZERO])
            row[0] += patient.replaced
            row[1] += cpoc[patient.patient_id]
            counts[patient.cancer] = counts.get(patient.cancer, 0) + 1
        return [
            {
                "cancer": cancer,
                "patients": counts[cancer],
                "ffsReplaced": money(ffs),
                "cpoc": money(paid),
                "variance": money(paid - ffs),
            }
            for cancer, (ffs, paid) in sorted(rows.items())
        ]

    def _by_month(self, at: Scenario | None) -> list[dict[str, Any]]:
        """Calendar months: FFS by service date, CPOC by the line's start (billing months
        do not follow the calendar, cpoc-rules §2)."""
        rows: dict[str, list[Decimal]] = {}
        lines: dict[str, int] = {}
        for patient in self.patients:
            for month, amount in patient.replaced_by_month.items():
                rows.setdefault(month, [ZERO, ZERO])[0] += amount
            for line in patient.lines:
                month = line.start.strftime("%Y-%m")
                rows.setdefault(month, [ZERO, ZERO])[1] += (
                    ZERO if at is None else at.amount(line.rv)
                )
                lines[month] = lines.get(month, 0) + 1
        return [
            {
                "month": month,
                "lines": lines.get(month, 0),
                "ffsReplaced": money(ffs),
                "cpoc": money(paid),
                "variance": money(paid - ffs),
            }
            for month, (ffs, paid) in sorted(rows.items())
        ]

    def _furthest_below(
        self, at: Scenario | None, cpoc: dict[str, Decimal]
    ) -> list[dict[str, Any]]:
        below = [p for p in self.patients if cpoc[p.patient_id] < p.replaced]
        below.sort(key=lambda p: (cpoc[p.patient_id] - p.replaced, p.patient_id))
        return [
            {
                **self._patient_json(p, cpoc[p.patient_id]),
                "cpocLines": [
                    {
                        "code": line.code,
                        "start": line.start.isoformat(),
                        "month": line.month,
                        "status": line.status,
                        "amount": money(ZERO if at is None else at.amount(line.rv)),
                        "ffsReplaced": money(line.ffs),
                    }
                    for line in p.lines
                ],
                "ffsReplacedCodes": dict(sorted(p.replaced_codes.items())),
            }
            for p in below[:FURTHEST_BELOW]
        ]


def _zero_row(code: str) -> dict[str, Any]:
    return {"code": code, "lines": 0, "rv": ZERO, "ffs": ZERO, "cpoc": ZERO}


def _component_json(row: dict[str, Any]) -> dict[str, Any]:
    code = row["code"]
    component, level = (CODES[code][0].value, CODES[code][1]) if code in CODES else (None, None)
    return {
        "code": code,
        "component": component,
        "level": level,
        "display": DISPLAY.get(code, "replaced-code FFS revenue in no CPOC line of the period"),
        "lines": row["lines"],
        "relativeValues": str(row["rv"]),
        "ffsReplaced": money(row["ffs"]),
        "cpoc": money(row["cpoc"]),
        "variance": money(row["cpoc"] - row["ffs"]),
    }


def _scenario_json(at: Scenario, revenue: Decimal) -> dict[str, Any]:
    return {
        "basis": at.basis,
        "base": str(at.base),
        "gpci": str(at.gpci),
        "vba": str(at.vba),
        "payer": at.payer_id,
        "illustrative": at.illustrative,
        "revenue": money(revenue),
    }


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
