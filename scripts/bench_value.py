"""Benchmark: ``cpoc report value`` for a practice year from Bulk FHIR NDJSON.

Generates N synthetic patients (``cpoc_fhir.synthetic``, seed 7, year 2025, without claims)
and times, each stage in its own process on the same files (so each peak RSS is its own):
  1. parse    — a plain ``json.loads`` of every line (the floor any reader pays);
  2. timeline — the timeline alone: read, group per patient, facts, lines, JSON out;
  3. value    — ``cpoc report value --year 2025 --format json`` with an empty decisions store
                (the whole report: one pass over the patients — facts, timeline, quality
                measures, emergency visits — then ratings and the JSON), in-process.
Prints wall and CPU seconds, patients per CPU second (the machine may be shared: CPU time is
the figure that does not depend on the load), peak RSS and the ratios of (3) to (2) and (1).

    python scripts/bench_value.py                      # 500 patients (CI-sized)
    python scripts/bench_value.py --patients 10000 [--out DIR] [--keep]
    python scripts/bench_value.py --data DIR           # time a kept folder again
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

YEAR = 2025
AS_OF = date(YEAR, 12, 31)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def stage_parse(folder: Path) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    lines = 0
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
                lines += 1
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "resources": lines,
    }


def stage_timeline(folder: Path) -> dict[str, Any]:
    from cpoc_fhir.config import load_payer
    from cpoc_fhir.engine.settings import RuleSettings
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.service import Evaluator

    evaluator = Evaluator(load_knowledge(), RuleSettings(), load_payer(None))
    t0, c0 = time.perf_counter(), time.process_time()
    count = 0
    for timeline in evaluator.timelines(open_source(folder), AS_OF):
        json.dumps(timeline.as_json())
        count += 1
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "patients": count}


def stage_value(folder: Path) -> dict[str, Any]:
    from cpoc_fhir.cli import build_parser
    from cpoc_fhir.reports import value_cli

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "value.json"
        argv = ["report", "value", "--year", str(YEAR), "--format", "json", "--out", str(out)]
        argv += ["--store", f"sqlite:///{tmp}/store.sqlite", str(folder)]  # no decisions
        args = build_parser().parse_args(argv)
        t0, c0 = time.perf_counter(), time.process_time()
        value_cli.run(args, None)  # the components `cpoc report value` binds itself
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        report = json.loads(out.read_text(encoding="utf-8"))
    measures = {m["id"]: m.get("denominator") for m in report.get("measures", [])}
    er = report["er"]["visits"]
    return {"seconds": seconds, "cpu": cpu, "measures": measures, "er_visits": er}


STAGES = {"parse": stage_parse, "timeline": stage_timeline, "value": stage_value}


def _run_stage(name: str, folder: Path) -> dict[str, Any]:
    """One stage in a fresh interpreter; its result and its own peak RSS."""
    done = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--data", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--out", type=Path, default=REPO / "bench-data" / "value")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--data", type=Path, help="time an existing folder instead")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage is not None:  # the child process of one stage
        result = STAGES[args.stage](args.data)
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return
    if args.data is not None:
        args.out, args.keep = args.data, True
    else:
        from cpoc_fhir.synthetic import generate_practice

        if args.out.exists():
            shutil.rmtree(args.out)
        t0 = time.perf_counter()
        truth = generate_practice(args.out, args.patients, year=YEAR, claims=False)
        print(
            f"generated {args.patients} patients, {truth.resources} resources in "
            f"{time.perf_counter() - t0:.1f} s → {args.out}"
        )
    try:
        parse = _run_stage("parse", args.out)
        timeline = _run_stage("timeline", args.out)
        value = _run_stage("value", args.out)
    finally:
        if not args.keep:
            shutil.rmtree(args.out)
    patients = timeline["patients"]
    print(
        f"plain JSON parse : {parse['seconds']:.2f} s wall, {parse['cpu']:.2f} s CPU "
        f"({parse['resources']:,} resources, peak RSS {parse['peak_mb']:.0f} MB)"
    )
    for name, r in (("timeline alone  ", timeline), ("value report    ", value)):
        print(
            f"{name} : {r['seconds']:.2f} s wall, {r['cpu']:.2f} s CPU, "
            f"{patients / r['cpu']:,.0f} patients/s CPU (peak RSS {r['peak_mb']:.0f} MB)"
        )
    print(f"value / timeline : {value['cpu'] / timeline['cpu']:.2f}× (CPU)")
    print(f"value / parse    : {value['cpu'] / parse['cpu']:.1f}× (CPU)")
    print(f"denominators     : {value['measures']}; ER visits {value['er_visits']}")


if __name__ == "__main__":
    main()
