"""The hooks against a real FHIR server (sekmet-fhir on 127.0.0.1): the record read from it,
ChargeItems written to it exactly once, and the month-end capture finding them.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import cds_support
import pytest
from cds_support import (
    example_resources,
    hook_body,
    make_app,
    server_charge_items,
)
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.demo import run_demo
from cds_hooks.embedded_fhir import load_resources
from cds_hooks.settings import WriteTarget
from cpoc_fhir.cli import main

PATIENT = "appendix-a-folfox"
SIGN_DAY = "2025-11-10"


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-hooks")) as server:
        load_resources(server.base_url, example_resources(PATIENT))
        yield server


def folfiri_drafts() -> list[dict[str, Any]]:
    return cds_support.folfiri_drafts(PATIENT)


def charge_items(base: str) -> list[dict[str, Any]]:
    return server_charge_items(base, PATIENT)


def test_order_sign_reads_the_server_and_writes_each_charge_once(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    app = make_app(tmp_path, today=SIGN_DAY, write=WriteTarget(fhir.base_url))
    body = hook_body("order-sign", PATIENT, folfiri_drafts(), fhirServer=fhir.base_url)
    first = app.test_client().post("/cds-services/cpoc-order-sign", json=body).get_json()
    assert first["cards"][0]["summary"].startswith("CPOC xx203: Treatment Month 9, level 3")
    assert "Charge captured: `ChargeItem/" in first["cards"][0]["detail"]
    # Written by the service, so not proposed to the EHR again.
    assert "systemActions" not in first
    items = charge_items(fhir.base_url)
    month_9 = [i for i in items if i["occurrencePeriod"]["start"] == "2025-11-03"]
    assert [(i["code"]["coding"][0]["code"], i["status"]) for i in month_9] == [
        ("xx203", "planned")
    ]
    before = {i["id"]: i["meta"]["versionId"] for i in items}

    body["hookInstance"] = "second-signing"
    again = app.test_client().post("/cds-services/cpoc-order-sign", json=body).get_json()
    assert "(unchanged)" in again["cards"][0]["detail"]
    after = {i["id"]: i["meta"]["versionId"] for i in charge_items(fhir.base_url)}
    assert after == before  # same items, same versions: nothing billed twice
    audit = app.extensions["cpoc"].log.invocations()  # newest first
    outcomes = [[w["outcome"] for w in row["writes"]] for row in audit]
    assert outcomes[1] == ["created"] and outcomes[0] == ["unchanged"]
    assert audit[0]["writes"][0]["chargeItem"].startswith("ChargeItem/")


def test_the_month_end_capture_finds_what_the_hook_wrote(
    fhir: SekmetServer, tmp_path: Path
) -> None:
    # The EHR stores the signed orders; the capture run then sees the same line.
    signed = [dict(order, status="active") for order in folfiri_drafts()]
    load_resources(fhir.base_url, signed)
    identifiers_before = Counter(i["identifier"][0]["value"] for i in charge_items(fhir.base_url))
    code = main(
        [
            "capture",
            "--month",
            "2025-11",
            "--fhir-base",
            fhir.base_url,
            "--patient",
            PATIENT,
            "--as-of",
            SIGN_DAY,
            "--store",
            f"sqlite:///{tmp_path}/ledger.sqlite",
        ]
    )
    assert code == 0
    identifiers = Counter(i["identifier"][0]["value"] for i in charge_items(fhir.base_url))
    assert all(n == 1 for n in identifiers.values())
    assert set(identifiers_before) <= set(identifiers)


def test_the_demo_serves_the_example_order_sign(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_demo(tmp_path / "demo", 0, date(2025, 11, 10), True, out)
    text = out.getvalue()
    assert code == 0, text
    assert "Calling order-sign once" in text and "curl" not in text  # servers stop after
    assert "order-sign → HTTP 200" in text
    assert "[info] CPOC xx203: Treatment Month 9, level 3 (score 7)" in text
