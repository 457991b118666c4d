"""The CDS Hooks service's settings, built once from the environment (``CPOC_CDS_*``).

=================================  =========================================================
``CPOC_CDS_AUTH``                  ``on`` (default) or ``off``: verify the client's JWT
``CPOC_CDS_TRUSTED_ISSUERS``       JSON object: issuer → JWKS URL or file path
``CPOC_CDS_BASE_URL``              the public base URL (``aud`` is checked against it); default
                                   the URL the request arrived at
``CPOC_CDS_CORS_ORIGINS``          comma-separated origins allowed by CORS, or ``*`` (default)
``CPOC_CDS_REVIEW_LAUNCH_URL``     the review app's SMART launch URL, linked from cards
``CPOC_CDS_SOURCE_URL``            the cards' ``source.url`` (default: this service's /about)
``CPOC_CDS_SYSTEM_ACTIONS``        ``on`` (default): propose the month's ChargeItems on sign
``CPOC_CDS_WRITE_FHIR_BASE``       FHIR server the service writes ChargeItems to itself
``CPOC_CDS_WRITE``                 ``on``/``off``; default on when a write base is set
``CPOC_FHIR_TOKEN``, ``CPOC_SMART_*``  its write credential (as for ``cpoc capture``)
``CPOC_STORE_URL``                 audit / feedback database (default a SQLite file)
``CPOC_TIMEZONE``                  the practice's time zone ("today" for the order date)
=================================  =========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cds_hooks.security import trusted_issuers_from_json
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.auth import BearerToken, NoAuth, SmartBackendServices, TokenProvider
from cpoc_fhir.fhir.keys import read_private_key_pem
from cpoc_fhir.store import DEFAULT_URL

SOURCE_LABEL = "CPOC billing rules (ASCO Consolidated Payments for Oncology Care)"


@dataclass(frozen=True)
class WriteTarget:
    """Where, and with which credential, the service writes ChargeItems itself."""

    fhir_base: str
    auth: TokenProvider = field(default_factory=NoAuth, repr=False, compare=False)


@dataclass(frozen=True)
class CdsSettings:
    auth_enabled: bool = True
    trusted_issuers: Mapping[str, str] = field(default_factory=dict)
    base_url: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    review_launch_url: str | None = None
    source_url: str | None = None  # None: <base>/about, served by the app
    system_actions: bool = True
    write: WriteTarget | None = None
    store_url: str = DEFAULT_URL
    timezone: ZoneInfo | None = None  # None: the host's local time
    fetch_timeout_s: float = 10.0
    jwt_leeway_s: int = 60

    def __post_init__(self) -> None:
        if self.auth_enabled and not self.trusted_issuers:
            raise InputError(
                "CPOC_CDS_TRUSTED_ISSUERS",
                "client JWT verification is on but no issuer is trusted: set "
                "CPOC_CDS_TRUSTED_ISSUERS, or CPOC_CDS_AUTH=off for a closed test setup",
            )


def load_cds_settings(environ: Mapping[str, str]) -> CdsSettings:
    """Settings from ``environ`` (the process environment, passed in by the caller)."""
    auth = _switch(environ, "CPOC_CDS_AUTH", True)
    issuers_text = environ.get("CPOC_CDS_TRUSTED_ISSUERS", "").strip()
    try:
        issuers = trusted_issuers_from_json(issuers_text) if issuers_text else {}
    except ValueError as exc:
        raise InputError("CPOC_CDS_TRUSTED_ISSUERS", str(exc)) from None
    origins = tuple(
        o.strip() for o in environ.get("CPOC_CDS_CORS_ORIGINS", "*").split(",") if o.strip()
    )
    return CdsSettings(
        auth_enabled=auth,
        trusted_issuers=issuers,
        base_url=_url(environ, "CPOC_CDS_BASE_URL"),
        cors_origins=origins,
        review_launch_url=_url(environ, "CPOC_CDS_REVIEW_LAUNCH_URL"),
        source_url=_url(environ, "CPOC_CDS_SOURCE_URL"),
        system_actions=_switch(environ, "CPOC_CDS_SYSTEM_ACTIONS", True),
        write=_write_target(environ),
        store_url=environ.get("CPOC_STORE_URL") or DEFAULT_URL,
        timezone=_zone(environ.get("CPOC_TIMEZONE")),
    )


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or not value.strip():
        return default
    text = value.strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise InputError(name, f"expected on or off, got {value!r}")


def _url(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip()
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        raise InputError(name, f"not an absolute http(s) URL: {value!r}")
    return value.rstrip("/")


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("CPOC_TIMEZONE", f"unknown time zone {name!r}") from None


def _write_target(environ: Mapping[str, str]) -> WriteTarget | None:
    base = _url(environ, "CPOC_CDS_WRITE_FHIR_BASE")
    enabled = _switch(environ, "CPOC_CDS_WRITE", base is not None)
    if not enabled:
        return None
    if base is None:
        raise InputError("CPOC_CDS_WRITE", "on, but CPOC_CDS_WRITE_FHIR_BASE is not set")
    return WriteTarget(base, write_credential(environ, base))


def write_credential(environ: Mapping[str, str], fhir_base: str) -> TokenProvider:
    """SMART Backend Services when ``CPOC_SMART_CLIENT_ID`` is set, else ``CPOC_FHIR_TOKEN``."""
    client_id = environ.get("CPOC_SMART_CLIENT_ID")
    if client_id:
        key_file, kid = environ.get("CPOC_SMART_KEY"), environ.get("CPOC_SMART_KID")
        if not key_file or not kid:
            raise InputError(
                "CPOC_SMART_CLIENT_ID", "SMART Backend Services needs CPOC_SMART_KEY and _KID"
            )
        return SmartBackendServices(
            fhir_base,
            client_id,
            read_private_key_pem(key_file),
            kid,
            environ.get("CPOC_SMART_ALG", "RS384"),
            token_url=environ.get("CPOC_SMART_TOKEN_URL") or None,
        )
    token = environ.get("CPOC_FHIR_TOKEN")
    return BearerToken(token) if token else NoAuth()
