"""CDS Hooks 2.0.1 conformance of the ``/cds-services`` endpoints, requirement by requirement.

The requests are realistic: the Appendix A patient (FOLFOX for stage IIIB colon cancer, now in
active monitoring) on 2025-11-10, with a FOLFIRI cycle drafted for 2025-11-12; the responses
are walked object by object against the spec's rules for discovery, cards, links, codings and
actions.

Requirement ids are those of the service requirements CSV
(``../shared/docs/external/cds-hooks-2.0-service-requirements.csv``). ``COVERED`` maps every
test of this module to the ids it checks (``test_cds_auth_http.COVERED`` does the same for the
JWT tests); ``NOT_APPLICABLE`` gives, for each Service SHALL / SHALL NOT requirement no test
checks, a one-line reason. Only ``test_requirement_ids_are_accounted_for`` reads the CSV (and
skips without it); every other test stands on the ids hard-coded here.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import inspect
import json
import re
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest
import responses
import test_cds_auth_http as auth_tests
from cds_support import (
    example_resources,
    full_prefetch,
    hook_body,
    make_app,
    medication_order,
    searchset,
)
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.chargeitem import ChargeItem
from flask import Flask
from flask.testing import FlaskClient
from pathway_support import colon
from werkzeug.test import TestResponse

Resource = dict[str, Any]


def ids(text: str) -> tuple[int, ...]:
    """Requirement ids written as a space-separated list."""
    return tuple(int(i) for i in text.split())


COVERED: dict[str, tuple[int, ...]] = {
    "test_discovery_describes_every_service": ids("4 5 6 7 8 9 10 11 12 13 29 36"),
    "test_prefetch_templates_use_root_context_tokens_and_the_query_subset": ids(
        "35 55 56 57 58 59"
    ),
    "test_template_checker_catches_what_the_spec_forbids": ids("55 56 57 58"),
    "test_each_service_answers_at_its_discovered_url": ids("16 74"),
    "test_cards_conform": ids(
        "74 80 81 82 83 84 87 88 90 94 98 99 100 103 104 105 106 107 108 109 110 136 138 139 "
        "140 141 142 144 145 146 147 214 215 216 217 218 219"
    ),
    "test_card_checker_catches_what_the_spec_forbids": ids("3 83 88 107 142 147"),
    "test_card_detail_is_github_flavoured_markdown": ids("84 85"),
    "test_system_actions_are_planned_charge_items": ids("75 127 128 129 130 131"),
    "test_system_actions_are_omitted_when_switched_off": ids("3 75"),
    "test_every_answer_is_json_without_null_or_empty_values": ids("1 3"),
    "test_no_guidance_is_an_empty_cards_array": ids("3 74 77"),
    "test_missing_prefetch_without_fhir_server_is_412": ids("28 52 54"),
    "test_null_prefetch_means_no_data_not_412": ids("28 54"),
    "test_missing_prefetch_is_read_from_the_fhir_server_with_its_token": ids("34 60 61"),
    "test_unreachable_fhir_server_is_412_without_request_values": ids("54 76"),
    "test_malformed_request_is_4xx_naming_the_field": ids("1 76"),
    "test_a_body_that_is_not_json_by_content_type_is_refused": ids("1 76"),
    "test_lenient_draft_orders_are_accepted": ids("74"),
    "test_unknown_service_is_404_json": ids("1 16 76"),
    "test_internal_error_is_json_without_a_trace": ids("1 76"),
    "test_patient_id_that_is_no_fhir_id_is_400_not_500": ids("76"),
    "test_cors_preflight_needs_no_auth": ids("208"),
    "test_cors_allows_configured_origins_only": ids("208"),
    "test_feedback_is_stored_once": ids("148"),
    "test_malformed_feedback_is_400_naming_the_field": ids("148"),
    "test_every_invocation_leaves_one_audit_row": ids("82"),
    "test_off_pathway_suggestions_conform": ids(
        "92 93 94 95 96 117 118 119 120 121 123 124 125 127 128 130 131 133 134 135"
    ),
    # Product rules beyond the spec (engineering.md): the audit and what it may hold.
    "test_audit_keeps_the_hook_instance_of_a_body_refused_early": (),
    "test_audit_rows_hold_no_patient_data": (),
    "test_order_guidance_does_not_depend_on_draft_ids": (),
    # The bookkeeping of this very table.
    "test_requirement_ids_are_accounted_for": (),
    "test_every_test_names_its_requirements": (),
}

_ONLY_CREATE_OR_DELETE = (
    "suggestions only create and delete (test_off_pathway_suggestions_conform); system actions "
    "only create (test_system_actions_are_planned_charge_items): no update is ever sent"
)
_TLS = "HTTPS is the deployment's TLS terminator in front of gunicorn, not the app"
NOT_APPLICABLE: dict[int, str] = {
    2: _TLS,
    168: _TLS,
    89: "how the CDS Client uses the indicator; the service's part is 87/88",
    111: "cards' source carries no icon (card_problems checks one if present)",
    115: "cards' source carries no topic (card_problems checks one if present)",
    220: "cards' source carries no topic, so no topic Coding",
    132: _ONLY_CREATE_OR_DELETE,
    211: "no stale-guidance updates across hooks: each id is unique in discovery (asserted)",
    213: "which hooks a client must support is negotiated in the service agreement",
}

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS_CSV = (
    REPO.parent / "shared" / "docs" / "external" / "cds-hooks-2.0-service-requirements.csv"
)

PID = "appendix-a-folfox"
TODAY = "2025-11-10"
ORDER_DAY = "2025-11-12"
HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
# The example Patient has no name: the tests give it one, to show the audit never keeps it.
FAMILY, GIVEN = "Quillfeather", "Marguerite"
REVIEW_LAUNCH_URL = "https://review.cpoc.example/launch"
FHIR_SERVER = "https://ehr.example/fhir"
ACCESS_TOKEN = "opaque-access-token-8c1f2a"
SERVICE_IDS = ("cpoc-order-select", "cpoc-order-sign", "cpoc-patient-view")
HOOKS = {
    "cpoc-order-select": "order-select",
    "cpoc-order-sign": "order-sign",
    "cpoc-patient-view": "patient-view",
}
INDICATORS = ("info", "warning", "critical")
CPOC_SYSTEM = "http://example.org/fhir/CodeSystem/cpoc"


# --- the Appendix A patient and the requests ------------------------------------------------
def record() -> list[Resource]:
    resources = copy.deepcopy(example_resources(PID))
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    patient["name"] = [{"family": FAMILY, "given": [GIVEN]}]
    return resources


BIRTH_DATE = next(r for r in example_resources(PID) if r["resourceType"] == "Patient")["birthDate"]


def folfiri(patient_id: str = PID) -> list[Resource]:
    """A FOLFIRI cycle drafted for 2025-11-12: irinotecan, leucovorin, fluorouracil."""
    return [
        medication_order("draft-irinotecan", patient_id, "51499", "irinotecan", ORDER_DAY),
        medication_order("draft-leucovorin", patient_id, "6313", "leucovorin", ORDER_DAY),
        medication_order("draft-fluorouracil", patient_id, "4492", "fluorouracil", ORDER_DAY),
    ]


def sign_body(**extra: Any) -> dict[str, Any]:
    return hook_body("order-sign", PID, folfiri(), full_prefetch(record(), PID), **extra)


def select_body(**extra: Any) -> dict[str, Any]:
    body = hook_body("order-select", PID, folfiri(), full_prefetch(record(), PID), **extra)
    body["context"]["selections"] = ["MedicationRequest/draft-irinotecan"]
    return body


def view_body(**extra: Any) -> dict[str, Any]:
    return hook_body("patient-view", PID, (), full_prefetch(record(), PID), **extra)


REALISTIC: dict[str, Callable[..., dict[str, Any]]] = {
    "cpoc-order-select": select_body,
    "cpoc-order-sign": sign_body,
    "cpoc-patient-view": view_body,
}

NO_CANCER = {"resourceType": "Patient", "id": "no-cancer", "birthDate": "1980-02-29"}


def amoxicillin(patient_id: str) -> Resource:
    """A non-oncology draft: amoxicillin (RxNorm 723) by mouth."""
    return medication_order(
        "draft-amoxicillin", patient_id, "723", "amoxicillin", ORDER_DAY, "oral"
    )


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, today=TODAY, review_launch_url=REVIEW_LAUNCH_URL)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def auth_app(tmp_path: Path, **settings: Any) -> Flask:
    """Auth ON, trusting an issuer whose JWK Set is empty (no token can pass)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}', encoding="utf-8")
    trusted = {"https://ehr.example/": str(jwks)}
    return make_app(tmp_path, today=TODAY, auth_enabled=True, trusted_issuers=trusted, **settings)


