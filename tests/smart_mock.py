"""A mock SMART on FHIR authorization server for the review app's tests, built on Authlib.

A small Flask app run in a thread on 127.0.0.1 (a free port): ``{iss}/.well-known/
smart-configuration``, ``/authorize`` (approves at once, for the launch's patient and user;
``deny_scopes`` takes scopes out of the grant, ``deny_all`` answers access_denied),
``/token`` (authorization code with PKCE S256 required, refresh token with rotation; the
client authenticates with client_secret_basic) and a token-checking FHIR read at
``{iss}/Patient/<id>``. ``iss`` is ``{root}/fhir``. What the app sent is kept in
``authorize_requests``, ``token_requests`` and ``fhir_requests`` for assertions.

    with running_smart_mock() as smart:
        smart.launches["L1"] = {"patient": "p1", "fhirUser": "Practitioner/d1"}
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from cds_hooks.embedded_fhir import free_port

# The mock runs over plain http on 127.0.0.1; Authlib refuses that unless told it is a test.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

CLIENT_ID = "cpoc-review-test"
CLIENT_SECRET = "s3cret:with/odd chars"


@dataclass
class MockUser:
    """Who approved, with the launch context the token response carries."""

    patient: str | None
    fhir_user: str

    def get_user_id(self) -> str:
        return self.fhir_user


@dataclass
class MockClient(ClientMixin):  # type: ignore[misc]
    mock: SmartMock

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        asked = (scope or "").split()
        return " ".join(s for s in asked if s not in self.mock.deny_scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return not self.mock.redirect_uris or redirect_uri in self.mock.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code:
    code: str
    redirect_uri: str
    scope: str
    user: MockUser
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    access_token: str
    refresh_token: str | None
    scope: str
    user: MockUser
    expires_at: float
    revoked: bool = False

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == CLIENT_ID)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return False  # a refresh token lives until revoked

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> MockUser:
        return self.user

    def get_client(self) -> None:
        return None


@dataclass
class SmartMock:
    """The server's state and switches; ``root`` and ``iss`` are set when it runs."""

    root: str = ""
    launches: dict[str, dict[str, str]] = field(default_factory=dict)
    redirect_uris: list[str] = field(default_factory=list)
    deny_scopes: set[str] = field(default_factory=set)
    deny_all: bool = False
    refresh_fails: bool = False
    expires_in: int = 3600
    fhir_user: str = "Practitioner/dr-1"
    upstream: str = ""  # a FHIR server ``{iss}/…`` forwards to (token checked), e.g. sekmet
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    fhir_requests: list[str] = field(default_factory=list)  # "METHOD path" the FHIR API got
    refuse_types: set[str] = field(default_factory=set)  # searches of these answered 403

    @property
    def iss(self) -> str:
        return f"{self.root}/fhir"

    def approve(self, authorize_url: str) -> str:
        """The callback URL the server redirects the browser to for ``authorize_url``."""
        response = requests.get(authorize_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return str(response.headers["Location"])

    def current_access_tokens(self) -> list[str]:
        return [t.access_token for t in self.tokens.values() if not t.revoked]


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]  # noqa: RUF012

    def save_authorization_code(self, code: str, req: Any) -> None:
        mock: SmartMock = req.client.mock
        data = req.payload.data
        mock.codes[code] = Code(
            code,
            req.payload.redirect_uri,
            req.scope,
            req.user,
            data.get("code_challenge"),
            data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: MockClient) -> Code | None:
        return client.mock.codes.get(code)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.request.client.mock.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> MockUser:
        return authorization_code.user


class _RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        mock: SmartMock = self.server.mock
        if mock.refresh_fails:
            return None
        for token in mock.tokens.values():
            if token.refresh_token == refresh_token and not token.revoked:
                return token
        return None

    def authenticate_user(self, credential: Token) -> MockUser:
        return credential.user

    def revoke_old_credential(self, credential: Token) -> None:
        credential.revoked = True


