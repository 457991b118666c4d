"""Exactly-once under faults: capture runs through ``fault_proxy`` to sekmet, killed at random
(SIGKILL) and resumed, each compared with a clean run — 0 duplicates, 0 losses, same content.

Each run has a practice identifier system of its own (so runs share one server and one loaded
practice without seeing each other's ChargeItems) and a ledger of its own; a run is started
again after a kill or a failed exit until it exits 0, as an operator (or cron) would.
Used by tests/test_capture_faults.py (CI size) and scripts/fault_capture.py (long).
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from capture_support import (
    capture_command,
    config_for,
    duplicates_and_losses,
    reference_of,
    run_capture,
)
from fault_proxy import FaultRates, fault_proxy

AS_OF = "2025-03-31"
SYSTEMS = "http://example.org/fhir/sid/faults"
MAX_ATTEMPTS = 12


@dataclass
class Figures:
    runs: int = 0
    processes: int = 0  # capture processes started: first attempts, resumptions
    kills: int = 0
    exits: Counter[int] = field(default_factory=Counter)  # non-zero exits, by code
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    losses: int = 0
    differing: int = 0
    lines: int = 0  # live items per run in the clean reference
    unfinished: list[str] = field(default_factory=list)  # runs that never exited 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.losses or self.differing or self.unfinished)

    def text(self) -> str:
        faults = ", ".join(f"{k} {self.faults[k]}" for k in sorted(self.faults)) or "none"
        exits = ", ".join(f"{k}: {v}" for k, v in sorted(self.exits.items())) or "none"
        return "\n".join(
            [
                f"runs                {self.runs} ({self.lines} ChargeItems each, clean run)",
                f"capture processes   {self.processes} (killed {self.kills}; non-zero exits "
                f"{exits})",
                f"requests proxied    {self.requests}",
                f"faults injected     {sum(self.faults.values())} ({faults})",
                f"duplicates          {self.duplicates}",
                f"losses              {self.losses}",
                f"content differs     {self.differing}",
                f"unfinished runs     {len(self.unfinished)}",
                f"wall time           {self.seconds:.1f} s",
            ]
        )


def run_suite(
    base: str,
    root: str,
    work: Path,
    runs: int,
    seed: int = 1,
    kill_chance: float = 0.4,
    rates: FaultRates | None = None,
    timeout_s: float = 1.0,
    parallel: int = 2,
    extra: tuple[str, ...] = (),
    program: list[str] | None = None,
) -> Figures:
    """``runs`` faulted runs of ``capture_support.MONTH`` against sekmet at ``base``,
    ``parallel`` at a time (each on its own identifier system and ledger); ``extra``: more
    ``cpoc capture`` options for the faulted runs (e.g. ``--workers 8``); ``program``: the
    command that runs ``cpoc`` (default the console script)."""
    started = time.monotonic()
    figures = Figures()
    lock = threading.Lock()
    clean = f"{SYSTEMS}/clean-{seed}"
    clean_command = capture_command(
        base, work / f"clean-{seed}.sqlite", config_for(work, clean), "--as-of", AS_OF
    )
    if program is not None:
        clean_command = [*program, *clean_command[1:]]
    done = run_capture(clean_command)
    assert done.returncode == 0, done.stdout + done.stderr
    reference = reference_of(base, clean)
    figures.lines = len(reference)
    with fault_proxy(root, rates or FaultRates(hang_s=timeout_s * 1.5), seed) as proxy:
        proxied = f"{proxy.root_url}{base[len(root) :]}"

        def one(n: int) -> None:
            system = f"{SYSTEMS}/run-{seed}-{n}"
            command = capture_command(
                proxied,
                work / f"run-{seed}-{n}.sqlite",
                config_for(work, system),
                "--as-of",
                AS_OF,
                "--timeout",
                str(timeout_s),
                *extra,
            )
            if program is not None:
                command = [*program, *command[1:]]
            rng = random.Random(seed * 100_003 + n)
            _until_done(command, rng, kill_chance, figures, f"run {n}", lock)
            dupes, lost, differ = duplicates_and_losses(base, system, reference)
            with lock:
                figures.runs += 1
                figures.duplicates += dupes
                figures.losses += lost
                figures.differing += differ

        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(one, range(runs)))
        figures.requests = proxy.requests
        figures.faults = Counter(proxy.faults)
    figures.seconds = time.monotonic() - started
    return figures


def _until_done(
    command: list[str],
    rng: random.Random,
    kill_chance: float,
    figures: Figures,
    name: str,
    lock: threading.Lock,
) -> None:
    output = ""
    for attempt in range(MAX_ATTEMPTS):
        with lock:
            figures.processes += 1
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if attempt < 3 and rng.random() < kill_chance:
            try:
                output = process.communicate(timeout=rng.uniform(0.5, 5.0))[0]
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.communicate()
                with lock:
                    figures.kills += 1
                continue
        else:
            output = process.communicate(timeout=600)[0]
        if process.returncode == 0:
            return
        with lock:
            figures.exits[process.returncode] += 1
    with lock:
        figures.unfinished.append(f"{name}: {output[-2000:]}")
