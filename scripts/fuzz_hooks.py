"""Fuzz the CDS Hooks service at scale: N mutated bodies of the three hooks and feedback.

The mutations are tests/fuzz_bodies.py's (the CI suite tests/test_cds_fuzz.py sends 2 000 of
them with hypothesis); here a seeded ``random.Random`` draws them. Each body goes to the app in
this process (Flask's test client: the full request handling, JSON errors, audit, on a
temporary SQLite store; no network). Prints the bodies sent per endpoint and mutation, the
answers by HTTP status, the 5xx count and the error bodies that are not JSON with
error/message or repeat a request value; exits 1 if there is any of either.

    .venv/bin/python scripts/fuzz_hooks.py [--examples 10000] [--seed 1] [--save DIR]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_bodies import RandomChooser, Tally, check, fuzz_app, mutated, valid_bodies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="bodies to send")
    parser.add_argument("--seed", type=int, default=1, help="random seed (runs repeat)")
    parser.add_argument("--save", type=Path, help="write each failing body to this folder")
    args = parser.parse_args(argv)
    # The service logs each uninterpretable body at error level, for an operator; here that
    # would be thousands of tracebacks: keep the counts, drop the log.
    logging.disable(logging.CRITICAL)
    choose = RandomChooser(random.Random(args.seed))
    valid = valid_bodies()
    tally = Tally()
    by_endpoint: Counter[str] = Counter()
    by_mutation: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cpoc-fuzz-") as folder:
        client = fuzz_app(Path(folder)).test_client()
        for n in range(args.examples):
            request = mutated(valid, choose)
            headers = {"Content-Type": request.content_type} if request.content_type else {}
            response = client.post(request.path, data=request.data, headers=headers)
            by_endpoint[request.endpoint] += 1
            by_mutation.update(request.mutations)
            problem = check(
                request,
                response.status_code,
                response.mimetype,
                response.get_data(as_text=True),
                tally,
            )
            if problem and args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"body-{n}.json").write_bytes(request.data)
    seconds = time.perf_counter() - started
    print(f"bodies sent: {tally.sent} in {seconds:.0f} s (seed {args.seed})")
    print("by endpoint: " + ", ".join(f"{k} {v}" for k, v in sorted(by_endpoint.items())))
    print("by mutation: " + ", ".join(f"{k} {v}" for k, v in sorted(by_mutation.items())))
    print("answers: " + ", ".join(f"HTTP {k} {v}" for k, v in sorted(tally.by_status.items())))
    print(f"5xx: {len(tally.server_errors)}")
    print(f"error bodies without JSON error/message or repeating a value: {len(tally.bad_errors)}")
    for request, problem in tally.bad_errors[:10]:
        print(f"  {problem}: {request.endpoint} after {', '.join(request.mutations)}")
    for request in tally.server_errors[:10]:
        print(f"  5xx: {request.endpoint} after {', '.join(request.mutations)}")
    return 1 if tally.server_errors or tally.bad_errors else 0


if __name__ == "__main__":
    sys.exit(main())
