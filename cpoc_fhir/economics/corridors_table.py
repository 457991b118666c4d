"""``cpoc report corridors --format table``: the settlement per quarter and payer, for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def corridors_table(data: Mapping[str, Any]) -> str:
    corridor = data["corridor"]
    rate = "none" if corridor is None else f"{float(corridor) * 100:g} %"
    lines = [
        f"Risk corridors {data['year']} — participation year {data['participationYear']}, "
        f"corridor {rate} ({data['corridors']['id']})",
    ]
    rows = [[_cell(q.get(key)) for key, _h, _a in COLUMNS] for q in data["quarters"]]
    totals = data["totals"]
    rows.append(["total", "", "", "", totals["cpoc"], totals["ffs"], "", "", "", *_settled(totals)])
    widths = [
        max(len(head), *(len(r[i]) for r in rows)) for i, (_k, head, _a) in enumerate(COLUMNS)
    ]
    lines.append(_row([head for _k, head, _a in COLUMNS], widths))
    lines.extend(_row(r, widths) for r in rows)
    lines.append(
        "F: the replaced-code charges recorded in parallel for a patient's lines of the quarter, "
        "else the baseline's FFS revenue per line of the same code (value-and-models §14.4)."
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
    lines.extend(f"warning: {w}" for w in data["warnings"])
    return "\n".join(lines)


def _settled(totals: Mapping[str, Any]) -> list[str]:
    return [str(totals["supplement"]), str(totals["recovery"])]


def _cell(value: object) -> str:
    return "—" if value is None else str(value)


def _row(cells: list[str], widths: list[int]) -> str:
    out = []
    for cell, width, (_k, _h, align) in zip(cells, widths, COLUMNS, strict=True):
        out.append(cell.ljust(width) if align == "<" else cell.rjust(width))
    return "  ".join(out).rstrip()
