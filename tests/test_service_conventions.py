"""Service conventions (issue 17 item 7): the version everywhere it is shown, ``/healthz`` and
``/readyz``, ``/openapi.json`` checked against the live app, and the logs (``CPOC_LOG_LEVEL``,
``CPOC_LOG_FORMAT=json``: the call's hookInstance, never a token or the patient's name).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from cds_support import clock_at, full_prefetch, hook_body
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jwt.algorithms import ECAlgorithm
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import create_engine
from test_cds_auth_http import EC_KID, ISS, PID, _example, es384, sign_body

import cpoc_fhir
from cds_hooks.app import create_app
from cds_hooks.embedded_fhir import free_port
from cds_hooks.json_logs import redact
from cds_hooks.logs import QuietProbes, configure_logging, load_log_settings
from cds_hooks.services import BY_ID, CdsService, HookResult
from cds_hooks.services.base import VERSION_EXTENSION
from cds_hooks.settings import CdsSettings
from cpoc_fhir.errors import InputError

REPO = Path(__file__).resolve().parents[1]
BASE = "http://localhost"
HOOK_INSTANCE = "3f2c7a8e-6a49-4d1b-9a57-0c1e6f1b2d44"
# Planted in the request: none of them may reach a log line.
PLANTED_NAME = "Zebulon Plantedname"
PLANTED_MRN = "MRN-PLANTED-7731"


# --- apps -----------------------------------------------------------------------------------
def _app(tmp_path: Path, **settings: Any) -> Flask:
    settings.setdefault("auth_enabled", False)
    settings.setdefault("store_url", f"sqlite:///{tmp_path}/conventions.sqlite")
    settings.setdefault("base_url", BASE)
    config = {"CDS_SETTINGS": CdsSettings(**settings), "CLOCK": clock_at("2025-11-10")}
    return create_app({**config, "TESTING": True})


def _jwks(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": EC_KID, "alg": "ES384", "use": "sig"}]}


@pytest.fixture
def keys_file(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(_jwks(ec_key)), encoding="utf-8")
    return path


@pytest.fixture
def secured(tmp_path: Path, keys_file: Path) -> Flask:
    """Client JWT verification on, the issuer's keys pinned from a file."""
    return _app(tmp_path, auth_enabled=True, trusted_issuers={ISS: str(keys_file)})


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The service's JSON logs at DEBUG into a buffer; the root logger restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    configure_logging(stream, logging.DEBUG, "json")
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.NOTSET)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _planted_sign_body() -> dict[str, Any]:
    """The order-sign of test_cds_auth_http with a planted name and MRN on the patient."""
    body = sign_body()
    body["hookInstance"] = HOOK_INSTANCE
    patient = body["prefetch"]["patient"]
    patient["name"] = [{"text": PLANTED_NAME, "family": "Plantedname", "given": ["Zebulon"]}]
    patient["identifier"] = [{"system": "http://example.org/mrn", "value": PLANTED_MRN}]
    return body


# --- version --------------------------------------------------------------------------------
def test_the_version_has_one_source_the_package() -> None:
    # pyproject reads the version from cpoc_fhir.__version__ (setuptools' attr: parsed, not
    # imported), so the wheel's metadata, `cpoc --version`, /about and discovery agree.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "cpoc_fhir.__version__"}
    assert cpoc_fhir.__version__.count(".") == 2


def test_cpoc_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from cpoc_fhir.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"cpoc {cpoc_fhir.__version__}\n"


def test_top_level_help_is_the_full_parsers_help(capsys: pytest.CaptureFixture[str]) -> None:
    # `cpoc --help` is answered by the light parser (subcommands named from COMMANDS): its
    # text must be exactly what the full parser, with every subcommand's module, prints.
    from cpoc_fhir.cli import build_parser, main

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == build_parser().format_help()


