"""Replays of what the CDS Hooks sandbox (github.com/cds-hooks/sandbox) sends → 200 with cards.

The shapes follow the sandbox's own request building, read from its source:

- ``src/retrieve-data-helpers/jwt-generator.js``: every call carries an ES384 JWT with header
  ``{alg: ES384, typ: JWT, kid, jku: https://sandbox.cds-hooks.org/.well-known/jwks.json}`` and
  claims ``iss: https://sandbox.cds-hooks.org``, ``aud`` (the service URL), ``exp`` (+300 s),
  ``iat``, ``jti`` (a uuid). Our service pins the issuer's keys from a file and lists that jku
  (``CPOC_CDS_TRUSTED_ISSUERS``); the key here is our own P-384 key in the same JWK shape.
- ``src/retrieve-data-helpers/service-exchange.js``: the body is ``{hookInstance, hook,
  fhirServer, context: {patientId, userId, ...}, prefetch}``; ``fhirAuthorization`` only with a
  SMART token (an open server: none); a prefetch key whose read failed is left out; prefetch
  values are the server's searchset Bundles as they came (paged: with a ``next`` link).
- ``src/reducers/medication-reducers.js`` (createFhirResource): the draft is a
  MedicationRequest ``request-123``, status draft, ``authoredOn`` today, a timing repeat with
  boundsPeriod, ``doseAndRate`` in ``{pill}``; ``intent`` and a ``category`` *object* only with a
  dispense request; ``reasonCode`` the chosen Condition's code (an object, not an array).
- ``src/components/RxSign/rx-sign.jsx``, ``RxView/rx-view.jsx``: ``draftOrders`` is
  ``{resourceType: Bundle, entry: [{resource}]}`` with no ``type``; order-select adds
  ``selections: ["MedicationRequest/request-123"]``.

The FHIR server is sekmet on 127.0.0.1 with the Appendix A patient (FOLFOX, colon cancer).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cds_support import clock_at, example_resources
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from jwt.algorithms import ECAlgorithm
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.app import create_app
from cds_hooks.embedded_fhir import load_resources
from cds_hooks.settings import load_cds_settings

PID = "appendix-a-folfox"
TODAY = "2025-11-10"
SANDBOX = "https://sandbox.cds-hooks.org"
JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"  # the kid the sandbox's tokens name
BASE = "http://localhost"  # the Flask test client's host
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


class NoFetch(requests.Session):
    """The verifier's HTTP session: any JWKS fetch fails the test (keys are pinned)."""

    def get(self, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise AssertionError(f"the service fetched a JWK Set: {url}")


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    with running_sekmet(tmp_path_factory.mktemp("sekmet-sandbox")) as server:
        load_resources(server.base_url, example_resources(PID))
        yield server


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, key: ec.EllipticCurvePrivateKey) -> Flask:
    folder = tmp_path_factory.mktemp("sandbox-app")
    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True)}
    # The shape of the sandbox's published JWK Set: kty EC, use sig, crv P-384, kid, x, y, alg.
    jwks = {"keys": [{**jwk, "use": "sig", "kid": KID, "alg": "ES384"}]}
    pinned = folder / "sandbox-jwks.json"
    pinned.write_text(json.dumps(jwks), encoding="utf-8")
    # As an operator writes it: the sandbox, its jku allowed, its keys pinned from the file.
    environ = {
        "CPOC_CDS_TRUSTED_ISSUERS": json.dumps(
            {SANDBOX: {"jwks_urls": [JKU], "keys_file": str(pinned)}}
        ),
        "CPOC_CDS_BASE_URL": BASE,
        "CPOC_STORE_URL": f"sqlite:///{folder}/store.sqlite",
    }
    config = {
        "CDS_SETTINGS": load_cds_settings(environ),
        "CLOCK": clock_at(TODAY),
        "JWKS_SESSION": NoFetch(),
        "TESTING": True,
    }
    return create_app(config)