def post(client: FlaskClient, service: str, body: Any) -> TestResponse:
    return client.post(f"/cds-services/{service}", json=body)


def audit(app: Flask) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = app.extensions["cpoc"].log.invocations(limit=10_000)
    return rows


# --- what the spec says a response may hold -------------------------------------------------
def empties(value: Any, path: str = "$") -> list[str]:
    """Where ``value`` holds null, "", [] or {} (spec §Use of JSON)."""
    if value is None or (isinstance(value, str | list | dict) and not value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empties(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empties(v, f"{path}[{i}]")]
    return []


def response_empties(body: Any) -> list[str]:
    """Like ``empties``, but ``cards: []`` (no guidance) is what the spec asks for."""
    if isinstance(body, dict) and body.get("cards") == []:
        return [p for p in empties(body) if p != "$.cards"]
    return empties(body)


def absolute_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlparse(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def coding_problems(coding: Any, where: str, display_required: bool) -> list[str]:
    if not isinstance(coding, dict):
        return [f"{where}: a Coding must be an object"]
    problems = [
        f"{where}.{name}: required, a string"
        for name in ("system", "code")
        if not isinstance(coding.get(name), str) or not coding[name]
    ]
    display = coding.get("display")
    if (display_required or display is not None) and (not isinstance(display, str) or not display):
        problems.append(f"{where}.display: a human-readable string")
    return problems


def action_problems(action: Any, where: str) -> list[str]:
    if not isinstance(action, dict):
        return [f"{where}: an Action must be an object"]
    problems = []
    kind = action.get("type")
    if kind not in ("create", "update", "delete"):
        problems.append(f"{where}.type: create, update or delete")
    if not isinstance(action.get("description"), str) or not action["description"]:
        problems.append(f"{where}.description: required, a string")
    resource = action.get("resource")
    is_resource = isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)
    if kind in ("create", "update") and not is_resource:
        problems.append(f"{where}.resource: a FHIR resource for {kind}")
    if kind == "delete":
        if not isinstance(action.get("resourceId"), str):
            problems.append(f"{where}.resourceId: a relative reference for delete")
        if isinstance(resource, str):
            problems.append(f"{where}.resource: an id string for delete is deprecated")
    return problems


def source_problems(source: Any, where: str) -> list[str]:
    if not isinstance(source, dict):
        return [f"{where}: required, an object"]
    problems = []
    if not isinstance(source.get("label"), str) or not source["label"]:
        problems.append(f"{where}.label: required, a string")
    for name in ("url", "icon"):
        if name in source and not absolute_url(source[name]):
            problems.append(f"{where}.{name}: an absolute URL")
    if "url" in source and PID in source["url"]:
        problems.append(f"{where}.url: not a drill-down into this patient (use a link)")
    if "topic" in source:
        problems += coding_problems(source["topic"], f"{where}.topic", display_required=False)
    return problems


def link_problems(link: Any, where: str) -> list[str]:
    if not isinstance(link, dict):
        return [f"{where}: a Link must be an object"]
    problems = []
    if not isinstance(link.get("label"), str) or not link["label"]:
        problems.append(f"{where}.label: required, a string")
    if not absolute_url(link.get("url")):
        problems.append(f"{where}.url: required, an absolute URL")
    if link.get("type") not in ("absolute", "smart"):
        problems.append(f"{where}.type: absolute or smart")
    if "appContext" in link:
        if link.get("type") != "smart":
            problems.append(f"{where}.appContext: only for smart links")
        if not isinstance(link["appContext"], str):
            problems.append(f"{where}.appContext: a string")
    if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
        problems.append(f"{where}.autolaunchable: a boolean")
    return problems


def suggestion_problems(suggestion: Any, where: str) -> list[str]:
    if not isinstance(suggestion, dict):
        return [f"{where}: a Suggestion must be an object"]
    problems = []
    if not isinstance(suggestion.get("label"), str) or not suggestion["label"]:
        problems.append(f"{where}.label: required, a string")
    if "uuid" in suggestion and not isinstance(suggestion["uuid"], str):
        problems.append(f"{where}.uuid: a string")
    if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
        problems.append(f"{where}.isRecommended: a boolean")
    actions = suggestion.get("actions", [])
    if not isinstance(actions, list):
        return [*problems, f"{where}.actions: an array"]
    for i, action in enumerate(actions):
        problems += action_problems(action, f"{where}.actions[{i}]")
    return problems


CARD_FIELDS = {
    "uuid",
    "summary",
    "detail",
    "indicator",
    "source",
    "suggestions",
    "selectionBehavior",
    "overrideReasons",
    "links",
    "extension",
}


def card_problems(card: Any, where: str) -> list[str]:
    """Everything spec §Card Attributes (and §Extensions) says of one card."""
    if not isinstance(card, dict):
        return [f"{where}: a Card must be an object"]
    problems = [f"{where}.{k}: not a card field" for k in sorted(set(card) - CARD_FIELDS)]
    if "uuid" in card:
        try:
            uuid.UUID(card["uuid"])
        except (TypeError, ValueError, AttributeError):
            problems.append(f"{where}.uuid: a UUID string")
    summary = card.get("summary")
    if not isinstance(summary, str) or not 0 < len(summary) < 140:
        problems.append(f"{where}.summary: required, a string under 140 characters")
    if "detail" in card and not isinstance(card["detail"], str):
        problems.append(f"{where}.detail: a Markdown string")
    if card.get("indicator") not in INDICATORS:
        problems.append(f"{where}.indicator: one of {INDICATORS}")
    problems += source_problems(card.get("source"), f"{where}.source")
    if ("suggestions" in card) != ("selectionBehavior" in card):
        problems.append(f"{where}: selectionBehavior is required exactly when suggestions are")
    if "selectionBehavior" in card and card["selectionBehavior"] not in ("at-most-one", "any"):
        problems.append(f"{where}.selectionBehavior: at-most-one or any")
    for i, suggestion in enumerate(card.get("suggestions", [])):
        problems += suggestion_problems(suggestion, f"{where}.suggestions[{i}]")
    reasons = card.get("overrideReasons", [])
    if not isinstance(reasons, list):
        problems.append(f"{where}.overrideReasons: an array of Codings")
        reasons = []
    for i, reason in enumerate(reasons):
        problems += coding_problems(reason, f"{where}.overrideReasons[{i}]", True)
    links = card.get("links", [])
    if not isinstance(links, list):
        problems.append(f"{where}.links: an array of Links")
        links = []
    for i, link in enumerate(links):
        problems += link_problems(link, f"{where}.links[{i}]")
    if "extension" in card:
        problems += extension_problems(card["extension"], f"{where}.extension")
    return problems


def extension_problems(extension: Any, where: str) -> list[str]:
    if not isinstance(extension, dict):
        return [f"{where}: a pre-coordinated JSON object"]
    return [f"{where}.{k}: reverse-domain name" for k in extension if "." not in k]


# --- discovery ------------------------------------------------------------------------------
DISCOVERY_FIELDS = {"hook", "title", "description", "id", "prefetch", "usageRequirements"}


def test_discovery_describes_every_service(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"services"}
    services = body["services"]
    assert isinstance(services, list)
    assert sorted(s["id"] for s in services) == sorted(SERVICE_IDS)  # each id once
    for service in services:
        assert set(service) <= DISCOVERY_FIELDS | {"extension"}, service.keys()
        for name in ("hook", "description", "id", "title"):
            assert isinstance(service[name], str) and service[name].strip(), name
        assert service["hook"] == HOOKS[service["id"]]
        assert isinstance(service.get("usageRequirements", ""), str)
        prefetch = service["prefetch"]
        assert isinstance(prefetch, dict) and prefetch
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in prefetch.items())
        # The keys are those the client answers with: full_prefetch sends exactly these.
        assert set(prefetch) == set(full_prefetch(record(), PID))
    assert empties(body) == []