@pytest.mark.parametrize(
    ("argv", "light"),
    [
        (["--version"], True),
        (["-h"], True),
        (["--config", "x.toml", "--help"], True),
        (["--config=x.toml", "--version"], True),
        (["timeline", "--help"], False),  # a subcommand's help needs its options
        (["--config", "--version"], False),  # "--version" is the value of --config here
        ([], False),
    ],
)
def test_which_arguments_the_light_parser_answers(argv: list[str], light: bool) -> None:
    from cpoc_fhir.cli import _asks_top_level_only

    assert _asks_top_level_only(argv) is light


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_subcommand_module(flag: str) -> None:
    # Measured with `python -X importtime`: 1.3-1.5 s went to importing the store
    # (SQLAlchemy, Alembic), fhir.resources, the capture and report modules. Now none is.
    code = (
        "import json, sys\n"
        "from cpoc_fhir.cli import main\n"
        "try:\n"
        f"    main([{flag!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stderr))
    assert "cpoc_fhir.cli" in modules and "argparse" in modules
    heavy = ("sqlalchemy", "alembic", "fhir", "flask", "requests", "jinja2", "cds_hooks")
    ours = {m for m in modules if m.startswith("cpoc_fhir")}
    assert ours == {"cpoc_fhir", "cpoc_fhir.cli", "cpoc_fhir.bundled", "cpoc_fhir.errors"}
    assert not {m for m in modules if m.split(".")[0] in heavy}


def test_discovery_and_about_show_the_version(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    services = client.get("/cds-services").get_json()["services"]
    assert len(services) == 3
    for service in services:
        # Spec §Extensions: an object, members in reverse-domain notation.
        assert service["extension"] == {VERSION_EXTENSION: cpoc_fhir.__version__}
    about = client.get("/about")
    assert about.status_code == 200
    assert f"<code id=version>{cpoc_fhir.__version__}</code>" in about.get_data(as_text=True)


# --- probes ---------------------------------------------------------------------------------
def test_healthz_answers_ok_without_a_token(secured: Flask) -> None:
    response = secured.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_with_verification_off_checks_the_store_only(tmp_path: Path) -> None:
    response = _app(tmp_path).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"store": "ok", "trustedIssuerKeys": "off"},
    }


def test_readyz_is_503_when_the_store_does_not_answer(tmp_path: Path) -> None:
    app = _app(tmp_path)
    # The store's database becomes unreachable: a SQLite file in a folder that does not exist.
    missing = tmp_path / "gone" / "store.sqlite"
    app.extensions["cpoc"].log.ledger.engine = create_engine(f"sqlite:///{missing}")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "not-ready",
        "checks": {"store": "failed", "trustedIssuerKeys": "off"},
        "failed": ["store"],
    }
    assert str(tmp_path) not in response.get_data(as_text=True)


def test_readyz_with_pinned_keys_follows_the_keys_file(tmp_path: Path, keys_file: Path) -> None:
    # The issuer's pinned file is missing at start: not ready; once written: ready (the file
    # is re-read when it changes), without any token sent to the probe.
    jwks = keys_file.read_text(encoding="utf-8")
    keys_file.unlink()
    app = _app(tmp_path, auth_enabled=True, trusted_issuers={ISS: str(keys_file)})
    client = app.test_client()
    first = client.get("/readyz")
    assert first.status_code == 503
    assert first.get_json() == {
        "status": "not-ready",
        "checks": {"store": "ok", "trustedIssuerKeys": "failed"},
        "issuersWithoutKeys": 1,
        "failed": ["trustedIssuerKeys"],
    }
    # Neither the issuer nor where its keys live is told to an unauthenticated caller.
    assert ISS not in first.get_data(as_text=True)
    assert str(keys_file) not in first.get_data(as_text=True)
    keys_file.write_text(jwks, encoding="utf-8")
    second = client.get("/readyz")
    assert second.status_code == 200
    assert second.get_json()["checks"] == {"store": "ok", "trustedIssuerKeys": "ok"}


