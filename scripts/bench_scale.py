"""Benchmark at network scale: the local engine against Spark ``local[1]`` and ``local[2]``.

Generates a synthetic network (1 000 000 patients by default; ``--patients`` sets it) on the
fly, in chunks of ``--chunk`` patients, each chunk one Bulk-export-like set of NDJSON files
(``Condition.000.ndjson`` …) in a temporary folder: never committed, never held in memory.
Then, each in its own process so each peak RSS is its own, times:

  floor   a plain ``json.loads`` of every line in one process (the least any reader pays);
  local   ``cpoc timeline --format json``'s job in one process (read, group per patient,
          resources → facts → lines, each timeline serialised);
  spark   ``cpoc timeline --engine spark`` on ``local[1]`` and ``local[2]`` (lines and patients
          written as Parquet), the session start timed apart.

The local engine runs twice: reading the export whole (an index of every line, which grows
with the export) and hash-partitioned by patient (``--partition-mb``, default 64: memory flat
as the export grows). Prints patients/s, the 1 → 2 core scaling of Spark, and peak RSS: the
driver's from ``getrusage`` (ru_maxrss of the Python process); the executors' — in local mode
one JVM, a child of the driver, and its Python workers — from /proc: the JVM's VmHWM (the
kernel's peak RSS, exact) and the largest sum of the Python workers' VmRSS seen by sampling
/proc every 0.2 s (an estimate: a peak between samples is missed).

    python scripts/bench_scale.py --patients 20000 [--chunk 5000] [--keep DIR]
    python scripts/bench_scale.py --data DIR        # time a kept folder again
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AS_OF = date(2026, 6, 30)
SEED, YEAR = 7, 2025


def generate(folder: Path, patients: int, chunk: int) -> int:
    """Write ``patients`` patients as chunks of NDJSON files; the number of resources."""
    # The practice generator's own steps (cpoc_fhir/synthetic/practice.py), one patient at a
    # time and without the truth it keeps per patient: memory stays flat at any size.
    from cpoc_fhir.synthetic.patients import draw_plan
    from cpoc_fhir.synthetic.practice import _patient, _practice_resources
    from cpoc_fhir.synthetic.writer import NdjsonWriter

    folder.mkdir(parents=True)
    rng = random.Random(SEED)
    written = 0
    for number, first in enumerate(range(0, patients, chunk)):
        part = folder / f".chunk-{number}"
        with NdjsonWriter(part) as writer:
            if number == 0:
                for shared in _practice_resources(False):
                    writer.write(shared)
            for n in range(first, min(first + chunk, patients)):
                plan = draw_plan(rng, n, YEAR)
                _, resources = _patient(plan, random.Random(f"{SEED}-{n}"), YEAR, None)
                for item in resources:
                    writer.write(item)
            written += writer.written
        for path in part.glob("*.ndjson"):
            path.rename(folder / f"{path.stem}.{number:03d}.ndjson")
        part.rmdir()
    return written


# --- one measurement per process ------------------------------------------------------------


def run_floor(folder: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    lines = 0
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
                lines += 1
    return {"seconds": time.perf_counter() - t0, "resources": lines}


def run_local(folder: Path) -> dict[str, Any]:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.fhir.read import open_source
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.service import Evaluator

    config = load_config(None)
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=config.models)
    t0 = time.perf_counter()
    count = 0
    for timeline in evaluator.timelines(open_source(folder), AS_OF):
        json.dumps(timeline.as_json())
        count += 1
    return {"seconds": time.perf_counter() - t0, "patients": count}


def run_spark(folder: Path, master: str, out: Path) -> dict[str, Any]:
    from cpoc_fhir.config import load_config, load_payer
    from cpoc_fhir.spark import job
    from cpoc_fhir.spark.partition import EvaluatorSpec
    from cpoc_fhir.spark.session import spark_session

    sampler = TreeSampler(os.getpid())
    sampler.start()
    config = load_config(None)
    spec = EvaluatorSpec(config.rules, load_payer(None), config.models)
    t0 = time.perf_counter()
    spark = spark_session(master, {"spark.driver.memory": os.environ.get("BENCH_DRIVER_MEMORY",
                                                                        "2g")})  # fmt: skip
    started = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = job.run_timelines(spark, folder, out, spec, AS_OF)
    seconds = time.perf_counter() - t0
    sampler.stop()
    sampler.sample()  # the JVM's VmHWM once more, before it exits
    spark.stop()
    return {
        "seconds": seconds,
        "session_s": started,
        "patients": result.patients,
        "lines": result.lines,
        "jvm_hwm_mb": sampler.jvm_hwm / 1e6,
        "workers_mb": sampler.workers_peak / 1e6,
    }


class TreeSampler(threading.Thread):
    """Samples /proc for the processes under ``root``: the JVM's VmHWM (kept per pid, it only
    grows) and the sum of the Python workers' VmRSS (the largest sum seen)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.jvm_hwm = 0
        self.workers_peak = 0
        self._done = threading.Event()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.wait(0.2):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        names: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            names[int(entry)] = name
        below = {self.root}
        changed = True
        while changed:
            more = {pid for pid, parent in parents.items() if parent in below} - below
            below |= more
            changed = bool(more)
        workers = 0
        for pid in below - {self.root}:
            status = _status(pid)
            if names.get(pid) == "java":
                self.jvm_hwm = max(self.jvm_hwm, status.get("VmHWM", 0))
            elif names.get(pid, "").startswith("python"):
                workers += status.get("VmRSS", 0)
        self.workers_peak = max(self.workers_peak, workers)


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024  # kB
    except OSError:
        pass
    return out


