"""Fee-for-service claims for the synthetic practice, as CARIN Blue Button sends them.

One ExplanationOfBenefit (profile C4BB-ExplanationOfBenefit-Professional-NonClinician, type
``professional``) per visit day and per infusion day; each item has productOrService (CPT or
HCPCS), servicedDate, quantity and an adjudication of category ``benefit`` (the amount paid).
Paid = the fee schedule's amount × units, rounded once to the cent (ROUND_HALF_UP).

What is billed (the II-D table's codes, value-and-models §14.1):
- visit: new-patient E&M (99203-99205) at the first visit, established (99212-99215) after;
  venipuncture 36415 with CBC 85025 and CMP 80053 at half the visits; CT 74177 at 15 %.
- infusion day: the first infused drug 96413 + 96415 per additional hour, further infused drugs
  96417; the first push 96409, further pushes 96411; cisplatin's hydration 96360 + 96361;
  a therapeutic injection 96372 on 30 % of days; each drug's J-code with its units; 36415,
  85025 and 80053.
Oral drugs are pharmacy claims and not generated.

Who paid (``payer_of``): the payor of the patient's primary Coverage in force on the claim's
day (engine/coverage.py ``primary_coverage``, the rule model selection and the corridors use),
when the patient has Coverages of its own (a payer-mix practice writes them); else the example
payer of the one Coverage ``coverage`` writes for the patient.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.corridor_payers import coverage_facts
from cpoc_fhir.economics.fee_schedule import FeeEntry, load_fee_schedule
from cpoc_fhir.engine.coverage import by_rank, primary_coverage
from cpoc_fhir.packs.cpoc.ffs import REPLACED_CODES
from cpoc_fhir.synthetic import codes as c
from cpoc_fhir.synthetic.patients import Plan
from cpoc_fhir.synthetic.truth import ClaimKind, ClaimLineTruth, VisitTruth

Resource = dict[str, Any]
FEE_SCHEDULE = (
    Path(__file__).resolve().parents[1] / "knowledge" / "data" / "fee-schedule-example.toml"
)
C4BB = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
PROFILE = C4BB + "C4BB-ExplanationOfBenefit-Professional-NonClinician"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
# CARIN BB code systems (HL7/carin-bb input/fsh/Aliases.fsh, example EOBProfessional1)
C4BB_CS = "http://hl7.org/fhir/us/carin-bb/CodeSystem/"
PLACE_OF_SERVICE = (
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
)
CENT = Decimal("0.01")
EXAMPLE_PAYER = "Organization/example-payer"  # the payer of a patient without own Coverages


# The fee schedule is read by cpoc model's own loader (one format, one set of checks): the
# claims the generator writes are priced exactly as the model would price them.
Fee = FeeEntry


@cache
def fee_schedule(path: Path = FEE_SCHEDULE) -> dict[str, Fee]:
    """code → its entry (system, amount per unit) in a fee-schedule file."""
    return {entry.code: entry for entry in load_fee_schedule(path).entries.values()}


def kind_of(code: str) -> ClaimKind:
    if code in REPLACED_CODES:
        return "replaced"
    return "drug" if code.startswith("J") else "other"


def visit_lines(visit: VisitTruth, extra: random.Random) -> list[tuple[str, int]]:
    lines = [(visit.em_code, 1)]
    if extra.random() < 0.5:
        lines += [(c.VENIPUNCTURE, 1), *((lab, 1) for lab in c.LABS)]
    if extra.random() < 0.15:
        lines.append((c.IMAGING, 1))
    return lines


def infusion_lines(plan: Plan, extra: random.Random) -> list[tuple[str, int]]:
    lines: list[tuple[str, int]] = []
    infused = pushed = 0
    for _, name, route in plan.drugs:
        if route != "iv":
            continue
        _, _, how, hours = c.DRUG_BILLING[name]
        if how == "infusion":
            if infused == 0:
                lines.append((c.CHEMO_FIRST_HOUR, 1))
                if hours > 1:
                    lines.append((c.CHEMO_ADDITIONAL_HOUR, hours - 1))
            else:
                lines.append((c.CHEMO_SEQUENTIAL, 1))
            infused += 1
        else:
            lines.append((c.CHEMO_PUSH if pushed == 0 else c.CHEMO_PUSH_ADDITIONAL, 1))
            pushed += 1
        if name in c.HYDRATED:
            lines += [(c.HYDRATION_FIRST_HOUR, 1), (c.HYDRATION_ADDITIONAL_HOUR, 1)]
    if extra.random() < 0.3:
        lines.append((c.INJECTION, 1))
    for _, name, route in plan.drugs:
        if route == "iv":
            jcode, units, _, _ = c.DRUG_BILLING[name]
            lines.append((jcode, units))
    lines += [(c.VENIPUNCTURE, 1), *((lab, 1) for lab in c.LABS)]
    return lines


def claims(
    plan: Plan,
    extra: random.Random,
    visits: list[VisitTruth],
    fees: dict[str, Fee],
    coverages: Sequence[Resource] = (),
) -> tuple[list[ClaimLineTruth], list[Resource]]:
    """The patient's claim lines and EOBs; ``coverages``: the patient's own Coverage
    resources (none: the example payer's, ``coverage``), each EOB naming ``payer_of`` its day."""
    payer = PayerOfPatient(plan, coverages)
    days: list[tuple[date, list[tuple[str, int]]]] = [
        (v.day, visit_lines(v, extra)) for v in visits
    ]
    days += [(day, infusion_lines(plan, extra)) for day in plan.infusion_days()]
    days.sort(key=lambda entry: entry[0])
    truths: list[ClaimLineTruth] = []
    out: list[Resource] = []
    for day, lines in days:
        eob_id = plan.rid("eob")
        items = []
        total = Decimal(0)
        for sequence, (code, units) in enumerate(lines, start=1):
            fee = fees[code]
            paid = (fee.amount * units).quantize(CENT, ROUND_HALF_UP)
            total += paid
            truths.append(ClaimLineTruth(eob_id, day, code, fee.system, units, paid, kind_of(code)))
            items.append(
                {
                    "sequence": sequence,
                    "productOrService": {"coding": [{"system": fee.system, "code": code}]},
                    "servicedDate": day.isoformat(),
                    "locationCodeableConcept": {
                        "coding": [{"system": PLACE_OF_SERVICE, "code": "11", "display": "Office"}]
                    },
                    "quantity": {"value": units},
                    "adjudication": [_benefit(paid)],
                }
            )
        out.append(_eob(plan, eob_id, day, items, total, payer.on(day)))
    return truths, out


def coverage(plan: Plan) -> Resource:
    """The example payer's Coverage of a patient that has none of its own."""
    return {
        "resourceType": "Coverage",
        "id": f"{plan.pid}-coverage",
        "status": "active",
        "beneficiary": plan.subject,
        "payor": [{"reference": EXAMPLE_PAYER}],
    }


class PayerOfPatient:
    """Who pays a patient's claim of a day: the insurer Reference and the Coverage."""

    def __init__(self, plan: Plan, coverages: Sequence[Resource] = ()) -> None:
        self.plan = plan
        self.payors = {
            f"Coverage/{r.get('id')}": dict((r.get("payor") or [{}])[0]) for r in coverages
        }
        self.ranked = by_rank(coverage_facts(coverages))

    def on(self, day: date) -> tuple[Resource, str]:
        primary = primary_coverage(self.ranked, day, ranked=True)
        if primary is None and self.ranked:
            # Own Coverages, none in force that day: the primary-ranked one (a claim names a
            # Coverage of the patient's, never the example payer's, which is not written).
            primary = self.ranked[0]
        if primary is None:
            return {"reference": EXAMPLE_PAYER}, f"Coverage/{self.plan.pid}-coverage"
        return self.payors[primary.ref], primary.ref


def payer_of(plan: Plan, day: date, coverages: Sequence[Resource] = ()) -> tuple[Resource, str]:
    """The insurer Reference and the Coverage reference of the patient's claim on ``day``."""
    return PayerOfPatient(plan, coverages).on(day)


def _benefit(amount: Decimal) -> Resource:
    return {
        "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
        "amount": {"value": amount, "currency": "USD"},
    }


def _network(kind: str) -> Resource:
    return {
        "category": {
            "coding": [{"system": C4BB_CS + "C4BBAdjudicationDiscriminator", "code": kind}]
        },
        "reason": {
            "coding": [{"system": C4BB_CS + "C4BBPayerAdjudicationStatus", "code": "innetwork"}]
        },
    }


def _eob(
    plan: Plan,
    eob_id: str,
    day: date,
    items: list[Resource],
    total: Decimal,
    payer: tuple[Resource, str],
) -> Resource:
    insurer, coverage_ref = payer
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": eob_id,
        "meta": {"profile": [PROFILE]},
        "identifier": [
            {
                "type": {"coding": [{"system": C4BB_CS + "C4BBIdentifierType", "code": "uc"}]},
                "system": "urn:example:synthetic-practice:claim",
                "value": eob_id,
            }
        ],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": plan.subject,
        "billablePeriod": {"start": day.isoformat(), "end": day.isoformat()},
        "created": f"{day.isoformat()}T00:00:00Z",
        "insurer": insurer,
        "provider": {"reference": "Organization/practice"},
        "payee": {
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/payeetype",
                        "code": "provider",
                    }
                ]
            },
            "party": {"reference": "Organization/practice"},
        },
        "outcome": "complete",
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": {"coding": [{"system": c.ICD, "code": plan.icd}]},
                "type": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                                "code": "principal",
                            }
                        ]
                    }
                ],
            }
        ],
        "insurance": [{"focal": True, "coverage": {"reference": coverage_ref}}],
        "adjudication": [_network("billingnetworkstatus"), _network("renderingnetworkstatus")],
        "item": items,
        "total": [_benefit(total)],
        "payment": {"amount": {"value": total, "currency": "USD"}},
    }
