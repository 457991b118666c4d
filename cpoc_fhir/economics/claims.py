"""FFS charges from FHIR R4: ChargeItem, Claim and ExplanationOfBenefit (CARIN Blue Button).

Each billed item becomes a ``ClaimLine``: patient, service date, code system and code, units,
amount (None when the item carries none) and evidence "Type/id#itemN". Amounts (§14.1):

- ChargeItem: ``priceOverride × quantity`` (https://hl7.org/fhir/R4/chargeitem.html);
- Claim item: ``net``, else ``unitPrice × quantity × factor``
  (https://hl7.org/fhir/R4/claim-definitions.html#Claim.item.net);
- ExplanationOfBenefit item: what the payer paid, the adjudication whose category is
  ``http://terminology.hl7.org/CodeSystem/adjudication|benefit`` ("Amount payable under the
  coverage"), which CARIN BB's C4BB Adjudication value set includes; when an EOB gives only
  CARIN's own ``C4BBAdjudication|paidtoprovider``, that; failing both, CMS Blue Button 2.0's
  line provider payment amount (``line_prvdr_pmt_amt``, CCW codebook LINE_PRVDR_PMT_AMT),
  which Synthea's EOBs carry. An EOB item's ``net`` and ``submitted`` are what was billed,
  not paid: never used.

Items without an amount are priced later from a fee schedule (``priced``), never guessed.
Left out, and counted: entered-in-error / cancelled / aborted / not-billable charges, draft
claims, the product's own CPOC ChargeItems (their codes are the CPOC codes), and a Claim that
an ExplanationOfBenefit of the input adjudicates (the EOB's paid amounts stand for it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.economics.claims_fast import plain_lines
from cpoc_fhir.economics.codes import NDC_SYSTEM, PROCEDURE_SYSTEMS, FfsKind, classify
from cpoc_fhir.economics.fee_schedule import FeeSchedule
from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement
from cpoc_fhir.fhir.read.references import reference_key, resource_key
from cpoc_fhir.packs.cpoc.codes import LINE_CODES

Resource = Mapping[str, Any]
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
C4BB_ADJUDICATION = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
BB2_ADJUDICATION = "https://bluebutton.cms.gov/resources/codesystem/adjudication"
BB2_PROVIDER_PAYMENT = "https://bluebutton.cms.gov/resources/variables/line_prvdr_pmt_amt"
# The paid amount's categories, the first found wins (module docstring).
PAID_CATEGORIES = (
    (ADJUDICATION, "benefit"),
    (C4BB_ADJUDICATION, "paidtoprovider"),
    (BB2_ADJUDICATION, BB2_PROVIDER_PAYMENT),
)
_SKIPPED_STATUS = {
    "ChargeItem": frozenset({"entered-in-error", "aborted", "not-billable"}),
    "Claim": frozenset({"entered-in-error", "cancelled", "draft"}),
    "ExplanationOfBenefit": frozenset({"entered-in-error", "cancelled", "draft"}),
}


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """One FFS item. ``basis``: where ``amount`` came from (charge, claim, paid, fee-schedule)."""

    patient_id: str
    on: date
    system: str | None
    code: str
    units: Decimal
    amount: Decimal | None
    evidence: str
    basis: str | None

    @property
    def kind(self) -> FfsKind:
        return classify(self.system, self.code)

    def priced(self, schedule: FeeSchedule | None) -> ClaimLine:
        """This line with a fee-schedule amount when it carries none (else unchanged)."""
        if self.amount is not None or schedule is None:
            return self
        price = schedule.price(self.system, self.code, self.units)
        return self if price is None else replace(self, amount=price, basis="fee-schedule")


@dataclass
class ClaimsRead:
    """A patient's FFS lines and what was left out (counts by reason; warnings name resources)."""

    lines: list[ClaimLine] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


def read_claims(
    patient_id: str,
    resources: Iterable[Resource],
    key: Callable[[object], str | None] = reference_key,
) -> ClaimsRead:
    """The FFS lines among one patient's resources (other resource types are ignored).

    ``key`` turns a reference into "Type/id" (``PatientResources.key`` resolves a Bundle's
    ``urn:uuid`` fullUrls, as Synthea's EOBs name their Claim)."""
    resources = [r for r in resources if r.get("resourceType") in _SKIPPED_STATUS]
    adjudicated = {
        ref
        for r in resources
        if r.get("resourceType") == "ExplanationOfBenefit"
        and isinstance(r.get("claim"), dict)
        and (ref := key(r["claim"].get("reference"))) is not None
    }
    out = ClaimsRead()
    for resource in resources:
        kind, ref = resource["resourceType"], resource_key(resource)
        if resource.get("status") in _SKIPPED_STATUS[kind]:
            out.skipped[f"{kind} {resource.get('status')}"] += 1
            continue
        if kind == "Claim" and ref in adjudicated:
            out.skipped["Claim adjudicated by an ExplanationOfBenefit of the input"] += 1
            continue
        if kind != "ChargeItem":  # most items are plain: read in one go (claims_fast)
            eob = kind == "ExplanationOfBenefit"
            plain = plain_lines(resource, ref, PAID_CATEGORIES if eob else None)
            if plain is not None:
                basis = "paid" if eob else "claim"
                out.lines.extend(
                    ClaimLine(patient_id, *line, None if line[4] is None else basis)
                    for line in plain
                )
                continue
        try:
            found = list(_READERS[kind](patient_id, resource, ref))
        except UnreadableElement as exc:
            out.warnings.append(f"{ref}: {exc.problem}; left out")
            out.skipped[f"{kind} unreadable"] += 1
            continue
        for item in found:
            if isinstance(item, ClaimLine):
                out.lines.append(item)
                continue
            if item.warning:
                out.warnings.append(f"{ref}{item.at}: {item.reason}; left out")
            out.skipped[item.reason] += 1
    return out


