"""A patient's months as a picture: an inline SVG timeline (issue 17 item 2).

Pure: no I/O, no Flask. ``timeline_svg(timeline, record)`` draws, on one time axis from the
first line (or fact) to ``as_of``:

- the billing lines as a strip of months, coloured by component and shaded by level, each
  with its code and a ``<title>`` (code, dates, status, amount);
- treatment days (medication exposures) as ticks under the strip;
- ECOG values, disease-status markers, Transition and Clinical Trial marks (trial
  enrolments as bars), death, hospice episodes and the payment-model spans (value-and-models
  §15: the packs' lines carry ``model``; a span change is marked).

The picture carries ``role="img"``, a ``<title>`` and a ``<desc>`` that says in words what it
shows (screen readers read the desc; the month table on the page has the same facts). Colours
are a fixed palette with text on every segment, so colour is never the only carrier. All text
is XML-escaped; ids are prefixed so two pictures on one page do not clash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.facts import EpisodeKind, PatientRecord
from cpoc_fhir.engine.lines import BillingLine, PatientTimeline
from cpoc_fhir.vocabulary import DrugRole

WIDTH = 960  # viewBox width; the SVG scales to its container (width 100%)
LEFT, RIGHT = 116, 8  # the left gutter holds the row labels
GUTTER_X = 4
STRIP_Y, STRIP_H = 34, 34
TICKS_Y = STRIP_Y + STRIP_H + 6
ROW = 20  # height of one fact row under the strip

# Component → (fill, text colour, short label). Text contrast ≥ 4.5:1 on each fill.
PALETTE: dict[Component, tuple[str, str, str]] = {
    Component.NEW_PATIENT: ("#5b2a86", "#ffffff", "New patient"),
    Component.TREATMENT_MONTH: ("#1f4e8c", "#ffffff", "Treatment"),
    Component.ACTIVE_MONITORING: ("#2e6b30", "#ffffff", "Monitoring"),
    Component.TRANSITION: ("#9a4a00", "#ffffff", "Transition"),
    Component.CLINICAL_TRIAL: ("#7a1f3d", "#ffffff", "Clinical trial"),
    Component.ENHANCED_CARE: ("#005f66", "#ffffff", "Enhanced care"),
    Component.MEOS: ("#3b3b98", "#ffffff", "MEOS"),
    Component.CARE_MANAGEMENT: ("#4d4d4d", "#ffffff", "Care management"),
}
NOT_BILLABLE_FILL = "#d9d9d9"
NOT_BILLABLE_TEXT = "#1a1a1a"


@dataclass(frozen=True)
class _Axis:
    start: date
    end: date

    @property
    def days(self) -> int:
        return max(1, (self.end - self.start).days + 1)

    def x(self, day: date) -> float:
        """The left edge of ``day``."""
        span = WIDTH - LEFT - RIGHT
        offset = min(max((day - self.start).days, 0), self.days)
        return round(LEFT + span * offset / self.days, 1)

    def width(self, start: date, end: date) -> float:
        return max(1.0, round(self.x(end + timedelta(days=1)) - self.x(start), 1))


def timeline_svg(timeline: PatientTimeline, record: PatientRecord, id_prefix: str = "tl") -> str:
    """The SVG picture of ``timeline`` (its lines) and ``record`` (its facts) as a string."""
    axis = _axis(timeline, record)
    if axis is None:
        return _empty(timeline, id_prefix)
    body: list[str] = []
    body += _years(axis)
    body += _spans(timeline, axis)
    body += _strip(timeline.lines, axis)
    body.append(_label("Months", STRIP_Y + 21))
    ticks = _treatment_ticks(record, axis)
    if ticks:
        body += [*ticks, _label("Treatment days", TICKS_Y + 8)]
    rows = _fact_rows(record, timeline, axis)
    legend_y = TICKS_Y + 14 + ROW * len(rows) + 4
    body += _legend(timeline.lines, legend_y)
    height = legend_y + 20
    for index, (label, marks) in enumerate(rows):
        y = TICKS_Y + 14 + ROW * index
        body.append(
            f'<g class="fact-row" transform="translate(0,{y})">'
            f'<text class="row-label" x="{GUTTER_X}" y="13" font-size="10" fill="#555555">'
            f"{_t(label)}</text>{''.join(marks)}</g>"
        )
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{title_id} {desc_id}" font-family="sans-serif">'
        f'<title id="{title_id}">{_t(_title(timeline))}</title>'
        f'<desc id="{desc_id}">{_t(describe(timeline, record))}</desc>'
    )
    return head + "".join(body) + "</svg>"


def describe(timeline: PatientTimeline, record: PatientRecord) -> str:
    """The picture in words (its ``<desc>``)."""
    parts = []
    lines = timeline.lines
    if lines:
        counts: dict[str, int] = {}
        for line in lines:
            name = PALETTE[line.component][2]
            counts[name] = counts.get(name, 0) + 1
        listed = ", ".join(f"{n} {name}" for name, n in counts.items())
        parts.append(
            f"{len(lines)} billing line(s) from {lines[0].start.isoformat()} to "
            f"{lines[-1].end.isoformat()}: {listed}"
        )
    else:
        parts.append("no billing lines")
    days = _treatment_days(record, timeline.as_of)
    if days:
        parts.append(f"{len(days)} treatment day(s)")
    if record.performance:
        values = ", ".join(f"{p.ecog} on {p.on.isoformat()}" for p in record.performance)
        parts.append(f"ECOG {values}")
    if record.disease_status:
        values = ", ".join(f"{d.state.value} on {d.on.isoformat()}" for d in record.disease_status)
        parts.append(f"disease status {values}")
    if record.trials:
        parts.append(f"{len(record.trials)} clinical trial enrolment(s)")
    if any(e.kind is EpisodeKind.HOSPICE for e in record.episodes):
        parts.append("hospice")
    if record.death is not None:
        parts.append(f"died {record.death.isoformat()}")
    if len({s.model for s in timeline.models}) > 1:
        parts.append(f"{len(timeline.models)} payment-model spans")
    return "; ".join(parts) + "."


# --- pieces ---------------------------------------------------------------------------------


def _title(timeline: PatientTimeline) -> str:
    return f"Billing months as of {timeline.as_of.isoformat()}"


def _axis(timeline: PatientTimeline, record: PatientRecord) -> _Axis | None:
    days: list[date] = [d for line in timeline.lines for d in (line.start, line.end)]
    if not days:
        return None
    start, end = min(days), max(max(days), min(timeline.as_of, max(days) + timedelta(days=31)))
    return _Axis(start, end)


def _empty(timeline: PatientTimeline, id_prefix: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-svg" role="img" '
        f'viewBox="0 0 {WIDTH} 30" width="100%" aria-labelledby="{id_prefix}-title">'
        f'<title id="{id_prefix}-title">{_t(_title(timeline))}: no billing lines</title>'
        f'<text x="{GUTTER_X}" y="20" font-size="12">No billing lines.</text></svg>'
    )


def _years(axis: _Axis) -> list[str]:
    """Month starts as faint gridlines; the first shown and each January labelled YYYY-MM."""
    out = []
    day = date(axis.start.year, axis.start.month, 1)
    labelled = False
    while day <= axis.end:
        if day >= axis.start:
            x = axis.x(day)
            out.append(
                f'<line x1="{x}" x2="{x}" y1="14" y2="{TICKS_Y + 10}" stroke="#cccccc" '
                'stroke-width="0.5"/>'
            )
            if day.month == 1 or not labelled:
                out.append(
                    f'<text x="{x + 2}" y="12" font-size="11">{day.strftime("%Y-%m")}</text>'
                )
                labelled = True
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return out


def _spans(timeline: PatientTimeline, axis: _Axis) -> list[str]:
    """A thin bar above the strip per payment-model span (§15), labelled when there are two+."""
    if len({s.model for s in timeline.models}) < 2:
        return []
    out = []
    for span in timeline.models:
        start = max(span.start or axis.start, axis.start)
        end = min(span.end or axis.end, axis.end)
        if end < start:
            continue
        x, w = axis.x(start), axis.width(start, end)
        label = f"{span.model.upper()} {start.isoformat()} – {end.isoformat()}"
        out.append(
            f'<g class="model-span"><title>{_t(label)}</title>'
            f'<rect x="{x}" y="{STRIP_Y - 12}" width="{w}" height="8" fill="#ffffff" '
            f'stroke="#333333" stroke-width="0.8"/>'
            f'<text x="{x + 2}" y="{STRIP_Y - 5}" font-size="7">{_t(span.model.upper())}</text></g>'
        )
    return out


def _strip(lines: Iterable[BillingLine], axis: _Axis) -> list[str]:
    """One segment per line; lines of the same days share the strip's height."""
    out = []
    shared: dict[tuple[date, date], list[BillingLine]] = {}
    for line in lines:
        shared.setdefault((line.start, line.end), []).append(line)
    for line in (x for group in shared.values() for x in group):
        group = shared[(line.start, line.end)]
        h = round(STRIP_H / len(group), 1)
        y = round(STRIP_Y + h * group.index(line), 1)
        fill, ink, name = PALETTE[line.component]
        billable = line.status.value != "not-billable"
        if not billable:
            fill, ink = NOT_BILLABLE_FILL, NOT_BILLABLE_TEXT
        # Higher levels drawn more opaque: level 1 light, level 3+ full.
        opacity = 1.0 if line.level is None else min(1.0, 0.7 + 0.1 * line.level)
        x, w = axis.x(line.start), axis.width(line.start, line.end)
        tip = (
            f"{line.code} {name}"
            + (f" level {line.level}" if line.level is not None else "")
            + f", {line.start.isoformat()} – {line.end.isoformat()}, {line.status.value}, "
            f"{line.amount}"
        )
        label = line.code if w >= 34 else ""
        out.append(
            f'<g class="month-seg"><title>{_t(tip)}</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" '
            f'fill-opacity="{opacity:.1f}" stroke="#ffffff" stroke-width="1"/>'
            + (
                f'<text x="{x + 3}" y="{round(y + h / 2 + 4, 1)}" font-size="10" fill="{ink}">'
                f"{_t(label)}</text>"
                if label
                else ""
            )
            + "</g>"
        )
    return out


