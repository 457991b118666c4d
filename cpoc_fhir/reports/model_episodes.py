"""The episodes of an episode-based payment model, per patient (value-and-models §15.1, §15.2).

For each episode of the chosen pack (OCM, EOM, or a practice's episode pack): its number,
days, triggering evidence, cancer type, the MEOS months billed and their total, and a note
saying why it has fewer than six billed months (death, hospice, the model's end, a payer
switch, months not yet begun). Pure: the CLI (model_episodes_cli.py) reads the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from cpoc_fhir.engine.episodes import EPISODE_MONTHS, Episode
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.terminal import WIDTH, fit_lines, wrapped

CENT = Decimal("0.01")
COLUMNS = (
    "patient",
    "episode",
    "start",
    "end",
    "trigger",
    "cancer_type",
    "months_billed",
    "meos_total",
    "note",
)


def _note(episode: Episode, billed: int, as_of: date) -> str:
    notes: list[str] = []
    if episode.note:
        notes.append(f"cut short: {episode.note}")
    elif len(episode.months) < EPISODE_MONTHS and episode.end > as_of:
        notes.append(
            f"in progress: {len(episode.months)} of {EPISODE_MONTHS} months begun by "
            f"{as_of.isoformat()}"
        )
    if billed < len(episode.months):
        other = len(episode.months) - billed
        notes.append(f"{other} month{'s' if other != 1 else ''} under another model (payer)")
    if not episode.confirmed:
        notes.append("provisional: the trigger is planned, not yet given")
    return "; ".join(notes)


def episode_rows(timeline: PatientTimeline, model: str) -> list[dict[str, Any]]:
    """One row per episode of ``model`` in the patient's timeline."""
    rows: list[dict[str, Any]] = []
    for episode in timeline.episodes:
        if episode.model != model:
            continue
        lines = [
            line for line in timeline.lines if line.model == model and line.episode == episode.index
        ]
        total = sum((line.amount for line in lines), Decimal(0)).quantize(CENT)
        rows.append(
            {
                "patient": timeline.patient_ref,
                "episode": episode.index,
                "start": episode.start.isoformat(),
                "end": episode.end.isoformat(),
                "trigger": episode.trigger,
                "cancer_type": episode.cancer_type,
                "months_billed": len(lines),
                "meos_codes": sorted({line.code for line in lines}),
                "meos_total": str(total),
                "provisional": not episode.confirmed,
                "note": _note(episode, len(lines), timeline.as_of),
            }
        )
    return rows


def report(
    rows: Iterable[dict[str, Any]], model: str, short_name: str, as_of: date
) -> dict[str, Any]:
    """The report: the rows and their totals (amounts as strings)."""
    listed = list(rows)
    total = sum((Decimal(r["meos_total"]) for r in listed), Decimal(0)).quantize(CENT)
    return {
        "model": model,
        "short_name": short_name,
        "as_of": as_of.isoformat(),
        "episodes": listed,
        "totals": {
            "patients": len({r["patient"] for r in listed}),
            "episodes": len(listed),
            "months_billed": sum(r["months_billed"] for r in listed),
            "meos_total": str(total),
        },
    }


def table(result: dict[str, Any], width: int | None = WIDTH) -> str:
    """The episodes for people in ``width`` columns (None: ``--wide``, a line an episode).

    Fitted (issue 17 item 6), each episode's figures are a line and its trigger and note the
    wrapped line(s) under it: the one-line layout needs some 120 columns."""
    out = [f"{result['short_name']} episodes as of {result['as_of']}", ""]
    if width is None:
        out.append(
            f"{'patient':<24} {'ep':>2} {'start':<10} {'end':<10} {'trigger':<36} "
            f"{'cancer':<12} {'months':>6} {'MEOS':>9}  note"
        )
    else:
        out.append(
            f"{'patient':<24} {'ep':>2} {'start':<10} {'end':<10} {'cancer':<12} "
            f"{'months':>6} {'MEOS':>9}"
        )
    for row in result["episodes"]:
        cancer = row["cancer_type"] or "-"
        if width is None:
            out.append(
                f"{row['patient']:<24} {row['episode']:>2} {row['start']:<10} {row['end']:<10} "
                f"{row['trigger']:<36} {cancer:<12} {row['months_billed']:>6} "
                f"{row['meos_total']:>9}  {row['note']}".rstrip()
            )
            continue
        out.append(
            f"{row['patient']:<24} {row['episode']:>2} {row['start']:<10} {row['end']:<10} "
            f"{cancer:<12} {row['months_billed']:>6} {row['meos_total']:>9}"
        )
        detail = row["trigger"] + (f"; {row['note']}" if row["note"] else "")
        out += wrapped(detail, width, "    ", "    ")
    if not result["episodes"]:
        out.append(f"no {result['short_name']} episodes")
    t = result["totals"]
    out += [
        "",
        f"patients {t['patients']}, episodes {t['episodes']}, months billed "
        f"{t['months_billed']}, MEOS total {t['meos_total']}",
    ]
    return "\n".join(fit_lines(out, width)) + "\n"


def csv_rows(result: dict[str, Any]) -> list[list[str]]:
    out = [list(COLUMNS)]
    for row in result["episodes"]:
        out.append(["" if row[c] is None else str(row[c]) for c in COLUMNS])
    return out
