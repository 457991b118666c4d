"""``cpoc serve`` and ``cpoc demo``: the CDS Hooks service on 127.0.0.1.

The demo is the product's main job on embedded defaults: an embedded FHIR server (sekmet-fhir,
SQLite) loaded with the bundled example patients, the CDS service reading from and writing
ChargeItems to it, a SQLite audit store, and a ready ``curl`` for an order-sign. Client JWT
verification is off in the demo only (it says so); ``cpoc serve`` keeps it on unless
``CPOC_CDS_AUTH=off``.

Ctrl-C (SIGINT) and SIGTERM stop everything: the embedded FHIR server is a child process and
is stopped by the same ``with`` that started it, whichever signal ends the demo. A port in use
is an ``EnvironmentProblem`` (exit 2), found before anything starts.
"""

from __future__ import annotations

import errno
import json
import shlex
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from cds_hooks.app import create_app
from cds_hooks.embedded_fhir import free_port, load_resources, running_sekmet
from cds_hooks.settings import CdsSettings, WriteTarget
from cpoc_fhir.bundled import bundled_examples
from cpoc_fhir.errors import CpocError
from cpoc_fhir.fhir.read.observations import DISEASE_STATUS

# The example patients' records run to November 2025: the demo's "today" sits inside them.
DEMO_TODAY = date(2025, 11, 10)
DEMO_PATIENT = "appendix-a-folfox"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# FOLFIRI for Appendix A's patient (irinotecan, leucovorin, 5-FU), ordered during the
# surveillance that follows her adjuvant FOLFOX: the banner says what her record says.
FOLFIRI = (("51499", "irinotecan"), ("6313", "leucovorin"), ("4492", "fluorouracil"))


class EnvironmentProblem(CpocError):
    """The machine cannot run the server as asked (a port in use): exit 2, one line."""


class Stopped(Exception):
    """SIGTERM arrived: unwind every ``with`` (servers, the embedded FHIR server)."""


def serve(host: str, port: int, out: TextIO) -> int:
    """Run the service from the environment's settings until Ctrl-C or SIGTERM."""
    with _stopped_by_signals():
        _check_port(host, port)
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
    """Start sekmet, load the examples, serve the hooks until Ctrl-C or SIGTERM; ``once``:
    call order-sign, print the cards, stop everything and exit."""
    code = 0
    with _stopped_by_signals():
        _check_port("127.0.0.1", port)
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
                story = _story(resources, today)
                if once:
                    _explain_once(demo, len(resources), today, story, out)
                    code = _call_once(demo, out)
                else:
                    _explain(demo, len(resources), today, story, out)
                    _forever(server)
    out.write("\nStopped the CDS service and the embedded FHIR server.\n")
    out.flush()
    return code


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


def _story(resources: list[dict[str, Any]], today: date) -> str:
    """What the order-sign is, with the patient's disease status as her record gives it on
    ``today`` (the latest disease-status Observation, mCODE), so the banner cannot drift."""
    subject = f"Patient/{DEMO_PATIENT}"
    statuses = sorted(
        (str(r.get("effectiveDateTime", ""))[:10], r)
        for r in resources
        if r.get("resourceType") == "Observation"
        and (r.get("subject") or {}).get("reference") == subject
        and DISEASE_STATUS & {c.get("code") for c in (r.get("code") or {}).get("coding") or []}
        and str(r.get("effectiveDateTime", ""))[:10] <= today.isoformat()
    )
    drugs = ", ".join(name for _, name in FOLFIRI)
    if not statuses:
        return f"FOLFIRI ({drugs})"
    on, latest = statuses[-1][0], statuses[-1][1]
    codings = (latest.get("valueCodeableConcept") or {}).get("coding") or [{}]
    shown = str(codings[0].get("display") or codings[0].get("code") or "recorded")
    shown = shown.split(" (", 1)[0].lower()  # "Not detected (qualifier value)" → not detected
    return (
        f"FOLFIRI ({drugs}) during surveillance after adjuvant FOLFOX; "
        f"disease status on record: {shown} ({on})"
    )


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
    try:
        server = make_server(host, port or free_port(), app, threaded=True)
    except OSError as exc:
        raise _port_problem(host, port, exc) from None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _check_port(host: str, port: int) -> None:
    """Refuse a port already in use before starting anything (the embedded FHIR server
    takes seconds to start, and would be stopped again at once)."""
    if not port:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As werkzeug binds: SO_REUSEADDR, so a port left in TIME_WAIT is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _port_problem(host, port, exc) from None


def _port_problem(host: str, port: int, exc: OSError) -> EnvironmentProblem:
    if exc.errno == errno.EADDRINUSE:
        return EnvironmentProblem(
            f"port {port} on {host} is already in use (another cpoc serve or demo?): stop "
            "that, or choose another with --port (0: any free port)"
        )
    if exc.errno == errno.EACCES:
        return EnvironmentProblem(f"port {port} on {host}: permission denied (ports < 1024?)")
    return EnvironmentProblem(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Ctrl-C (KeyboardInterrupt) and SIGTERM (``Stopped``, raised in the main thread) end
    the block quietly, after every ``with`` inside it has stopped what it started, at any
    moment (starting, loading, serving). The previous SIGTERM handler is put back after.
    In another thread (tests) only the main thread may set handlers: SIGTERM keeps its own."""
    main = threading.current_thread() is threading.main_thread()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise Stopped()

    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    except (Stopped, KeyboardInterrupt):
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _forever(server: BaseWSGIServer) -> None:
    """Until Ctrl-C or SIGTERM (the server thread serves; the caller's context stops it)."""
    threading.Event().wait()


def _explain(demo: Demo, loaded: int, today: date, story: str, out: TextIO) -> None:
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
        f"Order-sign for the Appendix A patient: {story}:\n"
        f"  {curl}\n\n"
        "ChargeItems the service wrote:\n"
        f"  curl -s '{demo.fhir_base}/ChargeItem?subject=Patient/{DEMO_PATIENT}'\n\n"
        "Client JWT verification is OFF in this demo only. Ctrl-C stops everything.\n"
    )
    out.flush()


def _explain_once(demo: Demo, loaded: int, today: date, story: str, out: TextIO) -> None:
    """``--once``: what is called; no curls nor Ctrl-C, the servers stop right after."""
    out.write(
        f"\nCPOC CDS Hooks service: {demo.service_url}  (demo date {today.isoformat()})\n"
        f"Embedded FHIR server:   {demo.fhir_base}  ({loaded} example resources loaded)\n\n"
        f"Calling order-sign once for the Appendix A patient: {story}\n"
        f"(the request: {demo.body_path}; client JWT verification is OFF in this demo only)\n"
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