def _legend(lines: Iterable[BillingLine], y: int) -> list[str]:
    """A key to the strip's colours: the components drawn, in the palette's order."""
    drawn = {line.component for line in lines}
    out, x = [_label("Key", y + 11)], float(LEFT)
    for component, (fill, _ink, name) in PALETTE.items():
        if component not in drawn:
            continue
        out.append(
            f'<rect x="{x}" y="{y + 2}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{x + 13}" y="{y + 11}" font-size="10">{_t(name)}</text>'
        )
        x += 13 + 6.5 * len(name) + 12
    return out


def _treatment_days(record: PatientRecord, as_of: date) -> list[date]:
    days: set[date] = set()
    for exposure in record.exposures:
        if exposure.role is not DrugRole.ANTICANCER:
            continue  # supportive drugs are not treatment (cpoc-rules §3)
        day, end = exposure.start, min(exposure.end, as_of)
        # An oral supply covers long stretches: its days, at most a year's worth.
        for _ in range(366):
            if day > end:
                break
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


def _treatment_ticks(record: PatientRecord, axis: _Axis) -> list[str]:
    days = [d for d in _treatment_days(record, axis.end) if axis.start <= d <= axis.end]
    if not days:
        return []
    ticks = "".join(
        f'<line x1="{axis.x(d)}" x2="{axis.x(d)}" y1="{TICKS_Y}" y2="{TICKS_Y + 8}" '
        'stroke="#1a1a1a" stroke-width="1"/>'
        for d in days
    )
    return [f'<g class="treatment-days"><title>{len(days)} treatment day(s)</title>{ticks}</g>']