class _Skip(Exception):
    """An item (or a whole ChargeItem) left out, and why; ``at``: which item."""

    def __init__(self, reason: str, at: str = "", warning: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at
        self.warning = warning


_Found = Iterator["ClaimLine | _Skip"]


def _charge_item(patient_id: str, item: Resource, ref: str) -> _Found:
    codings = _codings(access.concept(item, "code"), "code")
    if any(c.get("code") in LINE_CODES for c in codings):
        yield _Skip("CPOC ChargeItem (a CPOC line, not an FFS charge)", warning=False)
        return
    on = access.date(item, "occurrenceDateTime") or access.period(item, "occurrencePeriod")[0]
    if on is None:
        yield _Skip("no occurrence date (occurrenceDateTime or occurrencePeriod)")
        return
    units = _units(item, "")
    price = _money(item, "priceOverride", "")
    amount = None if price is None else price * units
    yield _line(patient_id, on, codings, units, amount, ref, "charge", "")


def _claim(patient_id: str, claim: Resource, ref: str) -> _Found:
    return _items(patient_id, claim, ref, _claim_amount, "claim")


def _eob(patient_id: str, eob: Resource, ref: str) -> _Found:
    return _items(patient_id, eob, ref, lambda item, at, _units: _paid(item, at), "paid")


def _items(
    patient_id: str,
    resource: Resource,
    ref: str,
    amount_of: Callable[[Resource, str, Decimal], Decimal | None],
    basis: str,
) -> _Found:
    """The items of a Claim or an ExplanationOfBenefit (the same item structure)."""
    billable = access.period(resource, "billablePeriod")[0]
    for index, item in enumerate(access.objects(resource, "item")):
        at = f"item[{index}]"
        on = _item_date(item, at, billable)
        if isinstance(on, _Skip):
            yield on
            continue
        units = _units(item, at)
        amount = amount_of(item, at, units)
        codings = _codings(access.concept(item, "productOrService", at), f"{at}.productOrService")
        yield _line(patient_id, on, codings, units, amount, _item_ref(ref, item, index), basis, at)


def _claim_amount(item: Resource, at: str, units: Decimal) -> Decimal | None:
    """Claim.item.net, else unitPrice × quantity × factor."""
    amount = _money(item, "net", at)
    if amount is None:
        unit_price = _money(item, "unitPrice", at)
        factor = access.decimal(item, "factor", at)
        if unit_price is not None:
            amount = unit_price * units * (Decimal(1) if factor is None else _dec(factor))
    return amount


def _paid(item: Resource, at: str) -> Decimal | None:
    """The sum of the item's adjudications of the first ``PAID_CATEGORIES`` it has."""
    found: dict[tuple[str, str], Decimal] = {}
    for index, adjudication in enumerate(access.objects(item, "adjudication", at)):
        where = f"{at}.adjudication[{index}]"
        category = access.concept(adjudication, "category", where) or {}
        for coding in access.objects(category, "coding", f"{where}.category"):
            wanted = (coding.get("system"), coding.get("code"))
            if wanted in PAID_CATEGORIES:
                amount = _money(adjudication, "amount", where)
                if amount is not None:
                    key = (str(wanted[0]), str(wanted[1]))
                    found[key] = found.get(key, Decimal(0)) + amount
    return next((found[c] for c in PAID_CATEGORIES if c in found), None)


_READERS = {"ChargeItem": _charge_item, "Claim": _claim, "ExplanationOfBenefit": _eob}


def _line(
    patient_id: str,
    on: date,
    codings: list[dict[str, Any]],
    units: Decimal,
    amount: Decimal | None,
    evidence: str,
    basis: str,
    at: str,
) -> ClaimLine | _Skip:
    coding = _chosen(codings)
    if coding is None:
        return _Skip("no code", f"#{at}" if at else "")
    return ClaimLine(
        patient_id,
        on,
        coding.get("system"),
        str(coding["code"]),
        units,
        amount,
        evidence,
        None if amount is None else basis,
    )


def _codings(concept: Mapping[str, Any] | None, at: str) -> list[dict[str, Any]]:
    return [] if concept is None else access.objects(concept, "coding", at)


def _chosen(codings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The CPT/HCPCS coding, else the NDC one, else any coded one (classified as other)."""
    coded = [c for c in codings if c.get("code")]
    for wanted in (PROCEDURE_SYSTEMS, {NDC_SYSTEM}):
        for coding in coded:
            if coding.get("system") in wanted:
                return coding
    return coded[0] if coded else None


def _item_date(item: Resource, at: str, fallback: date | None) -> date | _Skip:
    on = access.date(item, "servicedDate", at) or access.period(item, "servicedPeriod", at)[0]
    on = on or fallback
    if on is None:
        return _Skip("no service date (servicedDate, servicedPeriod or billablePeriod)", f"#{at}")
    return on


def _units(node: Resource, at: str) -> Decimal:
    quantity = access.quantity(node, "quantity", at)
    value = None if quantity is None else quantity.get("value")
    return Decimal(1) if value is None else _dec(value)


def _money(node: Resource, name: str, at: str) -> Decimal | None:
    money = access.obj(node, name, at, expected="Money")
    if money is None:
        return None
    value = access.decimal(money, "value", access.path(at, name))
    return None if value is None else _dec(value)


def _dec(value: int | float | Decimal) -> Decimal:
    # JSON floats: the digits as written (repr is the shortest round-trip form), not binary.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _item_ref(ref: str, item: Resource, index: int) -> str:
    sequence = item.get("sequence")
    return f"{ref}#item{sequence if isinstance(sequence, int) else index + 1}"
