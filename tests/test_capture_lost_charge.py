"""The lost charge, on a real FHIR server (sekmet): order-sign with direct writes, a hook whose
prefetch is empty, a valid hook again, then the month-end capture — exactly one live item.

Before the fix: (b) retired the 2025-11-03 item and created 2025-11-12; (c) retired 2025-11-12
and could not re-create 2025-11-03 (its conditional create matched the retired item: "existed");
(d) the capture said "existed 1" and left no live item. A hook sees only its prefetch, so it
only creates or raises; only the month-end run, over the whole record, retires.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cds_support
import pytest
import requests
from cds_support import (
    example_resources,
    hook_body,
    make_app,
    searchset,
    server_charge_items,
)
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.embedded_fhir import load_resources
from cds_hooks.settings import WriteTarget
from cpoc_fhir.capture.ids import charge_item_id
from cpoc_fhir.cli import main

PATIENT = "appendix-a-folfox"
SIGN_DAY = "2025-11-10"
MONTH_9 = f"{PATIENT}.treatment-month.2025-11-03"
# With no medication in the prefetch the drafts (dated 2025-11-12) start a treatment of
# their own: its first month starts on the drafts' date.
FROM_DRAFTS = f"{PATIENT}.treatment-month.2025-11-12"


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-lost-charge")) as server:
        load_resources(server.base_url, example_resources(PATIENT))
        yield server


def folfiri_drafts() -> list[dict[str, Any]]:
    return cds_support.folfiri_drafts(PATIENT)


def items(base: str) -> list[dict[str, Any]]:
    return server_charge_items(base, PATIENT)


def live_treatment_months(base: str) -> dict[str, list[str]]:
    """identifier → statuses of the live (not entered-in-error) treatment-month items."""
    out: dict[str, list[str]] = {}
    for item in items(base):
        ident = item["identifier"][0]["value"]
        if ".treatment-month." in ident and item["status"] != "entered-in-error":
            out.setdefault(ident, []).append(item["status"])
    return out


def sign(app: Any, fhir: SekmetServer, instance: str, prefetch: dict[str, Any] | None) -> None:
    body = hook_body(
        "order-sign",
        PATIENT,
        folfiri_drafts(),
        prefetch=prefetch,
        fhirServer=fhir.base_url,
        hook_instance=instance,
    )
    answer = app.test_client().post("/cds-services/cpoc-order-sign", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_a_hook_never_retires_and_a_retired_item_never_blocks_its_line(
    fhir: SekmetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path, today=SIGN_DAY, write=WriteTarget(fhir.base_url))
    # (a) a valid order-sign (the record read from the server): month 9 from 2025-11-03.
    sign(app, fhir, "a-valid", None)
    assert live_treatment_months(fhir.base_url) == {MONTH_9: ["planned"]}
    # Written as the month-end run writes: PUT at the line's deterministic id.
    [first] = [i for i in items(fhir.base_url) if i["identifier"][0]["value"] == MONTH_9]
    assert first["id"] == charge_item_id("http://example.org/fhir/sid/cpoc-charge", MONTH_9)

    # (b) the same order with EMPTY medication prefetch: the hook's view has no treatment
    # before the drafts; it may create the month it sees, never retire month 9.
    empty = {"medicationRequests": searchset([]), "medicationAdministrations": searchset([])}
    sign(app, fhir, "b-empty-prefetch", empty)
    assert live_treatment_months(fhir.base_url) == {
        MONTH_9: ["planned"],
        FROM_DRAFTS: ["planned"],
    }

    # (c) a valid sign again: month 9 stays (one item), the hook retires nothing.
    sign(app, fhir, "c-valid-again", None)
    assert live_treatment_months(fhir.base_url) == {
        MONTH_9: ["planned"],
        FROM_DRAFTS: ["planned"],
    }

    # (d) the month-end run, over the whole record (the EHR stored the signed orders):
    # the 2025-11-12 line does not exist, so its item is retired; month 9 is kept.
    load_resources(fhir.base_url, [dict(o, status="active") for o in folfiri_drafts()])
    capsys.readouterr()
    code = capture(fhir, tmp_path / "ledger.sqlite")
    out = capsys.readouterr().out
    assert code in (0, 5), out
    live = live_treatment_months(fhir.base_url)
    assert list(live) == [MONTH_9] and len(live[MONTH_9]) == 1, (live, out, items(fhir.base_url))


def test_a_line_whose_item_was_retired_is_created_again(fhir: SekmetServer, tmp_path: Path) -> None:
    """Month 9's only item retired (by staff, say): the next run bills the line again, as a
    new item — the retired one must not answer for it."""
    [month_9] = [
        i
        for i in items(fhir.base_url)
        if i["identifier"][0]["value"] == MONTH_9 and i["status"] != "entered-in-error"
    ]
    retired = {k: v for k, v in month_9.items() if k != "meta"} | {"status": "entered-in-error"}
    requests.put(
        f"{fhir.base_url}/ChargeItem/{month_9['id']}", json=retired, timeout=30
    ).raise_for_status()
    assert MONTH_9 not in live_treatment_months(fhir.base_url)

    assert capture(fhir, tmp_path / "ledger.sqlite") in (0, 5)
    live = live_treatment_months(fhir.base_url)
    assert len(live[MONTH_9]) == 1
    again = [
        i
        for i in items(fhir.base_url)
        if i["identifier"][0]["value"] == MONTH_9 and i["status"] != "entered-in-error"
    ]
    assert again[0]["id"] != month_9["id"]


def capture(fhir: SekmetServer, ledger: Path) -> int:
    return main(
        [
            "capture",
            "--month",
            "2025-11",
            "--fhir-base",
            fhir.base_url,
            "--patient",
            PATIENT,
            "--store",
            f"sqlite:///{ledger}",
            "--no-progress",
        ]
    )
