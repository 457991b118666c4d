"""The SMART on FHIR review app: a blueprint at ``/review`` launched from the EHR.

``init_review(app, ledger, settings)`` builds its state (sessions in the ledger's database,
an HTTP session for the authorization servers) and registers the blueprint. The pages and
actions modules, when present, add their views to the blueprint before it is registered;
the routes they have not (yet) added answer with a placeholder page.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from flask import Flask
from werkzeug.wrappers import Response

from cds_hooks.review.sessions import (
    NoSession,
    ReviewApp,
    ReviewSession,
    SessionStore,
    TokenCipher,
    current_session,
)
from cds_hooks.settings import ReviewSettings
from cpoc_fhir.store.ledger import Ledger

log = logging.getLogger(__name__)

__all__ = ["NoSession", "ReviewApp", "ReviewSession", "current_session", "init_review"]

_VIEW_MODULES = (
    "cds_hooks.review.views",
    "cds_hooks.review.evidence",
    "cds_hooks.review.dashboard",
    "cds_hooks.review.dashboard_more",
    "cds_hooks.review.export_views",
)
# (rule, endpoint, methods) the pages and actions modules are expected to provide.
_PLACEHOLDERS = (
    ("/review/patient/<patient_id>", "patient", ("GET",)),
    ("/review/queue", "queue", ("GET",)),
    ("/review/actions", "actions", ("POST",)),
)


def init_review(
    app: Flask,
    ledger: Ledger,
    settings: ReviewSettings,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Register the review blueprint on ``app`` with its sessions kept in ``ledger``."""
    from cds_hooks.review import smart
    from cds_hooks.review.blueprint import blueprint

    now = clock or _utc_now
    if settings.enabled and not settings.secret_key:
        log.warning(
            "CPOC_REVIEW_SECRET_KEY is not set: review sessions end on restart and are not "
            "shared between workers"
        )
    store = SessionStore(ledger, TokenCipher(settings.secret_key), settings, now, smart.can_write)
    app.extensions["cpoc_review"] = ReviewApp(settings, store, requests.Session(), now)
    for name in _VIEW_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    app.register_blueprint(blueprint)
    for rule, endpoint, methods in _PLACEHOLDERS:
        if f"review.{endpoint}" not in app.view_functions:
            app.add_url_rule(rule, f"review.{endpoint}", _placeholder, methods=list(methods))


def _placeholder(**_args: str) -> Response:
    """A page not built yet: the session is checked, nothing is shown."""
    from cds_hooks.review.blueprint import page

    current_session()
    return page("placeholder.html")


def _utc_now() -> datetime:
    return datetime.now(UTC)