@responses.activate
def test_readyz_fetches_a_jwks_url_and_names_no_url(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # Two issuers by URL: one's JWKS answers, the other's fails (HTTP 500): not ready, one
    # issuer without keys. The URL carries a credential that must not be repeated.
    good, bad = "https://ehr-a.example/jwks.json", "https://user:s3cret@ehr-b.example/jwks"
    responses.get(good, json=_jwks(ec_key))
    responses.get("https://ehr-b.example/jwks", status=500)
    issuers = {"https://ehr-a.example/": good, "https://ehr-b.example/": bad}
    response = _app(tmp_path, auth_enabled=True, trusted_issuers=issuers).test_client()
    answer = response.get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["checks"]["trustedIssuerKeys"] == "failed"
    assert body["issuersWithoutKeys"] == 1
    text = answer.get_data(as_text=True)
    assert "s3cret" not in text and "ehr-a" not in text and "ehr-b" not in text
    # Both URLs were asked once; a second probe within the refetch interval asks nobody.
    assert len(responses.calls) == 2
    assert response.get("/readyz").status_code == 503
    assert len(responses.calls) == 2


# --- OpenAPI --------------------------------------------------------------------------------
def _schema(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one of the document's schemas, its $refs resolved in the document."""
    return Draft202012Validator({**schema, "components": document["components"]})


def _request_for(hook: str) -> dict[str, Any]:
    """A real request of each hook for the Appendix A patient (record as bundled)."""
    if hook == "order-sign":
        return sign_body()
    prefetch = full_prefetch(_example(), PID)
    if hook == "order-select":
        body = sign_body()
        body["hook"] = "order-select"
        body["context"]["selections"] = ["MedicationRequest/draft-irinotecan"]
        return body
    return hook_body(hook, PID, prefetch=prefetch)


FEEDBACK = {
    "feedback": [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "outcomeTimestamp": "2025-11-10T15:04:05Z",
        }
    ]
}


def test_openapi_is_valid_and_every_path_answers_as_documented(
    secured: Flask, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    client = secured.test_client()
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate_openapi(document)  # OpenAPI 3.1 meta-schema and its references
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == cpoc_fhir.__version__
    assert document["servers"] == [{"url": BASE}]
    # Every service of discovery has its hook and feedback paths.
    discovery = client.get("/cds-services").get_json()["services"]
    for service in discovery:
        assert f"/cds-services/{service['id']}" in document["paths"]
        assert f"/cds-services/{service['id']}/feedback" in document["paths"]
    hooks = {f"/cds-services/{s['id']}": s["hook"] for s in discovery}
    # The description and the live url_map name the same routes with the same methods (the
    # review app's included; static files aside), so a route added without a description
    # (or a described one removed) fails here.
    described = {
        path: sorted(method.upper() for method in operations)
        for path, operations in document["paths"].items()
    }
    assert described == _routes(secured, [service["id"] for service in discovery])
    answered = []
    for path, operations in document["paths"].items():
        if path.startswith("/review"):
            continue  # browser routes: answered below (signed-in: test_review_openapi.py)
        for method, operation in operations.items():
            headers: dict[str, str] = {}
            body: dict[str, Any] | None = None
            if method == "post":
                audience = BASE + path
                headers["Authorization"] = f"Bearer {es384(ec_key, aud=audience)}"
                body = _request_for(hooks[path]) if path in hooks else copy.deepcopy(FEEDBACK)
                request_schema = operation["requestBody"]["content"]["application/json"]
                _schema(document, request_schema["schema"]).validate(body)
                assert operation["security"] == [{"cdsClientJwt": []}]
                assert "401" in operation["responses"]
            answer = client.open(path, method=method.upper(), json=body, headers=headers)
            assert answer.status_code == 200, (path, answer.get_data(as_text=True))
            documented = operation["responses"]["200"]["content"]
            assert answer.mimetype in documented, (path, answer.mimetype)
            if answer.mimetype == "application/json":
                schema = documented["application/json"]["schema"]
                _schema(document, schema).validate(answer.get_json())
            answered.append((method, path))
    # 3 services x (hook, feedback) + discovery, about, healthz, readyz, openapi.json.
    assert len(answered) == 11
    # The review routes without a session: each answers a documented status and type (401
    # "session ended" behind the session; launch 503: the app is not set up here; callback
    # 400: no state; POSTs 403: no CSRF token).
    review = [(p, m, o) for p, ops in document["paths"].items() for m, o in ops.items()]
    review = [(p, m, o) for p, m, o in review if p.startswith("/review")]
    assert len(review) == 14
    for path, method, operation in review:
        url = path.format(patient_id=PID, resource_type="ChargeItem", resource_id="x")
        answer = client.open(url, method=method.upper())
        documented = operation["responses"].get(str(answer.status_code))
        assert documented is not None, (path, answer.status_code)
        assert answer.mimetype in documented.get("content", {"": None}), (path, answer.mimetype)
        if "security" in operation and method == "get":
            assert answer.status_code == 401, path
    # Cards came back (the schema check above ran on real cards, not on an empty list).
    sign = client.post(
        "/cds-services/cpoc-order-sign",
        json=sign_body(),
        headers={"Authorization": f"Bearer {es384(ec_key)}"},
    )
    assert sign.get_json()["cards"]


def _routes(app: Flask, service_ids: list[str]) -> dict[str, list[str]]:
    """The app's rules as OpenAPI paths (``<name>`` → ``{name}``; ``<service_id>`` is one path
    per discovered service, as the description has it) with their methods; the static file
    routes left out (files, not operations)."""
    routes: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        methods = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        for each in (
            [path.format(service_id=i) for i in service_ids] if "{service_id}" in path else [path]
        ):
            routes[each] = sorted({*routes.get(each, []), *methods})
    return routes


def test_openapi_without_verification_asks_for_no_token(tmp_path: Path) -> None:
    document = _app(tmp_path).test_client().get("/openapi.json").get_json()
    validate_openapi(document)
    operation = document["paths"]["/cds-services/cpoc-order-sign"]["post"]
    assert "security" not in operation and "401" not in operation["responses"]


def test_a_service_added_to_the_registry_is_discovered_described_and_answers(
    tmp_path: Path,
) -> None:
    # The document is built from the app's registry (the one dispatch uses), not a copy.
    app = _app(tmp_path)
    extra = CdsService(
        id="cpoc-extra-view",
        hook="patient-view",
        title="An extra service",
        description="Answers no cards.",
        handler=lambda runtime, request, source: HookResult(),
    )
    app.extensions["cpoc"].services[extra.id] = extra
    client = app.test_client()
    ids = [s["id"] for s in client.get("/cds-services").get_json()["services"]]
    assert ids == [*BY_ID, "cpoc-extra-view"]
    document = client.get("/openapi.json").get_json()
    validate_openapi(document)
    operation = document["paths"]["/cds-services/cpoc-extra-view"]["post"]
    assert operation["summary"] == "An extra service"
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    assert request == {"$ref": "#/components/schemas/PatientViewRequest"}
    body = hook_body("patient-view", PID, prefetch=full_prefetch(_example(), PID))
    _schema(document, request).validate(body)
    answer = client.post("/cds-services/cpoc-extra-view", json=body)
    assert answer.status_code == 200 and answer.get_json() == {"cards": []}


def test_the_request_schema_refuses_what_the_hook_definition_requires(tmp_path: Path) -> None:
    # order-sign's context requires draftOrders; the hook must be the service's.
    document = _app(tmp_path).test_client().get("/openapi.json").get_json()
    validator = _schema(document, {"$ref": "#/components/schemas/OrderSignRequest"})
    body = sign_body()
    assert validator.is_valid(body)
    no_drafts = copy.deepcopy(body)
    del no_drafts["context"]["draftOrders"]
    assert not validator.is_valid(no_drafts)
    assert not validator.is_valid({**body, "hook": "patient-view"})
    assert not validator.is_valid({k: v for k, v in body.items() if k != "hookInstance"})


# --- logs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("environ", "level", "fmt"),
    [
        ({}, logging.INFO, "plain"),
        ({"CPOC_LOG_LEVEL": "debug", "CPOC_LOG_FORMAT": "JSON"}, logging.DEBUG, "json"),
        ({"CPOC_LOG_LEVEL": " WARNING "}, logging.WARNING, "plain"),
        ({"CPOC_LOG_LEVEL": "ERROR", "CPOC_LOG_FORMAT": "plain"}, logging.ERROR, "plain"),
    ],
)
def test_log_settings_from_the_environment(environ: dict[str, str], level: int, fmt: str) -> None:
    settings = load_log_settings(environ)
    assert (settings.level, settings.format) == (level, fmt)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"CPOC_LOG_LEVEL": "LOUD"}, "CPOC_LOG_LEVEL"),
        ({"CPOC_LOG_LEVEL": "CRITICAL"}, "CPOC_LOG_LEVEL"),
        ({"CPOC_LOG_FORMAT": "xml"}, "CPOC_LOG_FORMAT"),
    ],
)
def test_a_bad_log_setting_is_an_error_naming_it(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(InputError, match=f"^{variable}: expected "):
        load_log_settings(environ)


def test_a_bad_log_level_stops_cpoc_serve_with_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CPOC_CDS_AUTH": "off",
        "CPOC_STORE_URL": f"sqlite:///{tmp_path}/s.sqlite",
        "CPOC_LOG_LEVEL": "LOUD",
    }
    code = "from cpoc_fhir.cli import main; raise SystemExit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "serve", "--port", "0"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("cpoc: CPOC_LOG_LEVEL: expected one of DEBUG, INFO, WARNING")
    assert "Traceback" not in done.stderr


