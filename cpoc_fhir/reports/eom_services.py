"""EOM enhanced services per episode (value-and-models §15.2): recorded, not billed.

For each EOM episode: the health-related social needs screenings and the electronic
patient-reported outcomes on record within the episode's days (evidence ids), and whether
either is missing. Pure: the CLI (eom_services_cli.py) reads the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import PatientRecord

SERVICES = ("hrsn_screening", "epro")


def episode_rows(
    record: PatientRecord, episodes: Iterable[Episode], epro_questionnaires: frozenset[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for episode in episodes:
        if episode.model != "eom":
            continue
        hrsn = [
            s.ref for s in record.social_needs_screenings if episode.start <= s.on <= episode.end
        ]
        epro = [
            o.ref
            for o in record.patient_reported_outcomes
            if episode.start <= o.on <= episode.end
            and (not epro_questionnaires or o.questionnaire in epro_questionnaires)
        ]
        evidence = {"hrsn_screening": hrsn, "epro": epro}
        rows.append(
            {
                "patient": record.patient_ref,
                "episode": episode.index,
                "start": episode.start.isoformat(),
                "end": episode.end.isoformat(),
                "evidence": evidence,
                "missing": [name for name in SERVICES if not evidence[name]],
            }
        )
    return rows


def report(rows: list[dict[str, Any]], as_of: str) -> dict[str, Any]:
    lacking = [r for r in rows if r["missing"]]
    return {
        "as_of": as_of,
        "episodes": rows,
        "totals": {
            "episodes": len(rows),
            "complete": len(rows) - len(lacking),
            "lacking": len(lacking),
            **{
                f"lacking_{name}": sum(1 for r in rows if name in r["missing"]) for name in SERVICES
            },
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [f"EOM enhanced services as of {result['as_of']}", ""]
    lines.append(f"{'patient':<24} {'ep':>2} {'start':<10} {'end':<10} {'HRSN':<5} {'ePRO':<5}")
    for row in result["episodes"]:
        ok = {n: "yes" if row["evidence"][n] else "NO" for n in SERVICES}
        lines.append(
            f"{row['patient']:<24} {row['episode']:>2} {row['start']:<10} {row['end']:<10} "
            f"{ok['hrsn_screening']:<5} {ok['epro']:<5}"
        )
    t = result["totals"]
    lines += ["", f"episodes {t['episodes']}, complete {t['complete']}, lacking {t['lacking']}"]
    return "\n".join(lines) + "\n"


def csv_rows(result: dict[str, Any]) -> list[list[str]]:
    out = [["patient", "episode", "start", "end", "hrsn_screening", "epro", "missing"]]
    for row in result["episodes"]:
        out.append(
            [
                row["patient"],
                str(row["episode"]),
                row["start"],
                row["end"],
                " ".join(row["evidence"]["hrsn_screening"]),
                " ".join(row["evidence"]["epro"]),
                " ".join(row["missing"]),
            ]
        )
    return out
