"""The CDS Hooks service's settings, built once from the environment (``CPOC_CDS_*``).

=================================  =========================================================
``CPOC_CDS_AUTH``                  ``on`` (default) or ``off``: verify the client's JWT
``CPOC_CDS_TRUSTED_ISSUERS``       JSON object: issuer → JWKS URL, pinned JWKS file, or
                                   ``{"jwks_urls": [...], "keys_file": "..."}``: the
                                   ``jku`` allow-list and keys pinned for it
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
``CPOC_CDS_MAX_BODY_BYTES``        largest request body read (default 16 MiB); larger: 413
``CPOC_CDS_MAX_DEPTH``             deepest JSON nesting read (default 64); deeper: 400
``CPOC_CDS_MAX_BUNDLE_ENTRIES``    most entries in one Bundle (default 5000); more: 413
``CPOC_CDS_DRAFT_DAYS_BACK``       a draft's dates may lie this many days before today
                                   (default 366); earlier, or before the birth date: 400
``CPOC_CDS_DRAFT_DAYS_AHEAD``      ... and this many days after today (default 366)
``CPOC_CDS_RECORD_CACHE``          ``on`` (default) / ``off``: order hooks reuse the record and
                                   timelines of an identical earlier input (record_cache.py)
``CPOC_LOG_LEVEL``                 DEBUG, INFO (default), WARNING, ERROR (cds_hooks/logs.py)
``CPOC_LOG_FORMAT``                ``plain`` (default) or ``json``: one object per line
=================================  =========================================================

The SMART review app (``/review``) has its own ``CPOC_REVIEW_*`` settings (``ReviewSettings``,
listed there and in the README); it is off until ``CPOC_REVIEW_CLIENT_ID`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cds_hooks.security import trusted_issuers_from_json
from cds_hooks.trusted_issuers import TrustedIssuer
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.auth import BearerToken, NoAuth, SmartBackendServices, TokenProvider
from cpoc_fhir.fhir.keys import read_private_key_pem
from cpoc_fhir.settings_values import ReadEnviron
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
    trusted_issuers: Mapping[str, str | TrustedIssuer] = field(default_factory=dict)
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
    # Limits on what a caller may make the service read (10 000-entry
    # Bundles took 11.9 s; 200 000 nested arrays crashed the parser).
    max_body_bytes: int = 16 * 1024 * 1024
    max_depth: int = 64
    max_bundle_entries: int = 5000
    draft_days_back: int = 366
    draft_days_ahead: int = 366
    record_cache: bool = True

    def __post_init__(self) -> None:
        if self.auth_enabled and not self.trusted_issuers:
            raise InputError(
                "CPOC_CDS_TRUSTED_ISSUERS",
                "client JWT verification is on but no issuer is trusted: set "
                "CPOC_CDS_TRUSTED_ISSUERS, or CPOC_CDS_AUTH=off for a closed test setup",
            )


def load_cds_settings(environ: Mapping[str, str]) -> CdsSettings:
    """Settings from ``environ`` (the process environment, passed in by the caller); a
    ``CPOC_CDS_*`` variable this does not read is refused as unknown (a misspelt one would
    otherwise leave its default on, e.g. writes or CORS)."""
    read = ReadEnviron(environ)
    settings = _cds_settings(read)
    read.refuse_unknown(("CPOC_CDS_",))
    return settings


def _cds_settings(environ: Mapping[str, str]) -> CdsSettings:
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
        max_body_bytes=_count(environ, "CPOC_CDS_MAX_BODY_BYTES", 16 * 1024 * 1024),
        max_depth=_count(environ, "CPOC_CDS_MAX_DEPTH", 64),
        max_bundle_entries=_count(environ, "CPOC_CDS_MAX_BUNDLE_ENTRIES", 5000),
        draft_days_back=_count(environ, "CPOC_CDS_DRAFT_DAYS_BACK", 366),
        draft_days_ahead=_count(environ, "CPOC_CDS_DRAFT_DAYS_AHEAD", 366),
        record_cache=_switch(environ, "CPOC_CDS_RECORD_CACHE", True),
    )


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    value = (environ.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise InputError(name, f"expected a whole number of at least 1, got {value!r}")
    return int(value)


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


# --- SMART review app (/review) -------------------------------------------------------------
EHR_SCOPE = "launch openid fhirUser online_access patient/*.rs user/ChargeItem.cruds"
STANDALONE_SCOPE = "openid fhirUser online_access user/*.rs user/ChargeItem.cruds"


@dataclass(frozen=True)
class ReviewSettings:
    """The SMART review app's settings (``CPOC_REVIEW_*``).

    =================================  ======================================================
    ``CPOC_REVIEW_CLIENT_ID``          the app's client_id at the EHR; unset: app switched off
    ``CPOC_REVIEW_CLIENT_SECRET``      its secret (client_secret_basic at the token endpoint)
    ``CPOC_REVIEW_SECRET_KEY``         encrypts the stored tokens; the same in every worker
    ``CPOC_REVIEW_ISSUERS``            comma-separated FHIR base URLs (``iss``) allowed to
                                       launch the app; the secret is sent to no other server
    ``CPOC_REVIEW_STANDALONE_ISS``     the FHIR base of a standalone launch (the work queue)
    ``CPOC_REVIEW_BASE_URL``           the app's public base URL (redirect URI is
                                       ``<base>/review/callback``); default the request's
    ``CPOC_REVIEW_EHR_SCOPE``          scopes asked at an EHR launch
    ``CPOC_REVIEW_STANDALONE_SCOPE``   scopes asked at a standalone launch
    ``CPOC_REVIEW_FRAME_ANCESTORS``    space-separated origins allowed to frame the app
                                       (CSP frame-ancestors); default the issuers' origins
    ``CPOC_REVIEW_SESSION_MINUTES``    idle timeout of a review session (default 60)
    =================================  ======================================================
    """

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    issuers: tuple[str, ...] = ()
    standalone_iss: str | None = None
    base_url: str | None = None
    ehr_scope: str = EHR_SCOPE
    standalone_scope: str = STANDALONE_SCOPE
    frame_ancestors: tuple[str, ...] = ()
    idle_timeout: timedelta = timedelta(minutes=60)
    max_age: timedelta = timedelta(hours=12)
    launch_timeout: timedelta = timedelta(minutes=10)

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)

    def allows(self, iss: str) -> bool:
        """Whether ``iss`` may launch the app (the allow-list plus the standalone issuer)."""
        return iss.rstrip("/") in self.allowed_issuers

    @property
    def allowed_issuers(self) -> tuple[str, ...]:
        extra = (self.standalone_iss,) if self.standalone_iss else ()
        return tuple(i.rstrip("/") for i in (*self.issuers, *extra))

    @property
    def ancestors(self) -> tuple[str, ...]:
        """CSP frame-ancestors: as configured, else 'self' and the issuers' origins."""
        if self.frame_ancestors:
            return self.frame_ancestors
        origins = dict.fromkeys(_origin(i) for i in self.allowed_issuers)
        return ("'self'", *origins)


