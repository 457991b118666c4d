"""The month-end capture bills each patient under the pack its Coverage selects
(value-and-models §15), on a real FHIR R4 server (sekmet-fhir): a pack's lines are written
once with the pack's coding, a rerun writes nothing, a payer switch retires the old pack's
lines of the switched months and creates the new pack's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B.chargeitem import ChargeItem
from sekmet_server import SekmetServer, running_sekmet
from test_capture_integration import charge_items, examples

from cds_hooks.embedded_fhir import load_resources as load
from cpoc_fhir.cli import main

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"
EPISODE_SYSTEM = "http://example.org/fhir/CodeSystem/episode-test"
PATIENT = "appendix-b-nsclc"
SETTINGS = """
[models]
packs = {episodic = "episode_test_pack.pack"}
payers = {"Organization/x" = "episodic"}
"""


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SekmetServer]:
    monkeypatch.chdir(tmp_path)
    with running_sekmet(tmp_path / "sekmet") as running:
        yield running


def _coverage(end: str | None) -> dict[str, Any]:
    period = {"start": "2024-01-01", **({"end": end} if end else {})}
    return {
        "resourceType": "Coverage",
        "id": "cov-x",
        "status": "active",
        "beneficiary": {"reference": f"Patient/{PATIENT}"},
        "payor": [{"reference": "Organization/x"}],
        "order": 1,
        "period": period,
    }


def _capture(base: str, tmp_path: Path) -> int:
    config = tmp_path / "cpoc.toml"
    config.write_text(SETTINGS)
    return main(
        [
            "--config",
            str(config),
            "capture",
            "--fhir-base",
            base,
            "--store",
            f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            "--no-progress",
            "--month",
            "2025-09",
            "--as-of",
            "2025-10-05",
        ]
    )


def _live(items: list[dict[str, Any]], patient: str) -> dict[str, dict[str, Any]]:
    return {
        i["identifier"][0]["value"]: i
        for i in items
        if i["status"] != "entered-in-error"
        and i["subject"]["reference"] == f"Patient/{patient}"
        and i["identifier"][0]["system"] == SYSTEM
    }


def test_pack_lines_are_written_once_and_a_payer_switch_retires_them(
    server: SekmetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    organization = {"resourceType": "Organization", "id": "x", "name": "Episode payer"}
    load(server.base_url, [*examples(), organization, _coverage(None)])
    assert _capture(server.base_url, tmp_path) == 0
    out = capsys.readouterr().out
    assert "lines by model" in out and "episodic" in out
    items = charge_items(server.base_url)
    mine = _live(items, PATIENT)
    # The patient is held by the episode pack from 2024-01-01 on: its September lines are the
    # pack's monthly fee (EPI1, 100.00, component meos), identifiers <patient>.meos.<start>.
    assert mine, "the episode pack billed nothing in September"
    for ident, item in mine.items():
        ChargeItem.model_validate(item)  # R4B
        assert ident.startswith(f"{PATIENT}.meos.2025-09")
        assert item["code"]["coding"] == [
            {"system": EPISODE_SYSTEM, "code": "EPI1", "display": "Episode test monthly fee"}
        ]
        assert item["priceOverride"]["value"] == 100.0
        assert "definitionCanonical" not in item  # no CPOC definition prices a pack's line
    # Patients without a Coverage stay CPOC: the other September lines keep CPOC's codes.
    other = _live(items, "appendix-a-folfox")
    assert other and all(i["code"]["coding"][0]["code"].startswith("xx") for i in other.values())

    # A second run writes nothing.
    assert _capture(server.base_url, tmp_path) == 0
    assert "created" not in capsys.readouterr().out.split("ChargeItems")[1].splitlines()[0]
    again = charge_items(server.base_url)
    assert sorted((i["id"], i["meta"]["versionId"]) for i in again) == sorted(
        (i["id"], i["meta"]["versionId"]) for i in items
    )

    # The payer switches back (the episode Coverage ends 2025-08-31): September is CPOC again;
    # the episode pack's September items are retired and CPOC's created.
    requests.put(
        f"{server.base_url}/Coverage/cov-x",
        json=_coverage("2025-08-31"),
        headers={"Content-Type": "application/fhir+json"},
        timeout=30,
    ).raise_for_status()
    assert _capture(server.base_url, tmp_path) == 0
    after = charge_items(server.base_url)
    retired = {i["id"] for i in after if i["status"] == "entered-in-error"}
    assert {i["id"] for i in mine.values()} <= retired
    now = _live(after, PATIENT)
    assert now and all(i["code"]["coding"][0]["code"].startswith("xx") for i in now.values())