TOKEN = re.compile(r"\{\{(.*?)\}\}")
USER_TOKENS = {
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}
# Root-level context fields with a primitive value, per hook (CDS Hooks hook definitions):
# draftOrders (a Bundle) and selections (an array) can never be tokens.
PRIMITIVE_CONTEXT = {
    "patient-view": {"userId", "patientId", "encounterId"},
    "order-select": {"userId", "patientId", "encounterId"},
    "order-sign": {"userId", "patientId", "encounterId"},
}
REFERENCE_PARAMS = {"patient", "subject", "individual", "beneficiary", "encounter"}
TOKEN_PARAMS = {"code", "category", "status", "clinical-status", "verification-status"}
DATE_PARAMS = {"date", "authoredon", "onset-date", "recorded-date"}
PLACEHOLDER = "TOKENVALUE"


def template_problems(template: str, hook: str) -> list[str]:
    """Spec §Prefetch tokens and §Prefetch query restrictions, for one template."""
    problems = []
    allowed = {f"context.{name}" for name in PRIMITIVE_CONTEXT[hook]} | USER_TOKENS
    for token in TOKEN.findall(template):
        if token not in allowed:
            problems.append(f"token {{{{{token}}}}} is not a root-level primitive context field")
    text = TOKEN.sub(PLACEHOLDER, template)
    if "{" in text or "}" in text:
        problems.append("a token not delimited by {{ and }}")
    path, _, query = text.partition("?")
    parts = path.split("/")
    try:
        get_fhir_model_class(parts[0])
    except (KeyError, ValueError):
        problems.append(f"{parts[0]} is not a FHIR resource type")
    if len(parts) == 2:  # instance read: Type/{{token}}
        if parts[1] != PLACEHOLDER or query:
            problems.append("an instance read must be Type/{{token}} with no query")
        return problems
    if len(parts) != 1:
        problems.append("neither a read nor a type-level search")
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        base, _, modifier = name.partition(":")
        if base in REFERENCE_PARAMS and not modifier:
            if not re.fullmatch(rf"([A-Z][A-Za-z]+/)?{PLACEHOLDER}", value):
                problems.append(f"{name}: a reference to a token")
        elif base in TOKEN_PARAMS and modifier in ("", "in"):
            codes = value.split(",")
            if (
                not all(re.fullmatch(r"([^|,]+\|)?[^|,]+", c) for c in codes)
                or PLACEHOLDER in value
            ):
                problems.append(f"{name}: token equality (system|code, comma-separated)")
        elif base in DATE_PARAMS and not modifier:
            if not re.fullmatch(r"(eq|lt|gt|ge|le)\d{4}(-\d{2}(-\d{2})?)?", value):
                problems.append(f"{name}: a date with eq, lt, gt, ge or le")
        elif name == "_count":
            if not value.isdigit():
                problems.append("_count: a number")
        elif name != "_sort":
            problems.append(f"{name}: outside the recommended query subset")
    return problems


def test_prefetch_templates_use_root_context_tokens_and_the_query_subset(
    client: FlaskClient,
) -> None:
    services = client.get("/cds-services").get_json()["services"]
    problems = {
        f"{s['id']}.{key}": template_problems(template, s["hook"])
        for s in services
        for key, template in s["prefetch"].items()
    }
    assert {k: v for k, v in problems.items() if v} == {}
    for service in services:
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        # Every template is about the context's patient.
        assert all("{{context.patientId}}" in t for t in service["prefetch"].values())


def test_template_checker_catches_what_the_spec_forbids() -> None:
    bad = [
        "Observation?patient={{context.patient.id}}",  # not a root-level field
        "MedicationRequest?patient={{context.draftOrders}}",  # not a primitive
        "Observation?patient={context.patientId}",  # wrong delimiters
        "Observation?patient={{context.patientId}}&code:text=ecog",  # token modifier
        "Observation?patient={{context.patientId}}&_include=Observation:subject",
        "Observation?patient={{context.patientId}}&date=2025",  # no prefix
        "Banana?patient={{context.patientId}}",
        "Patient/{{context.patientId}}/_history",
    ]
    assert all(template_problems(t, "order-sign") for t in bad)
    good = "Observation?patient={{context.patientId}}&code=http://loinc.org|4548-4&_count=1"
    assert template_problems(good, "order-sign") == []
    assert template_problems("Practitioner/{{userPractitionerId}}", "patient-view") == []