def sandbox_token(key: ec.EllipticCurvePrivateKey, audience: str) -> str:
    """jwt-generator.js: the sandbox's header and claims."""
    now = round(time.time())
    claims = {
        "iss": SANDBOX,
        "aud": audience,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    headers = {"alg": "ES384", "typ": "JWT", "kid": KID, "jku": JKU}
    return jwt.encode(claims, key, algorithm="ES384", headers=headers)


def sandbox_draft(with_dispense: bool = True) -> dict[str, Any]:
    """createFhirResource for an R4 server: capecitabine 3 pills twice daily for 14 days."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "subject": {"reference": f"Patient/{PID}"},
        "authoredOn": TODAY,
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {
                        "frequency": 2,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsPeriod": {"start": TODAY, "end": "2025-11-23"},
                    }
                },
                "doseAndRate": [{"doseQuantity": {"value": 3, "system": UCUM, "code": "{pill}"}}],
            }
        ],
        "medicationCodeableConcept": {
            "text": "capecitabine 500 MG Oral Tablet",
            "coding": [
                {"display": "capecitabine 500 MG Oral Tablet", "system": RXNORM, "code": "194000"}
            ],
        },
        # The chosen Condition's code, as the sandbox copies it: an object where R4 has a list.
        "reasonCode": {"coding": [{"system": "http://snomed.info/sct", "code": "363406005"}]},
    }
    if with_dispense:
        resource["dispenseRequest"] = {
            "expectedSupplyDuration": {"value": 14, "unit": "days", "system": UCUM, "code": "d"}
        }
        resource["intent"] = "order"
        resource["category"] = {  # an object, as the sandbox sends it (R4: an array)
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                    "code": "community",
                }
            ]
        }
    return resource


def prefetch_of(app: Flask, fhir: SekmetServer, service: str, page: int | None) -> dict[str, Any]:
    """service-exchange.js prefetchDataPromises: each discovery template, {{context.patientId}}
    filled, read from the FHIR server as is (``page``: a page size, so Bundles come paged)."""
    services = app.test_client().get("/cds-services").get_json()["services"]
    (entry,) = [s for s in services if s["id"] == service]
    found = {}
    for name, template in entry["prefetch"].items():
        query = template.replace("{{context.patientId}}", PID)
        if page is not None and "?" in query:
            query += f"&_count={page}"
        response = requests.get(f"{fhir.base_url}/{query}", timeout=30)
        if response.ok and response.json():
            found[name] = response.json()  # a failed read: the key is left out
    return found


def sandbox_call(
    app: Flask,
    key: ec.EllipticCurvePrivateKey,
    fhir: SekmetServer,
    hook: str,
    prefetch: dict[str, Any] | None,
    context: dict[str, Any] | None = None,
) -> Any:
    service = {"order-sign": "cpoc-order-sign", "order-select": "cpoc-order-select"}.get(
        hook, "cpoc-patient-view"
    )
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "fhirServer": fhir.base_url,
        "context": {
            "patientId": PID,
            "userId": "Practitioner/COREPRACTITIONER1",
            **(context or {}),
        },
    }
    if prefetch:
        body["prefetch"] = prefetch
    url = f"{BASE}/cds-services/{service}"
    headers = {"Accept": "application/json", "Authorization": f"Bearer {sandbox_token(key, url)}"}
    return app.test_client().post(url, json=body, headers=headers)


def draft_context(draft: dict[str, Any], select: bool = False) -> dict[str, Any]:
    context: dict[str, Any] = {
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}
    }
    if select:
        context["selections"] = ["MedicationRequest/request-123"]
    return context


def _next(bundle: dict[str, Any]) -> bool:
    return any(link.get("relation") == "next" for link in bundle.get("link", []))


def answered(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    answer = dict(response.get_json())
    assert answer["cards"], answer
    return answer


def test_the_token_has_the_sandbox_shape(key: ec.EllipticCurvePrivateKey) -> None:
    header = jwt.get_unverified_header(sandbox_token(key, f"{BASE}/cds-services/x"))
    assert header == {"alg": "ES384", "typ": "JWT", "kid": KID, "jku": JKU}


def test_order_sign_as_the_sandbox_sends_it(
    app: Flask, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    prefetch = prefetch_of(app, fhir, "cpoc-order-sign", None)
    answer = answered(
        sandbox_call(app, key, fhir, "order-sign", prefetch, draft_context(sandbox_draft()))
    )
    text = json.dumps(answer)
    # request-123 is the sandbox's local id: cited as a draft, never as a server resource.
    assert "draft MedicationRequest request-123 (not yet on the server)" in text
    assert "MedicationRequest/request-123" not in text
    # Capecitabine from 2025-11-10 falls in month 9 (2025-11-03 to 2025-12-02), which was
    # Active Monitoring (xx303): T 2 (capecitabine, Table 3) + D 2 (oral, initial month) +
    # C 0 (Charlson 1) + P 0 (no ECOG in the window) = 4 → level 2 (4-5).
    assert answer["cards"][0]["summary"] == (
        "CPOC xx202: Treatment Month 9, level 2 (score 4); "
        "this order turns xx303 monitoring into treatment"
    )
    (action,) = answer["systemActions"]
    # The line rests on the colon cancer and the draft: the ChargeItem keeps the former only.
    assert action["resource"]["supportingInformation"] == [
        {"reference": "Condition/appendix-a-folfox-condition-3"}
    ]


def test_order_select_with_selections_and_no_intent(
    app: Flask, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    prefetch = prefetch_of(app, fhir, "cpoc-order-select", None)
    draft = sandbox_draft(with_dispense=False)  # no dispense request: no intent, no category
    assert "intent" not in draft
    answer = answered(
        sandbox_call(app, key, fhir, "order-select", prefetch, draft_context(draft, True))
    )
    assert answer["cards"][0]["summary"].startswith("CPOC xx2")


def test_paged_prefetch_is_read_to_its_end_without_fhir_authorization(
    app: Flask, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    paged = prefetch_of(app, fhir, "cpoc-order-sign", page=5)
    pages = [k for k, v in paged.items() if _next(v)]
    assert "observations" in pages  # the record has more than 5 of them: paged
    full = prefetch_of(app, fhir, "cpoc-order-sign", None)
    context = draft_context(sandbox_draft())
    with_pages = answered(sandbox_call(app, key, fhir, "order-sign", paged, context))
    whole = answered(sandbox_call(app, key, fhir, "order-sign", full, context))
    # The same record either way: the same cards (their uuids aside).
    assert [c["summary"] for c in with_pages["cards"]] == [c["summary"] for c in whole["cards"]]


def test_prefetch_keys_the_sandbox_could_not_read_are_read_by_the_service(
    app: Flask, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    prefetch = prefetch_of(app, fhir, "cpoc-order-sign", None)
    for name in ("observations", "encounters", "medicationAdministrations"):
        del prefetch[name]
    answered(sandbox_call(app, key, fhir, "order-sign", prefetch, draft_context(sandbox_draft())))
    answered(sandbox_call(app, key, fhir, "order-sign", None, draft_context(sandbox_draft())))


def test_patient_view_as_the_sandbox_sends_it(
    app: Flask, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    prefetch = prefetch_of(app, fhir, "cpoc-patient-view", None)
    answer = answered(sandbox_call(app, key, fhir, "patient-view", prefetch))
    assert answer["cards"][0]["summary"].startswith("CPOC month")


def test_a_replayed_sandbox_token_and_a_foreign_jku_are_refused(
    app: Flask, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    url = f"{BASE}/cds-services/cpoc-patient-view"
    body = {"hookInstance": "h", "hook": "patient-view", "fhirServer": fhir.base_url,
            "context": {"patientId": PID}}  # fmt: skip
    token = sandbox_token(key, url)
    client = app.test_client()
    assert (
        client.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    again = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401
    now = round(time.time())
    claims = {"iss": SANDBOX, "aud": url, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    foreign = jwt.encode(
        claims,
        key,
        algorithm="ES384",
        headers={"kid": KID, "jku": "https://evil.example/jwks.json"},
    )
    refused = client.post(url, json=body, headers={"Authorization": f"Bearer {foreign}"})
    assert refused.status_code == 401
    assert refused.get_json()["message"] == "jku is not on this issuer's JWKS URL allow-list"


def test_the_entry_limit_holds_across_pages_and_the_services_own_reads(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey, fhir: SekmetServer
) -> None:
    # With at most 3 entries per Bundle: 2-entry pages pass the body check, but the
    # observations read through `next` exceed it; so does the service's own search.
    app = create_app(
        {
            "CDS_SETTINGS": load_cds_settings(
                {
                    "CPOC_CDS_AUTH": "off",
                    "CPOC_CDS_MAX_BUNDLE_ENTRIES": "3",
                    "CPOC_STORE_URL": f"sqlite:///{tmp_path}/store.sqlite",
                }
            ),
            "CLOCK": clock_at(TODAY),
            "TESTING": True,
        }
    )
    paged = prefetch_of(app, fhir, "cpoc-patient-view", page=2)
    response = sandbox_call(app, key, fhir, "patient-view", paged)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.get_json()["where"] == "$.prefetch.observations"
    unpaged = {"patient": paged["patient"]}  # the service searches the rest itself
    response = sandbox_call(app, key, fhir, "patient-view", unpaged)
    assert response.status_code == 413
    assert response.get_json()["where"] == "$.fhirServer"
