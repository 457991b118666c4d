"""Benchmark: ``cpoc timeline`` over generated patients from Bulk FHIR NDJSON.

Generates N synthetic oncology patients (``cpoc_fhir.synthetic``, seed 7, without claims) as one
NDJSON file per resource type, then measures, on one core:
  1. a plain JSON parse of every line of the same files (the floor any reader pays);
  2. the timeline job: read the source, group per patient, resources → facts → lines, and
     serialise each timeline to JSON, as ``cpoc timeline --format json`` does (compact, with
     orjson: cpoc_fhir/ascii_json.py).
Prints patients/s, ms/patient and the ratio of (2) to (1).

    python scripts/bench_timeline.py --patients 10000 [--out bench-data] [--keep]
    python scripts/bench_timeline.py --data bench-data   # time a kept folder again
    python scripts/bench_timeline.py --partition-mb 8    # bounded memory (partitioned read)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cpoc_fhir import ascii_json  # noqa: E402
from cpoc_fhir.config import load_payer  # noqa: E402
from cpoc_fhir.engine.settings import RuleSettings  # noqa: E402
from cpoc_fhir.fhir.read import fast_json, open_source  # noqa: E402
from cpoc_fhir.knowledge.loader import load_knowledge  # noqa: E402
from cpoc_fhir.service import Evaluator  # noqa: E402
from cpoc_fhir.synthetic import generate_practice  # noqa: E402


def generate(folder: Path, patients: int) -> int:
    """N synthetic patients (seed 7, no claims) as NDJSON per type in ``folder``; resources
    written. (bench_capture.py uses it too.)"""
    return generate_practice(folder, patients, claims=False).resources


def bench(folder: Path, partition_mb: float | None = None) -> dict[str, float]:
    files = sorted(folder.glob("*.ndjson"))
    t0, c0 = time.perf_counter(), time.process_time()
    lines = 0
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
                lines += 1
    parse_s, parse_cpu = time.perf_counter() - t0, time.process_time() - c0

    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    t0, c0 = time.perf_counter(), time.process_time()
    partition = None if partition_mb is None else int(partition_mb * (1 << 20))
    source = open_source(folder, partition_bytes=partition)
    count = out_bytes = 0
    for timeline in evaluator.timelines(source, date(2026, 6, 30)):
        out_bytes += len(ascii_json.dumps(timeline.as_json()))  # as `cpoc timeline` writes it
        count += 1
    job_s, job_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {
        "patients": count,
        "resources": lines,
        "parse_s": parse_s,
        "job_s": job_s,
        # CPU seconds of this process (time.process_time): on a shared machine they move far
        # less than wall time between runs
        "parse_cpu": parse_cpu,
        "job_cpu": job_cpu,
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
    parser.add_argument(
        "--partition-mb",
        type=float,
        help="read the export partitioned by patient on disk, partitions of about this many MB "
        "(fhir/read/partition.py; memory bounded by one partition)",
    )
    args = parser.parse_args()
    if args.data is not None:
        args.out, args.keep = args.data, True
    else:
        if args.out.exists():
            shutil.rmtree(args.out)
        t0 = time.perf_counter()
        # the clinical records only: claims are not read by the timeline
        written = generate(args.out, args.patients)
        print(
            f"generated {args.patients} patients, {written} resources in "
            f"{time.perf_counter() - t0:.1f} s → {args.out}"
        )
    r = bench(args.out, args.partition_mb)
    print(f"JSON reader      : {'orjson' if fast_json.available() else 'json (orjson absent)'}")
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
    print(
        f"CPU seconds      : parse {r['parse_cpu']:.2f}, job {r['job_cpu']:.2f} → "
        f"{r['patients'] / r['job_cpu']:,.0f} patients/s, {r['job_cpu'] / r['parse_cpu']:.1f}× "
        "the parse"
    )
    if not args.keep:
        shutil.rmtree(args.out)


if __name__ == "__main__":
    main()
