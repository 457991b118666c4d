"""Benchmark: ``cpoc model`` over a generated practice year with its claims (Bulk NDJSON).

Generates N synthetic oncology patients with their CARIN BB ExplanationOfBenefits
(``cpoc_fhir.synthetic``, seed 7, year 2025), then measures on one core, in one run:
  1. the floor: the timeline alone (read, group, resources → facts → lines), as of 2025-12-31;
  2. the model job as ``cpoc model DIR --ffs DIR --from 2025-01-01 --to 2025-12-31 --format
     json`` runs it: the claims read and priced, each patient's timeline beside its charges,
     every figure and the JSON.
Prints seconds, patients/s, the ratio of (2) to (1) and peak RSS after each step (the
process's high-water mark: the second includes the first).

    python scripts/bench_model.py --patients 10000 [--out bench-data/model] [--keep]
    python scripts/bench_model.py --data bench-data/model   # time a kept folder again
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

from cpoc_fhir.config import load_payer  # noqa: E402
from cpoc_fhir.economics.model import ModelOptions  # noqa: E402
from cpoc_fhir.economics.run import run_model  # noqa: E402
from cpoc_fhir.engine.settings import RuleSettings  # noqa: E402
from cpoc_fhir.fhir.read import open_source  # noqa: E402
from cpoc_fhir.knowledge.loader import load_knowledge  # noqa: E402
from cpoc_fhir.service import Evaluator  # noqa: E402
from cpoc_fhir.synthetic import generate_practice  # noqa: E402

START, END = date(2025, 1, 1), date(2025, 12, 31)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: KiB


def bench(folder: Path) -> dict[str, float]:
    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    t0, c0 = time.perf_counter(), time.process_time()
    count = sum(1 for _ in evaluator.timelines(open_source(folder), END))
    timeline_s, timeline_cpu = time.perf_counter() - t0, time.process_time() - c0
    timeline_peak = peak_mb()

    t0, c0 = time.perf_counter(), time.process_time()
    source = open_source(folder)
    result = run_model(evaluator, source, ModelOptions(START, END))
    charges = result.charges
    out = json.dumps(result.as_json())
    model_s, model_cpu = time.perf_counter() - t0, time.process_time() - c0
    items = sum(charges.basis.values())
    return {
        "patients": count,
        "modelled": len(result.patients),
        "items": items,
        "timeline_s": timeline_s,
        "model_s": model_s,
        "timeline_cpu": timeline_cpu,
        "model_cpu": model_cpu,
        "timeline_peak_mb": timeline_peak,
        "model_peak_mb": peak_mb(),
        "out_mb": len(out) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench-data" / "model")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--data", type=Path, help="time an existing (kept) folder again")
    args = parser.parse_args()
    if args.data is not None:
        args.out, args.keep = args.data, True
    else:
        if args.out.exists():
            shutil.rmtree(args.out)
        t0 = time.perf_counter()
        written = generate_practice(args.out, args.patients, seed=7, year=2025).resources
        print(
            f"generated {args.patients} patients, {written} resources in "
            f"{time.perf_counter() - t0:.1f} s → {args.out}"
        )
    r = bench(args.out)
    n = r["patients"]
    print(
        f"timeline alone : {r['timeline_s']:.2f} s wall, {r['timeline_cpu']:.2f} s CPU for {n} "
        f"patients ({n / r['timeline_cpu']:,.0f}/s CPU; peak RSS {r['timeline_peak_mb']:.0f} MB)"
    )
    print(
        f"cpoc model     : {r['model_s']:.2f} s wall, {r['model_cpu']:.2f} s CPU, "
        f"{r['items']:,} claim lines, {r['modelled']} patients modelled "
        f"({n / r['model_cpu']:,.0f} patients/s CPU; peak RSS {r['model_peak_mb']:.0f} MB; "
        f"{r['out_mb']:.1f} MB of JSON)"
    )
    print(f"ratio to floor : {r['model_cpu'] / r['timeline_cpu']:.2f}× (CPU)")
    if not args.keep:
        shutil.rmtree(args.out)


if __name__ == "__main__":
    main()
