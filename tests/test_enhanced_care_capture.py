"""The xx600 line (value-and-models §13.1) through month-end capture on a real FHIR server
(sekmet-fhir) and in the review app's month table: written once, under its deterministic id,
and a rerun writes nothing; not opted in, September's items are exactly the usual 8."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, render_template
from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader
from sekmet_server import SekmetServer, running_sekmet
from test_enhanced_care import opted_in_payer_file

from cds_hooks.embedded_fhir import load_resources
from cds_hooks.review.compare import Match
from cds_hooks.review.pages import patient_page
from cpoc_fhir.capture.ids import charge_item_id
from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.service import Evaluator

PUBLISH = PublishSettings()
SYSTEM = PUBLISH.practice_identifier_system
# Appendix B's month 6 (2025-09-01 … 2025-09-30) is a Treatment Month (xx203, final on
# 10-05, tests/data/golden): the one Treatment Month of September among the examples (the
# others bill monitoring, a transition and a trial line) → exactly one xx600.
SUPPLEMENT = "appendix-b-nsclc.enhanced-care.2025-09-01"
TEMPLATES = Path(__file__).parents[1] / "cds_hooks" / "review" / "templates"


def rendered(page: Any) -> str:
    """The review app's patient page (its real template; a stand-in base and endpoints)."""
    app = Flask(__name__)
    app.jinja_loader = ChoiceLoader(  # type: ignore[assignment]
        [
            DictLoader({"base.html": "{% block content %}{% endblock %}"}),
            FileSystemLoader(TEMPLATES),
        ]
    )
    stub = Blueprint("review", __name__, url_prefix="/review")
    stub.add_url_rule("/patient/<patient_id>", "patient", lambda patient_id: "")
    stub.add_url_rule("/queue", "queue", lambda: "")
    stub.add_url_rule(  # the evidence viewer (issue 17 item 3)
        "/patient/<patient_id>/resource/<resource_type>/<resource_id>", "resource", lambda **_: ""
    )
    stub.add_url_rule("/patient/<patient_id>/lines", "patient_lines", lambda patient_id: "")
    stub.add_url_rule("/actions", "actions", lambda: "", methods=["POST"])
    app.register_blueprint(stub)
    with app.test_request_context():
        return render_template(
            "patient.html",
            page=page,
            csrf_token=lambda: "tok",
            # the viewer's signed link needs a session; its tag is tested in
            # test_review_patient_page.py
            evidence_url=lambda pid, ref: f"/review/patient/{pid}/resource/{ref}?k=tag",
        )


def examples() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for path in sorted(bundled_examples().glob("*.json")):
        resources += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return resources


def items(server: SekmetServer) -> list[dict[str, Any]]:
    with FhirClient(server.base_url) as client:
        return list(client.search("ChargeItem", {"_count": "200"}))


def capture(server: SekmetServer, store: Path, payer: Path | None) -> int:
    argv = ["capture", "--fhir-base", server.base_url, "--store", f"sqlite:///{store}"]
    argv += ["--no-progress", "--month", "2025-09", "--as-of", "2025-10-05"]
    return main([*argv, *(["--payer", str(payer)] if payer else [])])


def test_capture_writes_the_supplement_once_and_the_review_shows_it(
    tmp_path: Path, knowledge: Knowledge, capsys: pytest.CaptureFixture[str]
) -> None:
    payer_file = opted_in_payer_file(tmp_path)
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, examples())
        store = tmp_path / "ledger.sqlite"
        assert capture(server, store, payer_file) == 0
        out = capsys.readouterr().out
        assert "created 9" in out  # the usual 8 and the supplement
        found = Counter(i["identifier"][0]["value"] for i in items(server))
        assert found[SUPPLEMENT] == 1 and sum(found.values()) == 9
        (item,) = [i for i in items(server) if i["identifier"][0]["value"] == SUPPLEMENT]
        assert item["id"] == charge_item_id(SYSTEM, SUPPLEMENT)
        assert item["code"]["coding"][0]["code"] == "xx600"
        assert item["priceOverride"] == {"value": 50.0, "currency": "USD"}
        assert item["status"] == "billable"  # its xx203 is final on 10-05
        assert item["occurrencePeriod"] == {"start": "2025-09-01", "end": "2025-09-30"}
        assert item["definitionCanonical"] == [PUBLISH.definition_url("xx600")]

        # the rerun writes nothing
        assert capture(server, store, payer_file) == 0
        assert "unchanged 9" in capsys.readouterr().out
        assert len(items(server)) == 9

        # the review app's month table pairs the line with its item
        evaluator = Evaluator(knowledge, RuleSettings(), load_payer(payer_file))
        with FhirClient(server.base_url) as client:
            page = patient_page(
                client, evaluator, PUBLISH, "appendix-b-nsclc", date(2025, 10, 5), True
            )
        month6 = next(m for m in page.months if m.label == "Month 6")
        row = next(r for r in month6.rows if r.line and r.line.code == "xx600")
        assert row.match is Match.MATCHED and row.item is not None
        assert row.item.display == "Supplemental Payment for Enhanced Patient-Centered Care"
        # the treatment months before September were not captured: their xx600 are missing
        earlier = [r for m in page.months for r in m.rows if r.line and r.line.code == "xx600"]
        assert [r.match for r in earlier].count(Match.MATCHED) == 1
        html = rendered(page)
        month_html = html[html.index(">Month 6<") :]
        assert "xx600" in month_html and "II-B.2" in month_html


def test_not_opted_in_capture_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_sekmet(tmp_path / "sekmet") as server:
        load_resources(server.base_url, examples())
        assert capture(server, tmp_path / "ledger.sqlite", None) == 0
        assert "created 8" in capsys.readouterr().out
        assert all(i["code"]["coding"][0]["code"] != "xx600" for i in items(server))