def load_review_settings(environ: Mapping[str, str]) -> ReviewSettings:
    """The review app's settings from ``environ``; an unknown ``CPOC_REVIEW_*`` is refused."""
    read = ReadEnviron(environ)
    settings = _review_settings(read)
    read.refuse_unknown(("CPOC_REVIEW_",))
    return settings


def _review_settings(environ: Mapping[str, str]) -> ReviewSettings:
    client_id = (environ.get("CPOC_REVIEW_CLIENT_ID") or "").strip() or None
    secret = environ.get("CPOC_REVIEW_CLIENT_SECRET") or None
    if client_id and not secret:
        raise InputError(
            "CPOC_REVIEW_CLIENT_SECRET", "the review app is a confidential client: set its secret"
        )
    issuers = tuple(
        _checked_url("CPOC_REVIEW_ISSUERS", i.strip())
        for i in (environ.get("CPOC_REVIEW_ISSUERS") or "").split(",")
        if i.strip()
    )
    standalone = _url(environ, "CPOC_REVIEW_STANDALONE_ISS")
    if client_id and not issuers and not standalone:
        raise InputError(
            "CPOC_REVIEW_ISSUERS", "no EHR may launch the review app: set CPOC_REVIEW_ISSUERS"
        )
    minutes = (environ.get("CPOC_REVIEW_SESSION_MINUTES") or "60").strip()
    if not minutes.isdigit() or int(minutes) < 1:
        raise InputError("CPOC_REVIEW_SESSION_MINUTES", f"expected minutes, got {minutes!r}")
    return ReviewSettings(
        client_id=client_id,
        client_secret=secret,
        secret_key=environ.get("CPOC_REVIEW_SECRET_KEY") or None,
        issuers=issuers,
        standalone_iss=standalone,
        base_url=_url(environ, "CPOC_REVIEW_BASE_URL"),
        ehr_scope=(environ.get("CPOC_REVIEW_EHR_SCOPE") or EHR_SCOPE).strip(),
        standalone_scope=(environ.get("CPOC_REVIEW_STANDALONE_SCOPE") or STANDALONE_SCOPE).strip(),
        frame_ancestors=tuple((environ.get("CPOC_REVIEW_FRAME_ANCESTORS") or "").split()),
        idle_timeout=timedelta(minutes=int(minutes)),
    )


def _checked_url(name: str, value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise InputError(name, f"not an absolute http(s) URL: {value!r}")
    return value.rstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
