"""``generate_practice``: a synthetic oncology practice as Bulk NDJSON, and its truth.

Deterministic by seed: the practice's main stream draws each patient's cancer, regimen and
visit days (as the timeline benchmark always did), and each patient's own stream
(``Random(f"{seed}-{n}")``) draws everything else, so the order of the files never matters.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.synthetic import claims as claim_lines
from cpoc_fhir.synthetic import payers
from cpoc_fhir.synthetic.emergency import emergency_visits
from cpoc_fhir.synthetic.end_of_life import choose_death, hospice
from cpoc_fhir.synthetic.patients import (
    Plan,
    address,
    conditions,
    draw_plan,
    medications,
    oncology_episode,
    patient_resource,
    stage_group,
)
from cpoc_fhir.synthetic.truth import PatientTruth, PracticeTruth
from cpoc_fhir.synthetic.visits import visits
from cpoc_fhir.synthetic.writer import NdjsonWriter

Resource = dict[str, Any]
LOCATION_ID = "practice"
PRACTICE_POSITION = (41.8781, -87.6298)  # illustrative: a practice in Chicago, IL


def generate_practice(
    out: Path,
    patients: int,
    seed: int = 7,
    year: int = 2025,
    claims: bool = True,
    payer_mix: payers.PayerMix | str | None = None,
) -> PracticeTruth:
    """Write ``patients`` patients' records (and, with ``claims``, their ExplanationOfBenefit
    claims) to ``out`` as NDJSON; return what was chosen. With ``payer_mix``
    (synthetic/payers.py) each patient gets Coverages from the mix, the payers'
    Organizations are written and ``out/models.toml`` holds the ``[models]`` mapping."""
    mix = payers.parse_mix(payer_mix) if isinstance(payer_mix, str) else payer_mix
    rng = random.Random(seed)
    truth = PracticeTruth(LOCATION_ID, *PRACTICE_POSITION, year=year, seed=seed)
    fees = claim_lines.fee_schedule() if claims else {}
    if claims:
        truth.fee_schedule = str(claim_lines.FEE_SCHEDULE)
    with NdjsonWriter(Path(out)) as writer:
        for resource in _practice_resources(claims):
            writer.write(resource)
        if mix is not None:
            for resource in payers.organizations(mix):
                writer.write(resource)
        for n in range(patients):
            plan = draw_plan(rng, n, year)
            extra = random.Random(f"{seed}-{n}")
            patient, resources = _patient(plan, extra, year, fees if claims else None)
            if mix is not None:
                own = random.Random(f"{seed}-payer-{n}")  # the mix never moves other draws
                resources = _with_payers(mix, own, patient, resources, year)
            truth.patients[patient.patient_id] = patient
            for resource in resources:
                writer.write(resource)
        truth.resources = writer.written
    if mix is not None:
        truth.payers = mix.mapping()
        (Path(out) / "models.toml").write_text(payers.models_toml(mix), encoding="utf-8")
    return truth


def _with_payers(
    mix: payers.PayerMix,
    own: random.Random,
    patient: PatientTruth,
    resources: list[Resource],
    year: int,
) -> list[Resource]:
    """The patient's resources with the mix's Coverages; with claims, each claim names the
    primary Coverage in force on its day (the generic Coverage is kept for a patient without
    one: a claim needs an insurance)."""
    pid = patient.patient_id
    entry, coverages = payers.draw_coverages(mix, own, pid, year, patient.treatment_days)
    patient.payer_entry, patient.coverages = entry, coverages
    if not coverages:
        return resources
    out: list[Resource] = []
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Coverage":
            continue  # the generic one (claims): replaced by the mix's
        if kind == "ExplanationOfBenefit":
            day = date.fromisoformat(resource["billablePeriod"]["start"])
            primary = next(c for c in coverages if c.order == 1 and c.holds(day))
            resource["insurer"] = {"reference": primary.payer}
            resource["insurance"] = [
                {"focal": True, "coverage": {"reference": f"Coverage/{primary.coverage_id}"}}
            ]
        out.append(resource)
    out += [payers.coverage_resource(pid, c) for c in coverages]
    return out


def _patient(
    plan: Plan, extra: random.Random, year: int, fees: dict[str, claim_lines.Fee] | None
) -> tuple[PatientTruth, list[Resource]]:
    home, distance = address(extra, PRACTICE_POSITION)
    plan.death = choose_death(plan, extra, year)
    cancer_id, condition_resources = conditions(plan)
    out: list[Resource] = [patient_resource(plan, home), *condition_resources]
    out.append(oncology_episode(plan, cancer_id))
    record = visits(plan, extra, cancer_id)
    out += record.resources
    out += medications(plan)
    stage_day, stage = stage_group(plan, extra)
    out += stage
    er, er_resources = emergency_visits(plan, extra, year)
    out += er_resources
    hospice_start, hospice_via, hospice_resources = hospice(plan, extra)
    out += hospice_resources
    treatment_days = plan.treatment_days()
    truth = PatientTruth(
        patient_id=plan.pid,
        cancer_icd10=plan.icd,
        solid=plan.solid,
        regimen=tuple(name for _, name, _ in plan.drugs),
        treatment_days=treatment_days,
        hormonal_only=plan.hormonal_only,
        line_starts=[plan.start] if treatment_days else [],
        ecog_days=record.ecog_days,
        visits=record.visits,
        phq_days=record.phq_days,
        stage_day=stage_day,
        first_treatment=treatment_days[0] if treatment_days else None,
        death=plan.death,
        hospice_start=hospice_start,
        er_visits=er,
        distance_km=distance,
        hospice_via=hospice_via,
        infusion_days=plan.infusion_days(),
    )
    if fees is not None:
        own = [r for r in out if r.get("resourceType") == "Coverage"]
        truth.claims, eobs = claim_lines.claims(plan, extra, record.visits, fees, own)
        if not own:  # the example payer's Coverage, which the EOBs then name
            out.append(claim_lines.coverage(plan))
        out += eobs
    return truth, out


def _practice_resources(claims: bool) -> list[Resource]:
    lat, lon = PRACTICE_POSITION
    out: list[Resource] = [
        {
            "resourceType": "Organization",
            "id": "practice",
            "active": True,
            "name": "Example Oncology Practice",
        },
        {
            "resourceType": "Location",
            "id": LOCATION_ID,
            "status": "active",
            "name": "Example Oncology Practice",
            "managingOrganization": {"reference": "Organization/practice"},
            "position": {"longitude": lon, "latitude": lat},
        },
    ]
    if claims:
        out.append(
            {
                "resourceType": "Organization",
                "id": "example-payer",
                "active": True,
                "name": "Example Payer",
            }
        )
    return out