def child(kind: str, folder: Path, master: str | None, out: Path | None) -> None:
    if kind == "floor":
        result = run_floor(folder)
    elif kind == "local":
        result = run_local(folder)
    else:
        assert master is not None and out is not None
        result = run_spark(folder, master, out)
    result["driver_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    print("RESULT " + json.dumps(result), flush=True)


def measure(
    kind: str,
    folder: Path,
    master: str | None = None,
    out: Path | None = None,
    partition_mb: int | None = None,
) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--data", str(folder)]
    if master:
        command += ["--master", master, "--out", str(out)]
    # The local engine reads the export whole (an index of every line) unless it is told to
    # hash-partition it by patient first (fhir/read/partition.py): each run says which.
    # ("off": the index even above the size where open_source partitions by itself.)
    env = dict(os.environ)
    env["CPOC_NDJSON_PARTITION_MB"] = "off" if partition_mb is None else str(partition_mb)
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    sys.stderr.write(done.stderr[-4000:])
    raise SystemExit(f"bench_scale: the {kind} {master or ''} run failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000, help="patients per NDJSON file set")
    parser.add_argument("--data", type=Path, help="time an existing folder instead")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument(
        "--partition-mb",
        type=int,
        default=64,
        help="the local engine's second run: partitions of this size (memory flat per patient)",
    )
    parser.add_argument("--child", choices=("floor", "local", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.master, args.out)
        return
    work = Path(tempfile.mkdtemp(prefix="cpoc-bench-scale-"))
    try:
        folder = args.data or args.keep or work / "network"
        if args.data is None:
            t0 = time.perf_counter()
            written = generate(folder, args.patients, args.chunk)
            print(
                f"generated {args.patients:,} patients, {written:,} resources in "
                f"{time.perf_counter() - t0:.0f} s → {folder}"
            )
        report(folder, work, args.partition_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(folder: Path, work: Path, partition_mb: int) -> None:
    floor = measure("floor", folder)
    print(
        f"floor (json.loads)  : {floor['seconds']:.1f} s, {floor['resources']:,} resources "
        f"({floor['resources'] / floor['seconds']:,.0f}/s), driver {floor['driver_mb']:.0f} MB"
    )
    local = measure("local", folder)
    print(
        f"local, whole index  : {local['seconds']:.1f} s, {local['patients']:,} patients, "
        f"{local['patients'] / local['seconds']:,.0f} patients/s, "
        f"peak RSS {local['driver_mb']:.0f} MB"
    )
    parted = measure("local", folder, partition_mb=partition_mb)
    label = f"local, {partition_mb} MB parts"
    print(
        f"{label:<20}: {parted['seconds']:.1f} s, {parted['patients']:,} "
        f"patients, {parted['patients'] / parted['seconds']:,.0f} patients/s, "
        f"peak RSS {parted['driver_mb']:.0f} MB (CPOC_NDJSON_PARTITION_MB={partition_mb})"
    )
    rates = {}
    for master in ("local[1]", "local[2]"):
        run = measure("spark", folder, master, work / f"out-{master[6]}")
        rates[master] = run["patients"] / run["seconds"]
        print(
            f"spark {master:9s}   : {run['seconds']:.1f} s (+ {run['session_s']:.0f} s session "
            f"start), {run['patients']:,} patients, {rates[master]:,.0f} patients/s; peak RSS "
            f"driver {run['driver_mb']:.0f} MB, JVM {run['jvm_hwm_mb']:.0f} MB (VmHWM), "
            f"Python workers {run['workers_mb']:.0f} MB (sampled)"
        )
    print(f"scaling 1 → 2 cores : {rates['local[2]'] / rates['local[1]']:.2f}×")
    local_rate = local["patients"] / local["seconds"]
    print(f"spark local[2] / local engine: {rates['local[2]'] / local_rate:.2f}×")


if __name__ == "__main__":
    main()
