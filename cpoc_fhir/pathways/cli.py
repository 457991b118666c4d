"""``cpoc pathways``: list the practice's pathways, show one, publish them as FHIR, check files.

cpoc pathways list [--format table|json]
cpoc pathways show ID [--fhir]
cpoc pathways publish --out DIR        (the shipped authoring files → PlanDefinition Bundle)
cpoc pathways check DIR                (a practice folder: loads it as the service would)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpoc_fhir.errors import InputError
from cpoc_fhir.terminal import fit_table, line_width, wrapped

if TYPE_CHECKING:
    from cpoc_fhir.pathways.model import PathwayLibrary

# What a run needs is imported in run(): `cpoc pathways --help` builds the parser alone
# (issue 17 item 6).


def add_parser(sub: Any) -> None:
    pathways = sub.add_parser("pathways", help="the care pathways (PlanDefinitions) in use")
    actions = pathways.add_subparsers(dest="pathways_command", required=True)
    listing = actions.add_parser("list", help="one line per pathway, in the order tried")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.add_argument("--wide", action="store_true", help="one line a pathway")
    show = actions.add_parser("show", help="one pathway: criteria, regimens, sources")
    show.add_argument("id")
    show.add_argument("--fhir", action="store_true", help="print its PlanDefinition (JSON)")
    show.add_argument("--wide", action="store_true", help="nothing wrapped")
    out = actions.add_parser("publish", help="write the shipped pathways as a FHIR Bundle")
    out.add_argument("--out", type=Path, required=True, help="folder to write into")
    check = actions.add_parser("check", help="load a practice's pathway folder, report problems")
    check.add_argument("dir", type=Path)
    check.add_argument("--replace", action="store_true", help="as if replacing the shipped ones")


def run(args: argparse.Namespace) -> int:
    from cpoc_fhir.config import load_config
    from cpoc_fhir.knowledge.loader import load_knowledge
    from cpoc_fhir.pathways.library import PUBLISHED, authored_pathways, load_pathways, publish
    from cpoc_fhir.pathways.plandefinition import to_plan_definition

    catalog = load_knowledge().regimens
    if args.pathways_command == "publish":
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / PUBLISHED
        bundle = publish(authored_pathways(), catalog)
        target.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {len(bundle['entry'])} PlanDefinitions to {target}")
        return 0
    if args.pathways_command == "check":
        library = load_pathways(catalog, args.dir, args.replace)
        print(f"{args.dir}: OK, {len(library.pathways)} pathways in use")
        _table(library)
        return 0
    config = load_config()
    library = load_pathways(catalog, config.pathways_dir, config.pathways_replace)
    if args.pathways_command == "list":
        if args.format == "json":
            rows = [
                {"id": p.id, "title": p.title, "version": p.version, "cancer": p.cancer,
                 "url": p.url, "regimens": list(p.regimens), "origin": p.origin}
                for p in library.pathways
            ]  # fmt: skip
            print(json.dumps(rows, indent=1, ensure_ascii=False))
        else:
            _table(library, getattr(args, "wide", False))
        return 0
    pathway = library.get(args.id)
    if pathway is None:
        raise InputError(args.id, "no such pathway; `cpoc pathways list` shows them")
    if args.fhir:
        print(json.dumps(to_plan_definition(pathway, catalog), indent=1, ensure_ascii=False))
        return 0
    width = line_width(getattr(args, "wide", False))
    out = [f"{pathway.title}  ({pathway.id} {pathway.version}, {pathway.origin})"]
    out += wrapped(pathway.setting, width, "  ")
    out.append("  applies when:")
    for criterion in pathway.criteria:
        out += wrapped(f"{criterion.description}   [{criterion.expression}]", width, "    - ")
    out.append("  on-pathway regimens, value order:")
    for rank, option in enumerate(pathway.options, start=1):
        regimen = catalog.regimen(option.regimen)
        note = f" — {option.note}" if option.note else ""
        doses = f" [doses: {option.dose_setting}]" if option.dose_setting else ""
        name = regimen.name if regimen else option.regimen
        out += wrapped(f"{name}{note}{doses}", width, f"    {rank}. ")
    if pathway.backbone:
        out += wrapped(
            ", ".join(pathway.backbone), width, "  backbone (with every option): ", "    "
        )
    for source in pathway.sources:
        out += wrapped(source, width, "  source: ", "    ")
    print("\n".join(out))
    return 0


def _table(library: PathwayLibrary, wide: bool = False) -> None:
    rows = [(p.id, p.cancer, f"{len(p.options)} regimens", p.title) for p in library.pathways]
    for line in fit_table(rows, line_width(wide)) if rows else ():
        print(line)
    sys.stdout.flush()
