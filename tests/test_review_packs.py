"""The review app's patient page for a patient under another pack (value-and-models §15):
the model spans with their Coverage, and each line's pack and "episode N, month k"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sekmet_server import SekmetServer, running_sekmet
from test_capture_integration import examples
from test_capture_packs import PATIENT, _coverage
from test_review_pages import app, render  # noqa: F401 (the templates' app fixture)

from cds_hooks.embedded_fhir import load_resources
from cds_hooks.review.pages import patient_page
from cpoc_fhir.config import load_config, load_payer
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.service import Evaluator

MODELS = ModelSettings(
    packs={"episodic": "episode_test_pack.pack"}, payers={"Organization/x": "episodic"}
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path / "sekmet") as running:
        organization = {"resourceType": "Organization", "id": "x", "name": "Episode payer"}
        load_resources(running.base_url, [*examples(), organization, _coverage("2025-06-30")])
        yield running


def test_the_page_shows_the_pack_spans_and_episode_months(
    server: SekmetServer,
    app: Flask,  # noqa: F811
) -> None:
    config = load_config(environ={})
    evaluator = Evaluator(load_knowledge(), config.rules, load_payer(None), models=MODELS)
    with FhirClient(server.base_url) as client:
        page = patient_page(
            client, evaluator, config.publish, PATIENT, date(2025, 10, 5), can_write=True
        )
    # The Coverage holds the episode pack 2024-01-01 … 2025-06-30; CPOC (the default) before
    # and after it.
    spans = [(s.model, s.start, s.end) for s in page.models]
    assert spans == [
        ("cpoc", None, date(2023, 12, 31)),
        ("episodic", date(2024, 1, 1), date(2025, 6, 30)),
        ("cpoc", date(2025, 7, 1), None),
    ]
    assert "Coverage/cov-x" in page.models[1].reason
    assert page.pack_names["episodic"] == "EPI"
    lines = [row.line for month in page.months for row in month.rows if row.line is not None]
    episodic = [line for line in lines if line.model == "episodic"]
    cpoc = [line for line in lines if line.model == "cpoc"]
    assert episodic and cpoc
    for line in episodic:
        assert page.pack_label(line) == f"EPI episode {line.episode}, month {line.month}"
        assert line.start <= date(2025, 6, 30)
    assert all(page.pack_label(line) == "" for line in cpoc)
    html = render(app, "patient.html", page=page)
    assert "EPI: 2024-01-01 – 2025-06-30 (" in html and "Coverage/cov-x" in html
    first = episodic[0]
    assert f"EPI episode {first.episode}, month {first.month}</span>" in html
