"""Review pages: computed lines beside the server's ChargeItems (compare.py), the work queue
and the patient view on a sekmet seeded by a capture run, and the templates that show them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, render_template
from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.embedded_fhir import load_resources
from cds_hooks.review.actions import Reviewer
from cds_hooks.review.compare import HOLD_EXTENSION, Match, compare, server_item
from cds_hooks.review.pages import (
    PatientPage,
    QueueFilters,
    QueuePage,
    patient_page,
    perform,
    work_queue,
)
from cds_hooks.review.record import own_resources
from cpoc_fhir.cli import bundled_examples, main
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

PUBLISH = PublishSettings()
SYSTEM = PUBLISH.practice_identifier_system
CS = PUBLISH.codesystem_url
TEMPLATES = Path(__file__).parents[1] / "cds_hooks" / "review" / "templates"
NOW = datetime(2025, 10, 5, 9, 0, tzinfo=timezone(timedelta(hours=2)))


# --- compare.py: hand-built lines and items ------------------------------------------------
def line(code: str, level: int | None, start: str, amount: str, status: LineStatus) -> BillingLine:
    return BillingLine(
        code=code,
        component=Component.TREATMENT_MONTH,
        level=level,
        month=1,
        start=date.fromisoformat(start),
        end=date.fromisoformat(start) + timedelta(days=29),
        status=status,
        amount=Decimal(amount),
        explanation=("why",),
        evidence=(),
    )


def item(ident: str, code: str, amount: float, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "id": ident.replace(".", "-"),
        "meta": {"versionId": "1"},
        "identifier": [{"system": SYSTEM, "value": ident}],
        "status": status,
        "code": {"coding": [{"system": CS, "code": code}]},
        "subject": {"reference": "Patient/p"},
        "occurrencePeriod": {"start": ident.rsplit(".", 1)[1][:10]},
        "priceOverride": {"value": amount, "currency": "USD"},
        **extra,
    }


def test_compare_pairs_lines_and_items_by_identifier() -> None:
    lines = [
        line("xx202", 2, "2025-07-01", "430.00", LineStatus.FINAL),  # matched
        line("xx203", 3, "2025-08-01", "610.00", LineStatus.FINAL),  # server has level 2
        line("xx203", 3, "2025-09-01", "610.00", LineStatus.PROVISIONAL),  # not on the server
    ]
    items = [
        item("p.treatment-month.2025-07-01", "xx202", 430, "billable"),  # 430 == 430.00
        item("p.treatment-month.2025-08-01", "xx202", 430, "billable"),
        item("p.treatment-month.2025-06-01", "xx201", 250, "planned"),  # no line: extra
        item("p.treatment-month.2025-05-01", "xx201", 250, "entered-in-error"),  # history
    ]
    rows = compare("Patient/p", lines, [server_item(i, SYSTEM, CS) for i in items])
    assert [(r.match, r.start.isoformat(), r.differences) for r in rows] == [
        (Match.EXTRA, "2025-06-01", ()),
        (Match.MATCHED, "2025-07-01", ()),
        (Match.DIFFERS, "2025-08-01", ("code", "level", "amount")),
        (Match.MISSING, "2025-09-01", ()),
    ]


def test_a_correction_stands_for_its_line_and_a_hold_is_planned() -> None:
    lines = [line("xx203", 3, "2025-08-01", "610.00", LineStatus.PROVISIONAL)]
    hold = {"extension": [{"url": HOLD_EXTENSION, "valueString": "ask Dr B"}]}
    items = [
        item("p.treatment-month.2025-08-01", "xx203", 610, "entered-in-error"),
        item("p.treatment-month.2025-08-01-c1", "xx204", 800, "billable"),
    ]
    [row] = compare("Patient/p", lines, [server_item(i, SYSTEM, CS) for i in items])
    assert (row.match, row.differences) == (Match.DIFFERS, ("code", "level", "amount", "status"))
    held = server_item(
        item("p.treatment-month.2025-08-01", "xx203", 610, "planned", **hold), SYSTEM, CS
    )
    [row] = compare("Patient/p", lines, [held])
    assert (row.match, held.review_status, held.hold_reason) == (
        Match.MATCHED,
        "on-hold",
        "ask Dr B",
    )


def test_queue_filters_refuse_unknown_values() -> None:
    assert QueueFilters.from_args({"month": "2025-09", "code": "xx303"}).month == "2025-09"
    for bad in ({"month": "09/2025"}, {"status": "billed"}, {"code": "99213"}):
        with pytest.raises(ValueError):
            QueueFilters.from_args(bad)


# --- a seeded server -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    """The bundled examples, September 2025 captured as of 2025-10-05, and one extra planned
    item with a performer (for the provider filter)."""
    directory = tmp_path_factory.mktemp("sekmet-pages")
    with running_sekmet(directory / "sekmet") as server:
        resources = []
        for path in sorted(bundled_examples().glob("*.json")):
            resources += [e["resource"] for e in json.loads(path.read_text())["entry"]]
        load_resources(server.base_url, resources)
        store = f"sqlite:///{directory / 'ledger.sqlite'}"
        args = ["capture", "--fhir-base", server.base_url, "--store", store, "--no-progress"]
        assert main([*args, "--month", "2025-09", "--as-of", "2025-10-05"]) == 0
        extra = item("other.treatment-month.2025-08-04", "xx202", 430, "planned")
        extra["subject"] = {"reference": "Patient/other"}
        extra["performer"] = [{"actor": {"reference": "Practitioner/dr-a"}}]
        del extra["id"], extra["meta"]
        FhirClient(server.base_url).create(extra)
        yield server


def queue(server: SekmetServer, **filters: str) -> QueuePage:
    with FhirClient(server.base_url) as client:
        return work_queue(client, PUBLISH, QueueFilters.from_args(filters), can_write=True)


def test_work_queue_lists_planned_items_with_filters_and_counts(seeded: SekmetServer) -> None:
    page = queue(seeded)
    # Hand-derived (tests/data/golden/README.md, test_capture_integration): of September's 8
    # items those whose line is provisional on 10-05 are planned — appendix-a M7 xx303 and
    # xx401 (wait for month 8), declined-treatment M4 xx303 (open until 10-11), the trial's
    # M6 xx303, xx401, xx500 (open until 10-20); appendix-b M6 is final (billable). Plus the
    # seeded August item of Patient/other.
    assert page.total == 7
    assert [(i.month, i.patient_ref, i.code) for i in page.items] == [
        ("2025-08", "Patient/other", "xx202"),
        ("2025-09", "Patient/appendix-a-folfox", "xx303"),
        ("2025-09", "Patient/appendix-a-folfox", "xx401"),
        ("2025-09", "Patient/declined-treatment", "xx303"),
        ("2025-09", "Patient/oral-capecitabine-trial", "xx303"),
        ("2025-09", "Patient/oral-capecitabine-trial", "xx401"),
        ("2025-09", "Patient/oral-capecitabine-trial", "xx500"),
    ]
    assert page.counts["code"] == {"xx202": 1, "xx303": 3, "xx401": 2, "xx500": 1}
    assert page.counts["month"] == {"2025-08": 1, "2025-09": 6}
    assert page.counts["status"] == {"planned": 7}
    assert page.providers == ("Practitioner/dr-a",)
    # The example patients' names (scripts/make_examples.py); Patient/other has no record.
    assert page.names == {
        "Patient/appendix-a-folfox": "Alma Synthetic",
        "Patient/declined-treatment": "Dario Synthetic",
        "Patient/oral-capecitabine-trial": "Carla Synthetic",
    }
    assert [i.code for i in queue(seeded, month="2025-09", code="xx303").items] == ["xx303"] * 3
    assert [i.patient_ref for i in queue(seeded, provider="Practitioner/dr-a").items] == [
        "Patient/other"
    ]
    assert queue(seeded, status="on-hold").items == ()


def test_held_items_count_apart_and_approved_ones_leave_the_queue(
    seeded: SekmetServer, payer: PayerSchedule
) -> None:
    page = queue(seeded, code="xx500")
    [trial] = page.items
    with FhirClient(seeded.base_url) as client:
        review = Reviewer(client, PUBLISH, payer, None, True, lambda: NOW)
        perform(
            review,
            {
                "action": "hold",
                "item_id": trial.id,
                "version": trial.version or "",
                "reason": "consent form missing",
            },
        )
        assert queue(seeded).counts["status"] == {"planned": 6, "on-hold": 1}
        [held] = queue(seeded, status="on-hold").items
        assert held.hold_reason == "consent form missing"
        results = perform(review, {"action": "batch-approve"}, [f"{held.id}@{held.version}"])
        assert [r.outcome for r in results] == ["approved"]
    assert queue(seeded).total == 6


def evaluator(knowledge: Knowledge, payer: PayerSchedule) -> Evaluator:
    return Evaluator(knowledge, RuleSettings(), payer)


def page_of(
    server: SekmetServer,
    knowledge: Knowledge,
    payer: PayerSchedule,
    patient: str = "appendix-b-nsclc",
) -> PatientPage:
    with FhirClient(server.base_url) as client:
        return patient_page(
            client,
            evaluator(knowledge, payer),
            PUBLISH,
            patient,
            date(2025, 10, 5),
            can_write=True,
        )


nsclc_page = page_of


def test_patient_view_shows_each_month_beside_the_server(
    seeded: SekmetServer, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    page = nsclc_page(seeded, knowledge, payer)
    assert page.patient_ref == "Patient/appendix-b-nsclc"
    by_match = {
        (r.line.code if r.line else "", r.start.isoformat()): r.match
        for m in page.months
        for r in m.rows
    }
    # September (month 6) was captured; the earlier months were not (capture bills a month).
    assert by_match[("xx203", "2025-09-01")] is Match.MATCHED
    assert by_match[("xx401", "2025-09-01")] is Match.MATCHED
    assert page.counts == {"matched": 2, "missing": len(by_match) - 2}
    month6 = next(m for m in page.months if m.label == "Month 6")
    tm = next(r for r in month6.rows if r.line and r.line.code == "xx203")
    assert tm.line is not None and tm.line.score is not None and tm.line.evidence
    assert page.link(tm.line.evidence[0]).url == f"{seeded.base_url}/{tm.line.evidence[0]}"

    # staff correct September's level 3 to level 4: the line now differs from the server
    assert tm.item is not None
    with FhirClient(seeded.base_url) as client:
        review = Reviewer(client, PUBLISH, payer, "Practitioner/b", True, lambda: NOW)
        review.correct(tm.item.id, tm.item.version or "", "scored again", level=4)
    page = nsclc_page(seeded, knowledge, payer)
    month6 = next(m for m in page.months if m.label == "Month 6")
    tm = next(r for r in month6.rows if r.line and r.line.code == "xx203")
    assert (tm.match, tm.differences) == (Match.DIFFERS, ("code", "level", "amount"))
    assert tm.item is not None and tm.item.code == "xx204"
    assert [i.code for i in page.retired] == ["xx203"]


# --- templates -----------------------------------------------------------------------------
BASE = (
    "<main>{% block content %}{% endblock %}</main><title>{% block title %}{% endblock %}</title>"
)


@pytest.fixture
def app() -> Flask:
    """The review templates with a stand-in base.html and the endpoints they link to."""
    app = Flask(__name__)
    app.jinja_loader = ChoiceLoader(  # type: ignore[assignment]
        [DictLoader({"base.html": BASE}), FileSystemLoader(TEMPLATES)]
    )
    stub = Blueprint("review", __name__, url_prefix="/review")
    stub.add_url_rule("/patient/<patient_id>", "patient", lambda patient_id: "")
    stub.add_url_rule("/queue", "queue", lambda: "")
    stub.add_url_rule(
        "/patient/<patient_id>/resource/<resource_type>/<resource_id>",
        "resource",
        lambda **_: "",
    )
    stub.add_url_rule("/queue/export", "queue_export", lambda: "")
    stub.add_url_rule("/patient/<patient_id>/lines", "patient_lines", lambda patient_id: "")
    stub.add_url_rule("/dashboard", "dashboard", lambda: "")
    stub.add_url_rule("/actions", "actions", lambda: "", methods=["POST"])
    app.register_blueprint(stub)
    return app


def render(app: Flask, template: str, **context: Any) -> str:
    with app.test_request_context():
        return render_template(
            template, csrf_token=lambda: "tok-123", evidence_url=stand_in_evidence_url, **context
        )


def stand_in_evidence_url(patient_id: str, ref: str) -> str:
    """evidence_links.evidence_url without a session (its tag is tested with the real app)."""
    return f"/review/patient/{patient_id}/resource/{ref}?k=tag"


def test_patient_page_escapes_and_hides_forms_when_read_only(
    app: Flask, seeded: SekmetServer, knowledge: Knowledge, payer: PayerSchedule
) -> None:
    page = nsclc_page(seeded, knowledge, payer)
    html = render(app, "patient.html", page=page, message="<script>x</script>")
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert 'name="csrf_token" value="tok-123"' in html
    assert html.count("<form") == html.count('name="csrf_token"') > 0
    # evidence opens inside the app (issue 17 item 3), never as a raw FHIR URL
    assert f'href="/review/patient/{page.patient_id}/resource/Condition/' in html
    assert f'href="{seeded.base_url}' not in html
    assert '<th scope="col">C</th>' in html and "style=" not in html
    read_only = PatientPage(**{**page.__dict__, "can_write": False})
    html = render(app, "patient.html", page=read_only)
    assert "<form" not in html and "Read-only" in html
    printed = render(app, "print.html", page=page)
    assert "<form" not in printed and "Month 6" in printed


def test_queue_page_offers_batch_approve_only_with_write_scopes(
    app: Flask, seeded: SekmetServer
) -> None:
    page = queue(seeded)
    html = render(app, "queue.html", page=page)
    assert 'value="batch-approve"' in html and html.count('type="checkbox"') == page.total
    assert '<label for="f-month">Month</label>' in html
    read_only = QueuePage(**{**page.__dict__, "can_write": False})
    html = render(app, "queue.html", page=read_only)
    assert '<form method="post"' not in html and 'type="checkbox"' not in html


def test_other_patients_resources_are_left_out_logged_and_not_shown(
    seeded: SekmetServer,
    knowledge: Knowledge,
    payer: PayerSchedule,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # sekmet ignores ResearchSubject?individual=: Appendix A's search also returns the
    # trial patient's ResearchSubject (oral-capecitabine-trial-researchsubject-N).
    with FhirClient(seeded.base_url) as client:
        answered = list(
            client.search("ResearchSubject", {"individual": "Patient/appendix-a-folfox"})
        )
    assert any("oral-capecitabine-trial" in r["id"] for r in answered)  # the server's fault
    with caplog.at_level(logging.WARNING, logger="cds_hooks.review"):
        page = page_of(seeded, knowledge, payer, "appendix-a-folfox")
    assert not any("other patient" in w for w in page.warnings)  # staff are told nothing
    assert page.name == "Alma Synthetic"  # the example patient's name (make_examples.py)
    # The trial patient's study never reaches the Appendix A patient's lines.
    assert not any(
        line.code == "xx500" for month in page.months for r in month.rows if (line := r.line)
    )
    [record] = [r for r in caplog.records if "other patients" in r.getMessage()]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "Patient/appendix-a-folfox" in message
    assert "ResearchSubject/oral-capecitabine-trial-researchsubject-" in message
    assert "1 resource(s)" in message


def test_own_resources_keeps_shared_ones_and_drops_only_other_patients() -> None:
    mine = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/a"}}
    theirs = {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/b"}}
    drug = {"resourceType": "Medication", "id": "m1"}
    patient = {"resourceType": "Patient", "id": "a"}
    assert own_resources([patient, mine, theirs, drug], "Patient/a") == [patient, mine, drug]
    assert own_resources([patient, mine, drug], "Patient/a") == [patient, mine, drug]
