"""What a payment-model pack is (value-and-models §15): the unit the product is extended by.

A pack says who is in its model, how its periods are cut (CPOC months, six-month episodes),
which lines it bills, its codes and amounts (its own data file, with sources), its measures
and its cards' wording. It lives in one folder under ``cpoc_fhir/packs/`` with a module that
defines ``PACK`` (a ``PaymentModelPack``) and one line in ``packs/registry.py`` (or, for a
practice's own pack, one entry of the ``[models] packs`` setting).

Everything outside the packs — reading FHIR, lines, months and episodes, cards, ChargeItems,
the capture run, the review app — works on ``BillingLine``s tagged with their pack's id, so a
new pack needs no change there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge

# HCPCS Level II (https://terminology.hl7.org/CodeSystem-HCPCS-all-codes.html): G9678, M0010.
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


@dataclass(frozen=True)
class PackCode:
    """One code a pack's lines carry."""

    code: str
    display: str
    component: Component
    level: int | None = None
    # The code system; None: the practice's own CodeSystem (``[publish] codesystem_url``),
    # as for CPOC's placeholder codes (xx100 …), which no public system defines.
    system: str | None = None


@dataclass(frozen=True)
class PackEnvironment:
    """What a pack is bound with once per process: knowledge, rules and its data file."""

    knowledge: Knowledge
    rules: RuleSettings
    # The practice's CPOC payer schedule (packs/cpoc/payer.py PayerSchedule): the CPOC pack
    # prices with it; other packs read their own data file and may take its currency.
    cpoc_payer: Any
    # ``[models] data_files.<pack>`` (a path, resolved against the settings file); None: the
    # pack's shipped file. Text, not a Path: this module is imported by the pure rules.
    data_file: str | None = None
    locality: str | None = None  # the practice's payment locality (``[billing] locality``)


class ModelEvaluator(Protocol):
    """A pack bound to its data: evaluates one patient under the model."""

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        """The patient's lines under this model as known on ``as_of``.

        ``spans`` are the days the model holds the patient (packs/selection.py): an episode
        model starts episodes only on those days. Lines dated outside them are dropped by the
        caller (packs/evaluate.py), so a pack need not clip its own."""
        ...


@runtime_checkable
class MonthsEvaluator(ModelEvaluator, Protocol):
    """A pack that can bill only some of its months (CPOC: packs/cpoc/timeline.py)."""

    def evaluate_months(
        self,
        record: PatientRecord,
        as_of: date,
        spans: tuple[ModelSpan, ...],
        starts: Collection[date],
    ) -> PatientTimeline:
        """``evaluate``'s lines of the months starting on ``starts`` (and New Patient),
        exactly as ``evaluate`` gives them; other months' lines may be missing."""
        ...


def _no_title(line: BillingLine, currency: str) -> str | None:
    return None


@dataclass(frozen=True)
class PaymentModelPack:
    """A payment model the product can bill under."""

    id: str  # "cpoc", "ocm", "eom", "cpcplus": settings and lines name the pack by it
    name: str  # "Enhancing Oncology Model"
    short_name: str  # "EOM", as cards and tables show it
    # The codes of the shipped data file (``default_data_file``); a practice's data file may
    # name others: ``codes_of`` gives the codes of the file the pack is bound with.
    codes: Mapping[str, PackCode]
    bind: Callable[[PackEnvironment], ModelEvaluator]
    # CPOC replaces the visit and infusion codes (II-D; cpoc-rules §10): a practice billing them
    # in a CPOC month has a conflict. OCM and EOM keep fee-for-service billing (MEOS is added,
    # nothing is replaced), CPC+ too.
    replaces_fee_for_service: bool = False
    # One sentence a card title starts with, for a line of this pack ("EOM episode 2, month 3:
    # MEOS M0010 $110.00"); None keeps the shared wording (cards.py).
    title: Callable[[BillingLine, str], str | None] = _no_title
    source: str = ""  # where the model's rules come from (documents, dates)
    default_data_file: str | None = None  # the shipped, overridable data file (a path)
    extra: Mapping[str, Any] = field(default_factory=dict)  # anything a pack's reports need
    # The codes a data file (a path) gives the pack's lines, for a pack whose codes come from
    # its data file (EOM's MEOS code): ``[models] data_files`` may override the code, and a
    # line, a ChargeItem and the review app must then know the overriding one. None: the
    # pack's codes do not depend on its data file (CPOC's come from the product).
    codes_for: Callable[[str], Mapping[str, PackCode]] | None = None

    def __post_init__(self) -> None:
        _check_codes(self.id, self.codes)

    def codes_of(self, data_file: str | None) -> Mapping[str, PackCode]:
        """The codes of the pack bound with ``data_file`` (None: the shipped file)."""
        if self.codes_for is None or data_file is None or data_file == self.default_data_file:
            return self.codes
        codes = self.codes_for(data_file)
        _check_codes(self.id, codes)
        return codes


def _check_codes(pack_id: str, codes: Mapping[str, PackCode]) -> None:
    for code, entry in codes.items():
        if code != entry.code:
            raise ValueError(f"pack {pack_id}: code key {code!r} names {entry.code!r}")
