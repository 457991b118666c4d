"""The value report as a table for a terminal: 80 columns by default (issue 17 item 6), the
measures' titles and sources cut with "…" to fit; ``--wide`` (width None) cuts nothing."""

from __future__ import annotations

import textwrap
from typing import Any

from cpoc_fhir.reports.render import DASH, aligned
from cpoc_fhir.terminal import WIDTH


def value_table(report: dict[str, Any], width: int | None = WIDTH) -> str:
    """The report in ``width`` columns (None: as wide as the full titles need)."""
    wrap = width or 10**6
    bench = report.get("benchmarks")
    bench_text = (
        "none (measures only, nothing rated)"
        if bench is None
        else f"{bench['source']} (year {bench['year']})"
        + (", ILLUSTRATIVE" if bench["illustrative"] else "")
    )
    phases = report["phases"]
    out = [
        f"Value report {report['year']} as of {report['asOf']}, participation year "
        f"{report['participationYear']}",
        # a long Location id stays whole, on its own line when it must
        *textwrap.wrap(
            f"Practice: {report['practice']['location'] or 'no Location'}",
            wrap,
            subsequent_indent="  ",
            break_long_words=False,
        ),
        *textwrap.wrap(f"Benchmarks: {bench_text}", wrap, subsequent_indent="  "),
        f"Phases: pathways {phases['pathways']}, quality {phases['quality']}, er {phases['er']}",
        *_patients_line(report.get("patients")),
        "",
        "Quality measures (rate = numerator / (denominator - exclusions)):",
    ]
    out.extend(_measure_rows(report["measures"], width))
    quality = report["quality"]
    composite = quality["composite"]
    minimum = quality.get("minimumDenominator")
    under = f"under {minimum}" if minimum is not None else "under the minimum"
    note = f"* not in the composite (§12.2): denominator {under}, no rate, or no benchmark"
    out.extend(textwrap.wrap(note, wrap, initial_indent="  ", subsequent_indent="    "))
    out.append(
        "  composite z: "
        + (DASH if composite is None else f"{composite:+.2f}")
        + ("; submitting" if quality["submitting"] else "; not submitting")
    )
    out += ["", "Emergency visits (weighted per 100 patient-months):"]
    er = report["er"]
    er_rows = [["period", "visits", "weighted", "pt-months", "observed", "expected", "adjusted"]]
    for q in [*er.get("quarters", []), {**er, "quarter": "year"}]:
        er_rows.append(
            [
                str(q["quarter"]),
                str(q["visits"]),
                str(q["weightedVisits"]),
                str(q["patientMonths"]),
                _text(q["observedRate"]),
                _text(q["expectedRate"]),
                _text(q["riskAdjustedRate"]),
            ]
        )
    out.extend(aligned(er_rows, right={1, 2, 3, 4, 5, 6}))
    out += ["", "Care pathways (rate = on pathway, switches included / decisions):"]
    p = report["pathways"]
    path_rows = [["cancer", "decisions", "deviations", "with reason", "rate", "uses", "rating"]]
    for c in p["byCancer"]:
        path_rows.append(
            [
                _cut(c["cancer"], 24),
                str(c["decisions"]),
                str(c["deviations"]),
                str(c["withReason"]),
                _text(c["rate"]),
                "yes" if c["uses"] else "no",
                c["rating"] or DASH,
            ]
        )
    path_rows.append(
        ["all", str(p["decisions"]), "", "", _text(p["rate"]), "", p["rating"] or DASH]
    )
    out.extend(aligned(path_rows, right={1, 2, 3, 4}))
    out.append(f"  excluded (clinical trial): {p['excludedTrial']}")
    out.append("")
    ratings = report["ratings"]
    if ratings is None:
        out.append("Ratings and adjustment: none (no benchmarks file)")
    else:
        out.append("Ratings: " + ", ".join(f"{k} {v or 'not rated'}" for k, v in ratings.items()))
        adjustment = report["adjustment"]
        out.append(f"Adjustment: {_signed_pct(adjustment)}")
    for warning in report["warnings"]:
        out.extend(textwrap.wrap(f"warning: {warning}", wrap, subsequent_indent="  "))
    return "\n".join(out)


def _patients_line(patients: dict[str, Any] | None) -> list[str]:
    if not patients:
        return []
    ffs = patients["feeForService"]
    apart = f" ({ffs} billed fee-for-service: not a CPOC cancer type, §14.3)" if ffs else ""
    return [f"Patients: {patients['evaluated']}{apart}"]


def _measure_rows(measures: list[dict[str, Any]], width: int | None) -> list[str]:
    """The measures' table: the title and source columns share what the figures leave of
    ``width`` (cut with "…"; None: nothing cut)."""
    header = ["id", "measure", "source", "better", "den", "excl", "num", "rate", "mean/sd", "z"]
    rows = [header]
    for m in measures:
        b = m["benchmark"]
        rows.append(
            [
                m["id"] + ("" if m["inComposite"] else "*"),
                m["title"],
                m["source"],
                "higher" if m["improvement"] == "increase" else "lower",
                str(m["denominator"]),
                str(m["exclusions"]),
                str(m["numerator"]),
                _rate(m["rate"]),
                DASH if b is None else f"{b['mean']}/{b['sd']}",
                DASH if m["z"] is None else f"{m['z']:+.2f}",
            ]
        )
    if width is None:
        return aligned(rows, right={4, 5, 6, 7, 9})
    figures = sum(max(len(r[i]) for r in rows) for i in range(len(header)) if i not in (1, 2))
    room = max(width - 2 - 2 * (len(header) - 1) - figures, 12)  # indent and separators
    source_width = min(max(len(r[2]) for r in rows), max(room // 3, 6))
    title_width = room - source_width
    for r in rows[1:]:
        r[1], r[2] = _cut(r[1], title_width), _cut(r[2], source_width)
    return aligned(rows, right={4, 5, 6, 7, 9})


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _rate(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def _text(value: Any) -> str:
    return DASH if value is None else str(value)


def _signed_pct(adjustment: str | None) -> str:
    """As ``cpoc vba`` prints it (the proposal's way: ``+1.5%``, ``0%``, ``-10%``)."""
    if adjustment is None:
        return "none"
    from decimal import Decimal

    from cpoc_fhir.value.adjustment import percent_text

    return f"{percent_text(Decimal(adjustment))} ({adjustment})"