def create_mock_app(mock: SmartMock) -> Flask:
    """The mock's Flask app."""
    app = Flask("smart_mock")
    server = AuthorizationServer(app, query_client=lambda cid: _client(mock, cid))
    server.mock = mock  # type: ignore[attr-defined]

    def save_token(token: dict[str, Any], req: Any) -> None:
        mock.tokens[token["access_token"]] = Token(
            token["access_token"],
            token.get("refresh_token"),
            token["scope"],
            req.user,
            time.time() + token["expires_in"],
        )

    server.save_token = save_token

    def generate(
        grant_type: str,
        client: Any,
        user: MockUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(24),
            "expires_in": mock.expires_in,
            "scope": scope or "",
            "fhirUser": user.fhir_user if user else None,
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(24)
        if user is not None and user.patient:
            token["patient"] = user.patient
        return token

    server.register_token_generator("default", generate)
    server.register_grant(_CodeGrant, [CodeChallenge(required=True)])
    server.register_grant(_RefreshGrant)

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> Any:
        return jsonify(
            issuer=mock.root,
            authorization_endpoint=f"{mock.root}/authorize",
            token_endpoint=f"{mock.root}/token",
            token_endpoint_auth_methods_supported=["client_secret_basic"],
            grant_types_supported=["authorization_code", "refresh_token"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=["openid", "fhirUser", "launch", "online_access", "patient/*.rs"],
            capabilities=["launch-ehr", "launch-standalone", "client-confidential-symmetric"],
        )

    @app.get("/authorize")
    def authorize() -> Any:
        mock.authorize_requests.append(dict(request.args))
        context = mock.launches.get(request.args.get("launch", ""), {})
        user = MockUser(context.get("patient"), context.get("fhirUser", mock.fhir_user))
        granted = None if mock.deny_all else user
        grant = server.get_consent_grant(end_user=user)
        try:  # Authlib 1.6+ wants the consent grant back; older versions take no such argument
            return server.create_authorization_response(grant_user=granted, grant=grant)
        except TypeError:
            return server.create_authorization_response(grant_user=granted)

    @app.post("/token")
    def token() -> Any:
        mock.token_requests.append(
            {"form": dict(request.form), "authorization": request.headers.get("Authorization")}
        )
        return server.create_token_response()

    def token_ok() -> bool:
        sent = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        token = mock.tokens.get(sent)
        return not (token is None or token.revoked or token.expires_at < time.time())

    @app.get("/fhir/Patient/<patient_id>")
    def read_patient(patient_id: str) -> Any:
        mock.fhir_requests.append(f"GET Patient/{patient_id}")
        if not token_ok():
            return jsonify(resourceType="OperationOutcome"), 401
        if mock.upstream:
            return forward(f"Patient/{patient_id}")
        return jsonify(resourceType="Patient", id=patient_id)

    @app.route("/fhir", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/fhir/<path:path>", methods=["GET", "POST", "PUT"])
    def forward(path: str) -> Any:
        """The EHR's FHIR API: the token checked, the request passed on to ``upstream``
        and its URLs rewritten to ``iss`` (so next links stay on this server)."""
        if request.endpoint == "forward":  # not read_patient's call (logged there)
            mock.fhir_requests.append(f"{request.method} {path}")
        if not mock.upstream:
            return jsonify(resourceType="OperationOutcome"), 404
        # the CapabilityStatement is public (as an EHR's is: clients read it before a token)
        if path != "metadata" and not token_ok():
            return jsonify(resourceType="OperationOutcome"), 401
        if path.split("/")[0] in mock.refuse_types:
            issue = {"severity": "error", "code": "forbidden", "diagnostics": "not in scope"}
            return jsonify(resourceType="OperationOutcome", issue=[issue]), 403
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("accept", "content-type", "if-match", "prefer")
        }
        url = f"{mock.upstream}/{path}" if path else mock.upstream
        answer = requests.request(
            request.method,
            url,
            params=list(request.args.items(multi=True)),
            data=request.get_data(),
            headers=headers,
            timeout=30,
        )
        body = answer.content.replace(mock.upstream.encode(), mock.iss.encode())
        kept = {
            k: v.replace(mock.upstream, mock.iss)
            for k, v in answer.headers.items()
            if k.lower() in ("content-type", "etag", "location", "last-modified")
        }
        return app.response_class(body, answer.status_code, kept)

    return app


def _client(mock: SmartMock, client_id: str) -> MockClient | None:
    return MockClient(mock) if client_id == CLIENT_ID else None


@contextmanager
def running_smart_mock(mock: SmartMock | None = None) -> Iterator[SmartMock]:
    """Serve the mock on 127.0.0.1 in a thread while the block runs."""
    mock = mock or SmartMock()
    port = free_port()
    mock.root = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, create_mock_app(mock), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mock
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
