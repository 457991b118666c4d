"""Benchmark: ``cpoc capture --workers W`` against a search-only client at the same concurrency.

One run, one sekmet-fhir on 127.0.0.1 loaded with N generated patients (as
``bench_capture.py``: ``cpoc_fhir.synthetic``, batch PUTs of 200). For each W (default
1, 4, 8):
  (a) the floor (measured before and after (b), averaged): a client that issues only the
      searches a capture issues — the EpisodeOfCare listing, then per patient GET
      Patient/<id>, the 12 record searches (``RECORD_QUERIES``, same parameters),
      ChargeItem?subject and Claim?patient — on W threads (a ``FhirClient`` each), reading
      every page and nothing more;
  (b) ``cpoc capture --workers W`` in-process (``cpoc_fhir.cli.main``), a new ledger and a
      practice identifier system of its own: the first run creates the month's ChargeItems,
      the second finds them all unchanged (it must write nothing);
and prints patients/s of each, the ratio capture / floor (target ≥ 0.80), and this process's
CPU time per patient (all threads; sekmet's own CPU is not counted).

    python scripts/bench_capture_parallel.py [--patients 300] [--workers 1,4,8]
                                             [--month 2025-03] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "tests")]

from bench_capture import LOAD_ORDER, capture, check_second, generate, load  # noqa: E402
from sekmet_server import running_sekmet  # noqa: E402

from cpoc_fhir.capture.server import PAGE  # noqa: E402
from cpoc_fhir.fhir.client import FhirClient  # noqa: E402
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES  # noqa: E402

Query = tuple[str, dict[str, str]]


def searches_of(patient_id: str) -> list[Query]:
    """The searches ``ServerStore.patient_resources`` and ``charge_resources`` issue."""
    queries = []
    for search in RECORD_QUERIES:
        query = search.for_patient(patient_id)
        if search.resource_type == "MedicationRequest":
            query["_include"] = "MedicationRequest:medication"
        query["_count"] = PAGE
        queries.append((search.resource_type, query))
    ref = f"Patient/{patient_id}"
    queries.append(("ChargeItem", {"subject": ref, "_count": PAGE}))
    queries.append(("Claim", {"patient": ref, "_count": PAGE}))
    return queries


def search_only(base: str, workers: int) -> dict[str, Any]:
    """(a): the same reads at the same concurrency, nothing else; patients and seconds."""
    local = threading.local()
    clients: list[FhirClient] = []
    lock = threading.Lock()

    def client() -> FhirClient:
        if not hasattr(local, "client"):
            local.client = FhirClient(base)
            with lock:
                clients.append(local.client)
        made: FhirClient = local.client
        return made

    def one(patient_id: str) -> int:
        http = client()
        found = 1 if http.read("Patient", patient_id) else 0
        for resource_type, query in searches_of(patient_id):
            found += sum(1 for _ in http.search(resource_type, query))
        return found

    t0, cpu = time.perf_counter(), time.process_time()
    lister = FhirClient(base)
    patients, seen = [], set()
    for episode in lister.search("EpisodeOfCare", {"_count": PAGE}):
        ref = str((episode.get("patient") or {}).get("reference", ""))
        if episode.get("status") != "entered-in-error" and ref not in seen:
            seen.add(ref)
            patients.append(ref.split("/", 1)[1])
    with ThreadPoolExecutor(workers) as pool:
        resources = sum(pool.map(one, patients))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu
    for made in [lister, *clients]:
        made.close()
    return {"s": seconds, "cpu": cpu, "patients": len(patients), "resources": resources}


def capture_runs(base: str, tmp: Path, month: str, workers: int) -> tuple[dict[str, Any], ...]:
    """(b): a first run (creates) and a second (unchanged) of ``cpoc capture --workers W``."""
    config = tmp / f"config-w{workers}.toml"
    system = f"http://example.org/fhir/sid/bench-parallel-w{workers}"
    config.write_text(f'[publish]\npractice_identifier_system = "{system}"\n', encoding="utf-8")
    argv = ["--fhir-base", base, "--month", month, "--workers", str(workers)]
    argv += ["--store", f"sqlite:///{tmp / f'ledger-w{workers}.sqlite'}"]
    argv += ["--conflicts", str(tmp / f"conflicts-w{workers}.csv")]
    cpu = time.process_time()
    first = capture(argv, config)
    first["cpu"], cpu = time.process_time() - cpu, time.process_time()
    second = capture(argv, config)
    second["cpu"] = time.process_time() - cpu
    check_second(first, second, f"--workers {workers}")
    return first, second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--workers", default="1,4,8", help="comma-separated (default 1,4,8)")
    parser.add_argument("--month", default="2025-03", help="YYYY-MM (default 2025-03)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    levels = [int(w) for w in args.workers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="cpoc-bench-parallel-"))
    t0 = time.perf_counter()
    rows = []
    try:
        src = tmp / "in"
        generate(src, args.patients)
        resources = [json.loads(line) for p in sorted(src.glob("*.ndjson")) for line in p.open()]
        order = [*LOAD_ORDER]
        resources.sort(key=lambda r: [*order, r["resourceType"]].index(r["resourceType"]))
        with running_sekmet(tmp / "sekmet") as sekmet:
            base = sekmet.base_url
            rejected = load(base, resources)
            print(
                f"sekmet at {base}: {len(resources)} resources, {args.patients} patients "
                f"(rejected {dict(rejected) or 'none'})"
            )
            for workers in levels:
                # The floor before and after the capture runs, averaged: the shared machine's
                # load drifts, and this way both see the same drift.
                before = search_only(base, workers)
                first, second = capture_runs(base, tmp, args.month, workers)
                after = search_only(base, workers)
                floor = dict(
                    before, s=(before["s"] + after["s"]) / 2, cpu=(before["cpu"] + after["cpu"]) / 2
                )
                rows.append((workers, floor, first, second))
                print(_row(workers, floor, first, second), flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("W   search-only              capture (creates)                  capture (unchanged)")
    for row in rows:
        print(_row(*row))
    print(f"total wall time {time.perf_counter() - t0:.1f} s")
    return 0


def _row(workers: int, floor: dict[str, Any], first: dict[str, Any], second: dict[str, Any]) -> str:
    base = floor["patients"] / floor["s"]
    one, two = first["patients"] / first["s"], second["patients"] / second["s"]
    return (
        f"{workers:<3} {base:6.1f} p/s {_cpu(floor)}   {one:6.1f} p/s {_cpu(first)} "
        f"ratio {one / base:4.2f}   {two:6.1f} p/s {_cpu(second)} ratio {two / base:4.2f}"
        f"   ({floor['patients']} patients, {first['writes'].get('created', 0)} created)"
    )


def _cpu(run: dict[str, Any]) -> str:
    """This process's CPU time per patient (every thread): what the shared machine spends."""
    return f"({1000 * run['cpu'] / run['patients']:4.1f} ms CPU)"


if __name__ == "__main__":
    raise SystemExit(main())
