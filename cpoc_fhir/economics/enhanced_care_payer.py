"""``cpoc report enhanced-care --write-payer``: the quarters' amounts (and a new target) into
a NEW payer file version (value-and-models §13.1), as ``cpoc_fhir/payer_file.py`` writes the
value-based adjustment: the input is never changed; TOML keeps its comments (tomlkit);
``[payer] version`` + 1; a ``[[history]]`` entry says what changed and from which report; the
output is loaded with every payer-file check before it is written; an existing output is
refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import tomlkit

from cpoc_fhir.config import read_payer_data
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.write.publish import to_json
from cpoc_fhir.payer_file import open_version, write_version


def write_amounts(
    payer_path: Path,
    report: Mapping[str, Any],
    out: Path,
    report_name: str,
    locality: str | None = None,
    today: date | None = None,
) -> tuple[Path, str]:
    """Write ``out``: ``payer_path`` with the report's quarterly amounts and its target."""
    doc, is_json = open_version(payer_path, out)
    old = read_payer_data(payer_path)
    if "enhanced_care" not in doc:
        raise InputError(str(payer_path), "has no [enhanced_care] table to update")
    care = doc["enhanced_care"]
    amounts: Mapping[str, str] = report["amounts"]
    if not amounts:
        raise InputError(report_name, "no complete quarter: no amount to write")
    if "quarters" not in care:
        care["quarters"] = {} if is_json else tomlkit.table()
    for quarter, amount in sorted(amounts.items()):
        care["quarters"][quarter] = amount
    changes = [", ".join(f"enhanced_care.quarters.{q} = {a}" for q, a in sorted(amounts.items()))]
    target = report["target"]
    before = (old.get("enhanced_care") or {}).get("target")
    if target["how"] != "payer file" and str(before) != target["value"]:
        care["target"] = target["value"]
        if target.get("setIn") is not None:
            care["target_set_in"] = target["setIn"]
        if target.get("baselineYear") is not None:
            care["baseline_year"] = target["baselineYear"]
        changes.append(f"enhanced_care.target: {before} → {target['value']} ({target['how']})")
    raw = (to_json(dict(report)) + "\n").encode("utf-8")
    change = "; ".join(changes)
    source = (
        f"enhanced-care reconciliation {report['year']} from {report_name} "
        f"(as of {report['asOf']}, sha256 {hashlib.sha256(raw).hexdigest()})"
    )
    write_version(doc, is_json, payer_path, out, change, source, locality, today)
    return out, change
