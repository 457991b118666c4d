"""OCM's rules (value-and-models §15.1): who starts an episode, what a month pays.

Pure: the data file is read by pack.py. An OCM episode is triggered by chemotherapy for a
cancer: a Part B administration or a Part D fill of any anti-cancer drug, hormonal therapy
included, but not a drug the data file lists as not cancer-directed (leucovorin)
(packs/episode_lines.py ``drug_triggers``), on a day the patient has an active cancer
diagnosis (primary or secondary) and inside the model's episode-start window. A drug day
without any active cancer diagnosis starts nothing: OCM requires a cancer diagnosis on the
triggering claim. Every month pays the one MEOS amount ($160, G9678).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.engine.facts import CancerRole, PatientRecord
from cpoc_fhir.packs.data_fields import data_date as _date


@dataclass(frozen=True)
class OcmData:
    code: str
    display: str
    amount: Decimal
    currency: str
    first_episode_start: date
    last_episode_start: date
    model_end: date
    source: str = ""
    not_cancer_directed: frozenset[str] = frozenset()  # catalog drug ids that start nothing

    def may_start(self, day: date) -> bool:
        """Whether an episode may begin on ``day`` (the model's episode-start window)."""
        return self.first_episode_start <= day <= self.last_episode_start


def has_cancer(record: PatientRecord, day: date) -> bool:
    """Any cancer diagnosis (primary or secondary) holding on ``day``."""
    return any(
        d.cancer_role is not CancerRole.NONE and d.active_during(day, day) for d in record.diagnoses
    )


def cancer_type(record: PatientRecord, day: date) -> str | None:
    """The cancer type an episode starting on ``day`` is shown with: the types of the primary
    cancers holding then, sorted and joined ("breast", "breast+lung"); "other" when only a
    secondary (metastatic) one holds; None when no cancer holds. Display only: OCM's own
    cancer-type assignment (for the performance-based payment) is not done here."""
    types = {
        d.cancer_type or "other"
        for d in record.diagnoses
        if d.cancer_role is CancerRole.PRIMARY and d.active_during(day, day)
    }
    if types:
        return "+".join(sorted(types))
    return "other" if has_cancer(record, day) else None


def price(day: date, data: OcmData) -> tuple[Decimal, list[str]]:
    """What an episode month starting on ``day`` pays, and why."""
    return data.amount, [
        f"OCM MEOS {data.code} {data.amount} per beneficiary per episode month "
        f"(month starting {day.isoformat()})"
    ]


def parse(raw: Mapping[str, Any], where: str) -> OcmData:
    """The data file's content; ValueError naming the file and field when it is bad."""
    try:
        meos = raw["meos"]
        model = raw["model"]
        data = OcmData(
            code=str(meos["code"]),
            display=str(meos.get("display", "OCM MEOS")),
            amount=Decimal(str(meos["amount"])),
            currency=str(meos.get("currency", "USD")),
            first_episode_start=_date(model["first_episode_start"], "model.first_episode_start"),
            last_episode_start=_date(model["last_episode_start"], "model.last_episode_start"),
            model_end=_date(model["model_end"], "model.model_end"),
            source=str(raw.get("source", "")),
            not_cancer_directed=frozenset(str(d) for d in raw.get("not_cancer_directed", [])),
        )
    except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
        raise ValueError(f"{where}: bad OCM data ({exc!r})") from None
    if not data.amount.is_finite() or data.amount < 0:
        raise ValueError(f"{where}: bad OCM data (meos.amount {data.amount} is not an amount)")
    if not data.first_episode_start <= data.last_episode_start <= data.model_end:
        raise ValueError(
            f"{where}: bad OCM data (model dates must run first_episode_start <= "
            "last_episode_start <= model_end)"
        )
    return data
