"""Benchmark: ``cpoc timeline`` over generated patients from Bulk FHIR NDJSON.

Generates N synthetic oncology patients (deterministic seed) as one NDJSON file per resource
type, then measures, on one core:
  1. a plain JSON parse of every line of the same files (the floor any reader pays);
  2. the timeline job: read the source, group per patient, resources → facts → lines, and
     serialise each timeline to JSON, as ``cpoc timeline --format json`` does.
Prints patients/s, ms/patient and the ratio of (2) to (1).

    python scripts/bench_timeline.py --patients 10000 [--out bench-data] [--keep]
    python scripts/bench_timeline.py --data bench-data   # time a kept folder again
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cpoc_fhir.config import load_payer  # noqa: E402
from cpoc_fhir.engine.settings import RuleSettings  # noqa: E402
from cpoc_fhir.fhir.read import open_source  # noqa: E402
from cpoc_fhir.knowledge.loader import load_knowledge  # noqa: E402
from cpoc_fhir.service import Evaluator  # noqa: E402

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
# regimen → (cancer ICD-10-CM, [(ingredient rxcui, name, route)], cycle days, oral supply days)
REGIMENS: list[tuple[str, list[tuple[str, str, str]], int, int]] = [
    (
        "C18.7",
        [
            ("32592", "oxaliplatin", "iv"),
            ("6313", "leucovorin", "iv"),
            ("4492", "fluorouracil", "iv"),
        ],
        14,
        0,
    ),
    ("C34.90", [("2555", "cisplatin", "iv"), ("12574", "gemcitabine", "iv")], 21, 0),
    ("C34.90", [("72962", "docetaxel", "iv")], 21, 0),
    ("C50.911", [("3639", "doxorubicin", "iv"), ("3002", "cyclophosphamide", "iv")], 21, 0),
    ("C50.911", [("10324", "tamoxifen", "oral")], 0, 30),
    ("C18.2", [("194000", "capecitabine", "oral")], 0, 21),
    (
        "C83.30",
        [
            ("121191", "rituximab", "iv"),
            ("3002", "cyclophosphamide", "iv"),
            ("3639", "doxorubicin", "iv"),
            ("11202", "vincristine", "iv"),
        ],
        21,
        0,
    ),
]
COMORBIDITIES = ["E11.9", "I50.9", "J44.9", "N18.3", "I10", "E78.5", "K74.60", "I25.2"]


def generate(out: Path, patients: int, seed: int = 7) -> int:
    """Write the NDJSON files; returns the number of resources written."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        t: (out / f"{t}.ndjson").open("w", encoding="utf-8")
        for t in (
            "Patient",
            "Condition",
            "Encounter",
            "Observation",
            "MedicationRequest",
            "MedicationAdministration",
            "EpisodeOfCare",
        )
    }
    written = 0
    try:
        for n in range(patients):
            for resource in _patient(rng, n):
                files[resource["resourceType"]].write(json.dumps(resource) + "\n")
                written += 1
    finally:
        for handle in files.values():
            handle.close()
    return written


