"""``cpoc model --format table``: the model's figures for people, in 80 columns by default
(issue 17 item 6; ``--wide``: a line each, as long as it needs). Ids are never cut: a line too
long is wrapped between words, and a patient's figures go under a long patient id."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cpoc_fhir.terminal import WIDTH, fit_lines


def model_table(data: dict[str, Any], width: int | None = WIDTH) -> str:
    """Summary, by component, by cancer, by month, the payer's side, the furthest below, in
    ``width`` columns (None: no limit)."""
    wrap = width or 10**6  # textwrap's width: no limit with --wide
    period = data["period"]
    scenario = data["scenario"]
    out = [
        f"CPOC against fee-for-service, {period['from']} to {period['to']} "
        f"({data['patients']} patients, {data['cpocLines']} CPOC lines)",
        "",
        *_beside(
            f"  FFS revenue of the codes CPOC replaces  {data['ffsReplacedRevenue']:>14}",
            f"(in no CPOC line: {data['ffsReplacedOutsideCpocLines']})",
            width,
        ),
        f"  FFS drug payments (same under CPOC)     {data['ffsDrugRevenue']:>14}",
        f"  other FFS services                      {data['ffsOtherRevenue']:>14}",
        f"  CPOC relative-value sum                 {data['cpocRelativeValueSum']:>14}",
        f"  revenue-neutral New Patient base        {_text(data['neutralBase']):>14}",
    ]
    ffs_only = data["feeForService"]
    if ffs_only["patients"]:
        out.append(
            f"  billed fee-for-service (not a CPOC cancer type, §14.3): {ffs_only['patients']} "
            f"patient(s), replaced codes {ffs_only['replaced']} (left out of the figures above)"
        )
    if data["margin"] is not None:
        label = f"base for a {_pct(data['margin']['rate'])} margin"
        out.append(f"  {label:<40}{_text(data['margin']['base']):>14}")
    if scenario is not None:
        label = {"payer": f"payer file {scenario['payer']}", "margin": "the margin's base"}.get(
            scenario["basis"], "the neutral base"
        )
        note = " (illustrative)" if scenario["illustrative"] else ""
        out.append(
            f"  CPOC revenue at {label}{note}: {scenario['revenue']} "
            f"(base {scenario['base']}, gpci {scenario['gpci']}, vba {scenario['vba']})"
        )
    unpriced = data["ffsItems"]["unpriced"]["items"]
    if unpriced:
        out.append(f"  FFS items without a price (left out): {unpriced}")
    out += ["", "By component and level"]
    out += _rows(
        ("code", "lines", "rv", "FFS replaced", "CPOC", "variance"),
        [
            (r["code"], r["lines"], r["relativeValues"], r["ffsReplaced"], r["cpoc"], r["variance"])
            for r in data["byComponent"]
        ],
    )
    out += ["", "By cancer type"]
    out += _rows(
        ("cancer", "patients", "FFS replaced", "CPOC", "variance"),
        [
            (r["cancer"], r["patients"], r["ffsReplaced"], r["cpoc"], r["variance"])
            for r in data["byCancer"]
        ],
    )
    out += ["", "By month (FFS by service date, CPOC by line start)"]
    out += _rows(
        ("month", "lines", "FFS replaced", "CPOC", "variance"),
        [
            (r["month"], r["lines"], r["ffsReplaced"], r["cpoc"], r["variance"])
            for r in data["byMonth"]
        ],
    )
    out += ["", *_payer_lines(data["payer"])]
    below = data["furthestBelow"]
    if below:
        out += ["", f"The {len(below)} patients furthest below FFS"]
        for row in below:
            codes = " ".join(f"{line['code']}@{line['start']}" for line in row["cpocLines"])
            figures = (
                f"FFS {row['ffsReplaced']:>10}  CPOC {row['cpoc']:>10}"
                f"  variance {row['variance']:>10}"
            )
            line = f"  {row['patient']:<{28 if width is None else 25}} {figures}"
            if width is not None and len(line) > width:  # a long id: its figures under it
                out += [f"  {row['patient']}", f"      {figures}"]
            else:
                out.append(line)
            out += textwrap.wrap(codes, wrap, initial_indent="      ", subsequent_indent="      ")
    if data["warnings"]:
        out += ["", f"Warnings ({len(data['warnings'])})"]
        for warning in data["warnings"]:
            out += textwrap.wrap(warning, wrap, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(fit_lines(out, width))


def _beside(line: str, note: str, width: int | None) -> list[str]:
    """``note`` after ``line``, or under it when the two do not fit ``width``."""
    joined = f"{line}   {note}"
    return [joined] if width is None or len(joined) <= width else [line, f"    {note}"]


def _payer_lines(payer: dict[str, Any]) -> list[str]:
    ffs, cpoc = payer["ffs"], payer["cpoc"]
    return [
        f"The payer's side (other spending reduced by {_pct(payer['reduction'])} under CPOC)",
        *_rows(
            ("", "practice", "other spending", "total"),
            [
                ("continued FFS", ffs["practicePayments"], ffs["otherSpending"], ffs["total"]),
                ("CPOC", cpoc["practicePayments"], cpoc["otherSpending"], cpoc["total"]),
            ],
        ),
        f"  payer saves {payer['savings']}"
        + (f" ({_pct(payer['savingsRate'])})" if payer["savingsRate"] is not None else "")
        + ("; budget neutral" if payer["budgetNeutral"] else "; NOT budget neutral")
        + (
            f"; break-even reduction {_pct(payer['breakEvenReduction'])}"
            if payer["breakEvenReduction"] is not None
            else ""
        ),
    ]


def _rows(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [list(header)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for number, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        rest = "  ".join(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        lines.append(f"  {first}  {rest}")
        if number == 0:
            lines.append("  " + "-" * (sum(widths) + 2 * (len(widths) - 1)))
    return lines


def _pct(rate: str) -> str:
    return f"{(Decimal(rate) * 100).normalize():f}%"


def _text(value: str | None) -> str:
    return "n/a" if value is None else value
