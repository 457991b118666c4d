"""``cpoc report value``: read the patients (a Bundle, folder or Bulk NDJSON, or a FHIR server
through the capture run's reader), the year's pathway decisions from the store, and write the
value report (``cpoc_fhir.value.report``) as a table, JSON or HTML, with MeasureReports on
request."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from itertools import islice
from typing import Any

from cpoc_fhir.config import Config, load_config, load_payer
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import PatientResources, open_source
from cpoc_fhir.fhir.read.access import UnreadableElement, decimal, obj
from cpoc_fhir.fhir.read.counted import counted
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.reports.benchmarks import load_benchmarks, read_table_file
from cpoc_fhir.reports.render import write_text
from cpoc_fhir.reports.sources import check_record_source
from cpoc_fhir.reports.value_table import value_table
from cpoc_fhir.service import Evaluator
from cpoc_fhir.store import DEFAULT_URL, open_ledger
from cpoc_fhir.store.pathways import PathwayLog, StoredDecision
from cpoc_fhir.value.model import PatientYear, Position
from cpoc_fhir.value.pathway_measure import pathway_cancers, pathway_measure
from cpoc_fhir.value.report import (
    Phases,
    ValueComponents,
    ValueInputs,
    collect,
    prior_er_rate,
    value_report,
)

Resource = dict[str, Any]


@dataclass(frozen=True)
class Practice:
    """Where the patients come from and the practice Location."""

    patients: Iterator[PatientResources]
    location: str | None
    position: Position | None
    warnings: list[str]


def run(
    args: argparse.Namespace, tz: tzinfo | None, components: ValueComponents | None = None
) -> int:
    check_record_source(
        args, "cpoc report value", "give an INPUT (file or folder) or --fhir-base URL"
    )
    if args.individual and not (args.measure_reports or args.submit):
        raise InputError("--individual", "goes with --measure-reports DIR or --submit URL")
    if args.submit:
        _submit_client(args.submit, args.timeout).close()  # a bad URL fails before the work
    try:
        phases = Phases.parse(args.phase)
    except ValueError as exc:
        raise InputError("--phase", str(exc)) from None
    as_of = args.as_of or date(args.year, 12, 31)
    if as_of < date(args.year, 1, 1):
        raise InputError("--as-of", f"{as_of.isoformat()} is before the year {args.year}")
    config = load_config(getattr(args, "config", None))
    settings = config.value
    if args.medical_home:
        settings = replace(settings, medical_home=True)
    benchmarks = load_benchmarks(args.benchmarks) if args.benchmarks else None
    prior = None
    if args.prior is not None:
        report = read_table_file(args.prior, "value report")
        prior = prior_er_rate(report, str(args.prior), args.year)
    payer_file = getattr(args, "payer", None) or config.payer_file
    write_payer_to = getattr(args, "write_payer", None)
    if write_payer_to is not None and payer_file is None:
        raise InputError(
            "--write-payer", "needs --payer FILE (or billing.payer_file): the practice's payer file"
        )
    payer = load_payer(payer_file, config.payer_locality)
    evaluator = Evaluator(load_knowledge(), config.rules, payer, models=config.models)
    decisions = _decisions(args, tz)
    practice = _practice(args)
    inputs = ValueInputs(
        year=args.year,
        as_of=as_of,
        participation_year=args.participation_year,
        phases=phases,
        settings=settings,
        benchmarks=benchmarks,
        submitting=bool(args.measure_reports or args.submit),
        location=practice.location,
        prior_er_rate=prior,
        warnings=practice.warnings,
    )
    if components is None:
        from cpoc_fhir.value.components import value_components

        components = value_components(evaluator.knowledge, config.rules)
    years = _patient_years(practice, evaluator, args.year, as_of)
    collected = collect(years, components, inputs)
    cancers = pathway_cancers(benchmarks, _library_cancers(config, evaluator))
    measure = pathway_measure(decisions, settings, benchmarks, phases.pathways, cancers)
    report = value_report(collected, measure, components, inputs)
    if write_payer_to is not None and payer_file is not None:
        # Before the outputs: a refusal (no adjustment, an existing file) writes nothing.
        from cpoc_fhir.payer_file import write_payer

        name = args.out.name if args.out is not None else "cpoc report value"
        path, change = write_payer(
            payer_file,
            report,
            write_payer_to,
            name,
            locality=config.payer_locality,
            accept_illustrative=getattr(args, "accept_illustrative", False),
        )
        sys.stderr.write(f"wrote {path}: {change}\n")
    _outputs(args, report, config)
    return 0


def _outputs(args: argparse.Namespace, report: dict[str, Any], config: Config) -> None:
    if args.format == "json":
        # No indent: the C encoder (a 10 000-patient report is megabytes of evidence).
        text = json.dumps(report, ensure_ascii=False) + "\n"
    elif args.format == "html":
        from cpoc_fhir.reports.value_html import render_value_html

        text = render_value_html(report)
    else:
        from cpoc_fhir.terminal import line_width

        text = value_table(report, line_width(getattr(args, "wide", False))) + "\n"
    # The submission (§12.2): MeasureReports written and/or sent; said on stderr, so that
    # stdout stays the report.
    if args.measure_reports:
        from cpoc_fhir.value.measure_reports import write_measure_reports

        paths = write_measure_reports(
            report, args.measure_reports, args.individual, settings=config.publish
        )
        print(f"{len(paths)} MeasureReports written to {args.measure_reports}", file=sys.stderr)
    if args.submit:
        from cpoc_fhir.value.measure_reports import submit_measure_reports

        client = _submit_client(args.submit, args.timeout)
        try:
            sent = submit_measure_reports(
                report, args.submit, client, args.individual, settings=config.publish
            )
        finally:
            client.close()
        print(f"{len(sent)} MeasureReports submitted to {args.submit}", file=sys.stderr)
    if args.out is not None:
        write_text(args.out, text)
    else:
        sys.stdout.write(text)


def _submit_client(url: str, timeout: float) -> Any:
    """The registry's client: a bearer token from CPOC_SUBMIT_TOKEN when set (the registry is
    not the EHR: the --smart-* options are the EHR's)."""
    from cpoc_fhir.fhir.auth import BearerToken, NoAuth
    from cpoc_fhir.fhir.client import FhirClient, check_base_url

    try:
        check_base_url(url)
        token = os.environ.get("CPOC_SUBMIT_TOKEN")
        auth = BearerToken(token) if token else NoAuth()
    except ValueError as exc:
        raise InputError("--submit", str(exc)) from None
    return FhirClient(url, auth=auth, timeout=(5, timeout))


