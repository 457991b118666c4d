"""Writing a year's value-based adjustment into a NEW payer file version (value-and-models
§12.4): ``cpoc payer set-vba`` and ``cpoc report value … --write-payer``.

The input file is never changed: the output is a copy (TOML: comments and layout kept, with
tomlkit; JSON: the same object) with

- ``[payer] version`` + 1;
- ``[years.<Y>] value_based_adjustment`` set (a year the file does not list is added, its base
  derived from the year before by the file's inflation update — MEI unless the file says
  otherwise — or by ``inflation_update`` when given); every other year untouched;
- a ``[[history]]`` entry: the new version, the date, what changed and from what (the value
  report's file, year, participation year and SHA-256, or "given on the command line").

A one-year file (``[payer] new_patient_amount``…, which prices every date alike) becomes a
per-year file: its figures become year Y−1's (and every year before, as the first year), and
year Y gets the same base (a one-year file has no inflation update; ``inflation_update``
applies one) with the new adjustment. The output is loaded with the same checks as any payer
file before it is written; an output that exists, or is the input, is refused.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import tomlkit

from cpoc_fhir.config import inflation_index, read_payer_data
from cpoc_fhir.errors import InputError, KnowledgeError
from cpoc_fhir.fhir.write.publish import to_json
from cpoc_fhir.packs.cpoc.payer import PayerSchedule

ONE_YEAR_KEYS = ("new_patient_amount", "gpci", "value_based_adjustment")


def set_vba(
    payer_path: Path,
    year: int,
    adjustment: Decimal,
    out: Path,
    source: str | None = None,
    inflation_update: Decimal | None = None,
    locality: str | None = None,
    today: date | None = None,
) -> tuple[Path, str]:
    """Write ``out``: ``payer_path`` with ``year``'s adjustment. Returns (out, what changed)."""
    _check_paths(payer_path, out)
    if not Decimal(-1) < adjustment < Decimal(1):
        raise InputError("--adjustment", f"a fraction between -1 and 1, got {adjustment}")
    old = read_payer_data(payer_path)
    try:
        schedule = PayerSchedule.from_data(old, str(payer_path), locality, inflation_index())
    except KnowledgeError as exc:
        raise InputError(str(payer_path), str(exc).removeprefix(f"{payer_path}: ")) from None
    doc, is_json = _parse(payer_path)
    before = _current_vba(schedule, year)
    change = f"years.{year}.value_based_adjustment: {before} → {adjustment}"
    if "years" not in doc:
        change += f" (one-year file split into years {year - 1} and {year})"
        _split_one_year(doc, year, is_json)
    years = doc["years"]
    entry: Any = years.get(str(year))
    if entry is not None and inflation_update is not None:
        raise InputError(
            "--inflation-update", f"year {year} is already in {payer_path}: its base stays"
        )
    if entry is None:
        entry = {} if is_json else tomlkit.table()
        if inflation_update is not None:
            entry["inflation_update"] = str(inflation_update)
        entry["value_based_adjustment"] = str(adjustment)
        if not is_json:
            entry.add(tomlkit.nl())
        years[str(year)] = entry
        if inflation_update is not None:
            change += f"; years.{year}.inflation_update {inflation_update}"
    else:
        entry["value_based_adjustment"] = str(adjustment)
    write_version(
        doc, is_json, payer_path, out, change, source or "given on the command line", locality,
        today,
    )  # fmt: skip
    return out, change


def open_version(payer_path: Path, out: Path) -> tuple[Any, bool]:
    """The payer file to edit into a new version at ``out`` (both paths checked first): its
    document (tomlkit keeps TOML comments and layout; JSON a plain object) and whether it is
    JSON."""
    _check_paths(payer_path, out)
    return _parse(payer_path)


def write_version(
    doc: Any,
    is_json: bool,
    payer_path: Path,
    out: Path,
    change: str,
    source: str,
    locality: str | None = None,
    today: date | None = None,
) -> None:
    """Write ``doc`` as the next version of ``payer_path``: ``[payer] version`` + 1, a
    ``[[history]]`` entry (version, date, change, source, from), every payer-file check on the
    result, then ``out`` created — never replaced."""
    previous = int(doc["payer"].get("version", 1))
    doc["payer"]["version"] = previous + 1
    history = {
        "version": previous + 1,
        "date": (today or date.today()).isoformat(),
        "change": change,
        "source": source,
        "from": f"{payer_path.name} version {previous}",
    }
    _append_history(doc, history, is_json)
    new_text = to_json(doc, indent=2) + "\n" if is_json else tomlkit.dumps(doc)
    _validate(new_text, is_json, out, locality)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("x", encoding="utf-8") as handle:  # "x": never replace a file
        handle.write(new_text)


def _parse(payer_path: Path) -> tuple[Any, bool]:
    text = payer_path.read_text(encoding="utf-8")
    is_json = payer_path.suffix.lower() == ".json"
    return (json.loads(text, parse_float=Decimal) if is_json else tomlkit.parse(text)), is_json


