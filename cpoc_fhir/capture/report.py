"""The summary table a capture run prints at the end."""

from __future__ import annotations

from decimal import Decimal

from cpoc_fhir.capture.run import CaptureSummary

WRITE_ORDER = ("created", "existed", "updated", "unchanged", "dry-run", "failed")


def summary_table(summary: CaptureSummary, title: str, conflicts_path: str | None) -> str:
    out = [title, ""]
    failed = f" ({summary.failed_patients} failed)" if summary.failed_patients else ""
    out.append(f"  patients            {summary.patients + summary.failed_patients}{failed}")
    out.append(f"  lines this month    {'code':6} {'count':>6} {'amount':>12}")
    total_count, total_amount = 0, Decimal("0.00")
    for code in sorted(summary.lines_by_code):
        count, amount = summary.lines_by_code[code], summary.amount_by_code[code]
        total_count += count
        total_amount += amount
        out.append(f"  {'':18}  {code:6} {count:>6} {amount:>12}")
    out.append(f"  {'':18}  {'total':6} {total_count:>6} {total_amount:>12}")
    out.append(f"  provisional         {summary.provisional}")
    out.append(f"  not billable        {summary.not_billable}")
    out.append(f"  warnings            {summary.warnings}")
    where = f" → {conflicts_path}" if conflicts_path and summary.conflicts else ""
    out.append(f"  FFS conflicts       {len(summary.conflicts)}{where}")
    writes = ", ".join(
        f"{name} {summary.writes[name]}" for name in WRITE_ORDER if summary.writes[name]
    )
    out.append(f"  ChargeItems         {writes or 'none'}")
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
