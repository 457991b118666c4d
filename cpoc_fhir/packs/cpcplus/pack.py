"""The CPC+ pack's PACK (value-and-models §15.3): binds the data file and the attribution file.

The attribution file is, in this order: the one passed to ``bind_with`` (the coordination
report's ``--attribution``), the env ``CPOC_CPCPLUS_ATTRIBUTION``, the data file's
``attribution`` (relative to the data file). None of them: no patient is attributed.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.errors import InputError
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.base import PackCode, PackEnvironment, PaymentModelPack
from cpoc_fhir.packs.cpcplus import rules
from cpoc_fhir.packs.cpcplus.attribution import (
    Attribution,
    AttributionError,
    check_header,
    parse_rows,
)
from cpoc_fhir.packs.cpcplus.data_model import CpcPlusData, parse
from cpoc_fhir.packs.pack_data import money, read_data_file

DATA_FILE = Path(__file__).parent / "data" / "cpcplus.toml"
ATTRIBUTION_ENV = "CPOC_CPCPLUS_ATTRIBUTION"


def load_data(path: str | Path | None = None) -> CpcPlusData:
    return read_data_file(path, DATA_FILE, parse, "CPC+")


def attribution_path(
    data: CpcPlusData, data_file: str | Path | None, given: str | Path | None = None
) -> Path | None:
    if given:
        return Path(given)
    if os.environ.get(ATTRIBUTION_ENV):
        return Path(os.environ[ATTRIBUTION_ENV])
    if data.attribution:
        return (Path(data_file) if data_file else DATA_FILE).parent / data.attribution
    return None


def read_attribution(path: Path, data: CpcPlusData) -> tuple[Attribution, ...]:
    """The attribution CSV's rows; InputError naming the file (and row) when it is bad."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            check_header([c.strip() for c in reader.fieldnames or ()])
            rows = []
            for row in reader:
                rows.append((reader.line_num, {k.strip(): v for k, v in row.items() if k}))
        return parse_rows(rows, data)
    except AttributionError as exc:
        raise InputError(f"{path} row {exc.row}", exc.problem) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(str(path), f"cannot read the CPC+ attribution file: {exc}") from None


@dataclass(frozen=True)
class CpcPlusModel:
    knowledge: Knowledge
    data: CpcPlusData
    attributions: tuple[Attribution, ...]
    attribution_file: str | None

    def evaluate(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        lines = rules.cmf_lines(
            record, self.attributions, self.data, self.knowledge.charlson, as_of, spans
        )
        warnings = record.warnings
        if self.attribution_file is None:
            warnings += (
                f"CPC+: no attribution file (data file 'attribution' or env {ATTRIBUTION_ENV})"
                ": no patient is attributed",
            )
        return PatientTimeline(record.patient_ref, as_of, tuple(lines), warnings)


def bind_with(env: PackEnvironment, attribution: str | Path | None = None) -> CpcPlusModel:
    """The pack bound to its data file and the attribution file (``attribution``: instead of
    the env's or the data file's)."""
    data = load_data(env.data_file)
    path = attribution_path(data, env.data_file, attribution)
    rows = read_attribution(path, data) if path is not None else ()
    return CpcPlusModel(env.knowledge, data, rows, str(path) if path is not None else None)


def _bind(env: PackEnvironment) -> CpcPlusModel:
    return bind_with(env)


def _title(line: BillingLine, currency: str) -> str:
    amount = money(line.amount, currency)
    return f"CPC+ care management fee {line.start:%Y-%m}: {line.code} {amount}"


def _codes(path: str | None = None) -> dict[str, PackCode]:
    """One code per track and tier of the data file the pack is bound with (a practice's file
    may add tiers or rename the codes)."""
    data = load_data(path)
    return {
        data.code(track, tier): PackCode(
            data.code(track, tier),
            f"{data.display}: Track {track} tier {tier}",
            Component.CARE_MANAGEMENT,
            level=tier,
        )
        for track, tier in sorted(data.amounts)
    }


_DATA = load_data()

PACK = PaymentModelPack(
    id=rules.PACK_ID,
    name="Comprehensive Primary Care Plus",
    short_name="CPC+",
    codes=_codes(),
    codes_for=_codes,
    bind=_bind,
    replaces_fee_for_service=False,
    title=_title,
    source=_DATA.source,
    default_data_file=str(DATA_FILE),
)
