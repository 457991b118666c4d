"""Application factory for the CDS Hooks service (the services themselves come later)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app; ``config`` overrides the defaults (tests pass their own)."""
    app = Flask(__name__)
    app.config.update(config or {})

    @app.get("/cds-services")
    def discovery() -> Any:
        # CDS Hooks 2.0.1 §Discovery: an empty list until the services are registered.
        return jsonify({"services": []})

    return app
