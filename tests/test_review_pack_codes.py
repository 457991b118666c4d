"""The review app and packs (value-and-models §15): an item's pack is told by its coding, a
correction chooses among its own pack's codes (never another pack's), and the work queue is
filtered by pack (``?model=``) and shows the pack's short name. Against sekmet, as
test_review_actions.py does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sekmet_server import SekmetServer, running_sekmet
from test_review_pages import app, render  # noqa: F401 (the templates' app fixture)

from cds_hooks.review.actions import Reviewer, ReviewRefused
from cds_hooks.review.compare import Comparison, Match, server_item
from cds_hooks.review.packs import code_choices, item_pack
from cds_hooks.review.pages import MonthView, PatientPage, QueueFilters, work_queue
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings, cpoc_codings
from cpoc_fhir.packs.base import HCPCS
from cpoc_fhir.packs.cpoc.codes import CODES
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.settings import ModelSettings

PUBLISH = PublishSettings()
SYSTEM = PUBLISH.practice_identifier_system
TWO = "http://example.org/fhir/CodeSystem/two-code-test"
MODELS = ModelSettings(packs={"twocode": "two_code_pack.pack"})
NOW = datetime(2025, 10, 5, 10, 30, tzinfo=timezone(timedelta(hours=-5)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-review-packs")) as running:
        yield running


@pytest.fixture
def client(server: SekmetServer) -> Iterator[FhirClient]:
    with FhirClient(server.base_url) as fhir:
        yield fhir


def _item(patient: str, coding: list[dict[str, Any]], amount: str) -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "meta": {"tag": [PUBLISH.product_tag]},
        "identifier": [{"system": SYSTEM, "value": f"{patient}.x.2025-09-01"}],
        "status": "planned",
        "code": {"coding": coding},
        "subject": {"reference": f"Patient/{patient}"},
        "occurrencePeriod": {"start": "2025-09-01", "end": "2025-09-30"},
        "priceOverride": {"value": Decimal(amount), "currency": "USD"},
    }


@pytest.fixture(scope="module")
def seeded(server: SekmetServer) -> dict[str, str]:
    """One item per pack: CPOC xx202, the two-code pack's TC1, EOM's M0010; their ids."""
    from cpoc_fhir.config import load_payer

    payer = load_payer(None)
    items = {
        "cpoc": _item("p-cpoc", cpoc_codings("xx202", payer, PUBLISH), "430.00"),
        "twocode": _item("p-two", [{"system": TWO, "code": "TC1"}], "55.00"),
        "eom": _item("p-eom", [{"system": HCPCS, "code": "M0010"}], "110.00"),
    }
    with FhirClient(server.base_url) as fhir:
        return {pack: str(fhir.create(item).id) for pack, item in items.items()}


def _server_item(client: FhirClient, item_id: str) -> Any:
    return server_item(client.read("ChargeItem", item_id), SYSTEM, PUBLISH.codesystem_url)


def test_each_items_pack_is_told_by_its_coding(client: FhirClient, seeded: dict[str, str]) -> None:
    for pack, item_id in seeded.items():
        assert item_pack(_server_item(client, item_id), PUBLISH.codesystem_url, MODELS) == pack
    assert code_choices("twocode", MODELS) == ("TC1", "TC2")
    assert code_choices("eom", MODELS) == ("M0010",)
    assert code_choices("cpoc", MODELS) == tuple(CODES)


def test_a_pack_item_is_corrected_within_its_pack_keeping_its_amount(
    server: SekmetServer, payer: PayerSchedule, seeded: dict[str, str]
) -> None:
    with FhirClient(server.base_url) as client:
        reviewer = Reviewer(
            client, PUBLISH, payer, "Practitioner/b", True, lambda: NOW, None, MODELS
        )
        # Another pack's code (CPOC's xx202) is refused: nothing is written.
        with pytest.raises(ReviewRefused, match="not a TWO code: 'xx202'"):
            reviewer.correct(seeded["twocode"], "1", "wrong level", "xx202")
        assert client.read("ChargeItem", seeded["twocode"])["meta"]["versionId"] == "1"
        result = reviewer.correct(seeded["twocode"], "1", "higher level documented", "TC2")
        assert result.outcome == "corrected" and result.new_item_ref
        new = client.read("ChargeItem", result.new_item_ref.split("/")[1])
        old = client.read("ChargeItem", seeded["twocode"])
    assert old["status"] == "entered-in-error"
    assert new["status"] == "billable"
    assert new["code"]["coding"] == [
        {"system": TWO, "code": "TC2", "display": "Two-code test, high"}
    ]
    # The pack prices by its own data: the item's 55.00 is kept; no CPOC definition is cited.
    assert Decimal(str(new["priceOverride"]["value"])) == Decimal("55.00")
    assert "definitionCanonical" not in new
    assert new["identifier"][0]["value"] == "p-two.x.2025-09-01-c1"


def test_the_patient_page_offers_only_the_items_pack_codes(
    app: Flask,  # noqa: F811
    client: FhirClient,
    seeded: dict[str, str],
) -> None:
    cpoc, eom = _server_item(client, seeded["cpoc"]), _server_item(client, seeded["eom"])
    two = server_item(
        {**_item("p-two", [{"system": TWO, "code": "TC1"}], "55.00"), "id": "t1"},
        SYSTEM,
        PUBLISH.codesystem_url,
    )
    items = (cpoc, two, eom)
    packs = {i.id: item_pack(i, PUBLISH.codesystem_url, MODELS) for i in items}
    page = PatientPage(
        patient_ref="Patient/p",
        name="P",
        as_of=date(2025, 10, 5),
        fhir_base="http://fhir.example",
        months=(MonthView("Month 1", tuple(Comparison(Match.EXTRA, None, i) for i in items)),),
        warnings=(),
        retired=(),
        can_write=True,
        counts={},
        item_packs=packs,
        pack_choices={p: code_choices(p, MODELS) for p in packs.values()},
    )
    html = render(app, "patient.html", page=page)
    # TWO's form offers TC1 and TC2 only; EOM has one code: nothing to correct to, no form.
    two_form = html.split(f'id="code-{two.id}"')[1].split("</select>")[0]
    assert two_form.count("<option") == 2 and "TC2" in two_form and "xx202" not in two_form
    assert f'id="code-{eom.id}"' not in html
    cpoc_form = html.split(f'id="code-{cpoc.id}"')[1].split("</select>")[0]
    assert cpoc_form.count("<option") == len(CODES) and "TC1" not in cpoc_form


def test_the_queue_is_filtered_by_pack_and_shows_its_short_name(
    app: Flask,  # noqa: F811
    client: FhirClient,
    seeded: dict[str, str],
    tmp_path: Path,
) -> None:
    # The seeded planned items: one CPOC, one EOM and the TWO one (if the correction test
    # ran first it is entered-in-error and its TC2 replacement billable: neither is queued).
    everything = work_queue(client, PUBLISH, QueueFilters(), True, MODELS)
    eom_only = work_queue(
        client, PUBLISH, QueueFilters.from_args({"model": "eom"}, MODELS), True, MODELS
    )
    assert [i.id for i in eom_only.items] == [seeded["eom"]]
    assert eom_only.packs == {seeded["eom"]: "EOM"}
    assert everything.counts["model"]["cpoc"] == 1 and everything.counts["model"]["eom"] == 1
    html = render(app, "queue.html", page=eom_only)
    assert '<td class="model" data-label="Model">EOM</td>' in html
    assert '<option value="eom" selected>EOM (1)</option>' in html
    with pytest.raises(ValueError, match="model: not a known pack: 'ocmx'"):
        QueueFilters.from_args({"model": "ocmx"}, MODELS)
    assert QueueFilters.from_args({"code": "TC2"}, MODELS).code == "TC2"
    with pytest.raises(ValueError, match="code: not a code of any pack"):
        QueueFilters.from_args({"code": "TC2"})  # without the practice's pack