def test_cpoc_serve_logs_json_and_leaves_out_answered_probes(tmp_path: Path) -> None:
    # The real server on 127.0.0.1: the probes answer over HTTP; its access lines are JSON,
    # and the kubelet's answered probes leave none (a failed probe would).
    port = free_port()
    env = {
        **os.environ,
        "CPOC_CDS_AUTH": "off",
        "CPOC_STORE_URL": f"sqlite:///{tmp_path}/s.sqlite",
        "CPOC_LOG_FORMAT": "json",
        "CPOC_LOG_LEVEL": "INFO",
    }
    code = "from cpoc_fhir.cli import main; raise SystemExit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "cpoc serve did not start"
                time.sleep(0.1)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
        document = requests.get(f"{base}/openapi.json", timeout=10).json()
        assert document["servers"] == [{"url": base}]
        assert requests.get(f"{base}/cds-services", timeout=10).status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    access = [line["message"] for line in lines if line["logger"] == "werkzeug"]
    assert any('"GET /cds-services HTTP/1.1" 200' in m for m in access), access
    assert any('"GET /openapi.json HTTP/1.1" 200' in m for m in access), access
    assert not [m for m in access if "/healthz" in m or "/readyz" in m]
    assert any(
        line["level"] == "WARNING" and "verification is OFF" in line["message"] for line in lines
    )


