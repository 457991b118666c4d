"""Benchmark: the timeline over one practice billed CPOC-only and under a mix of packs.

Issue 15 item 8: a mixed-pack practice's patients/s must not fall below the CPOC-only figure
by more than 10 % (ratio ≥ 0.90). Generates N synthetic patients with a payer mix
(``cpoc_fhir.synthetic``, seed 7, year 2025, without claims; synthetic/payers.py) once, then
times the timeline job (read the source, group per patient, facts, lines, JSON out, as of
2026-06-30) on those same files in two configurations, each in a fresh process so that each
peak RSS is its own, each ``--repeat`` times (the best run counts):
  1. cpoc  — no ``[models]`` mapping: every Coverage's payer falls to the default, CPOC;
  2. mixed — the ``models.toml`` the generator wrote (Medicare → EOM, commercial → CPOC).
Prints wall and CPU seconds, patients per CPU second (CPU time does not depend on the other
load of a shared machine), peak RSS, lines per pack and the ratio mixed / cpoc.

    python scripts/bench_packs.py --patients 2000 --repeat 3 [--mix …] [--out DIR] [--keep]
    python scripts/bench_packs.py --data DIR            # time a kept folder again
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
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AS_OF = date(2026, 6, 30)
MIX = "medicare-eom=0.4,commercial-cpoc=0.4,medicaid-dual=0.1,none=0.1"


def stage(folder: Path, config: str, profile: Path | None = None) -> dict[str, Any]:
    """One timeline job over ``folder``; ``config`` "cpoc" (no mapping) or "mixed"."""
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.service import Evaluator

    settings = load_config(folder / "models.toml" if config == "mixed" else None, environ={})
    evaluator = Evaluator(
        load_knowledge(), settings.rules, load_payer(None), models=settings.models
    )
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    patients = out_bytes = 0
    models: Counter[str] = Counter()
    for timeline in evaluator.timelines(open_source(folder), AS_OF):
        out_bytes += len(json.dumps(timeline.as_json()))
        patients += 1
        models.update(line.model for line in timeline.lines)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    return {
        "config": config,
        "patients": patients,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "out_mb": out_bytes / 1e6,
        "lines": dict(models),
    }


def _fresh(folder: Path, config: str, profile: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--stage", config, "--data", str(folder)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2, help="runs per configuration (best)")
    parser.add_argument("--mix", default=MIX, help=f"the payer mix (default {MIX})")
    parser.add_argument("--out", type=Path, help="where to generate (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--data", type=Path, help="time an existing folder instead")
    parser.add_argument("--profile", type=Path, help="cProfile stats of the runs: PREFIX")
    parser.add_argument("--stage", choices=("cpoc", "mixed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage is not None:  # the child process: one run, its figures as one JSON line
        print(json.dumps(stage(args.data, args.stage, args.profile)))
        return
    folder = args.data
    if folder is None:
        from cpoc_fhir.synthetic import generate_practice

        folder = args.out or Path(tempfile.mkdtemp(prefix="bench-packs-"))
        if folder.exists():
            shutil.rmtree(folder)
        t0 = time.perf_counter()
        truth = generate_practice(folder, args.patients, claims=False, payer_mix=args.mix)
        print(
            f"generated {args.patients} patients, {truth.resources} resources in "
            f"{time.perf_counter() - t0:.1f} s → {folder} (mix {args.mix})"
        )
    best: dict[str, dict[str, Any]] = {}
    for n in range(args.repeat):
        for config in ("cpoc", "mixed"):  # interleaved: a load change hits both alike
            profile = Path(f"{args.profile}-{config}-{n}.prof") if args.profile else None
            r = _fresh(folder, config, profile)
            print(
                f"  run {n + 1} {config:5}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU, "
                f"{r['patients'] / r['cpu_s']:,.0f} patients/s (CPU), peak RSS "
                f"{r['peak_mb']:.0f} MB"
            )
            if config not in best or r["cpu_s"] < best[config]["cpu_s"]:
                best[config] = r
    for config in ("cpoc", "mixed"):
        r = best[config]
        lines = ", ".join(f"{m} {k}" for m, k in sorted(r["lines"].items()))
        print(
            f"{config:5} best: {r['cpu_s']:.2f} s CPU ({r['wall_s']:.2f} s wall) for "
            f"{r['patients']} patients = {r['patients'] / r['cpu_s']:,.0f} patients/s (CPU), "
            f"peak RSS {r['peak_mb']:.0f} MB, {r['out_mb']:.1f} MB JSON; lines: {lines}"
        )
    ratio = best["cpoc"]["cpu_s"] / best["mixed"]["cpu_s"]
    verdict = "met" if ratio >= 0.90 else "NOT met"
    print(f"mixed / cpoc patients/s: {ratio:.3f} (target ≥ 0.90: {verdict})")
    if args.data is None and not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
