"""``cpoc report enhanced-care``: the target and the quarterly amounts of the enhanced-care
supplement (value-and-models §13.1) from value report JSON files, as a table, JSON or HTML, and
``--write-payer``: a NEW payer file version carrying the amounts (and the target), so the next
quarter's xx600 lines bill them.

The target comes from ``--target``, else ``--baseline`` (the baseline year's value report),
else the payer file's ``[enhanced_care] target``. A target already in the payer file is fixed
for 3 years from ``target_set_in`` (§13.1): replacing it earlier with another value is refused
unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cpoc_fhir.economics.enhanced_care import (
    TARGET_YEARS,
    QuarterRow,
    Target,
    compute_target,
    reconcile,
)
from cpoc_fhir.errors import InputError
from cpoc_fhir.packs.cpoc.enhanced_care import EnhancedCare
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.reports.options import year
from cpoc_fhir.terminal import WIDTH, fit_lines, line_width

FORMATS = ("table", "json", "html")


def add_parser(reports: Any) -> None:

    p = reports.add_parser(
        "enhanced-care",
        help="the enhanced-care supplement: target rate and quarterly amounts (§13.1)",
    )
    p.add_argument("--year", type=year, required=True, metavar="YYYY", help="the year reconciled")
    p.add_argument(
        "--value", type=Path, required=True, metavar="VALUE_JSON",
        help="the year's value report (cpoc report value --format json): er.quarters",
    )  # fmt: skip
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--baseline", type=Path, metavar="BASELINE_VALUE_JSON",
        help="the baseline year's value report: sets the target",
    )  # fmt: skip
    which.add_argument("--target", type=_decimal, metavar="T", help="the target rate as agreed")
    p.add_argument("--payer", type=Path, metavar="FILE", help="the payer file ([enhanced_care])")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--wide", action="store_true", help="table: nothing wrapped (default: 80)")
    p.add_argument(
        "--write-payer", type=Path, metavar="NEW_FILE",
        help="write a new payer file version with the quarters' amounts and the target",
    )  # fmt: skip
    p.add_argument(
        "--force", action="store_true",
        help=f"reset a target set fewer than {TARGET_YEARS} years ago",
    )  # fmt: skip
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config, load_payer

    config = load_config(getattr(args, "config", None))
    payer_path = args.payer or config.payer_file
    payer = load_payer(payer_path, config.payer_locality)
    report = build_report(payer, args.year, read_value(args.value), args)
    if args.write_payer is not None:
        from cpoc_fhir.economics.enhanced_care_payer import write_amounts

        if payer_path is None:
            raise InputError("--write-payer", "needs the payer file to copy: --payer FILE")
        _out, change = write_amounts(
            payer_path, report, args.write_payer, args.value.name, config.payer_locality
        )
        report["wrotePayer"] = {"file": str(args.write_payer), "change": change}
    print(render(report, args.format, line_width(getattr(args, "wide", False))), end="")
    return 0


def build_report(
    payer: PayerSchedule, year: int, value: Mapping[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    care = payer.enhanced_care
    if care is None or care.amount <= 0:
        raise InputError(f"payer file {payer.id}", "no [enhanced_care] amount (§13.1)")
    if value.get("year") != year:
        raise InputError(str(args.value), f"is the value report of {value.get('year')}, not {year}")
    er = _er(value, str(args.value))
    target = _target(care, year, args)
    as_of = _as_of(value, str(args.value))
    rows = reconcile(er.get("quarters") or [], as_of, care.amount, target.value, care.cap)
    warnings = []
    if not care.opted_in:
        warnings.append(f"the practice is not opted in with {payer.id}: no xx600 line is billed")
    return {
        "year": year,
        "asOf": as_of.isoformat(),
        "payer": {
            "id": payer.id, "name": payer.name, "version": payer.version,
            "optedIn": care.opted_in, "illustrative": payer.illustrative,
            "source": care.source,
        },
        "amount": str(care.amount_on(None)),
        "cap": str(care.cap),
        "costPerAvoidableVisit": None if care.cost_per_avoidable_visit is None
        else str(care.cost_per_avoidable_visit),
        "target": target.as_json(),
        "yearRate": er.get("riskAdjustedRate"),
        "quarters": [row.as_json() for row in rows],
        "amounts": _amounts(rows),
        "warnings": warnings,
    }  # fmt: skip


def _amounts(rows: list[QuarterRow]) -> dict[str, str]:
    return {row.sets: str(row.amount) for row in rows if row.amount is not None}


def _target(care: EnhancedCare, year: int, args: argparse.Namespace) -> Target:
    fixed = care.target
    new: Target | None = None
    if args.target is not None:
        new = Target(args.target, "given", year)
    elif args.baseline is not None:
        new = _baseline_target(care, read_value(args.baseline), str(args.baseline), year)
    if new is None:
        if fixed is None:
            raise InputError(
                "--baseline", "the payer file has no [enhanced_care] target: give --baseline "
                "BASELINE_VALUE_JSON or --target T",
            )  # fmt: skip
        return Target(fixed, "payer file", care.target_set_in, baseline_year=care.baseline_year)
    set_in = care.target_set_in
    early = set_in is None or year < set_in + TARGET_YEARS
    if fixed is not None and new.value != fixed and not args.force and early:
        since = f"set in {set_in}" if set_in is not None else "in the payer file"
        raise InputError(
            "--baseline" if args.baseline is not None else "--target",
            f"the target {fixed} ({since}) is fixed for {TARGET_YEARS} years (§13.1): "
            f"{new.value} would reset it; --force resets it",
        )  # fmt: skip
    if fixed is not None and new.value == fixed:
        return Target(fixed, new.how, set_in, new.baseline, new.baseline_year,
                      new.treatment_share, new.reduction)  # fmt: skip
    if new.value <= 0:
        raise InputError("--target", f"the target must be positive, got {new.value}")
    return new


def _baseline_target(care: EnhancedCare, data: Mapping[str, Any], where: str, year: int) -> Target:
    er = _er(data, where)
    rate = er.get("riskAdjustedRate")
    if rate is None:
        raise InputError(where, "er.riskAdjustedRate is null (no benchmarks): no baseline")
    if care.cost_per_avoidable_visit is None:
        raise InputError("payer file", "enhanced_care.cost_per_avoidable_visit is required")
    months, treatment = er.get("patientMonths"), er.get("treatmentMonths")
    if not isinstance(months, int) or not isinstance(treatment, int) or months <= 0:
        raise InputError(where, "er.patientMonths / er.treatmentMonths missing or zero")
    target = compute_target(
        _decimal_of(rate, where, "er.riskAdjustedRate"), treatment, months, care.amount,
        care.cost_per_avoidable_visit, data.get("year"), year,
    )  # fmt: skip
    if target.value <= 0:
        raise InputError(
            where, f"the target would be {target.value}: the baseline rate cannot pay for the "
            "supplement (lower amount, or agree a target with --target)",
        )  # fmt: skip
    return target


def read_value(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes(), parse_float=Decimal)
    except FileNotFoundError:
        raise InputError(str(path), "no such value report") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read the value report: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"not a JSON value report: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "not a value report (an object)")
    return data


def _er(data: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    er = data.get("er")
    if not isinstance(er, Mapping):
        raise InputError(where, "not a value report: no 'er' object")
    return er


def _as_of(data: Mapping[str, Any], where: str) -> date:
    try:
        return date.fromisoformat(str(data.get("asOf")))
    except ValueError:
        raise InputError(where, f"asOf is not a date: {data.get('asOf')!r}") from None


def render(report: Mapping[str, Any], fmt: str, width: int | None = WIDTH) -> str:
    if fmt == "json":
        from cpoc_fhir.fhir.write.publish import to_json

        return to_json(dict(report), indent=2) + "\n"
    if fmt == "html":
        from cpoc_fhir.economics.enhanced_care_html import enhanced_care_html

        return enhanced_care_html(report)
    return table(report, width)


def table(report: Mapping[str, Any], width: int | None = WIDTH) -> str:
    """The reconciliation for people: lines longer than ``width`` (80; None: ``--wide``)
    wrapped between words (issue 17 item 6)."""
    target = report["target"]
    payer = report["payer"]
    lines = [
        f"Enhanced-care supplement {report['year']} (value-and-models §13.1), as of "
        f"{report['asOf']} — payer {payer['id']} v{payer['version']}"
        f"{'' if payer['optedIn'] else ' (NOT opted in)'}",
        f"  monthly amount s {report['amount']}, cap {report['cap']} × s",
        f"  target {target['value']} avoidable ER visits per 100 patient-months ({target['how']}"
        + (f", baseline {target['baseline']} of {target['baselineYear']}, treatment share "
           f"{target['treatmentShare']}" if target.get("baseline") else "")
        + (f", set in {target['setIn']}" if target.get("setIn") else "") + ")",
        "",
        "  quarter  rate        months  complete  sets     amount   note",
    ]  # fmt: skip
    for q in report["quarters"]:
        lines.append(
            f"  {q['quarter']}  {q['riskAdjustedRate'] or '—':>10}  {q['patientMonths']:>6}  "
            f"{'yes' if q['complete'] else 'no':8}  {q['sets']}  {q['amount'] or '—':>7}  "
            f"{q['note']}".rstrip()
        )
    for warning in report.get("warnings") or []:
        lines.append(f"warning: {warning}")
    if payer.get("illustrative"):
        lines.append(f"The payer file '{payer['id']}' is illustrative: not an agreement.")
    if report.get("wrotePayer"):
        lines.append(f"wrote {report['wrotePayer']['file']}: {report['wrotePayer']['change']}")
    return "\n".join(fit_lines(lines, width)) + "\n"


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"a positive rate, got {text!r}")
    return value


def _decimal_of(value: Any, where: str, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise InputError(where, f"{name} is not a decimal: {value!r}") from None