# --- calling the services -------------------------------------------------------------------
def test_each_service_answers_at_its_discovered_url(client: FlaskClient) -> None:
    for service in client.get("/cds-services").get_json()["services"]:
        response = post(client, service["id"], REALISTIC[service["id"]]())
        assert response.status_code == 200, (service["id"], response.get_data(as_text=True))
        assert isinstance(response.get_json()["cards"], list)


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_cards_conform(client: FlaskClient, service: str) -> None:
    response = post(client, service, REALISTIC[service]())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) <= {"cards", "systemActions"}
    assert response_empties(body) == []
    cards = body["cards"]
    assert cards, "the Appendix A patient has CPOC guidance on 2025-11-10"
    problems = [p for i, card in enumerate(cards) for p in card_problems(card, f"$.cards[{i}]")]
    assert problems == []
    assert len({card["uuid"] for card in cards}) == len(cards)  # unique, for feedback
    # Appendix A's FOLFIRI has no applicable pathway: no suggestions here (the off-pathway
    # case is test_off_pathway_suggestions_conform).
    assert not any("suggestions" in card for card in cards)
    for card in cards:
        assert card["source"]["url"] == "http://localhost/about"
        # The review app is a SMART launch with the card's context for it.
        [link] = card["links"]
        assert (link["type"], link["url"]) == ("smart", REVIEW_LAUNCH_URL)
        assert json.loads(link["appContext"])["patient"] == PID
    if service != "cpoc-patient-view":
        [documentation] = [c for c in cards if "overrideReasons" in c]
        assert documentation["indicator"] == "warning"
        assert cards[0]["summary"].startswith("CPOC xx20")  # the order's Treatment Month


def test_card_checker_catches_what_the_spec_forbids() -> None:
    good = {
        "uuid": str(uuid.uuid4()),
        "summary": "A summary",
        "indicator": "info",
        "source": {"label": "CPOC", "url": "https://cpoc.example/about"},
    }
    assert card_problems(good, "$") == []
    link = {"label": "Open", "url": "https://app.example/launch", "type": "smart"}
    bad: list[dict[str, Any]] = [
        {**good, "summary": "x" * 140},
        {**good, "indicator": "hard-stop"},
        {**good, "uuid": 7},
        {**good, "source": {"url": "https://cpoc.example"}},
        {**good, "source": {"label": "CPOC", "url": "/about"}},
        {**good, "source": {"label": "CPOC", "icon": "icon.png"}},
        {**good, "source": {"label": "CPOC", "topic": {"code": "x"}}},
        {**good, "suggestions": [{"label": "Do it"}]},  # no selectionBehavior
        {**good, "suggestions": [{"label": "Do"}], "selectionBehavior": "all"},
        {**good, "suggestions": [{"label": "Do", "actions": [{"type": "create"}]}]},
        {**good, "overrideReasons": [{"system": "https://x.example", "code": "a"}]},
        {**good, "links": [{**link, "type": "absolute", "appContext": "{}"}]},
        {**good, "links": [{**link, "type": "relative"}]},
        {**good, "links": [{**link, "url": "launch.html"}]},
        {**good, "extension": {"kind": "x"}},
        {**good, "extension": "x"},
        {**good, "severity": "high"},
    ]
    assert [card for card in bad if not card_problems(card, "$")] == []
    delete = {"type": "delete", "description": "Remove", "resource": "ServiceRequest/1"}
    assert action_problems(delete, "$")
    assert response_empties({"cards": []}) == []
    assert response_empties({"cards": [], "systemActions": []}) == ["$.systemActions"]
    assert empties({"a": [{"b": None}], "c": {}, "d": "", "e": 0, "f": False}) == [
        "$.a[0].b",
        "$.c",
        "$.d",
    ]


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_card_detail_is_github_flavoured_markdown(client: FlaskClient, service: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    gfm = markdown_it.MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    cards = post(client, service, REALISTIC[service]()).get_json()["cards"]
    for card in cards:
        detail = card["detail"]
        assert isinstance(detail, str) and detail.strip()
        assert re.search(r"<[A-Za-z/!?]", detail) is None  # Markdown, not raw HTML
        assert gfm.render(detail).strip()
    if service != "cpoc-patient-view":
        # The treatment card's score breakdown is a GFM table.
        assert "<table>" in gfm.render(cards[0]["detail"])


def _guidance(client: FlaskClient, draft_ids: tuple[str, str, str]) -> list[str]:
    """The order-sign cards' summaries and detail lines, without the drafts' own ids."""
    drafts = folfiri()
    for draft, new_id in zip(drafts, draft_ids, strict=True):
        draft["id"] = new_id
    body = hook_body("order-sign", PID, drafts, full_prefetch(record(), PID))
    cards = post(client, "cpoc-order-sign", body).get_json()["cards"]
    return [
        line
        for card in cards
        for line in [card["summary"], *card["detail"].splitlines()]
        if not line.startswith("Evidence:")
    ]


def test_order_guidance_does_not_depend_on_draft_ids(client: FlaskClient) -> None:
    named = _guidance(client, ("draft-irinotecan", "draft-leucovorin", "draft-fluorouracil"))
    numbered = _guidance(client, ("order-1", "order-2", "order-3"))
    assert "| Toxicity | 4 | FOLFIRI → 4 points (Table 3) |" in numbered
    assert named == numbered


def test_system_actions_are_planned_charge_items(client: FlaskClient) -> None:
    body = post(client, "cpoc-order-sign", sign_body()).get_json()
    actions = body["systemActions"]
    assert isinstance(actions, list) and actions
    problems = [p for i, a in enumerate(actions) for p in action_problems(a, f"$.sa[{i}]")]
    assert problems == []
    for action in actions:
        assert action["type"] == "create"  # see NOT_APPLICABLE: no update or delete
        assert set(action) == {"type", "description", "resource"}
        resource = action["resource"]
        assert resource["resourceType"] == "ChargeItem"
        assert resource["status"] == "planned"
        assert resource["subject"] == {"reference": f"Patient/{PID}"}
        ChargeItem.model_validate(resource)
        assert empties(resource, "$.resource") == []
    codes = [
        coding["code"]
        for action in actions
        for coding in action["resource"]["code"]["coding"]
        if coding["system"] == CPOC_SYSTEM
    ]
    assert any(code.startswith("xx20") for code in codes)  # the Treatment Month's charge
    # order-select only shows; it never proposes charges.
    assert "systemActions" not in post(client, "cpoc-order-select", select_body()).get_json()


def test_system_actions_are_omitted_when_switched_off(tmp_path: Path) -> None:
    client = make_app(tmp_path, today=TODAY, system_actions=False).test_client()
    body = post(client, "cpoc-order-sign", sign_body()).get_json()
    assert body["cards"]
    assert "systemActions" not in body  # omitted, never an empty array


def test_every_answer_is_json_without_null_or_empty_values(
    tmp_path: Path, client: FlaskClient
) -> None:
    refused = auth_app(tmp_path / "auth").test_client()
    answers = {
        "discovery": client.get("/cds-services"),
        **{service: post(client, service, REALISTIC[service]()) for service in SERVICE_IDS},
        "no guidance": post(client, "cpoc-order-sign", no_guidance_body("cpoc-order-sign")),
        "400": post(client, "cpoc-order-sign", {"hook": "order-sign"}),
        "401": post(refused, "cpoc-order-sign", sign_body()),
        "404": post(client, "no-such-service", sign_body()),
        "405": client.get("/cds-services/cpoc-order-sign"),
        "412": post(client, "cpoc-order-sign", hook_body("order-sign", PID, folfiri())),
        "415": client.post("/cds-services/cpoc-order-sign", data="x", content_type="text/plain"),
        "feedback": client.post("/cds-services/cpoc-order-sign/feedback", json=OVERRIDDEN),
        "feedback 400": client.post("/cds-services/cpoc-order-sign/feedback", json={}),
    }
    for name, response in answers.items():
        assert response.mimetype == "application/json", name
        body = json.loads(response.get_data(as_text=True))
        assert response_empties(body) == [], name


def no_guidance_body(service: str, patient: Resource = NO_CANCER) -> dict[str, Any]:
    resources = [patient] if patient is NO_CANCER else record()
    drafts = [amoxicillin(patient["id"])] if service != "cpoc-patient-view" else []
    return hook_body(HOOKS[service], patient["id"], drafts, full_prefetch(resources, patient["id"]))


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_no_guidance_is_an_empty_cards_array(app: Flask, client: FlaskClient, service: str) -> None:
    # Amoxicillin for a patient without cancer: nothing for CPOC to say.
    response = post(client, service, no_guidance_body(service))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == '{"cards":[]}'
    if service == "cpoc-order-sign":
        # Nor for the Appendix A patient: an antibiotic changes none of her CPOC lines.
        appendix_a = next(r for r in record() if r["resourceType"] == "Patient")
        response = post(client, service, no_guidance_body(service, appendix_a))
        assert response.get_json() == {"cards": []}
    assert {r["outcome"] for r in audit(app)} == {"no-guidance"}


# --- prefetch and the FHIR server -----------------------------------------------------------
def _without(*keys: str) -> dict[str, Any]:
    body = sign_body()
    for key in keys:
        del body["prefetch"][key]
    return body


def _replaced(key: str, value: Any) -> dict[str, Any]:
    body = sign_body()
    body["prefetch"][key] = value
    return body


OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "search timed out"}],
}
PAGED = dict(
    searchset(r for r in record() if r["resourceType"] == "Condition"),
    link=[{"relation": "next", "url": f"{FHIR_SERVER}/Condition?page=2"}],
)
MISSING_PREFETCH: dict[str, Callable[[], dict[str, Any]]] = {
    "no prefetch at all": lambda: hook_body("order-sign", PID, folfiri()),
    "patient key missing": lambda: _without("patient"),
    "conditions key missing": lambda: _without("conditions"),
    "OperationOutcome for observations": lambda: _replaced("observations", OUTCOME),
    "paginated conditions": lambda: _replaced("conditions", PAGED),
}


