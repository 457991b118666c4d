"""The flat fee pack's PACK: binds the rules with the fee read from its data file."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from flat_fee_pack.rules import CODE, FlatFee

SYSTEM = "http://example.org/fhir/CodeSystem/flat-fee-test"


def _bind(env: PackEnvironment) -> FlatFee:
    path = Path(env.data_file or Path(__file__).with_name("data.toml"))
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return FlatFee(Decimal(data["flat"]["fee"]))


def _title(line: BillingLine, currency: str) -> str:
    return f"Flat fee {line.start:%Y-%m}: {line.code} {currency} {line.amount}"


PACK = PaymentModelPack(
    id="flat",
    name="Flat monthly fee (test pack)",
    short_name="FLAT",
    codes={CODE: PackCode(CODE, "Flat monthly fee", Component.CARE_MANAGEMENT, system=SYSTEM)},
    bind=_bind,
    title=_title,
    source="tests only",
)
