"""``cpoc report corridors --format table``: the settlement per quarter and payer, for people.

The one table is some 120 columns wide; fitted to 80 (the default, issue 17 item 6) it is two
with the quarter in each — what was billed against FFS and the outcome, then the corridor and
the settlement — and the prose is wrapped. ``--wide``: the one table, nothing wrapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpoc_fhir.terminal import WIDTH, wrapped

COLUMNS = (
    ("quarter", "quarter", "<"),
    ("payer", "payer", "<"),
    ("patients", "pat", ">"),
    ("lines", "lines", ">"),
    ("cpoc", "P (CPOC)", ">"),
    ("ffs", "F (FFS)", ">"),
    ("lower", "F×(1−c)", ">"),
    ("upper", "F×(1+c)", ">"),
    ("outcome", "outcome", "<"),
    ("supplement", "supplement", ">"),
    ("recovery", "recovery", ">"),
)


def corridors_table(data: Mapping[str, Any], width: int | None = WIDTH) -> str:
    """The report for people in ``width`` columns (None: ``--wide``)."""
    corridor = data["corridor"]
    rate = "none" if corridor is None else f"{float(corridor) * 100:g} %"
    lines = wrapped(
        f"Risk corridors {data['year']} — participation year {data['participationYear']}, "
        f"corridor {rate} ({data['corridors']['id']})",
        width,
    )
    rows = [[_cell(q.get(key)) for key, _h, _a in COLUMNS] for q in data["quarters"]]
    totals = data["totals"]
    rows.append(["total", "", "", "", totals["cpoc"], totals["ffs"], "", "", "", *_settled(totals)])
    table = _table(list(range(len(COLUMNS))), rows)
    if width is not None and max(len(line) for line in table) > width:
        # quarter, payer, patients, lines, P, F, outcome | quarter, the corridor, settlement;
        # the payer in both when there are several (a quarter is then no row's key)
        payers = {r[1] for r in rows[:-1]}
        settled = _SETTLED if len(payers) <= 1 else [0, 1, *_SETTLED[1:]]
        table = [*_table(_BILLED, rows), "", *_table(settled, rows)]
    lines += table
    lines += wrapped(
        "F: the replaced-code charges recorded in parallel for a patient's lines of the quarter, "
        "else the baseline's FFS revenue per line of the same code (value-and-models §14.4).",
        width,
    )
    baseline = data.get("baseline")
    if baseline:
        lines.append(f"Baseline {baseline['year']}: FFS revenue per CPOC line")
        for row in baseline["byCode"]:
            lines.append(f"  {row['code']}  {row['lines']:>6} line(s)  {row['perLine']:>10}")
    if data["corridors"].get("illustrative"):
        lines.append(f"The corridors file {data['corridors']['id']} is illustrative.")
    if data["payerFile"].get("illustrative"):
        lines.append(f"The payer file {data['payerFile']['id']} is illustrative.")
    for name in data.get("settlementFiles", []):
        lines.append(f"written: {name}")
    for warning in data["warnings"]:
        lines += wrapped(warning, width, "warning: ", "  ")
    return "\n".join(lines)


_BILLED = [0, 1, 2, 3, 4, 5, 8]  # … P, F and the outcome of the two
_SETTLED = [0, 6, 7, 9, 10]


def _table(columns: list[int], rows: list[list[str]]) -> list[str]:
    """The header and ``rows`` in ``columns`` (indexes into COLUMNS), each as wide as needed."""
    chosen = [COLUMNS[i] for i in columns]
    cells = [[r[i] for i in columns] for r in rows]
    widths = [
        max(len(head), *(len(r[k]) for r in cells)) for k, (_k, head, _a) in enumerate(chosen)
    ]
    return [_row([head for _k, head, _a in chosen], widths, chosen)] + [
        _row(r, widths, chosen) for r in cells
    ]


def _settled(totals: Mapping[str, Any]) -> list[str]:
    return [str(totals["supplement"]), str(totals["recovery"])]


def _cell(value: object) -> str:
    return "—" if value is None else str(value)


def _row(cells: list[str], widths: list[int], columns: Any = COLUMNS) -> str:
    out = []
    for cell, width, (_k, _h, align) in zip(cells, widths, columns, strict=True):
        out.append(cell.ljust(width) if align == "<" else cell.rjust(width))
    return "  ".join(out).rstrip()
