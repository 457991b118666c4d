"""The measure submission (value-and-models §12.2): the value report JSON → FHIR R4
MeasureReports, DEQM style, written as files or sent to a registry's FHIR endpoint.

- One ``summary`` MeasureReport per measure (Q1-Q6, avoidable emergency visits, pathway
  adherence): status complete, period = the performance year, ``measure`` = the Measure's
  versioned canonical (``measure_definitions``), one group with the population counts
  (initial-population, denominator, denominator-exclusion, numerator) and ``measureScore``.
  Emergency visits have two groups, ``observed`` and ``risk-adjusted``, stratified by quarter;
  pathway adherence is stratified by cancer type.
- With ``individual``: one ``individual`` MeasureReport per patient and measure, subject
  ``Patient/<id>``, the patient's counts and ``evaluatedResource`` = the resources that put the
  patient in each population (searches that found nothing are not resources and are left out).
  The pathway measure has no per-patient figures in the value report: no individual reports.
- Every report has an identifier (practice, measure, year [, patient]) and an id derived from
  it, so a resubmission replaces the same resources instead of adding copies.

Submission: a transaction Bundle of ``PUT MeasureReport/<id>`` entries — the summary reports in
one (all or none: a registry never holds half a year), and each patient's individual reports
in one (DEQM: a bundle SHOULD hold a single subject). DEQM's ``Measure/$submit-data`` is not
used: it expects the data of interest inside the Bundle, and these reports reference the EHR's
resources instead of copying patient data to the registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fhir.resources.R4B.measurereport import MeasureReport

from cpoc_fhir.fhir.auth import TokenProvider
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write.publish import PublishSettings, Resource, compact, to_json, validated
from cpoc_fhir.value.measure_definitions import (
    ER,
    IMPROVEMENT_SYSTEM,
    PATHWAYS,
    POPULATION_SYSTEM,
    SPECS,
    MeasureSpec,
)
from cpoc_fhir.value.measure_input import (
    count,
    decimal_or_none,
    fail,
    items,
    practice_id,
    proportion,
    references,
    rounded,
    table,
    text,
    year,
)

# The value report's population keys (common shape) → measure-population codes.
_SUMMARY_KEYS = (
    ("initialPopulation", "initial-population"),
    ("denominator", "denominator"),
    ("exclusions", "denominator-exclusion"),
    ("numerator", "numerator"),
)
ER_UNIT = "weighted visits per 100 patient-months"
_DIGEST_CHARS = 40


@dataclass(frozen=True)
class Submitted:
    """One MeasureReport as the registry answered it."""

    id: str
    status: int
    version: str | None


def measure_reports(
    report_json: Mapping[str, Any],
    individual: bool = False,
    settings: PublishSettings | None = None,
) -> list[Resource]:
    """The MeasureReports of a value report: the summaries, then (``individual``) the
    per-patient reports, each validated with the R4B model."""
    return [r for group in _report_groups(report_json, individual, settings) for r in group]


def write_measure_reports(
    report_json: Mapping[str, Any],
    out_dir: Path,
    individual: bool = False,
    settings: PublishSettings | None = None,
) -> list[Path]:
    """Write MeasureReport-<id>.json for each report; return the paths."""
    reports = measure_reports(report_json, individual, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for resource in reports:
        path = out_dir / f"MeasureReport-{resource['id']}.json"
        path.write_text(to_json(resource, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def submit_measure_reports(
    report_json: Mapping[str, Any],
    base_url: str,
    client: FhirClient | None = None,
    individual: bool = False,
    settings: PublishSettings | None = None,
    auth: TokenProvider | None = None,
    transaction: bool = True,
) -> list[Submitted]:
    """Send the reports to the registry at ``base_url``: one transaction for the summaries,
    one per patient for individual reports (``transaction=False``: one PUT per report, for a
    registry that grants ``MeasureReport`` scopes but not transactions). ``client`` (e.g. with
    SMART Backend Services, as capture builds it) is used when given, else one is made with
    ``auth``."""
    groups = _report_groups(report_json, individual, settings)
    own = client is None
    if client is None:
        client = FhirClient(base_url, auth=auth)
    elif client.base_url.rstrip("/") != base_url.rstrip("/"):
        raise ValueError("submit_measure_reports: the client is for another FHIR base")
    try:
        submitted: list[Submitted] = []
        for reports in groups:
            if not transaction:
                for r in reports:
                    answer = client.update(r)
                    submitted.append(Submitted(r["id"], answer.status, answer.version))
                continue
            entries = [
                {
                    "fullUrl": f"{client.base_url}/MeasureReport/{r['id']}",
                    "resource": r,
                    "request": {"method": "PUT", "url": f"MeasureReport/{r['id']}"},
                }
                for r in reports
            ]
            results = client.transaction(entries)
            submitted += [
                Submitted(r["id"], result.status, result.version)
                for r, result in zip(reports, results, strict=True)
            ]
        return submitted
    finally:
        if own:
            client.close()


def _report_groups(
    report_json: Mapping[str, Any], individual: bool, settings: PublishSettings | None
) -> list[list[Resource]]:
    """[summaries] + [one patient's individual reports] for each patient."""
    builder = _Builder(table(report_json, "(root)"), settings or PublishSettings())
    summaries, by_patient = builder.build(individual)
    return [summaries, *(by_patient[p] for p in sorted(by_patient))]


class _Builder:
    def __init__(self, report: Mapping[str, Any], settings: PublishSettings) -> None:
        self.report = report
        self.settings = settings
        self.year = year(report)
        self.practice, location = practice_id(report)
        self.reporter = settings.performing_organization or location
        as_of = report.get("asOf")
        self.date = as_of if isinstance(as_of, str) and as_of else f"{self.year}-12-31"

    def build(self, individual: bool) -> tuple[list[Resource], dict[str, list[Resource]]]:
        summaries: list[Resource] = []
        by_patient: dict[str, list[Resource]] = {}
        for i, entry in enumerate(items(self.report.get("measures"), "measures")):
            where = f"measures[{i}]"
            entry = table(entry, where)
            key = text(entry, "id", where)
            spec = SPECS.get(key)
            if spec is None or key in (ER, PATHWAYS):
                raise fail(f"{where}.id", f"no Measure is defined for {key!r}")
            summaries.append(self._summary(spec, [self._quality_group(entry, where)]))
            if individual:
                self._individuals(spec, entry.get("patients"), f"{where}.patients", by_patient)
        if self.report.get("er") is not None:
            er = table(self.report["er"], "er")
            summaries.append(self._summary(SPECS[ER], self._er_groups(er)))
            if individual:
                self._individuals(SPECS[ER], er.get("patients"), "er.patients", by_patient)
        if self.report.get("pathways") is not None:
            pathways = table(self.report["pathways"], "pathways")
            summaries.append(self._summary(SPECS[PATHWAYS], [self._pathway_group(pathways)]))
        return summaries, by_patient

    # --- summaries -----------------------------------------------------------------------

    def _quality_group(self, entry: Mapping[str, Any], where: str) -> Resource:
        counts = {code: count(entry, key, where, 0) for key, code in _SUMMARY_KEYS}
        eligible = counts["denominator"] - counts["denominator-exclusion"]
        if counts["numerator"] > max(eligible, 0):
            raise fail(where, "the numerator is larger than denominator − exclusions")
        return {
            "population": _populations(counts),
            "measureScore": _score(proportion(counts["numerator"], eligible)),
        }

    def _er_groups(self, er: Mapping[str, Any]) -> list[Resource]:
        visits, months = count(er, "visits", "er"), count(er, "patientMonths", "er")
        weighted = decimal_or_none(er, "weightedVisits", "er")
        quarters = [
            table(q, f"er.quarters[{i}]")
            for i, q in enumerate(items(er.get("quarters"), "er.quarters"))
        ]
        groups = []
        for code, rate_key in (("observed", "observedRate"), ("risk-adjusted", "riskAdjustedRate")):
            group: Resource = {
                "code": {"text": code},
                "population": self._er_populations(visits, months, weighted),
                "measureScore": _score(decimal_or_none(er, rate_key, "er"), ER_UNIT),
                "stratifier": [{"code": [{"text": "quarter"}], "stratum": []}],
            }
            if code == "risk-adjusted":
                group["extension"] = self._expected(decimal_or_none(er, "expectedRate", "er"))
            for i, quarter in enumerate(quarters):
                where = f"er.quarters[{i}]"
                stratum = {
                    "value": {"text": text(quarter, "quarter", where)},
                    "population": self._er_populations(
                        count(quarter, "visits", where),
                        count(quarter, "patientMonths", where),
                        decimal_or_none(quarter, "weightedVisits", where),
                    ),
                    "measureScore": _score(decimal_or_none(quarter, rate_key, where), ER_UNIT),
                }
                group["stratifier"][0]["stratum"].append(stratum)
            groups.append(group)
        return groups

    def _er_populations(self, visits: int, months: int, weighted: Decimal | None) -> list[Resource]:
        populations = _populations(
            {"initial-population": months, "denominator": months, "numerator": visits}
        )
        if weighted is not None:
            populations[-1]["extension"] = [
                {"url": self.settings.extension_url("weighted-count"), "valueDecimal": weighted}
            ]
        return populations

    def _expected(self, expected: Decimal | None) -> list[Resource] | None:
        if expected is None:
            return None
        url = self.settings.extension_url("expected-rate")
        return [{"url": url, "valueQuantity": {"value": expected, "unit": ER_UNIT}}]

    def _pathway_group(self, pathways: Mapping[str, Any]) -> Resource:
        # The report's "decisions" are those left after the clinical-trial exclusion
        # (rate = onPathway / decisions), so the denominator adds the excluded ones back.
        decisions = count(pathways, "decisions", "pathways")
        on_pathway = count(pathways, "onPathway", "pathways")
        excluded = count(pathways, "excludedTrial", "pathways", 0)
        if on_pathway > decisions:
            raise fail("pathways", "onPathway is larger than decisions")
        strata = []
        for i, entry in enumerate(items(pathways.get("byCancer"), "pathways.byCancer")):
            where = f"pathways.byCancer[{i}]"
            entry = table(entry, where)
            cancer_decisions = count(entry, "decisions", where)
            on, cancer_excluded = self._cancer_on_pathway(entry, cancer_decisions, where)
            strata.append(
                {
                    "value": {"text": text(entry, "cancer", where)},
                    "population": _populations(
                        {
                            "initial-population": cancer_decisions + cancer_excluded,
                            "denominator": cancer_decisions + cancer_excluded,
                            "denominator-exclusion": cancer_excluded,
                            "numerator": on,
                        }
                    ),
                    "measureScore": _score(proportion(on, cancer_decisions)),
                }
            )
        return {
            "population": _populations(
                {
                    "initial-population": decisions + excluded,
                    "denominator": decisions + excluded,
                    "denominator-exclusion": excluded,
                    "numerator": on_pathway,
                }
            ),
            "measureScore": _score(proportion(on_pathway, decisions)),
            "stratifier": [{"code": [{"text": "cancer"}], "stratum": strata}] if strata else None,
        }

    @staticmethod
    def _cancer_on_pathway(entry: Mapping[str, Any], decisions: int, where: str) -> tuple[int, int]:
        """A cancer type's on-pathway count and clinical-trial exclusions. Its ``deviations``
        include the trial deviations that left ``decisions`` (§12.1), so on pathway is not
        decisions − deviations when there are some: the report's own ``onPathway`` is read.
        A report without it (written before it carried one) falls back to that difference."""
        excluded = count(entry, "excludedTrial", where, 0)
        if "onPathway" in entry:
            on = count(entry, "onPathway", where)
            if on > decisions:
                raise fail(where, "onPathway is larger than decisions")
            return on, excluded
        deviations = count(entry, "deviations", where, 0)
        if deviations > decisions:
            raise fail(where, "deviations are more than decisions")
        return decisions - deviations, excluded

    def _summary(self, spec: MeasureSpec, groups: list[Resource]) -> Resource:
        return self._resource(spec, "summary", groups, None, ())

    # --- individual reports --------------------------------------------------------------

    def _individuals(
        self,
        spec: MeasureSpec,
        patients: Any,
        where: str,
        by_patient: dict[str, list[Resource]],
    ) -> None:
        if patients is None:
            return
        for patient_id, entry in table(patients, where).items():
            place = f"{where}.{patient_id}"
            counts = _patient_counts(spec, table(entry, place), place)
            refs = tuple(dict.fromkeys(references(entry)))
            group = {"population": _populations(counts)}
            subject = f"Patient/{patient_id}"
            resource = self._resource(spec, "individual", [group], subject, refs)
            by_patient.setdefault(patient_id, []).append(resource)

    # --- the resource --------------------------------------------------------------------

    def _resource(
        self,
        spec: MeasureSpec,
        kind: str,
        groups: list[Resource],
        subject: str | None,
        evaluated: Sequence[str],
    ) -> Resource:
        value = f"{self.practice}.{spec.key}.{self.year}"
        if subject is not None:
            value += f".{subject.partition('/')[2]}"
        system = self.settings.measure_report_identifier_system
        digest = hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:_DIGEST_CHARS]
        resource = {
            "resourceType": "MeasureReport",
            "id": f"cpoc-{digest}",
            "meta": {"tag": [self.settings.product_tag]},
            "identifier": [{"system": system, "value": value}],
            "status": "complete",
            "type": kind,
            "measure": f"{self.settings.measure_url(spec.id)}|{self.settings.version}",
            "subject": {"reference": subject} if subject else None,
            "date": self.date,
            "reporter": {"reference": self.reporter} if self.reporter else None,
            "period": {"start": f"{self.year}-01-01", "end": f"{self.year}-12-31"},
            "improvementNotation": {
                "coding": [{"system": IMPROVEMENT_SYSTEM, "code": spec.improvement}]
            },
            "group": groups,
            "evaluatedResource": [{"reference": r} for r in evaluated],
        }
        what = f"MeasureReport {spec.key} {kind}" + (f" {subject}" if subject else "")
        return validated(compact(resource), MeasureReport, what)


