"""EOM's rules (value-and-models §15.2): who starts an episode, what a month pays.

Pure: the data file is read by pack.py. An initiating systemic therapy is an anti-cancer drug
administration or fill (packs/episode_lines.py) while the patient has an EOM cancer, inside
the model's episode-start window (1 July 2023 to the data file's last episode start); for
breast and prostate patients hormonal drugs alone start nothing, and a drug outside the
regimen catalog (whose classes are unknown) starts only a PROVISIONAL episode. A catalog drug
listed as not cancer-directed (leucovorin) starts nothing on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from cpoc_fhir.engine.coverage import SOPT_SYSTEMS
from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import MedicationExposure, PatientRecord
from cpoc_fhir.engine.lines import BillingLine
from cpoc_fhir.errors import InputError
from cpoc_fhir.packs.data_fields import data_date as _date

# How a dual month's line names the Medicaid Coverage it rests on (with_dual_evidence).
COVERAGE_PREFIX = "Coverage/"


class Initiation(Enum):
    """Whether a drug day starts an EOM episode."""

    NO = "no"
    YES = "yes"
    PROVISIONAL = "provisional"  # a drug outside the catalog for a breast/prostate patient


@dataclass(frozen=True)
class MeosAmount:
    from_year: int
    amount: Decimal
    dual_add_on: Decimal


@dataclass(frozen=True)
class EomData:
    code: str
    display: str
    amounts: tuple[MeosAmount, ...]  # ascending from_year
    cancers: Mapping[str, tuple[str, ...]]  # type → ICD-10-CM prefixes (no dot)
    hormonal_only_excluded: frozenset[str]
    hormonal_classes: frozenset[str]
    sopt_systems: tuple[str, ...]  # the PHDSC SOPT's system URIs a Coverage.type may use
    medicaid_payers: frozenset[str]
    source: str = ""
    epro_questionnaires: frozenset[str] = frozenset()  # empty: any questionnaire
    first_episode_start: date = date(2023, 7, 1)
    last_episode_start: date = date(2030, 1, 1)
    model_end: date = date(2030, 6, 30)
    not_cancer_directed: frozenset[str] = frozenset()  # catalog drug ids that start nothing
    not_dual_codes: frozenset[str] = frozenset()  # SOPT codes (e.g. 24 applicant) not dual

    def may_start(self, day: date) -> bool:
        """Whether an episode may begin on ``day`` (the model's episode-start window)."""
        return self.first_episode_start <= day <= self.last_episode_start

    def amount_for(self, day: date) -> MeosAmount:
        """The amounts of the latest year not after ``day``'s year (§15.2: by year). ``parse``
        checks the amounts cover the model window, so inside it this always finds one."""
        chosen = [a for a in self.amounts if a.from_year <= day.year]
        if not chosen:
            raise InputError("EOM data", f"no MEOS amount for {day.year}")
        return chosen[-1]


def catalog_problems(
    data: EomData, catalog_classes: set[str], catalog_drugs: set[str]
) -> list[str]:
    """Entries of the data file that name nothing in the regimen catalog (a typo there
    silently changes who starts an episode): checked when the pack is bound."""
    problems = [
        f"hormonal_classes entry {c!r} is not the class of any regimen-catalog drug"
        for c in sorted(data.hormonal_classes - catalog_classes)
    ]
    problems += [
        f"not_cancer_directed entry {d!r} is not a regimen-catalog drug"
        for d in sorted(data.not_cancer_directed - catalog_drugs)
    ]
    return problems


def eom_cancer_types(record: PatientRecord, day: date, data: EomData) -> set[str]:
    """The EOM cancer types of the patient's diagnoses holding on ``day``."""
    found: set[str] = set()
    for diagnosis in record.diagnoses:
        if not diagnosis.active_during(day, day):
            continue
        for kind, prefixes in data.cancers.items():
            if any(code.startswith(prefixes) for code in diagnosis.icd10):
                found.add(kind)
    return found


def initiates(
    exposure: MedicationExposure,
    classes: Sequence[str],
    cancers: set[str],
    data: EomData,
) -> Initiation:
    """Whether ``exposure`` (a drug of ``classes``) can start an EOM episode."""
    if not cancers or (exposure.drug and exposure.drug in data.not_cancer_directed):
        return Initiation.NO
    if cancers - data.hormonal_only_excluded:
        # A cancer without the hormonal-only exclusion (e.g. a lymphoma patient also on an
        # aromatase inhibitor): any anti-cancer drug initiates.
        return Initiation.YES
    if not exposure.drug:
        # Breast/prostate only and a drug outside the catalog: hormonal or not is unknown.
        return Initiation.PROVISIONAL
    hormonal = bool(classes) and all(c in data.hormonal_classes for c in classes)
    return Initiation.NO if hormonal else Initiation.YES


def dual_coverage(record: PatientRecord, day: date, data: EomData) -> str | None:
    """The Medicaid Coverage in force on ``day`` (PHDSC SOPT 2x, or a listed payer), or None."""
    prefixes = tuple(system + "|2" for system in data.sopt_systems)
    for coverage in record.coverages:
        if not coverage.holds(day):
            continue
        if coverage.payer in data.medicaid_payers:
            return coverage.ref
        if any(
            code.startswith(prefixes) and not _not_dual(code, data) for code in coverage.type_codes
        ):
            return coverage.ref
    return None


def _not_dual(code: str, data: EomData) -> bool:
    """A Medicaid SOPT code that does not make the patient dual-eligible (24: applicant)."""
    return code.rpartition("|")[2] in data.not_dual_codes


def is_dual(record: PatientRecord, day: date, data: EomData) -> bool:
    """A Medicaid Coverage in force on ``day``: the month pays the dual add-on."""
    return dual_coverage(record, day, data) is not None


@dataclass(frozen=True)
class MeosPrice:
    """What one episode month pays, why, and the Medicaid Coverage its add-on rests on."""

    amount: Decimal
    why: list[str]
    dual_coverage: str | None = None  # "Coverage/x": the month is dual-eligible


def price(record: PatientRecord, episode: Episode, day: date, data: EomData) -> MeosPrice:
    entry = data.amount_for(day)
    why = [f"EOM MEOS {data.code} {entry.amount} for months starting in {day.year}"]
    coverage = dual_coverage(record, day, data)
    if coverage is not None:
        why.append(f"dual-eligible (Medicaid Coverage on {day.isoformat()}): +{entry.dual_add_on}")
        return MeosPrice(entry.amount + entry.dual_add_on, why, coverage)
    return MeosPrice(entry.amount, why)


def with_dual_evidence(line: BillingLine, coverage: str) -> BillingLine:
    """A dual month's line, citing the Medicaid Coverage its add-on rests on (§11 evidence).

    The Coverage is the only Coverage an EOM line cites: ``is_dual_line`` reads it back."""
    if coverage in line.evidence:
        return line
    return replace(line, evidence=(*line.evidence, coverage))


def is_dual_line(line: BillingLine) -> bool:
    """Whether an EOM line pays the dual add-on: it cites a Medicaid Coverage."""
    return any(ref.startswith(COVERAGE_PREFIX) for ref in line.evidence)


def _sopt_systems(dual: Mapping[str, Any]) -> tuple[str, ...]:
    """``[dual] sopt_systems`` (a list); an older file's single ``sopt_system`` still reads."""
    if "sopt_systems" in dual:
        systems = dual["sopt_systems"]
        if not isinstance(systems, list) or not all(isinstance(s, str) and s for s in systems):
            raise ValueError("[dual] sopt_systems must be a list of system URIs")
        return tuple(systems)
    if "sopt_system" in dual:
        return (str(dual["sopt_system"]),)
    return SOPT_SYSTEMS


def parse(raw: Mapping[str, Any], where: str) -> EomData:
    """The data file's content; ValueError naming the file and field when it is bad."""
    try:
        meos = raw["meos"]
        amounts = tuple(
            sorted(
                (
                    MeosAmount(
                        int(a["from_year"]),
                        Decimal(str(a["amount"])),
                        Decimal(str(a["dual_add_on"])),
                    )
                    for a in meos["amounts"]
                ),
                key=lambda a: a.from_year,
            )
        )
        cancers = {
            str(k): tuple(str(p).replace(".", "").upper() for p in v)
            for k, v in raw["cancers"].items()
        }
        dual = raw.get("dual", {})
        model = raw["model"]
        data = EomData(
            code=str(meos["code"]),
            display=str(meos.get("display", "EOM MEOS")),
            amounts=amounts,
            cancers=cancers,
            hormonal_only_excluded=frozenset(raw.get("hormonal_only_excluded", [])),
            hormonal_classes=frozenset(raw.get("hormonal_classes", [])),
            sopt_systems=_sopt_systems(dual),
            medicaid_payers=frozenset(dual.get("medicaid_payers", [])),
            source=str(raw.get("source", "")),
            epro_questionnaires=frozenset(raw.get("services", {}).get("epro_questionnaires", [])),
            first_episode_start=_date(model["first_episode_start"], "model.first_episode_start"),
            last_episode_start=_date(model["last_episode_start"], "model.last_episode_start"),
            model_end=_date(model["model_end"], "model.model_end"),
            not_cancer_directed=frozenset(str(d) for d in raw.get("not_cancer_directed", [])),
            not_dual_codes=frozenset(str(c) for c in dual.get("not_dual_codes", [])),
        )
    except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
        raise ValueError(f"{where}: bad EOM data ({exc!r})") from None
    if not data.first_episode_start <= data.last_episode_start <= data.model_end:
        raise ValueError(
            f"{where}: bad EOM data (model dates must run first_episode_start <= "
            "last_episode_start <= model_end)"
        )
    if not data.amounts or data.amounts[0].from_year > data.first_episode_start.year:
        raise ValueError(
            f"{where}: bad EOM data (meos.amounts must start by {data.first_episode_start.year},"
            " the year of model.first_episode_start)"
        )
    if any(not a.amount.is_finite() or a.amount < 0 for a in data.amounts):
        raise ValueError(f"{where}: bad EOM data (a meos.amounts amount is not an amount)")
    return data
