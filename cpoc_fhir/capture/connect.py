"""The FHIR server connection of a command: ``--fhir-base``, ``--timeout`` and the ``--smart-*``
authorisation (``cli_options.add_auth_options``), or a bearer token in ``CPOC_FHIR_TOKEN``.

``Connection`` holds what a client needs as plain values, so it can also be shipped to Spark
executors (``spark/server.py``), which build their own clients from it: a token provider or a
``requests.Session`` cannot be pickled, and each executor must fetch its own token.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.auth import BearerToken, NoAuth, SmartBackendServices, TokenProvider
from cpoc_fhir.fhir.client import FhirClient, check_base_url
from cpoc_fhir.fhir.errors import FhirConnectionError, FhirError
from cpoc_fhir.fhir.keys import read_private_key_pem


@dataclass(frozen=True)
class Smart:
    """SMART Backend Services settings (the private key as PEM bytes, read on the driver)."""

    client_id: str
    key_pem: bytes
    kid: str
    alg: str
    scope: str
    token_url: str | None

    def __repr__(self) -> str:  # never print the key (an error message, a log line)
        return f"Smart(client_id={self.client_id!r}, kid={self.kid!r}, alg={self.alg!r})"


@dataclass(frozen=True)
class Connection:
    """How to reach the FHIR server: base URL, read timeout, authorisation."""

    base: str
    timeout: float
    smart: Smart | None = None
    token: str | None = None  # CPOC_FHIR_TOKEN, when no SMART client is configured

    def __repr__(self) -> str:  # the token stays out of reprs
        return f"Connection(base={self.base!r}, smart={self.smart!r})"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Connection:
        """The connection the options describe (the key file is read here)."""
        smart = None
        if args.smart_client_id:
            if not args.smart_key or not args.smart_kid:
                raise InputError(
                    "--smart-client-id", "SMART Backend Services needs --smart-key and --smart-kid"
                )
            smart = Smart(
                args.smart_client_id,
                read_private_key_pem(args.smart_key),
                args.smart_kid,
                args.smart_alg,
                args.smart_scope,
                args.smart_token_url,
            )
        token = None if smart else os.environ.get("CPOC_FHIR_TOKEN") or None
        return cls(args.fhir_base, args.timeout, smart, token)

    def auth(self) -> TokenProvider:
        """A new token provider (one per process: it caches its token)."""
        if self.smart is not None:
            s = self.smart
            return SmartBackendServices(
                self.base, s.client_id, s.key_pem, s.kid, s.alg, scope=s.scope,
                token_url=s.token_url,
            )  # fmt: skip
        return BearerToken(self.token) if self.token else NoAuth()

    def client(self, auth: TokenProvider | None = None) -> FhirClient:
        return FhirClient(
            self.base, auth=auth if auth is not None else self.auth(), timeout=(5, self.timeout)
        )


def check_base(base: str) -> None:
    """``--fhir-base`` must be an http(s) URL (an InputError naming the option otherwise)."""
    try:
        check_base_url(base)
    except ValueError as exc:
        raise InputError("--fhir-base", str(exc)) from None


def check_server(base: str, timeout: float) -> None:
    """Fail fast, with one line, when the server cannot be reached or is no FHIR server; its
    metadata is read with the same retries as every other read."""
    client = FhirClient(base, timeout=(5, timeout))
    try:
        client.capabilities()
    except FhirConnectionError as exc:
        raise InputError(base, f"the FHIR server does not answer: {exc}") from None
    except FhirError as exc:
        raise InputError(base, str(exc)) from None
    finally:
        client.close()


def fhir_client(args: argparse.Namespace) -> FhirClient:
    """A client of ``args.fhir_base`` with the ``add_auth_options`` authorisation, after
    checking that the server answers as a FHIR server (one line naming it otherwise)."""
    check_base(args.fhir_base)
    check_server(args.fhir_base, args.timeout)
    return Connection.from_args(args).client()
