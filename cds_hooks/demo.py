"""``cpoc serve`` and ``cpoc demo``: the CDS Hooks service on 127.0.0.1.

The demo is the product's main job on embedded defaults: an embedded FHIR server (sekmet-fhir,
SQLite) loaded with the bundled example patients, the CDS service reading from and writing
ChargeItems to it, a SQLite audit store, and a ready ``curl`` for an order-sign. Client JWT
verification is off in the demo only (it says so); ``cpoc serve`` keeps it on unless
``CPOC_CDS_AUTH=off``.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from cds_hooks.app import create_app
from cds_hooks.embedded_fhir import free_port, load_resources, running_sekmet
from cds_hooks.settings import CdsSettings, WriteTarget
from cpoc_fhir.cli import bundled_examples

# The example patients' records run to November 2025: the demo's "today" sits inside them.
DEMO_TODAY = date(2025, 11, 10)
DEMO_PATIENT = "appendix-a-folfox"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# FOLFIRI after FOLFOX progression (Appendix A's patient): irinotecan, leucovorin, 5-FU.
FOLFIRI = (("51499", "irinotecan"), ("6313", "leucovorin"), ("4492", "fluorouracil"))


def serve(host: str, port: int, out: TextIO) -> int:
    """Run the service from the environment's settings until interrupted."""
    app = create_app()
    with _server(app, host, port) as server:
        out.write(f"CPOC CDS Hooks service on http://{host}:{server.port}/cds-services\n")
        out.flush()
        _forever(server)
    return 0


@dataclass(frozen=True)
class Demo:
    service_url: str
    fhir_base: str
    body_path: Path


def run_demo(directory: Path, port: int, today: date, once: bool, out: TextIO) -> int:
    """Start sekmet, load the examples, serve the hooks; ``once``: call order-sign, exit."""
    directory.mkdir(parents=True, exist_ok=True)
    out.write("Starting the embedded FHIR server (sekmet-fhir) …\n")
    out.flush()
    with running_sekmet(directory / "fhir") as fhir:
        resources = _example_resources()
        load_resources(fhir.base_url, resources)
        app = _demo_app(directory, fhir.base_url, today)
        with _server(app, "127.0.0.1", port) as server:
            service = f"http://127.0.0.1:{server.port}/cds-services"
            body_path = directory / "order-sign.json"
            body_path.write_text(json.dumps(order_sign_body(fhir.base_url, today), indent=2))
            demo = Demo(service, fhir.base_url, body_path)
            _explain(demo, len(resources), today, out)
            if once:
                return _call_once(demo, out)
            _forever(server)
    return 0


def order_sign_body(fhir_base: str, today: date) -> dict[str, Any]:
    """An order-sign for Appendix A's patient: FOLFIRI ordered for two days from ``today``;
    no prefetch, so the service reads the record from the FHIR server itself."""
    day = date.fromordinal(today.toordinal() + 2).isoformat()
    drafts = [
        {
            "resourceType": "MedicationRequest",
            "id": f"demo-folfiri-{name}",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]},
            "subject": {"reference": f"Patient/{DEMO_PATIENT}"},
            "authoredOn": today.isoformat(),
            "dosageInstruction": [{"route": {"text": "intravenous"}, "timing": {"event": [day]}}],
        }
        for code, name in FOLFIRI
    ]
    return {
        "hook": "order-sign",
        "hookInstance": f"demo-{today.isoformat()}",
        "fhirServer": fhir_base,
        "context": {
            "userId": "Practitioner/demo-oncologist",
            "patientId": DEMO_PATIENT,
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": r} for r in drafts]},
        },
    }


def _example_resources() -> list[dict[str, Any]]:
    found = []
    for path in sorted(bundled_examples().glob("*.json")):
        found += [e["resource"] for e in json.loads(path.read_text("utf-8"))["entry"]]
    return found


def _demo_app(directory: Path, fhir_base: str, today: date) -> Flask:
    settings = CdsSettings(
        auth_enabled=False,
        store_url=f"sqlite:///{directory.resolve()}/cpoc-store.sqlite",
        write=WriteTarget(fhir_base),
    )
    moment = datetime.combine(today, datetime.now().time()).astimezone()
    return create_app({"CDS_SETTINGS": settings, "CLOCK": lambda: moment})


@contextmanager
def _server(app: Flask, host: str, port: int) -> Iterator[BaseWSGIServer]:
    server = make_server(host, port or free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _forever(server: BaseWSGIServer) -> None:
    """Until Ctrl-C (the server thread serves; the caller's context stops it)."""
    with suppress(KeyboardInterrupt):
        threading.Event().wait()


def _explain(demo: Demo, loaded: int, today: date, out: TextIO) -> None:
    curl = " ".join(
        [
            "curl -s -X POST -H 'Content-Type: application/json'",
            f"--data @{shlex.quote(str(demo.body_path))}",
            f"{demo.service_url}/cpoc-order-sign",
        ]
    )
    out.write(
        f"\nCPOC CDS Hooks service: {demo.service_url}  (demo date {today.isoformat()})\n"
        f"Embedded FHIR server:   {demo.fhir_base}  ({loaded} example resources loaded)\n\n"
        "Order-sign for the Appendix A patient (FOLFIRI after FOLFOX progression):\n"
        f"  {curl}\n\n"
        "ChargeItems the service wrote:\n"
        f"  curl -s '{demo.fhir_base}/ChargeItem?subject=Patient/{DEMO_PATIENT}'\n\n"
        "Client JWT verification is OFF in this demo only. Ctrl-C stops everything.\n"
    )
    out.flush()


def _call_once(demo: Demo, out: TextIO) -> int:
    answer = requests.post(
        f"{demo.service_url}/cpoc-order-sign",
        data=demo.body_path.read_bytes(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    out.write(f"\norder-sign → HTTP {answer.status_code}\n")
    if answer.status_code != 200:
        out.write(answer.text + "\n")
        return 1
    for card in answer.json()["cards"]:
        out.write(f"  [{card['indicator']}] {card['summary']}\n")
    return 0
