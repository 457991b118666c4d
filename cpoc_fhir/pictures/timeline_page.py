"""``cpoc timeline --format html``: one self-contained HTML page, a picture and a table per
patient, for an analyst without an EHR (issue 17 item 2).

Pure: returns a string. The page has no script and no external file: its style is inline, the
pictures are inline SVG (``timeline_svg``), so the file opens anywhere and can be mailed.
Patients are named by reference only (no name or birth date: the file may travel).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from html import escape

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.pictures.timeline_svg import PALETTE, timeline_svg

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:70rem;padding:0 1rem;
color:#1a1a1a;line-height:1.4}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-top:1px solid #ccc;
padding-top:1rem}
.table-wrap{overflow-x:auto}table{border-collapse:collapse;font-size:.9rem;min-width:40rem}
th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}td.num{text-align:right}
.legend{display:flex;flex-wrap:wrap;gap:.3rem .8rem;padding:0;list-style:none;font-size:.85rem}
.legend span{display:inline-block;width:.9rem;height:.9rem;vertical-align:middle;
margin-right:.25rem}
.warnings{color:#7a3b00}
"""


def timeline_html(
    patients: Iterable[tuple[PatientTimeline, PatientRecord]],
    as_of: date,
    currency: str,
    warnings: Sequence[str] = (),
    illustrative: bool = False,
) -> str:
    """The HTML page of ``patients`` (each a timeline with the record it was computed from)."""
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Billing timelines as of {as_of.isoformat()}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>Billing timelines as of {as_of.isoformat()}</h1>",
        _legend(),
    ]
    count = 0
    for index, (timeline, record) in enumerate(patients, start=1):
        count += 1
        ref = _e(timeline.patient_ref)
        out.append(f'<section aria-labelledby="p{index}"><h2 id="p{index}">{ref}</h2>')
        if timeline.fee_for_service is not None:
            out.append(f"<p>No CPOC lines: {_e(timeline.fee_for_service)}</p>")
        out.append(timeline_svg(timeline, record, id_prefix=f"p{index}"))
        out.append(_table(timeline, currency, ref))
        shown = [w for w in timeline.warnings if w != timeline.fee_for_service]
        if shown:
            out.append('<ul class="warnings">' + "".join(f"<li>{_e(w)}</li>" for w in shown))
            out.append("</ul>")
        out.append("</section>")
    if count == 0:
        out.append("<p>No patients found.</p>")
    if warnings:
        out.append('<h2>Warnings</h2><ul class="warnings">')
        out += [f"<li>{_e(w)}</li>" for w in warnings]
        out.append("</ul>")
    if illustrative:
        out.append("<p>Amounts use an illustrative payer file, not a real fee schedule.</p>")
    out.append("</main></body></html>\n")
    return "".join(out)


def _legend() -> str:
    items = "".join(
        f'<li><span style="background:{fill}"></span>{_e(name)}</li>'
        for fill, _ink, name in PALETTE.values()
    )
    return f'<ul class="legend" aria-label="Colours of the month strip">{items}</ul>'


def _table(timeline: PatientTimeline, currency: str, ref: str) -> str:
    """The line table; ``ref`` (escaped) names its frame, which scrolls sideways on a narrow
    screen and so takes the keyboard focus (axe ``scrollable-region-focusable``)."""
    if not timeline.lines:
        return "<p>No billing lines.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{line.month if line.month is not None else '—'}</td>"
        f"<td>{line.start.isoformat()}</td><td>{line.end.isoformat()}</td>"
        f"<td>{_e(line.code)}</td><td>{_e(PALETTE[line.component][2])}</td>"
        f"<td>{line.level if line.level is not None else '—'}</td>"
        f"<td>{_e(line.status.value)}</td>"
        f'<td class="num">{line.amount:.2f} {_e(currency)}</td>'
        f"<td>{_e(line.model)}{f' ep. {line.episode}' if line.episode else ''}</td>"
        "</tr>"
        for line in timeline.lines
    )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Month", "From", "To", "Code", "Component", "Level", "Status", "Amount", "Model")
    )
    return (
        f'<div class="table-wrap" role="region" aria-label="Lines of {ref}" tabindex="0">'
        f"<table><caption>Lines</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _e(text: str) -> str:
    return escape(text, quote=True)