def set_vba_from_value(
    payer_path: Path,
    year: int,
    value_path: Path,
    out: Path,
    inflation_update: Decimal | None = None,
    locality: str | None = None,
    today: date | None = None,
    accept_illustrative: bool = False,
) -> tuple[Path, str]:
    """``set_vba`` with the adjustment of a value report file (``cpoc report value`` JSON) of
    the year before ``year``."""
    where = str(value_path)
    try:
        raw = value_path.read_bytes()
        report = json.loads(raw, parse_float=Decimal)
    except FileNotFoundError:
        raise InputError(where, "no such value report") from None
    except OSError as exc:
        raise InputError(where, f"cannot read the value report: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(where, f"not a JSON value report: {exc}") from None
    adjustment = value_adjustment(report, where, year, accept_illustrative)
    source = _report_source(report, value_path.name, raw)
    return set_vba(payer_path, year, adjustment, out, source, inflation_update, locality, today)


def write_payer(
    payer_path: Path,
    report: Mapping[str, Any],
    out: Path,
    report_name: str = "cpoc report value",
    inflation_update: Decimal | None = None,
    locality: str | None = None,
    today: date | None = None,
    accept_illustrative: bool = False,
) -> tuple[Path, str]:
    """For ``cpoc report value … --payer FILE --write-payer NEW_FILE``: the report just built
    (its JSON object) sets the adjustment of the year after its performance year."""
    year = report.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise InputError(report_name, "the value report has no performance year")
    adjustment = value_adjustment(report, report_name, year + 1, accept_illustrative)
    raw = (to_json(dict(report)) + "\n").encode("utf-8")
    source = _report_source(report, report_name, raw)
    return set_vba(payer_path, year + 1, adjustment, out, source, inflation_update, locality, today)


def _report_source(report: Mapping[str, Any], name: str, raw: bytes) -> str:
    rated = ", rated against ILLUSTRATIVE benchmarks" if _illustrative(report) else ""
    return (
        f"value report {name} (performance year {report['year']}, participation year "
        f"{report.get('participationYear')}, as of {report.get('asOf')}{rated}, sha256 "
        f"{hashlib.sha256(raw).hexdigest()})"
    )


def _illustrative(report: Mapping[str, Any]) -> bool:
    benchmarks = report.get("benchmarks")
    return isinstance(benchmarks, Mapping) and benchmarks.get("illustrative") is True


def value_adjustment(
    report: Any, where: str, year: int, accept_illustrative: bool = False
) -> Decimal:
    """The adjustment a value report of year ``year`` − 1 earned, checked. A report rated
    against illustrative benchmarks earned an example, not a payment: refused unless
    ``accept_illustrative`` (a payer trying the file format), and then named in the history."""
    if not isinstance(report, Mapping) or "adjustment" not in report or "year" not in report:
        raise InputError(where, "not a value report: no 'year' and 'adjustment'")
    if report["year"] != year - 1:
        raise InputError(
            where,
            f"the report is for performance year {report['year']}: it sets the adjustment of "
            f"{report['year'] + 1 if isinstance(report['year'], int) else '?'}, not {year}",
        )
    text = report["adjustment"]
    if text is not None and _illustrative(report) and not accept_illustrative:
        raise InputError(
            where,
            "the report was rated against ILLUSTRATIVE benchmarks: its adjustment is an example, "
            "not one a payer set (--accept-illustrative writes it anyway, named in the history)",
        )
    if text is None:
        raise InputError(
            where, "adjustment is null (no benchmarks, or a measure not rated): nothing to write"
        )
    try:
        return Decimal(str(text))
    except InvalidOperation:
        raise InputError(where, f"adjustment is not a decimal: {text!r}") from None


def _check_paths(payer_path: Path, out: Path) -> None:
    if not payer_path.is_file():
        raise InputError(str(payer_path), "no such payer file")
    if out.exists() and out.resolve() == payer_path.resolve():
        raise InputError(str(out), "is the input payer file: write the new version elsewhere")
    if out.exists():
        raise InputError(str(out), "exists: a new payer file version needs a new name")
    if (out.suffix.lower() == ".json") != (payer_path.suffix.lower() == ".json"):
        raise InputError(str(out), f"must have the input's format ({payer_path.suffix or 'TOML'})")


def _current_vba(schedule: PayerSchedule, year: int) -> str:
    listed = {y.year: y for y in schedule.years}
    if year in listed:
        return str(listed[year].vba)
    if not schedule.years:
        return f"{schedule.vba} (one-year file)"
    return "(not listed)"


def _split_one_year(doc: Any, year: int, is_json: bool) -> None:
    payer = doc["payer"]
    prior: Any = {} if is_json else tomlkit.table()
    for key in ONE_YEAR_KEYS:
        if key in payer:
            prior[key] = payer[key]
    new: Any = {} if is_json else tomlkit.table()
    new["new_patient_amount"] = payer["new_patient_amount"]
    for key in ONE_YEAR_KEYS:
        payer.pop(key, None)
    payer.pop("year", None)
    if is_json:
        doc["years"] = {str(year - 1): prior, str(year): new}
        return
    prior.add(tomlkit.nl())
    new.add(tomlkit.nl())
    years = tomlkit.table(is_super_table=True)
    years[str(year - 1)] = prior
    years[str(year)] = new
    doc["years"] = years


def _append_history(doc: Any, entry: dict[str, Any], is_json: bool) -> None:
    if is_json:
        doc.setdefault("history", []).append(entry)
        return
    table = tomlkit.table()
    for key, value in entry.items():
        table[key] = value
    if "history" in doc:
        doc["history"].append(table)
    else:
        doc.append("history", tomlkit.aot())
        doc["history"].append(table)


def _validate(text: str, is_json: bool, out: Path, locality: str | None) -> None:
    data = (
        json.loads(text, parse_float=Decimal)
        if is_json
        else tomllib.loads(text, parse_float=Decimal)
    )
    history = data.get("history")
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise InputError(str(out), "history must be a list of tables")
    try:
        PayerSchedule.from_data(data, str(out), locality, inflation_index())
    except KnowledgeError as exc:
        problem = str(exc).removeprefix(f"{out}: ")
        if "is not known" in problem:
            problem += " (cpoc payer set-vba --inflation-update)"
        raise InputError(str(out), problem) from None
