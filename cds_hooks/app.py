"""Application factory for the CDS Hooks service (CDS Hooks 2.0.1).

``create_app()`` builds everything once — settings, knowledge, the evaluator, the JWT verifier,
the audit store — and registers the ``/cds-services`` blueprint. The blueprint's handlers read:
authenticate → parse → run the service → respond → audit.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask

from cds_hooks.blueprint import HookApp, blueprint
from cds_hooks.logs import configure_from_environ, wants_logging
from cds_hooks.probes import probes
from cds_hooks.record_cache import RecordCache
from cds_hooks.review import init_review
from cds_hooks.security import ClientVerifier
from cds_hooks.services import Runtime
from cds_hooks.settings import CdsSettings, ReviewSettings, load_cds_settings, load_review_settings
from cpoc_fhir.config import Config, load_config, load_payer
from cpoc_fhir.fhir.read import ReaderSettings
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.pathways.library import load_pathways
from cpoc_fhir.service import Evaluator
from cpoc_fhir.store import open_ledger
from cpoc_fhir.store.hooks import HookLog
from cpoc_fhir.store.pathways import PathwayLog

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app. ``config`` may carry ``CDS_SETTINGS`` (a ``CdsSettings``),
    ``CPOC_CONFIG`` (a ``cpoc_fhir.config.Config``), ``CLOCK`` (aware datetimes) and
    ``FHIR_CLIENTS`` / ``WRITE_CLIENT`` factories, ``REVIEW_SETTINGS`` (a ``ReviewSettings``)
    and ``REVIEW_CLOCK``; what is absent comes from the environment.
    """
    app = Flask(__name__)
    app.config.update(config or {})
    if wants_logging(os.environ):  # CPOC_LOG_LEVEL / CPOC_LOG_FORMAT (e.g. under gunicorn)
        configure_from_environ(os.environ)
    # Never render stack traces to callers; error handlers answer JSON (engineering.md).
    app.config.setdefault("PROPAGATE_EXCEPTIONS", False)
    settings: CdsSettings = app.config.get("CDS_SETTINGS") or load_cds_settings(os.environ)
    # Werkzeug stops reading a (chunked) body past this; the blueprint answers 413 in JSON.
    app.config.setdefault("MAX_CONTENT_LENGTH", settings.max_body_bytes)
    cpoc: Config = app.config.get("CPOC_CONFIG") or load_config()
    clock: Callable[[], datetime] = app.config.get("CLOCK") or _clock(settings)
    evaluator = Evaluator(
        load_knowledge(),
        cpoc.rules,
        load_payer(cpoc.payer_file, cpoc.payer_locality),
        ReaderSettings(),
        models=cpoc.models,
    )
    runtime_args: dict[str, Any] = {}
    if app.config.get("FHIR_CLIENTS"):
        runtime_args["clients"] = app.config["FHIR_CLIENTS"]
    # A pathway file that does not load stops the start: better than cards without pathways.
    pathways = load_pathways(evaluator.knowledge.regimens, cpoc.pathways_dir, cpoc.pathways_replace)
    runtime = Runtime(
        pathways=pathways,
        evaluator=evaluator,
        publish=cpoc.publish,
        settings=settings,
        now=clock,
        write_client=app.config.get("WRITE_CLIENT"),
        record_cache=RecordCache() if settings.record_cache else None,
        **runtime_args,
    )
    ledger = open_ledger(settings.store_url)
    hook_log = HookLog(ledger)
    verifier = (
        ClientVerifier(
            settings.trusted_issuers,
            hook_log.first_use,
            leeway_s=settings.jwt_leeway_s,
            session=app.config.get("JWKS_SESSION"),
        )
        if settings.auth_enabled
        else None
    )
    if verifier is None:
        log.warning("CDS client JWT verification is OFF (CPOC_CDS_AUTH=off)")
    app.extensions["cpoc"] = HookApp(runtime, hook_log, verifier, PathwayLog(ledger))
    app.register_blueprint(blueprint)
    app.register_blueprint(probes)  # /healthz, /readyz, /openapi.json: no client JWT
    review: ReviewSettings = app.config.get("REVIEW_SETTINGS") or load_review_settings(os.environ)
    init_review(app, ledger, review, app.config.get("REVIEW_CLOCK"))
    # The knowledge and models built above live as long as the worker: keep them out of the
    # garbage collector's full passes, which otherwise cost ~45 ms on one request in five
    # (measured with scripts/bench_hooks.py).
    gc.freeze()
    return app


def _clock(settings: CdsSettings) -> Callable[[], datetime]:
    zone = settings.timezone

    def now() -> datetime:
        return datetime.now(zone).astimezone(zone) if zone else datetime.now().astimezone()

    return now