def _decisions(args: argparse.Namespace, tz: tzinfo | None) -> list[StoredDecision]:
    url = args.store or os.environ.get("CPOC_STORE_URL") or DEFAULT_URL
    with open_ledger(url) as ledger:
        return PathwayLog(ledger).decisions(date(args.year, 1, 1), date(args.year, 12, 31), tz)


def _library_cancers(config: Config, evaluator: Evaluator) -> dict[str, str]:
    from cpoc_fhir.pathways.library import load_pathways

    library = load_pathways(
        evaluator.knowledge.regimens, config.pathways_dir, config.pathways_replace
    )
    return {p.id: p.cancer for p in library.pathways}


def _patient_years(
    practice: Practice, evaluator: Evaluator, year: int, as_of: date
) -> Iterator[PatientYear]:
    for resources in practice.patients:
        record = evaluator.record(resources)
        yield PatientYear(
            patient_id=resources.patient_ref.removeprefix("Patient/"),
            resources=resources,
            record=record,
            timeline=evaluator.evaluate(record, as_of),
            year=year,
            as_of=as_of,
            practice_position=practice.position,
        )


# --- where the patients are ------------------------------------------------------------------
def _practice(args: argparse.Namespace) -> Practice:
    warnings: list[str] = []
    if args.fhir_base is not None:
        return _server_practice(args, warnings)
    source = counted(open_source(args.input), args)
    locations = {k: v for k, v in source.shared.items() if k.startswith("Location/")}
    location, position = practice_location(args.location, locations, str(args.input), warnings)
    patients = source.patients()

    def gathered() -> Iterator[PatientResources]:
        yield from patients
        warnings.extend(source.warnings)

    return Practice(gathered(), location, position, warnings)


def _server_practice(args: argparse.Namespace, warnings: list[str]) -> Practice:
    from cpoc_fhir.economics.server_source import open_records
    from cpoc_fhir.fhir.client import FhirNotFound

    # The capture run's reader with no searches beside the record's, under the reports' bar.
    source = open_records(args, queries=())
    client = source.client  # type: ignore[attr-defined]  # CountedSource hands it on
    if args.location:
        wanted = args.location.removeprefix("Location/")
        try:
            found = {f"Location/{wanted}": client.read("Location", wanted)}
        except FhirNotFound:
            raise InputError("--location", f"no Location/{wanted} on the FHIR server") from None
    else:  # two are enough to know there is not only one
        some = islice(client.search("Location", {"_count": "2"}), 2)
        found = {f"Location/{r.get('id')}": r for r in some if isinstance(r, dict)}
    location, position = practice_location(args.location, found, args.fhir_base, warnings)

    def gathered() -> Iterator[PatientResources]:
        try:
            yield from source.patients()
        finally:
            client.close()

    return Practice(gathered(), location, position, warnings)


def practice_location(
    wanted: str | None, locations: dict[str, Resource], where: str, warnings: list[str]
) -> tuple[str | None, Position | None]:
    """The practice Location and its position (§12.3 distance band)."""
    if wanted is not None:
        key = f"Location/{wanted.removeprefix('Location/')}"
        if key not in locations:
            raise InputError("--location", f"no {key} in {where}")
    elif len(locations) == 1:
        (key,) = locations
    else:
        what = "no Location" if not locations else f"{len(locations)} Locations"
        warnings.append(
            f"{where}: {what} and no --location: the practice has no position, every "
            "patient's distance is unknown (§12.3: factor 1)"
        )
        return None, None
    return key, _position(locations[key], key, warnings)


def _position(location: Resource, key: str, warnings: list[str]) -> Position | None:
    try:
        position = obj(location, "position", key)
        lat = decimal(position, "latitude", f"{key}.position") if position else None
        lon = decimal(position, "longitude", f"{key}.position") if position else None
    except UnreadableElement as exc:
        warnings.append(f"{exc.problem}: the practice position is unknown")
        return None
    if lat is None or lon is None:
        warnings.append(f"{key} has no position: every patient's distance is unknown")
        return None
    return Position(float(lat), float(lon))
