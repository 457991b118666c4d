"""The performance-based payment report of a period (value-and-models §15.1, §15.2).

Gathers each patient's episodes of the model (the pack's timeline) and claim items
(``economics.claims.read_claims``: Claim, ExplanationOfBenefit, ChargeItem), and hands them to
the pure computation (packs/performance.py); renders the result as a table or CSV (the
HTML page: pbp_html.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cpoc_fhir.economics.claims import ClaimLine, read_claims
from cpoc_fhir.fhir.read import RecordSource
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.packs import performance
from cpoc_fhir.packs.performance_data import ModelPbp, PbpFile, PeriodData
from cpoc_fhir.service import Evaluator
from cpoc_fhir.terminal import WIDTH, fit_lines, wrapped


@dataclass
class Gathered:
    episodes: list[performance.EpisodeResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def claims_by_patient(source: RecordSource, out: Gathered) -> dict[str, list[ClaimLine]]:
    """The claim items of a separate claims source, by patient id."""
    found: dict[str, list[ClaimLine]] = {}
    for resources in source.patients():
        out.warnings.extend(resources.warnings)
        pid = patient_id(resources.patient_ref)
        read = read_claims(pid, resources.resources, resources.key)
        out.warnings.extend(read.warnings)
        found.setdefault(pid, []).extend(read.lines)
    out.warnings.extend(source.warnings)
    return found


def gather(
    evaluator: Evaluator,
    records: RecordSource,
    model: ModelPbp,
    data: PeriodData,
    as_of: date,
    claims_source: RecordSource | None = None,
) -> Gathered:
    """The period's episodes of ``model`` over the records' patients, with their spend: the
    claims among each patient's records, or in ``claims_source`` when one is given."""
    out = Gathered()
    elsewhere = None if claims_source is None else claims_by_patient(claims_source, out)
    seen: set[str] = set()
    for resources in records.patients():
        out.warnings.extend(resources.warnings)
        if resources.patient is None:
            continue
        seen.add(patient_id(resources.patient_ref))
        record = evaluator.record(resources)
        timeline = evaluator.evaluate(record, as_of)
        episodes = performance.in_period(timeline.episodes, model.model, data)
        if not episodes:
            continue
        pid = patient_id(resources.patient_ref)
        if elsewhere is None:
            claims = read_claims(pid, resources.resources, resources.key)
            out.warnings.extend(claims.warnings)
            lines = claims.lines
        else:
            lines = elsewhere.get(pid, [])
        for episode in episodes:
            kind = performance.cancer_type(record, episode, model.cancer_types)
            out.episodes.append(
                performance.episode_result(
                    record.patient_ref, episode, kind, lines, model, data, as_of
                )
            )
    out.warnings[:0] = list(records.warnings)
    unknown = [] if elsewhere is None else sorted(p for p in elsewhere if p not in seen)
    if unknown:
        out.warnings.append(
            f"{len(unknown)} patient(s) have claims but no record in the input; their claims "
            f"are left out (e.g. Patient/{unknown[0]})"
        )
    for result in out.episodes:
        where = f"{result.patient} episode {result.episode.index}"
        if result.unpriced:
            out.warnings.append(
                f"{where}: {len(result.unpriced)} claim item(s) without an amount left out "
                f"(e.g. {result.unpriced[0]})"
            )
        if result.not_counted is not None:
            out.warnings.append(f"{where}: not counted ({result.not_counted})")
    return out


def report(
    payer: PbpFile, model: ModelPbp, data: PeriodData, gathered: Gathered, as_of: date
) -> dict[str, Any]:
    result = performance.period_result(model, data, gathered.episodes).as_json()
    result["asOf"] = as_of.isoformat()
    result["periodStart"] = data.period.start.isoformat()
    result["periodEnd"] = data.period.end.isoformat()
    result["currency"] = payer.currency
    result["payerFile"] = {
        "where": payer.where,
        "version": payer.version,
        "source": payer.source,
        "illustrative": payer.illustrative,
    }
    result["excludedCodes"] = sorted(model.exclude_codes)
    result["warnings"] = list(dict.fromkeys(gathered.warnings))
    return result


COLUMNS = (
    ("patient", "patient", 16),
    ("episode", "ep", 2),
    ("start", "start", 10),
    ("end", "end", 10),
    ("cancerType", "cancer", 10),
    ("benchmark", "benchmark", 11),
    ("target", "target", 11),
    ("actual", "actual", 11),
    ("savings", "savings", 11),
)


