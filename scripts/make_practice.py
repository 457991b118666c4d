"""Writes a synthetic oncology practice (``cpoc_fhir.synthetic``) as Bulk FHIR NDJSON.

    python scripts/make_practice.py --patients 500 --out practice
    python scripts/make_practice.py --patients 500 --out practice \\
        --payer-mix medicare-eom=0.4,commercial-cpoc=0.4,medicaid-dual=0.1,none=0.1
    cpoc timeline practice --config practice/models.toml      # each payer under its pack

With ``--payer-mix`` each patient gets Coverages from the mix (synthetic/payers.py: entries
medicare-eom, medicare-ocm, commercial-cpoc, medicaid-dual, none), the payers' Organizations
are written, and ``OUT/models.toml`` holds the ``[models] payers`` mapping (printed too).
Without it the files are those the benchmarks always generated. Deterministic by seed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cpoc_fhir.errors import InputError  # noqa: E402
from cpoc_fhir.synthetic import generate_practice  # noqa: E402
from cpoc_fhir.synthetic.payers import parse_mix  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--year", type=int, default=2025, help="the performance year")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--claims",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write ExplanationOfBenefit claims (default: yes)",
    )
    parser.add_argument(
        "--payer-mix",
        metavar="ENTRY=WEIGHT,…",
        help="each patient's payer from this mix, e.g. "
        "medicare-eom=0.4,commercial-cpoc=0.4,medicaid-dual=0.1,none=0.1",
    )
    args = parser.parse_args(argv)
    try:
        mix = parse_mix(args.payer_mix) if args.payer_mix else None
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    truth = generate_practice(
        args.out, args.patients, seed=args.seed, year=args.year, claims=args.claims, payer_mix=mix
    )
    print(f"{args.patients} patients, {truth.resources} resources → {args.out}")
    if mix is not None:
        entries = Counter(p.payer_entry for p in truth.patients.values())
        switched = sum(
            len([c for c in p.coverages if c.order == 1]) > 1 for p in truth.patients.values()
        )
        shares = ", ".join(f"{e} {entries[e]}" for e in mix.entries)
        print(f"payers: {shares}; {switched} switch payer while treated")
        print(f"settings → {args.out / 'models.toml'}:")
        print((args.out / "models.toml").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
