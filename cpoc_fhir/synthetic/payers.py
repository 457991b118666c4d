"""A payer mix for the synthetic practice: each patient's Coverages (value-and-models §15).

``--payer-mix medicare-eom=0.4,commercial-cpoc=0.4,medicaid-dual=0.1,none=0.1`` gives each
patient one mix entry, drawn from its own stream (``Random(f"{seed}-payer-{n}")``), so the
clinical records never change with the mix; no mix (the default) writes no payer at all.

Entries (the payers are illustrative Organizations, not real contract numbers):

- ``medicare-eom``: Medicare (``Organization/medicare``, SOPT 1) — billed under EOM;
- ``medicare-ocm``: Medicare for an OCM practice (``Organization/medicare-ocm``, SOPT 1) —
  billed under OCM (episodes 2016-2022: generate with ``year`` 2017-2021);
- ``commercial-cpoc``: a commercial plan (``Organization/commercial``, SOPT 5) — CPOC;
- ``medicaid-dual``: Medicare (EOM) primary (order 1) and Medicaid (``Organization/medicaid``,
  SOPT 2) secondary (order 2) in force together: a dual-eligible beneficiary;
- ``none``: no Coverage (the ``[models] default`` pack, CPOC).

About 15 % of covered patients (``switch=S`` in the mix: another share) switch payer while
treated: the first Coverage ends the day before the switch day and a second (an entry of the
mix with another primary payer) starts on it.

Coverage.type is coded in the Source of Payment Typology (SOPT, PHDSC/NAHDO, maintained by
CDC NCHS), system ``urn:oid:2.16.840.1.113883.3.221.5`` as the EOM data file reads it: 1
Medicare, 2 Medicaid, 5 Private health insurance. (HL7 Terminology's NamingSystem SOPT,
build.fhir.org/ig/HL7/UTG/NamingSystem-SOPT.html, read 2026-12-02, also names it
``https://nahdo.org/sopt``; a reader accepting only that URL would miss these codes.)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.synthetic.truth import CoverageTruth

Resource = dict[str, Any]
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
SWITCH_SHARE = 0.15  # of covered patients treated long enough, switch payer while treated
SWITCH = "switch"  # ``switch=0.5`` in a mix: another share of switchers


@dataclass(frozen=True)
class Payer:
    org_id: str  # Organization/<org_id>
    name: str
    sopt: str
    sopt_display: str
    pack: str  # the pack models.toml maps the payer to

    @property
    def ref(self) -> str:
        return f"Organization/{self.org_id}"


PAYERS: Mapping[str, Payer] = {
    "medicare": Payer("medicare", "Medicare (illustrative MAC, EOM)", "1", "MEDICARE", "eom"),
    "medicare-ocm": Payer(
        "medicare-ocm", "Medicare (illustrative MAC, OCM)", "1", "MEDICARE", "ocm"
    ),
    "commercial": Payer(
        "commercial", "Example Commercial Health Plan", "5", "PRIVATE HEALTH INSURANCE", "cpoc"
    ),
    "medicaid": Payer("medicaid", "Example State Medicaid", "2", "MEDICAID", ""),  # secondary
}
# mix entry → (primary payer, secondary payer or None); "none" has no Coverage
ENTRIES: Mapping[str, tuple[str, str | None]] = {
    "medicare-eom": ("medicare", None),
    "medicare-ocm": ("medicare-ocm", None),
    "commercial-cpoc": ("commercial", None),
    "medicaid-dual": ("medicare", "medicaid"),
}
NONE = "none"


@dataclass(frozen=True)
class PayerMix:
    weights: tuple[tuple[str, float], ...]  # (entry, weight), in the order given
    switch_share: float = SWITCH_SHARE  # of covered patients treated ≥ 60 days

    @property
    def entries(self) -> tuple[str, ...]:
        return tuple(entry for entry, _ in self.weights)

    def payers(self) -> list[str]:
        """The PAYERS keys the mix can write, in a stable order."""
        keys: set[str] = set()
        for entry in self.entries:
            if entry != NONE:
                primary, secondary = ENTRIES[entry]
                keys |= {primary, *([secondary] if secondary else [])}
        return [k for k in PAYERS if k in keys]

    def mapping(self) -> dict[str, str]:
        """``[models] payers``: each primary payer → its pack (Medicaid is only secondary)."""
        return {PAYERS[k].ref: PAYERS[k].pack for k in self.payers() if PAYERS[k].pack}


def parse_mix(text: str) -> PayerMix:
    """``entry=weight,…``; weights are relative (they need not sum to 1). ``switch=S`` (0-1)
    sets the share of covered patients who switch payer while treated (default 0.15)."""
    weights: list[tuple[str, float]] = []
    switch_share = SWITCH_SHARE
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep or (name not in ENTRIES and name not in (NONE, SWITCH)):
            known = ", ".join([*ENTRIES, NONE, SWITCH])
            raise InputError(
                "--payer-mix", f"{part.strip()!r}: want ENTRY=WEIGHT, ENTRY one of {known}"
            )
        try:
            weight = float(value)
        except ValueError:
            raise InputError("--payer-mix", f"{name}: weight {value!r} is not a number") from None
        if not weight >= 0 or weight == float("inf"):
            raise InputError("--payer-mix", f"{name}: weight must be a finite number ≥ 0")
        if name == SWITCH:
            if weight > 1:
                raise InputError("--payer-mix", f"switch={value}: a share from 0 to 1")
            switch_share = weight
            continue
        if any(name == known for known, _ in weights):
            raise InputError("--payer-mix", f"{name} given twice")
        weights.append((name, weight))
    if sum(w for _, w in weights) <= 0:
        raise InputError("--payer-mix", "the weights sum to 0")
    return PayerMix(tuple(weights), switch_share)


def draw_coverages(
    mix: PayerMix, rng: random.Random, pid: str, year: int, treatment_days: list[date]
) -> tuple[str, list[CoverageTruth]]:
    """The patient's mix entry and Coverages. Every Coverage starts on 1 January of
    ``year - 2`` (before any record of the patient: the plan starts in ``year - 1``)."""
    names = [n for n, _ in mix.weights]
    entry = rng.choices(names, weights=[w for _, w in mix.weights])[0]
    if entry == NONE:
        return entry, []
    enrolled = date(year - 2, 1, 1)
    primary, secondary = ENTRIES[entry]
    # a switch changes the primary payer: to another entry with another primary payer
    others = [(n, w) for n, w in mix.weights if n != NONE and w > 0 and ENTRIES[n][0] != primary]
    switch: date | None = None
    switch_roll = rng.random()
    span = (treatment_days[-1] - treatment_days[0]).days if treatment_days else 0
    if others and span >= 60 and switch_roll < mix.switch_share:
        # while treated: 30 days after the first treatment day to 30 days before the last
        switch = treatment_days[0] + timedelta(days=rng.randrange(30, span - 29))

    def cover(n: int, key: str, start: date, end: date | None, order: int) -> CoverageTruth:
        payer = PAYERS[key]
        return CoverageTruth(f"{pid}-cov-{n}", key, payer.ref, start, end, order, payer.sopt)

    if switch is None:
        out = [cover(1, primary, enrolled, None, 1)]
        if secondary is not None:
            out.append(cover(3, secondary, enrolled, None, 2))
        return entry, out
    then = rng.choices([n for n, _ in others], weights=[w for _, w in others])[0]
    new_primary, new_secondary = ENTRIES[then]
    out = [
        cover(1, primary, enrolled, switch - timedelta(days=1), 1),
        cover(2, new_primary, switch, None, 1),
    ]
    if secondary is not None:  # a dual beneficiary stays dual
        out.append(cover(3, secondary, enrolled, None, 2))
    elif new_secondary is not None:
        out.append(cover(3, new_secondary, switch, None, 2))
    return entry, out


def coverage_resource(pid: str, coverage: CoverageTruth) -> Resource:
    payer = PAYERS[coverage.payer_key]
    period = {"start": coverage.start.isoformat()}
    if coverage.end is not None:
        period["end"] = coverage.end.isoformat()
    return {
        "resourceType": "Coverage",
        "id": coverage.coverage_id,
        "status": "active",
        "type": {"coding": [{"system": SOPT, "code": payer.sopt, "display": payer.sopt_display}]},
        "beneficiary": {"reference": f"Patient/{pid}"},
        "period": period,
        "payor": [{"reference": payer.ref, "display": payer.name}],
        "order": coverage.order,
    }


def organizations(mix: PayerMix) -> list[Resource]:
    return [
        {
            "resourceType": "Organization",
            "id": PAYERS[k].org_id,
            "active": True,
            "name": PAYERS[k].name,
        }
        for k in mix.payers()
    ]


def models_toml(mix: PayerMix, default: str = "cpoc") -> str:
    """The ``[models]`` settings that bill each payer of the mix under its pack."""
    payers = ", ".join(f'"{ref}" = "{pack}"' for ref, pack in mix.mapping().items())
    return (
        "# The synthetic practice's payers (cpoc_fhir/synthetic/payers.py): each payer's pack.\n"
        f'[models]\ndefault = "{default}"\npayers = {{ {payers} }}\n'
    )