def table(result: dict[str, Any], width: int | None = WIDTH) -> str:
    """The settlement for people in ``width`` columns (None: ``--wide``, every column).

    Fitted (issue 17 item 6) the episodes' table leaves out the end and the cancer (the
    CSV, JSON and ``--wide`` have them), keeps the patient id whole, and puts a "not
    counted" reason under its row; long lines are wrapped."""
    head = (
        f"Performance-based payment, {result['model'].upper()} {result['period']} "
        f"(episodes starting {result['periodStart']} to {result['periodEnd']}; as of "
        f"{result['asOf']})"
    )
    arrangement = result["arrangement"]
    lines = [head]
    if result["payerFile"]["illustrative"]:
        lines.append("ILLUSTRATIVE payer file: not CMS's figures")
    lines += [
        f"arrangement {arrangement['name']}: discount {arrangement['discount']}, "
        f"{'two-sided' if arrangement['twoSided'] else 'one-sided'}",
        "",
    ]
    if width is None:
        lines += _wide_rows(result["episodes"])
    else:
        lines += _fitted_rows(result["episodes"], width)
    s = result["settlement"]
    q = result["quality"]
    score = q["aggregateScore"] or "—"
    lines += [
        "",
        f"episodes counted {result['counted']}, not counted {result['notCountedEpisodes']}",
        f"total benchmark {s['benchmark']}, target {s['target']}, actual {s['actual']}, "
        f"savings {s['savings']}",
        f"quality: aggregate score {score}, multiplier {q['multiplier']}, "
        f"recoupment multiplier {q['recoupmentMultiplier']} ({q['basis']})",
        f"performance-based payment {s['pbp']} {result['currency']}; recoupment "
        f"{s['recoupment']} {result['currency']}",
        f"  {s['reason']}" + (f"; capped at the {s['capped']}" if s["capped"] else ""),
    ]
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(fit_lines(lines, width)) + "\n"


def _wide_rows(episodes: list[dict[str, Any]]) -> list[str]:
    """Every column, fixed widths (an id cut to its column), the reason on the row."""
    lines = [
        " ".join(
            f"{label:<{w}}" if i < 5 else f"{label:>{w}}"
            for i, (_k, label, w) in enumerate(COLUMNS)
        )
    ]
    for row in episodes:
        cells = []
        for i, (key, _label, width) in enumerate(COLUMNS):
            value = "—" if row[key] is None else str(row[key])
            cells.append(f"{value[:width]:<{width}}" if i < 5 else f"{value:>{width}}")
        note = "" if row["counted"] else f"  not counted: {row['notCounted']}"
        lines.append(" ".join(cells) + note)
    return lines


_FITTED = ("patient", "episode", "start", "benchmark", "target", "actual", "savings")


def _fitted_rows(episodes: list[dict[str, Any]], width: int) -> list[str]:
    """Patient (whole), episode, start and the four amounts; a "not counted" reason under."""
    labels = {key: label for key, label, _w in COLUMNS}
    cells = [[labels[k] for k in _FITTED]]
    cells += [["—" if row[k] is None else str(row[k]) for k in _FITTED] for row in episodes]
    widths = [max(len(r[i]) for r in cells) for i in range(len(_FITTED))]
    lines = []
    for number, r in enumerate(cells):
        left = " ".join(f"{c:<{w}}" for c, w in zip(r[:3], widths[:3], strict=True))
        right = " ".join(f"{c:>{w}}" for c, w in zip(r[3:], widths[3:], strict=True))
        lines.append(f"{left}  {right}".rstrip())
        row = episodes[number - 1] if number else None
        if row is not None and not row["counted"]:
            lines += wrapped(f"not counted: {row['notCounted']}", width, "    ", "    ")
    return lines


CSV_HEADER = [key for key, _label, _w in COLUMNS] + [
    "baselineBasis",
    "items",
    "counted",
    "notCounted",
]


def csv_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = [CSV_HEADER]
    for row in result["episodes"]:
        rows.append(["" if row[k] is None else str(row[k]) for k in CSV_HEADER])
    s = result["settlement"]
    rows.append(
        [
            "period total",
            "",
            result["periodStart"],
            result["periodEnd"],
            "",
            *(s["benchmark"], s["target"], s["actual"], s["savings"]),
            *("", str(result["counted"]), ""),
        ]
    )
    rows.append(["pbp", s["pbp"], "recoupment", s["recoupment"]])
    return rows