def _fact_rows(
    record: PatientRecord, timeline: PatientTimeline, axis: _Axis
) -> list[tuple[str, list[str]]]:
    """(label, marks) per row, each mark drawn from y=0 (its row is translated)."""
    rows: list[tuple[str, list[str]]] = []

    def inside(day: date | None) -> bool:
        return day is not None and axis.start <= day <= axis.end

    ecog = [
        _point(axis.x(p.on), f"ECOG {p.ecog} on {p.on.isoformat()}", str(p.ecog), "#1f4e8c")
        for p in record.performance
        if inside(p.on)
    ]
    if ecog:
        rows.append(("ECOG", ecog))
    status = [
        _point(
            axis.x(d.on),
            f"Disease status {d.state.value} on {d.on.isoformat()}",
            d.state.value[:1].upper(),
            "#9a4a00",
        )
        for d in record.disease_status
        if inside(d.on)
    ]
    if status:
        rows.append(("Disease", status))
    marks = [
        _point(
            axis.x(line.start),
            f"{PALETTE[line.component][2]} {line.code} from {line.start.isoformat()}",
            "T" if line.component is Component.TRANSITION else "CT",
            PALETTE[line.component][0],
        )
        for line in timeline.lines
        if line.component in (Component.TRANSITION, Component.CLINICAL_TRIAL)
    ]
    trials = [
        _bar(axis, t.start or axis.start, t.end or axis.end, "Clinical trial enrolment", "#7a1f3d")
        for t in record.trials
        if t.on_study
    ]
    if marks or trials:
        rows.append(("Trial / transition", trials + marks))
    ends: list[str] = []
    for episode in record.episodes:
        if episode.kind is EpisodeKind.HOSPICE:
            ends.append(
                _bar(
                    axis, episode.start or axis.start, episode.end or axis.end, "Hospice", "#4d4d4d"
                )
            )
    if record.death is not None and inside(record.death):
        ends.append(
            _point(axis.x(record.death), f"Died {record.death.isoformat()}", "†", "#000000")
        )
    if len({s.model for s in timeline.models}) > 1:
        for span in timeline.models[1:]:
            if inside(span.start):
                assert span.start is not None
                ends.append(
                    _point(
                        axis.x(span.start),
                        f"Payment model {span.model.upper()} from {span.start.isoformat()}",
                        "⇄",
                        "#333333",
                    )
                )
    if ends:
        rows.append(("Hospice / death / transfer", ends))
    return rows


def _point(x: float, tip: str, text: str, colour: str) -> str:
    return (
        f'<g class="mark"><title>{_t(tip)}</title>'
        f'<rect x="{x - 1}" y="0" width="2" height="16" fill="{colour}"/>'
        f'<text x="{x + 3}" y="12" font-size="11" fill="{colour}">{_t(text)}</text></g>'
    )


def _bar(axis: _Axis, start: date, end: date, tip: str, colour: str) -> str:
    start, end = max(start, axis.start), min(end, axis.end)
    if end < start:
        return ""
    return (
        f'<g class="mark"><title>{_t(f"{tip} {start.isoformat()} – {end.isoformat()}")}</title>'
        f'<rect x="{axis.x(start)}" y="5" width="{axis.width(start, end)}" height="6" '
        f'fill="{colour}" fill-opacity="0.5"/></g>'
    )


def _label(text: str, y: int) -> str:
    return (
        f'<text class="row-label" x="{GUTTER_X}" y="{y}" font-size="10" fill="#555555">'
        f"{_t(text)}</text>"
    )


def _t(text: str) -> str:
    return escape(text, quote=True)