def _patient(rng: random.Random, n: int) -> list[dict[str, Any]]:
    pid = f"bench-{n:06d}"
    subject = {"reference": f"Patient/{pid}"}
    start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 540))
    icd, drugs, every, supply = rng.choice(REGIMENS)
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": pid,
            "gender": "unknown",
            "birthDate": f"{rng.randrange(1935, 1985)}-01-01",
        }
    ]
    ids = iter(range(10_000))

    def rid(kind: str) -> str:
        return f"{pid}-{kind}-{next(ids)}"

    cancer_id = rid("c")
    out.append(
        {
            "resourceType": "Condition",
            "id": cancer_id,
            "subject": subject,
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": ICD, "code": icd}]},
            "onsetDateTime": (start - timedelta(days=20)).isoformat(),
        }
    )
    for code in rng.sample(COMORBIDITIES, rng.randrange(0, 4)):
        out.append(
            {
                "resourceType": "Condition",
                "id": rid("c"),
                "subject": subject,
                "code": {"coding": [{"system": ICD, "code": code}]},
                "onsetDateTime": "2019-05-01",
            }
        )
    out.append(
        {
            "resourceType": "EpisodeOfCare",
            "id": rid("eoc"),
            "status": "active",
            "patient": subject,
            "period": {"start": (start - timedelta(days=10)).isoformat()},
            "diagnosis": [{"condition": {"reference": f"Condition/{cancer_id}"}}],
        }
    )
    visit_days = [start - timedelta(days=10)] + [
        start + timedelta(days=30 * k + rng.randrange(0, 20)) for k in range(rng.randrange(3, 9))
    ]
    for day in visit_days:
        out.append(
            {
                "resourceType": "Encounter",
                "id": rid("e"),
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": subject,
                "period": {"start": f"{day.isoformat()}T09:00:00-05:00"},
                "reasonReference": [{"reference": f"Condition/{cancer_id}"}],
            }
        )
        out.append(
            {
                "resourceType": "Observation",
                "id": rid("o"),
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
                "subject": subject,
                "effectiveDateTime": day.isoformat(),
                "valueInteger": rng.choice([0, 0, 1, 1, 2, 3]),
            }
        )
    out.append(
        {
            "resourceType": "Observation",
            "id": rid("o"),
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]},
            "subject": subject,
            "effectiveDateTime": visit_days[-1].isoformat(),
            "valueCodeableConcept": {
                "coding": [
                    {"system": SCT, "code": rng.choice(["260415000", "359746009", "271299001"])}
                ]
            },
        }
    )
    months = rng.randrange(2, 9)
    for rxcui, name, route in drugs:
        coding = {"coding": [{"system": RX, "code": rxcui, "display": name}]}
        if route == "oral":
            out.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": rid("mr"),
                    "status": "active",
                    "intent": "order",
                    "subject": subject,
                    "medicationCodeableConcept": coding,
                    "authoredOn": start.isoformat(),
                    "dispenseRequest": {
                        "numberOfRepeatsAllowed": months - 1,
                        "expectedSupplyDuration": {"value": supply, "code": "d"},
                    },
                }
            )
            continue
        for cycle in range(months * 30 // every):
            day = start + timedelta(days=cycle * every)
            out.append(
                {
                    "resourceType": "MedicationAdministration",
                    "id": rid("ma"),
                    "status": "completed",
                    "subject": subject,
                    "medicationCodeableConcept": coding,
                    "effectiveDateTime": f"{day.isoformat()}T10:00:00-05:00",
                }
            )
    return out


def bench(folder: Path) -> dict[str, float]:
    files = sorted(folder.glob("*.ndjson"))
    t0 = time.perf_counter()
    lines = 0
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
                lines += 1
    parse_s = time.perf_counter() - t0

    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    t0 = time.perf_counter()
    source = open_source(folder)
    count = out_bytes = 0
    for timeline in evaluator.timelines(source, date(2026, 6, 30)):
        out_bytes += len(json.dumps(timeline.as_json()))
        count += 1
    job_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {
        "patients": count,
        "resources": lines,
        "parse_s": parse_s,
        "job_s": job_s,
        "peak_mb": peak / 1e6,
        "out_mb": out_bytes / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench-data" / "timeline")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--data",
        type=Path,
        help="time an existing folder (kept with --keep) instead of generating one: the same "
        "patients for two checkouts compared in turn",
    )
    args = parser.parse_args()
    if args.data is not None:
        args.out, args.keep = args.data, True
    else:
        if args.out.exists():
            shutil.rmtree(args.out)
        t0 = time.perf_counter()
        written = generate(args.out, args.patients)
        print(
            f"generated {args.patients} patients, {written} resources in "
            f"{time.perf_counter() - t0:.1f} s → {args.out}"
        )
    r = bench(args.out)
    print(
        f"plain JSON parse : {r['parse_s']:.2f} s ({r['resources'] / r['parse_s']:,.0f} "
        "resources/s)"
    )
    print(
        f"timeline job     : {r['job_s']:.2f} s for {r['patients']} patients "
        f"(peak RSS {r['peak_mb']:.0f} MB, {r['out_mb']:.0f} MB of JSON out)"
    )
    print(f"patients/s       : {r['patients'] / r['job_s']:,.0f}")
    print(f"ms/patient       : {1000 * r['job_s'] / r['patients']:.2f}")
    print(f"ratio to parse   : {r['job_s'] / r['parse_s']:.1f}×")
    if not args.keep:
        shutil.rmtree(args.out)


if __name__ == "__main__":
    main()
