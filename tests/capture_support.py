"""Capture runs against a real FHIR server for the exactly-once suites: a generated practice
loaded into sekmet, ``cpoc capture`` as a subprocess (so it can be killed), and the live
ChargeItems of one practice identifier system, compared by content."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from cds_hooks.embedded_fhir import load_resources
from cpoc_fhir.capture.plan import Action, Plan, Step
from cpoc_fhir.synthetic import generate_practice

Resource = dict[str, Any]
CPOC = str(Path(sys.executable).with_name("cpoc"))
REPO = Path(__file__).resolve().parents[1]
# This checkout's cpoc (the console script may belong to another checkout of the package).
PROGRAM = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {str(REPO)!r}); "
    "from cpoc_fhir.cli import main; sys.exit(main())",
]
# Referenced resources first (EpisodeOfCare and Encounter point to the cancer Condition).
LOAD_ORDER = [
    "Organization",
    "Location",
    "Patient",
    "Condition",
    "EpisodeOfCare",
    "Encounter",
    "Observation",
]
# A month in which the generated practice has new patients and treatment months to bill.
MONTH = "2025-03"
# Fields the product does not own or that differ between runs by design.
VOLATILE = ("id", "meta", "enteredDate")


def load_practice(base: str, directory: Path, patients: int) -> None:
    """``patients`` generated patients (cpoc_fhir.synthetic), PUT so they keep their ids."""
    generate_practice(directory, patients, claims=False)
    resources = [
        json.loads(line)
        for path in sorted(directory.glob("*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    order = [*LOAD_ORDER]
    resources.sort(
        key=lambda r: order.index(r["resourceType"]) if r["resourceType"] in order else len(order)
    )
    load_resources(base, resources)


def config_for(directory: Path, system: str) -> Path:
    """A cpoc config whose practice identifier system is ``system`` (isolates runs on one
    server: each system is its own set of ChargeItems)."""
    path = directory / f"config-{abs(hash(system))}.toml"
    path.write_text(f'[publish]\npractice_identifier_system = "{system}"\n', encoding="utf-8")
    return path


def capture_command(
    base: str, ledger: Path, config: Path, *extra: str, month: str = MONTH
) -> list[str]:
    return [
        CPOC,
        "--config",
        str(config),
        "capture",
        "--month",
        month,
        "--fhir-base",
        base,
        "--store",
        f"sqlite:///{ledger}",
        "--no-progress",
        "--conflicts",
        str(ledger.with_suffix(".csv")),
        *extra,
    ]


def run_capture(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def items_of(base: str, system: str) -> list[Resource]:
    """Every ChargeItem with an identifier in ``system`` (searched by identifier system)."""
    out: list[Resource] = []
    url: str | None = f"{base}/ChargeItem"
    params: dict[str, Any] | None = {"identifier": f"{system}|", "_count": 500}
    while url:
        bundle = requests.get(url, params=params, timeout=60).json()
        params = None
        out += [
            e["resource"]
            for e in bundle.get("entry") or []
            if any(i.get("system") == system for i in e["resource"].get("identifier") or [])
        ]
        url = next((x["url"] for x in bundle.get("link") or [] if x["relation"] == "next"), None)
    return out


def identifier(item: Resource, system: str) -> str:
    return next(i["value"] for i in item["identifier"] if i.get("system") == system)


def live_by_line(base: str, system: str) -> dict[str, list[Resource]]:
    """identifier → its live (not entered-in-error) items."""
    out: dict[str, list[Resource]] = {}
    for item in items_of(base, system):
        if item.get("status") != "entered-in-error":
            out.setdefault(identifier(item, system), []).append(item)
    return out


def content(item: Resource, system: str) -> str:
    """The item as the product wrote it, without server fields and with the run's system
    replaced, so two runs' items compare equal when they bill the same."""
    kept = {k: v for k, v in item.items() if k not in VOLATILE}
    return json.dumps(kept, sort_keys=True).replace(system, "SYSTEM")


def duplicates_and_losses(
    base: str, system: str, reference: dict[str, str]
) -> tuple[int, int, int]:
    """(extra live items, lines of the reference without a live item, items whose content
    differs from the reference's)."""
    live = live_by_line(base, system)
    dupes = sum(len(items) - 1 for items in live.values())
    lost = sum(1 for ident in reference if ident not in live)
    differ = sum(
        1
        for ident, items in live.items()
        if ident not in reference or any(content(i, system) != reference[ident] for i in items)
    )
    return dupes, lost, differ


def reference_of(base: str, system: str) -> dict[str, str]:
    """identifier → content of a clean run's live items."""
    live = live_by_line(base, system)
    assert all(len(items) == 1 for items in live.values()), "the clean run made duplicates"
    return {ident: content(items[0], system) for ident, items in live.items()}


def creates(patient: str, lines: int) -> tuple[str, Plan]:
    """A plan of ``lines`` creates with PUT ids ``cpoc-<patient>-<n>`` (for ``apply_many``)."""
    steps = [
        Step(
            Action.CREATE,
            f"{patient}.treatment-month.2025-03-0{n}",
            {"resourceType": "ChargeItem", "status": "billable"},
            new_id=f"cpoc-{patient}-{n}",
        )
        for n in range(1, lines + 1)
    ]
    return patient, Plan(steps)


def counts(items: list[Resource]) -> Counter[str]:
    return Counter(str(i.get("status")) for i in items)