@pytest.mark.parametrize("case", list(MISSING_PREFETCH))
@pytest.mark.parametrize("service", SERVICE_IDS)
def test_missing_prefetch_without_fhir_server_is_412(
    app: Flask, client: FlaskClient, service: str, case: str
) -> None:
    body = MISSING_PREFETCH[case]()
    body["hook"] = HOOKS[service]
    if service == "cpoc-order-select":
        body["context"]["selections"] = ["MedicationRequest/draft-irinotecan"]
    response = post(client, service, body)
    assert response.status_code == 412, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()
    assert error["error"] == "precondition-failed"
    assert isinstance(error["message"], str) and "Traceback" not in error["message"]
    [row] = audit(app)
    assert (row["httpStatus"], row["outcome"]) == (412, "precondition-failed")


def test_null_prefetch_means_no_data_not_412(client: FlaskClient) -> None:
    # "no data for this key" is null; only a missing key asks the service to fetch it.
    body = sign_body()
    for key in ("researchSubjects", "procedures", "medicationDispenses"):
        body["prefetch"][key] = None
    response = post(client, "cpoc-order-sign", body)
    assert response.status_code == 200
    assert response.get_json()["cards"]


def _fhir_server(request: Any) -> tuple[int, dict[str, str], str]:
    """A FHIR server holding the Appendix A record: reads and type-level searches."""
    path = urlparse(request.url).path.removeprefix("/fhir/")
    resource_type, _, resource_id = path.partition("/")
    matches = [r for r in record() if r["resourceType"] == resource_type]
    if resource_id:
        found = [r for r in matches if r.get("id") == resource_id]
        return (200, {}, json.dumps(found[0])) if found else (404, {}, json.dumps(OUTCOME))
    return 200, {}, json.dumps(searchset(matches))


