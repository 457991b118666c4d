"""``cpoc vba`` (the II-C.2 adjustment for given ratings) and ``cpoc payer set-vba`` (the next
year's adjustment written into a new payer file version, §12.4)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpoc_fhir.value.model import Rating

# Every command's parser is built with this module's, so it imports what its runs need only
# in them: value.model alone loads the record reader (0.09 s of each `--help`, issue 17 item 6).
EXIT_OK = 0


def _rating(text: str) -> Rating:
    from cpoc_fhir.value.model import Rating

    try:
        return Rating(text.lower())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a rating: {text!r} (high, appropriate or low)"
        ) from None


def _participation_year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        year = 0
    if year < 1:
        raise argparse.ArgumentTypeError(f"participation year is 1, 2, …: got {text!r}")
    return year


def _fraction(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not Decimal(-1) < value < Decimal(1):
        raise argparse.ArgumentTypeError(
            f"an adjustment is a fraction between -1 and 1 (0.015 = +1.5 %): got {text!r}"
        )
    return value


def add_vba_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vba = sub.add_parser(
        "vba",
        help="the value-based adjustment for given ratings (proposal II-C.2), e.g. +1.5%%",
    )
    vba.add_argument(
        "--participation-year",
        type=_participation_year,
        required=True,
        metavar="N",
        help="year of participation, 1…7 (later years take year 7)",
    )
    for measure in ("pathways", "quality", "er"):
        vba.add_argument(
            f"--{measure}",
            type=_rating,
            required=True,
            metavar="R",
            help=f"{measure} rating: high, appropriate or low",
        )


def add_payer_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payer = sub.add_parser("payer", help="payer files: write the next year's adjustment")
    actions = payer.add_subparsers(dest="payer_action", required=True)
    set_vba = actions.add_parser(
        "set-vba",
        help="write a new payer file version with a year's value-based adjustment",
    )
    set_vba.add_argument("--payer", type=Path, required=True, metavar="FILE", help="payer file")
    set_vba.add_argument(
        "--year", type=int, required=True, metavar="YYYY", help="the year the adjustment is for"
    )
    source = set_vba.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--adjustment", type=_fraction, metavar="FRACTION", help="e.g. 0.015 for +1.5 %%"
    )
    source.add_argument(
        "--from-value",
        type=Path,
        metavar="VALUE_JSON",
        help="a value report (cpoc report value --format json) of the year before",
    )
    set_vba.add_argument(
        "--inflation-update",
        type=_fraction,
        metavar="FRACTION",
        help="when the year is new to the file: its update over the year before "
        "(default: the payer file's index, MEI)",
    )
    set_vba.add_argument(
        "--accept-illustrative",
        action="store_true",
        help="write the adjustment of a report rated against illustrative benchmarks",
    )
    set_vba.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="NEW_FILE",
        help="the new payer file (never the input; must not exist)",
    )


def run_vba(args: argparse.Namespace) -> int:
    from cpoc_fhir.value.adjustment import adjustment, percent_text

    value = adjustment(args.participation_year, (args.pathways, args.quality, args.er))
    sys.stdout.write(percent_text(value) + "\n")
    return EXIT_OK


def run_payer(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config
    from cpoc_fhir.payer_file import set_vba, set_vba_from_value

    locality = load_config(args.config).payer_locality
    if args.from_value is not None:
        path, change = set_vba_from_value(
            args.payer,
            args.year,
            args.from_value,
            args.out,
            args.inflation_update,
            locality,
            accept_illustrative=args.accept_illustrative,
        )
    else:
        path, change = set_vba(
            args.payer,
            args.year,
            args.adjustment,
            args.out,
            None,
            args.inflation_update,
            locality,
        )
    sys.stdout.write(f"wrote {path}: {change}\n")
    return EXIT_OK
