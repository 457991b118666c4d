"""``cpoc report revenue``: the practice's captured lines by month, code, payment model and
status (reports/revenue.py says what counts as revenue; issue 17 item 5).

    cpoc report revenue [INPUT | --fhir-base URL] --from YYYY-MM --to YYYY-MM
        [--provider REF] [--model PACK] [--payer NAME] [--code CODE]
        [--format table|csv|xlsx|json|html] [--out FILE]

INPUT holds the ChargeItems (a Bundle, a folder, a Bulk export, or capture's offline ``--out``
folder with its ChargeItem.ndjson); or they are read from the FHIR server. Each line's payer
is the patient's primary Coverage on its day (reports/revenue_payers.py; the Coverages and
payor Organizations of INPUT, or the server's); ``--payer`` keeps one ("No coverage": the
lines without one). ``--format csv``
writes the month table, ``xlsx`` a workbook with the months and every item behind them,
``html`` one self-contained page with the dashboard's charts. Exit codes: 0; 2 bad input.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.progress import add_no_progress

FORMATS = ("table", "csv", "xlsx", "json", "html")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def month(text: str) -> str:
    """A YYYY-MM option value (a YYYY-MM-DD date names its month)."""
    value = text.strip()[:7]
    if _MONTH.fullmatch(value) and (len(text.strip()) in (7, 10)):
        return value
    raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}")


def add_parser(reports: Any) -> None:
    from cpoc_fhir.capture.cli_options import add_auth_options

    p = reports.add_parser(
        "revenue",
        help="captured lines by month, code, payment model and status: billed, provisional, "
        "on hold (table, CSV, Excel, HTML with charts)",
    )
    p.add_argument("input", nargs="?", type=Path, metavar="INPUT", help="the ChargeItems")
    p.add_argument("--fhir-base", metavar="URL", help="read the ChargeItems from this server")
    p.add_argument("--from", dest="start", type=month, required=True, metavar="YYYY-MM")
    p.add_argument("--to", dest="end", type=month, required=True, metavar="YYYY-MM")
    p.add_argument("--provider", metavar="REF", help="only this performer (Practitioner/x)")
    p.add_argument("--model", metavar="PACK", help="only this payment-model pack (cpoc, eom …)")
    p.add_argument(
        "--payer",
        metavar="NAME",
        help='only this payer, as the items\' payer column names it ("No coverage": none)',
    )
    p.add_argument("--code", metavar="CODE", help="only this code")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here, not stdout")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    add_auth_options(p, "system/ChargeItem.rs system/Coverage.rs system/Organization.rs")
    # the bar over INPUT's patients (fhir.read.counted) or the server's pages (fhir.search_bar)
    add_no_progress(p)
    p.set_defaults(report_run=run)


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config
    from cpoc_fhir.reports.revenue import RevenueFilters, summarise
    from cpoc_fhir.reports.revenue_items import PackIndex, revenue_rows
    from cpoc_fhir.reports.revenue_payers import with_payers

    if (args.input is None) == (args.fhir_base is None):
        raise InputError("INPUT", "give the ChargeItems as INPUT or --fhir-base URL (one of them)")
    if args.start > args.end:
        raise InputError("--from", f"{args.start} is after --to {args.end}")
    config = load_config(getattr(args, "config", None))
    if args.model:
        from cpoc_fhir.packs.registry import load_pack

        load_pack(args.model, config.models)  # an unknown pack: an error naming the known ones
    packs = PackIndex(config.publish.codesystem_url, config.models)
    filters = RevenueFilters(args.start, args.end, args.provider or "", args.model or "",
                             args.code or "", payer=(args.payer or "").strip())  # fmt: skip
    items, payers, notes = _read(args)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    if payers is None and filters.payer:
        raise InputError("--payer", "the payers are unknown (their Coverages were not read)")
    rows = revenue_rows(items, packs)
    revenue = summarise(rows if payers is None else with_payers(rows, payers), filters)
    if args.format == "xlsx":
        _write_xlsx(args.out, revenue)
        return 0
    if args.format == "json":
        from cpoc_fhir.reports.revenue import as_json

        text = json.dumps(as_json(revenue), indent=1) + "\n"
    elif args.format == "csv":
        from cpoc_fhir.exports import write_csv
        from cpoc_fhir.reports.revenue import month_table

        buffer = io.StringIO()
        write_csv(month_table(revenue), buffer)
        text = buffer.getvalue()
    elif args.format == "html":
        from cpoc_fhir.reports.revenue_html import revenue_html

        text = revenue_html(revenue)
    else:
        from cpoc_fhir.reports.revenue_html import revenue_text

        text = revenue_text(revenue)
    from cpoc_fhir.economics.output import write_report

    write_report(args.out, text)
    return 0


def _read(args: argparse.Namespace) -> tuple[list[Any], Any, tuple[str, ...]]:
    """(the ChargeItems, the payers or None when unreadable, notes for stderr)."""
    from cpoc_fhir.knowledge.loader import load_knowledge

    knowledge = load_knowledge()  # the record reader's context wants it (0.2 s)
    if args.fhir_base is None:
        from cpoc_fhir.fhir.read import open_source
        from cpoc_fhir.fhir.read.counted import counted
        from cpoc_fhir.reports.revenue_payers import read_payers

        source = counted(open_source(args.input), args)
        items: list[Any] = []
        coverages: list[Any] = []
        organizations: dict[str, Any] = {}
        for patient in source.patients():
            items += patient.of_type("ChargeItem")
            coverages += patient.of_type("Coverage")
            organizations.update(
                (k, v) for k, v in patient.shared.items() if k.startswith("Organization/")
            )
        return items, read_payers(coverages, organizations.values(), knowledge), ()
    from cpoc_fhir.capture.connect import fhir_client
    from cpoc_fhir.reports.revenue_reads import read_server

    # Every status but entered-in-error; the occurrence filter is applied on the rows (a
    # server's date search on ChargeItem.occurrence is optional).
    with fhir_client(args) as client:
        reads = read_server(client, knowledge, bars=not args.no_progress)
    return list(reads.items), reads.payers, reads.notes


def _write_xlsx(out: Path | None, revenue: Any) -> None:
    from cpoc_fhir.exports import write_xlsx
    from cpoc_fhir.reports.revenue import month_table, rows_table

    sheets = {"months": month_table(revenue), "items": rows_table(revenue.rows)}
    if out is None:
        if sys.stdout.isatty():
            raise InputError("--format xlsx", "give --out FILE (a workbook is not for a terminal)")
        write_xlsx(sheets, sys.stdout.buffer)
        return
    try:
        with out.open("wb") as handle:
            write_xlsx(sheets, handle)
    except OSError as exc:
        raise InputError(str(out), f"cannot be written ({exc.strerror})") from None