def test_missing_prefetch_is_read_from_the_fhir_server_with_its_token(
    client: FlaskClient,
) -> None:
    authorization = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cpoc-cds",
    }
    body = hook_body(
        "order-sign", PID, folfiri(), fhirServer=FHIR_SERVER, fhirAuthorization=authorization
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as server:
        server.add_callback(
            responses.GET,
            re.compile(re.escape(FHIR_SERVER) + r"/.*"),
            callback=_fhir_server,
            content_type="application/fhir+json",
        )
        fetched = post(client, "cpoc-order-sign", body)
        calls = list(server.calls)
    assert fetched.status_code == 200, fetched.get_data(as_text=True)
    prefetched = post(client, "cpoc-order-sign", sign_body()).get_json()
    # The same record, the same guidance, whichever way it arrived.
    assert [c["summary"] for c in fetched.get_json()["cards"]] == [
        c["summary"] for c in prefetched["cards"]
    ]
    assert calls, "the service read the record from the client's FHIR server"
    assert all(c.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for c in calls)
    paths = [urlparse(str(c.request.url)).path for c in calls]
    types = {path.removeprefix("/fhir/").split("/")[0] for path in paths}
    assert {"Patient", "Condition", "Observation", "MedicationRequest"} <= types
    assert ACCESS_TOKEN not in fetched.get_data(as_text=True)


def test_unreachable_fhir_server_is_412_without_request_values(
    app: Flask, client: FlaskClient
) -> None:
    authorization = {"access_token": ACCESS_TOKEN, "token_type": "Bearer"}
    body = _without("conditions")
    body.update(fhirServer=FHIR_SERVER, fhirAuthorization=authorization)
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # every call refused
        response = post(client, "cpoc-order-sign", body)
    assert response.status_code == 412
    text = response.get_data(as_text=True)
    assert response.get_json()["error"] == "precondition-failed"
    for value in (PID, ACCESS_TOKEN, FHIR_SERVER, "ehr.example", "Traceback"):
        assert value not in text
    [row] = audit(app)
    assert (row["httpStatus"], row["hookInstance"]) == (412, HOOK_INSTANCE)


# --- malformed requests ---------------------------------------------------------------------
def _mutated(change: Callable[[dict[str, Any]], Any], make: Callable[[], Any] = sign_body) -> Any:
    body = make()
    change(body)
    return body


def _first_draft(body: dict[str, Any]) -> Resource:
    draft: Resource = body["context"]["draftOrders"]["entry"][0]["resource"]
    return draft


# case -> (service, body or raw text, status, where)
MALFORMED: dict[str, tuple[str, Any, int, str]] = {
    "body not JSON": ("cpoc-order-sign", "{not json", 400, "$"),
    "body not a JSON object": ("cpoc-order-sign", [sign_body()], 400, "$"),
    "hook missing": ("cpoc-order-sign", _mutated(lambda b: b.pop("hook")), 400, "$.hook"),
    "hookInstance missing": (
        "cpoc-order-sign",
        _mutated(lambda b: b.pop("hookInstance")),
        400,
        "$.hookInstance",
    ),
    "context missing": ("cpoc-order-sign", _mutated(lambda b: b.pop("context")), 400, "$.context"),
    "patientId missing": (
        "cpoc-order-sign",
        _mutated(lambda b: b["context"].pop("patientId")),
        400,
        "$.context.patientId",
    ),
    "patientId a reference": (
        "cpoc-order-sign",
        _mutated(lambda b: b["context"].update(patientId=f"Patient/{PID}")),
        400,
        "$.context.patientId",
    ),
    "patient-view sent to order-sign": ("cpoc-order-sign", view_body(), 400, "$.hook"),
    "order-sign sent to patient-view": ("cpoc-patient-view", sign_body(), 400, "$.hook"),
    "draftOrders missing": (
        "cpoc-order-sign",
        _mutated(lambda b: b["context"].pop("draftOrders")),
        400,
        "$.context.draftOrders",
    ),
    "draftOrders not a Bundle": (
        "cpoc-order-sign",
        _mutated(lambda b: b["context"].update(draftOrders={"resourceType": "List"})),
        400,
        "$.context.draftOrders",
    ),
    "a draft for another patient": (
        "cpoc-order-sign",
        _mutated(lambda b: _first_draft(b).update(subject={"reference": "Patient/someone-else"})),
        400,
        "$.context.draftOrders.entry[0].resource.subject",
    ),
    "a selection naming no draft": (
        "cpoc-order-select",
        _mutated(
            lambda b: b["context"].update(selections=["MedicationRequest/someone-else"]),
            select_body,
        ),
        400,
        "$.context.selections",
    ),
    "a prefetch value that is no resource": (
        "cpoc-order-sign",
        _mutated(lambda b: b["prefetch"].update(conditions="Condition?patient=someone-else")),
        400,
        "$.prefetch.conditions",
    ),
    "fhirAuthorization without fhirServer": (
        "cpoc-order-sign",
        _mutated(lambda b: b.update(fhirAuthorization={"access_token": ACCESS_TOKEN})),
        400,
        "$.fhirServer",
    ),
}
# Values of the requests above that an error body must never repeat (they may be patient data).
REQUEST_VALUES = (
    PID,
    HOOK_INSTANCE,
    "someone-else",
    "draft-irinotecan",
    "irinotecan",
    "Practitioner/onc-1",
    FAMILY,
    BIRTH_DATE,
    ACCESS_TOKEN,
)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_4xx_naming_the_field(
    app: Flask, client: FlaskClient, case: str
) -> None:
    service, body, status, where = MALFORMED[case]
    if isinstance(body, str):
        response = client.post(
            f"/cds-services/{service}", data=body, content_type="application/json"
        )
    else:
        response = post(client, service, body)
    text = response.get_data(as_text=True)
    assert (response.status_code, response.mimetype) == (status, "application/json"), text
    error = response.get_json()
    assert error["error"] == "bad-request"
    assert error["where"] == where
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in text and 'File "' not in text
    assert [v for v in REQUEST_VALUES if v in text] == []
    if isinstance(body, dict) and body.get("hook", HOOKS[service]) != HOOKS[service]:
        assert body["hook"] not in text  # the hook it was sent is not repeated
    [row] = audit(app)
    assert (row["httpStatus"], row["outcome"], row["service"]) == (400, "bad-request", service)


def test_a_body_that_is_not_json_by_content_type_is_refused(client: FlaskClient) -> None:
    text_plain = client.post(
        "/cds-services/cpoc-order-sign", data=json.dumps(sign_body()), content_type="text/plain"
    )
    assert text_plain.status_code == 415  # a 4xx the spec allows: only JSON is exchanged
    assert text_plain.get_json()["where"] == "$"
    # No body and no Content-Type is not JSON either: the same 415 (a form body was a 400).
    empty = client.post("/cds-services/cpoc-order-sign")
    assert empty.status_code == 415
    assert empty.get_json()["where"] == "$"


def test_lenient_draft_orders_are_accepted(client: FlaskClient) -> None:
    """What real EHRs send: a draftOrders Bundle without type, drafts without intent/status."""
    strict = post(client, "cpoc-order-sign", sign_body()).get_json()

    def loosen(body: dict[str, Any]) -> None:
        del body["context"]["draftOrders"]["type"]
        for entry in body["context"]["draftOrders"]["entry"]:
            del entry["resource"]["intent"]
            del entry["resource"]["status"]

    response = post(client, "cpoc-order-sign", _mutated(loosen))
    assert response.status_code == 200, response.get_data(as_text=True)
    lenient = response.get_json()
    assert [c["summary"] for c in lenient["cards"]] == [c["summary"] for c in strict["cards"]]
    assert len(lenient["systemActions"]) == len(strict["systemActions"])


def test_unknown_service_is_404_json(app: Flask, client: FlaskClient) -> None:
    response = post(client, "cpoc-order-sing", sign_body())
    assert (response.status_code, response.mimetype) == (404, "application/json")
    assert response.get_json()["error"] == "not-found"
    assert PID not in response.get_data(as_text=True)
    feedback = client.post("/cds-services/cpoc-order-sing/feedback", json=OVERRIDDEN)
    assert (feedback.status_code, feedback.mimetype) == (404, "application/json")
    assert [(r["httpStatus"], r["outcome"]) for r in audit(app)] == [(404, "not-found")] * 2


def test_internal_error_is_json_without_a_trace(app: Flask, client: FlaskClient) -> None:
    hook_app = app.extensions["cpoc"]

    def broken(*args: Any) -> Any:
        raise RuntimeError(f"evaluator failed on {PID} born {BIRTH_DATE}")

    service = hook_app.services["cpoc-patient-view"]
    hook_app.services["cpoc-patient-view"] = dataclasses.replace(service, handler=broken)
    response = post(client, "cpoc-patient-view", view_body())
    text = response.get_data(as_text=True)
    assert (response.status_code, response.mimetype) == (500, "application/json")
    assert response.get_json()["error"] == "error"
    for value in ("Traceback", "RuntimeError", "evaluator failed", PID, BIRTH_DATE):
        assert value not in text
    [row] = audit(app)
    assert (row["httpStatus"], row["outcome"], row["hookInstance"]) == (500, "error", HOOK_INSTANCE)


def test_patient_id_that_is_no_fhir_id_is_400_not_500(client: FlaskClient) -> None:
    body = hook_body("patient-view", "a b", fhirServer=FHIR_SERVER)
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        response = post(client, "cpoc-patient-view", body)
    assert response.status_code == 400
    assert response.get_json()["where"] == "$.context.patientId"


# --- CORS -----------------------------------------------------------------------------------
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def _allowed(response: TestResponse) -> tuple[str | None, set[str], set[str]]:
    def items(name: str) -> set[str]:
        return {h.strip().lower() for h in response.headers.get(name, "").split(",") if h.strip()}

    return (
        response.headers.get("Access-Control-Allow-Origin"),
        items("Access-Control-Allow-Methods"),
        items("Access-Control-Allow-Headers"),
    )


def test_cors_preflight_needs_no_auth(tmp_path: Path) -> None:
    app = auth_app(tmp_path)  # default origins: any
    client = app.test_client()
    origin = "https://ehr.example"
    for path in ("/cds-services/cpoc-order-sign", "/cds-services/cpoc-order-sign/feedback"):
        response = client.options(path, headers={"Origin": origin, **PREFLIGHT})
        assert response.status_code in (200, 204)
        allow_origin, methods, headers = _allowed(response)
        assert allow_origin in ("*", origin)
        assert "post" in methods
        assert {"authorization", "content-type"} <= headers
    assert audit(app) == []  # a preflight is no invocation
    # The refusal of a call without a token is readable by the browser-based client.
    refused = client.post(
        "/cds-services/cpoc-order-sign", json=sign_body(), headers={"Origin": origin}
    )
    assert refused.status_code == 401
    assert _allowed(refused)[0] in ("*", origin)


def test_cors_allows_configured_origins_only(tmp_path: Path) -> None:
    client = make_app(tmp_path, today=TODAY, cors_origins=("https://ehr.example",)).test_client()
    path = "/cds-services/cpoc-order-sign"
    allowed = client.options(path, headers={"Origin": "https://ehr.example", **PREFLIGHT})
    assert _allowed(allowed)[0] == "https://ehr.example"
    assert "Origin" in allowed.headers.get("Vary", "")
    other = client.options(path, headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert _allowed(other) == (None, set(), set())
    called = client.post(path, json=sign_body(), headers={"Origin": "https://ehr.example"})
    assert called.status_code == 200
    assert _allowed(called)[0] == "https://ehr.example"
    discovery = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert discovery.status_code == 200
    assert "Access-Control-Allow-Origin" not in discovery.headers


# --- feedback -------------------------------------------------------------------------------
OVERRIDDEN = {
    "feedback": [
        {
            "card": "f6b95768-b1c8-40dc-8385-bf3504b82ffb",
            "outcome": "overridden",
            "outcomeTimestamp": "2025-11-10T20:00:00Z",
        }
    ]
}


def test_feedback_is_stored_once(app: Flask, client: FlaskClient) -> None:
    sign_cards = post(client, "cpoc-order-sign", sign_body()).get_json()["cards"]
    view_cards = post(client, "cpoc-patient-view", view_body()).get_json()["cards"]
    treatment, documentation = sign_cards[0], next(c for c in sign_cards if "overrideReasons" in c)
    reason = documentation["overrideReasons"][0]
    suggestion = str(uuid.uuid4())
    sent = [
        (
            "cpoc-order-sign",
            {
                "card": treatment["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}],
                "outcomeTimestamp": "2025-11-10T20:01:02Z",
            },
        ),
        (
            "cpoc-order-sign",
            {
                "card": documentation["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"system": reason["system"], "code": reason["code"]},
                    "userComment": "ECOG is in the scanned visit note.",
                },
                "outcomeTimestamp": "2025-11-10T20:01:03.52Z",
            },
        ),
        (
            "cpoc-patient-view",
            {
                "card": view_cards[0]["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2025-11-10T20:01:04Z",
            },
        ),
    ]
    for expected in ("stored", "duplicate"):  # the same feedback, posted twice
        for service, item in sent:
            response = client.post(f"/cds-services/{service}/feedback", json={"feedback": [item]})
            assert response.status_code == 200, response.get_data(as_text=True)
            assert response.get_json() == {"feedback": {expected: 1}}
    rows = app.extensions["cpoc"].log.feedback()
    assert [(r["service"], r["card"], r["outcome"]) for r in rows] == [
        (service, item["card"], item["outcome"]) for service, item in sent
    ]
    assert rows[0]["acceptedSuggestions"] == [suggestion]
    assert rows[1]["overrideReason"]["code"] == reason["code"]
    assert rows[1]["overrideReason"]["userComment"] == "ECOG is in the scanned visit note."
    assert rows[2]["overrideReason"]["code"] is None
    # Several items at once: all already known.
    again = client.post(
        "/cds-services/cpoc-order-sign/feedback", json={"feedback": [i for _, i in sent[:2]]}
    )
    assert again.get_json() == {"feedback": {"duplicate": 2}}
    assert len(app.extensions["cpoc"].log.feedback()) == 3
    feedback_rows = [r for r in audit(app) if r["hook"] == "feedback"]
    assert len(feedback_rows) == 7 and {r["httpStatus"] for r in feedback_rows} == {200}


def _item(**changes: Any) -> dict[str, Any]:
    item = dict(OVERRIDDEN["feedback"][0], **changes)
    return {"feedback": [{k: v for k, v in item.items() if v is not None}]}


MALFORMED_FEEDBACK: dict[str, tuple[Any, str]] = {
    "no feedback array": ({"card": "x"}, "$.feedback"),
    "an empty feedback array": ({"feedback": []}, "$.feedback"),
    "an item that is no object": ({"feedback": ["x"]}, "$.feedback[0]"),
    "card missing": (_item(card=None), "$.feedback[0].card"),
    "outcome unknown": (_item(outcome="ignored"), "$.feedback[0].outcome"),
    "accepted without acceptedSuggestions": (
        _item(outcome="accepted"),
        "$.feedback[0].acceptedSuggestions",
    ),
    "outcomeTimestamp missing": (_item(outcomeTimestamp=None), "$.feedback[0].outcomeTimestamp"),
    "outcomeTimestamp without zone": (
        _item(outcomeTimestamp="2025-11-10T20:00:00"),
        "$.feedback[0].outcomeTimestamp",
    ),
    "overrideReason with accepted": (
        _item(
            outcome="accepted",
            acceptedSuggestions=[{"id": "s-1"}],
            overrideReason={"userComment": "no"},
        ),
        "$.feedback[0].overrideReason",
    ),
    "override reason without code": (
        _item(overrideReason={"reason": {"system": "https://x.example"}}),
        "$.feedback[0].overrideReason.reason.code",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED_FEEDBACK))
def test_malformed_feedback_is_400_naming_the_field(
    app: Flask, client: FlaskClient, case: str
) -> None:
    body, where = MALFORMED_FEEDBACK[case]
    response = client.post("/cds-services/cpoc-order-sign/feedback", json=body)
    assert (response.status_code, response.mimetype) == (400, "application/json")
    assert response.get_json()["where"] == where
    assert "f6b95768" not in response.get_data(as_text=True)
    assert app.extensions["cpoc"].log.feedback() == []
    [row] = audit(app)
    assert (row["hook"], row["httpStatus"], row["outcome"]) == ("feedback", 400, "bad-request")


# --- audit ----------------------------------------------------------------------------------
# case -> (call it, the expected (status, outcome, hookInstance, hook))
Invoke = Callable[[Path], tuple[Flask, TestResponse]]


def _invoke(body: Any, service: str = "cpoc-order-sign", auth: bool = False) -> Invoke:
    def run(tmp_path: Path) -> tuple[Flask, TestResponse]:
        app = auth_app(tmp_path) if auth else make_app(tmp_path, today=TODAY)
        return app, post(app.test_client(), service, body)

    return run


AUDITED: dict[str, tuple[Invoke, tuple[int, str, str | None, str | None]]] = {
    "200 cards": (_invoke(sign_body()), (200, "cards", HOOK_INSTANCE, "order-sign")),
    "200 no guidance": (
        _invoke(no_guidance_body("cpoc-order-sign")),
        (200, "no-guidance", HOOK_INSTANCE, "order-sign"),
    ),
    "400 draftOrders not a Bundle": (
        _invoke(MALFORMED["draftOrders not a Bundle"][1]),
        (400, "bad-request", HOOK_INSTANCE, "order-sign"),
    ),
    "400 not JSON": (_invoke([1, 2]), (400, "bad-request", None, None)),
    "401 no token": (_invoke(sign_body(), auth=True), (401, "unauthorized", None, None)),
    "404 unknown service": (
        _invoke(sign_body(), "cpoc-order-sing"),
        (404, "not-found", None, None),
    ),
    "412 no prefetch": (
        _invoke(hook_body("order-sign", PID, folfiri())),
        (412, "precondition-failed", HOOK_INSTANCE, "order-sign"),
    ),
}


@pytest.mark.parametrize("case", list(AUDITED))
def test_every_invocation_leaves_one_audit_row(tmp_path: Path, case: str) -> None:
    invoke, (status, outcome, hook_instance, hook) = AUDITED[case]
    app, response = invoke(tmp_path)
    assert response.status_code == status, response.get_data(as_text=True)
    [row] = audit(app)
    assert row["service"] == ("cpoc-order-sing" if status == 404 else "cpoc-order-sign")
    assert (row["httpStatus"], row["outcome"]) == (status, outcome)
    assert (row["hookInstance"], row["hook"]) == (hook_instance, hook)
    assert isinstance(row["latencyMs"], float) and row["latencyMs"] > 0
    if outcome == "cards":
        shown = {c["uuid"] for c in response.get_json()["cards"]}
        assert {c["uuid"] for c in row["cards"]} == shown  # cards are audited by uuid


@pytest.mark.parametrize(
    "case", ["patient-view sent to order-sign", "context missing", "patientId missing"]
)
def test_audit_keeps_the_hook_instance_of_a_body_refused_early(
    app: Flask, client: FlaskClient, case: str
) -> None:
    service, body, status, _ = MALFORMED[case]
    assert post(client, service, body).status_code == status
    [row] = audit(app)
    assert row["hookInstance"] == HOOK_INSTANCE


def test_audit_rows_hold_no_patient_data(app: Flask, client: FlaskClient) -> None:
    for service in SERVICE_IDS:
        assert post(client, service, REALISTIC[service]()).status_code == 200
    another_patient = MALFORMED["a draft for another patient"][1]
    assert post(client, "cpoc-order-sign", another_patient).status_code == 400
    assert (
        post(client, "cpoc-order-sign", hook_body("order-sign", PID, folfiri())).status_code == 412
    )
    hook_log = app.extensions["cpoc"].log
    text = json.dumps([hook_log.invocations(limit=10_000), hook_log.feedback()], default=str)
    patient = next(r for r in record() if r["resourceType"] == "Patient")
    assert patient["birthDate"] == BIRTH_DATE
    for value in (FAMILY, GIVEN, BIRTH_DATE, "female", "C18.7", "sigmoid", "irinotecan", "ECOG"):
        assert value not in text, value
    refs = {row["patient"] for row in hook_log.invocations(limit=10_000)}
    assert refs == {f"Patient/{PID}"}  # the Patient resource id, and nothing else


# --- the requirements accounted for ---------------------------------------------------------
def _service_requirements() -> dict[int, dict[str, str]]:
    if not REQUIREMENTS_CSV.is_file():
        pytest.skip("the CDS Hooks service requirements CSV (../shared) is not present")
    with REQUIREMENTS_CSV.open(encoding="utf-8", newline="") as handle:
        return {int(row["id"]): row for row in csv.DictReader(handle)}


def _covered() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for module in (COVERED, auth_tests.COVERED):
        for test, ids in module.items():
            for requirement in ids:
                found.setdefault(requirement, []).append(test)
    return found


def test_requirement_ids_are_accounted_for() -> None:
    requirements = _service_requirements()
    covered = _covered()
    cited = set(covered) | set(NOT_APPLICABLE)
    assert sorted(cited - set(requirements)) == []  # every id cited exists
    assert sorted(set(covered) & set(NOT_APPLICABLE)) == []
    mandatory = {
        rid
        for rid, row in requirements.items()
        if row["conformance"] in ("SHALL", "SHALL NOT")
        and "Service" in [actor.strip() for actor in row["actors"].split(",")]
    }
    assert sorted(mandatory - set(covered) - set(NOT_APPLICABLE)) == []
    assert all(reason.strip() for reason in NOT_APPLICABLE.values())


def test_every_test_names_its_requirements() -> None:
    for module, covered in ((sys.modules[__name__], COVERED), (auth_tests, auth_tests.COVERED)):
        tests = {
            name
            for name, value in vars(module).items()
            if name.startswith("test_") and inspect.isfunction(value)
        }
        assert sorted(set(covered) ^ tests) == [], module.__name__
        assert all(isinstance(i, int) for ids in covered.values() for i in ids)


def test_off_pathway_suggestions_conform(client: FlaskClient) -> None:
    """An off-pathway order (stage III colon cancer, FOLFIRI) gets suggestions that follow the
    spec: selectionBehavior with them, labelled suggestions with string uuids and boolean
    isRecommended, actions that all belong to one suggestion (AND), deletes by resourceId only,
    creates carrying whole resources."""
    patient = colon("conformance-off-pathway")
    drafts = patient.drafts("irinotecan", "leucovorin", "fluorouracil")
    for service in ("cpoc-order-select", "cpoc-order-sign"):
        hook = service.removeprefix("cpoc-")
        body = hook_body(hook, patient.pid, drafts, full_prefetch(patient.resources, patient.pid))
        if hook == "order-select":
            body["context"]["selections"] = [f"MedicationRequest/{drafts[0]['id']}"]
        response = post(client, service, body)
        assert response.status_code == 200
        cards = response.get_json()["cards"]
        problems = [p for i, c in enumerate(cards) for p in card_problems(c, f"$.cards[{i}]")]
        assert problems == []
        [card] = [c for c in cards if "suggestions" in c]
        assert card["selectionBehavior"] == "at-most-one"
        assert sum(s["isRecommended"] for s in card["suggestions"]) == 1  # at-most-one: one
        assert len({s["uuid"] for s in card["suggestions"]}) == len(card["suggestions"])
        for suggestion in card["suggestions"]:
            kinds = [a["type"] for a in suggestion["actions"]]
            # Deletes first, then creates: the transaction order the spec asks clients to use.
            assert kinds == sorted(kinds, key=("delete", "create").index)
            for action in suggestion["actions"]:
                if action["type"] == "delete":
                    assert "resource" not in action
                    assert action["resourceId"].startswith("MedicationRequest/draft-")
                else:
                    assert action["resource"]["resourceType"] == "MedicationRequest"
