"""Suite (c), long version: capture runs through a fault-injecting proxy to sekmet, killed at
random and resumed, each compared with a clean run (tests/fault_suite.py does the work).

    python scripts/fault_capture.py [--runs 100] [--patients 4] [--seed 1] [--parallel 2]
                                    [--kill-chance 0.4] [--read-faults 0.04]
                                    [--write-faults 0.3] [--timeout 1.0] [--keep]

Prints runs, capture processes (kills, non-zero exits), requests proxied, faults injected by
kind, duplicates, losses and items whose content differs; exits 1 unless all are 0.
Everything runs on 127.0.0.1 (sekmet-fhir, the proxy) in a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "tests")]

from capture_support import MONTH, load_practice  # noqa: E402
from fault_proxy import FaultRates  # noqa: E402
from fault_suite import run_suite  # noqa: E402
from sekmet_server import running_sekmet  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--patients", type=int, default=4, help="generated patients (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (default 2)")
    parser.add_argument("--kill-chance", type=float, default=0.4)
    parser.add_argument("--read-faults", type=float, default=0.04)
    parser.add_argument("--write-faults", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=1.0, help="client timeout, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpoc-fault-capture-"))
    rates = FaultRates(args.read_faults, args.write_faults, hang_s=args.timeout * 1.5)
    try:
        with running_sekmet(work / "sekmet") as sekmet:
            load_practice(sekmet.base_url, work / "practice", args.patients)
            print(f"sekmet at {sekmet.base_url}; {args.patients} patients; month {MONTH}")
            figures = run_suite(
                sekmet.base_url,
                sekmet.root_url,
                work,
                args.runs,
                seed=args.seed,
                kill_chance=args.kill_chance,
                rates=rates,
                timeout_s=args.timeout,
                parallel=args.parallel,
            )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(figures.text())
    for unfinished in figures.unfinished:
        print(f"!! {unfinished}")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
