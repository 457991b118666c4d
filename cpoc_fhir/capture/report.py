"""The summary table a capture run prints at the end."""

from __future__ import annotations

from decimal import Decimal

from cpoc_fhir.capture.run import CaptureSummary
from cpoc_fhir.capture.warning_list import summary_lines

WRITE_ORDER = (
    "created",
    "existed",
    "updated",
    "unchanged",
    "duplicate-retired",
    "dry-run",
    "failed",
)


def summary_table(
    summary: CaptureSummary,
    title: str,
    conflicts_path: str | None,
    warnings_path: str | None = None,
    write_mode: str | None = None,
) -> str:
    out = [title, ""]
    if summary.catch_up:
        out.append(f"  months billed       {summary.catch_up}")
    failed = f" ({summary.failed_patients} failed)" if summary.failed_patients else ""
    out.append(f"  patients            {summary.patients + summary.failed_patients}{failed}")
    lines = (
        "lines this month" if summary.first_month in ("", summary.month) else "lines of the months"
    )
    out.append(f"  {lines:<18}  {'code':6} {'count':>6} {'amount':>12}")
    total_count, total_amount = 0, Decimal("0.00")
    for code in sorted(summary.lines_by_code):
        count, amount = summary.lines_by_code[code], summary.amount_by_code[code]
        total_count += count
        total_amount += amount
        out.append(f"  {'':18}  {code:6} {count:>6} {amount:>12}")
    out.append(f"  {'':18}  {'total':6} {total_count:>6} {total_amount:>12}")
    if set(summary.lines_by_model) - {"cpoc"}:
        # value-and-models §15: each patient is billed under the pack its Coverage selects.
        per_pack = ", ".join(f"{m} {n}" for m, n in sorted(summary.lines_by_model.items()))
        out.append(f"  lines by model      {per_pack}")
    if summary.fee_for_service:
        out.append(
            f"  fee-for-service     {len(summary.fee_for_service)} patient(s): not a CPOC "
            "cancer type for this payer (no ChargeItems)"
        )
    out.append(f"  provisional         {summary.provisional}")
    out.append(f"  not billable        {summary.not_billable}")
    out.append(f"  warnings            {summary.warnings}")
    out += summary_lines(summary.warning_list, warnings_path)
    where = f" → {conflicts_path}" if conflicts_path and summary.conflicts else ""
    out.append(f"  FFS conflicts       {len(summary.conflicts)}{where}")
    writes = ", ".join(
        f"{name} {summary.writes[name]}" for name in WRITE_ORDER if summary.writes[name]
    )
    out.append(f"  ChargeItems         {writes or 'none'}")
    if write_mode:
        out.append(f"  written by          {write_mode}")
    if summary.kept_reviewed:
        out.append(f"  reviewed by staff   {len(summary.kept_reviewed)} kept")
    for kept in summary.kept_reviewed:
        out.append(f"  kept: {kept}")
    for conflict in summary.review_conflicts:
        out.append(f"  review conflict: {conflict}")
    for notice in summary.notices:
        out.append(f"  notice: {notice}")
    for error in summary.errors:
        out.append(f"  error: {error}")
    return "\n".join(out)