def _patient_counts(spec: MeasureSpec, entry: Mapping[str, Any], where: str) -> dict[str, int]:
    """A patient's count per population: the number of cases the value report lists under
    each measure-population code; for the emergency-visit measure also its own figures
    (``visits``, ``patientMonths``) when the entry has them."""
    codes = [code for code, _ in spec.populations]
    counts = dict.fromkeys(codes, 0)
    for code in codes:
        population = entry.get(code)
        if population is None:
            continue
        cases = table(population, f"{where}.{code}").get("cases")
        counts[code] = len(items(cases, f"{where}.{code}.cases"))
    if spec.key == ER:
        if "patientMonths" in entry:
            months = count(entry, "patientMonths", where)
            counts["initial-population"] = counts["denominator"] = months
        if "visits" in entry:
            visits = entry["visits"]
            counts["numerator"] = (
                len(visits) if isinstance(visits, list) else count(entry, "visits", where)
            )
    return counts


def _populations(counts: Mapping[str, int]) -> list[Resource]:
    return [
        {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": n}
        for code, n in counts.items()
    ]


def _score(value: Decimal | None, unit: str | None = None) -> Resource | None:
    if value is None:
        return None
    if unit is None:  # a proportion: UCUM unity
        return {"value": rounded(value), "system": "http://unitsofmeasure.org", "code": "1"}
    return {"value": rounded(value), "unit": unit}