def test_create_app_configures_json_logs_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_stream: io.StringIO
) -> None:
    # Under gunicorn nothing but create_app() runs: it reads the two variables itself.
    monkeypatch.setenv("CPOC_LOG_FORMAT", "json")
    monkeypatch.setenv("CPOC_LOG_LEVEL", "WARNING")
    _app(tmp_path)  # warns that verification is off
    root = logging.getLogger()
    assert root.level == logging.WARNING
    ours = [h for h in root.handlers if getattr(h, "_cpoc", False)]
    assert len(ours) == 1 and type(ours[0].formatter).__name__ == "JsonFormatter"
    monkeypatch.setenv("CPOC_LOG_LEVEL", "LOUD")
    with pytest.raises(InputError, match="CPOC_LOG_LEVEL"):
        _app(tmp_path)


def test_json_logs_carry_the_hook_instance_and_no_token_or_name(
    secured: Flask, ec_key: ec.EllipticCurvePrivateKey, log_stream: io.StringIO
) -> None:
    token = es384(ec_key)
    broken = {**BY_ID["cpoc-order-sign"].__dict__}

    def failing(runtime: Any, request: Any, source: Any) -> HookResult:
        logging.getLogger("cds_hooks.test").info(
            "reading patient %s, header %s", request.patient_id, f"Bearer {token}"
        )
        raise RuntimeError(f"cannot bill {PLANTED_NAME} {PLANTED_MRN}")

    broken["handler"] = failing
    secured.extensions["cpoc"].services["cpoc-order-sign"] = CdsService(**broken)
    client = secured.test_client()
    answer = client.post(
        "/cds-services/cpoc-order-sign",
        json=_planted_sign_body(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 500
    logging.getLogger("cds_hooks.test").info("after the call")
    text = log_stream.getvalue()
    assert token not in text and token.split(".")[2] not in text
    assert PLANTED_NAME not in text and "Zebulon" not in text and PLANTED_MRN not in text
    lines = _lines(log_stream)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
        assert line["time"].endswith("Z")
    ours = [line for line in lines if line["logger"] == "cds_hooks.test"]
    assert ours[0]["message"] == f"reading patient {PID}, header Bearer [redacted]"
    assert ours[0]["hookInstance"] == HOOK_INSTANCE
    assert (ours[0]["service"], ours[0]["hook"]) == ("cpoc-order-sign", "order-sign")
    assert ours[0]["level"] == "INFO"
    # Outside the request: no call to name.
    assert ours[1] == {k: ours[1][k] for k in ("time", "level", "logger", "message")}
    failure = next(line for line in lines if line["level"] == "ERROR")
    assert failure["logger"] == "cds_hooks.blueprint"
    assert (
        failure["message"] == f"CDS service cpoc-order-sign failed (hookInstance {HOOK_INSTANCE})"
    )
    assert failure["hookInstance"] == HOOK_INSTANCE
    # The exception by type and frames only: its message quoted the patient.
    assert failure["exception"]["type"] == "builtins.RuntimeError"
    assert any(frame.endswith(" in failing") for frame in failure["exception"]["frames"])


def test_a_real_call_logged_at_debug_names_no_patient(
    secured: Flask, ec_key: ec.EllipticCurvePrivateKey, log_stream: io.StringIO
) -> None:
    client = secured.test_client()
    token = es384(ec_key)
    answer = client.post(
        "/cds-services/cpoc-order-sign",
        json=_planted_sign_body(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200 and answer.get_json()["cards"]
    # A refused token: the 401 path logs nothing of it either.
    refused = client.post(
        "/cds-services/cpoc-order-sign",
        json=_planted_sign_body(),
        headers={"Authorization": f"Bearer {es384(ec_key, aud='https://elsewhere.example/')}"},
    )
    assert refused.status_code == 401
    text = log_stream.getvalue()
    for planted in (PLANTED_NAME, "Zebulon", PLANTED_MRN, token, token.split(".")[1]):
        assert planted not in text
    assert all(isinstance(line, dict) for line in _lines(log_stream))


def test_a_hook_instance_that_is_no_identifier_is_not_logged(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    app = _app(tmp_path)

    def noisy(runtime: Any, request: Any, source: Any) -> HookResult:
        logging.getLogger("cds_hooks.test").warning("handled")
        return HookResult()

    app.extensions["cpoc"].services["cpoc-order-sign"] = CdsService(
        **{**BY_ID["cpoc-order-sign"].__dict__, "handler": noisy}
    )
    body = sign_body()
    body["hookInstance"] = f"{PLANTED_NAME} born 1961-05-14"
    assert app.test_client().post("/cds-services/cpoc-order-sign", json=body).status_code == 200
    line = next(x for x in _lines(log_stream) if x["logger"] == "cds_hooks.test")
    assert "hookInstance" not in line and line["service"] == "cpoc-order-sign"
    assert PLANTED_NAME not in log_stream.getvalue()


_TOKEN_CHARS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8
)


@given(_TOKEN_CHARS, _TOKEN_CHARS, _TOKEN_CHARS, st.sampled_from(["Bearer ", "bearer  ", ""]))
def test_redact_masks_every_jwt_and_bearer_token(a: str, b: str, c: str, prefix: str) -> None:
    jwt_like = f"eyJ{a}.{b}.{c}"
    text = redact(f"call with {prefix}{jwt_like}; header Bearer {a}{c} end")
    assert jwt_like not in text and f"{a}{c}" not in text
    assert text.startswith("call with ") and text.endswith(" end")


def test_redact_masks_secret_fields_and_keeps_the_rest() -> None:
    text = redact('{"access_token": "abc.def", "client_secret":"xyz", "scope": "patient/*.rs"}')
    assert (
        text == '{"access_token": [redacted], "client_secret":[redacted], "scope": "patient/*.rs"}'
    )


@pytest.mark.parametrize(
    ("name", "message", "kept"),
    [
        ("werkzeug", '127.0.0.1 - - [x] "GET /healthz HTTP/1.1" 200 -', False),
        ("werkzeug", '127.0.0.1 - - [x] "GET /readyz HTTP/1.1" 200 -', False),
        ("werkzeug", '127.0.0.1 - - [x] "GET /readyz HTTP/1.1" 503 -', True),  # not ready
        ("werkzeug", '127.0.0.1 - - [x] "GET /healthzz HTTP/1.1" 200 -', True),
        ("werkzeug", '127.0.0.1 - - [x] "POST /cds-services/x HTTP/1.1" 200 -', True),
        ("cds_hooks.probes", '"GET /readyz HTTP/1.1" 200 ', True),  # not an access line
    ],
)
def test_only_answered_probes_leave_the_access_log(name: str, message: str, kept: bool) -> None:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)
    assert QuietProbes().filter(record) is kept


def test_redact_leaves_ordinary_words_after_bearer() -> None:
    assert redact("the bearer of the order") == "the bearer of the order"
    assert redact("Authorization: Bearer abcdefgh1234") == "Authorization: Bearer [redacted]"
