"""The CDS clients we trust: per issuer, its JWKS URL allow-list and, optionally, pinned keys.

CDS Hooks 2.0.1 §Trusting CDS Clients: "CDS Services SHOULD limit the CDS Clients they trust by
maintaining an allowlist of iss and jku urls"; without ``jku`` the JWK Set is communicated out
of band. So, per issuer:

- ``jwks_urls``: the JWKS URLs a token's ``jku`` may name. A ``jku`` not on the list is refused
  and never fetched. Without pinned keys, the keys are fetched from the ``jku`` named (it is on
  the list), or from the first URL when the token names none.
- ``keys_file``: the issuer's JWK Set pinned locally. Every token is verified against it,
  whichever listed ``jku`` it names, and nothing is fetched: the CDS Hooks sandbox puts
  ``jku: https://sandbox.cds-hooks.org/.well-known/jwks.json`` in every token, and a service
  that cannot (or must not) reach that URL pins the published keys from a file.

``CPOC_CDS_TRUSTED_ISSUERS`` is a JSON object, issuer → one of:

- ``"https://ehr.example/jwks.json"``: the one JWKS URL (the old form: ``jwks_urls`` of one);
- ``"/etc/cpoc/ehr-jwks.json"`` or ``"file:///…"``: pinned keys, no ``jku`` allowed (old form);
- ``{"jwks_urls": ["https://…", …], "keys_file": "/etc/cpoc/…json"}``: either member or both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

MAX_ISSUER_CHARS = 512  # the replay table's column width
_MEMBERS = ("jwks_urls", "keys_file")


@dataclass(frozen=True)
class TrustedIssuer:
    """One trusted CDS client's key sources."""

    jwks_urls: tuple[str, ...] = ()
    keys_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.jwks_urls and self.keys_file is None:
            raise ValueError("needs jwks_urls, keys_file or both")

    def source(self, jku: str | None) -> str | None:
        """Where the keys of a token naming ``jku`` come from (a URL, or the file's path as a
        string); None when that ``jku`` is not on the allow-list."""
        if jku is not None and jku not in self.jwks_urls:
            return None
        if self.keys_file is not None:
            return str(self.keys_file)
        return jku or self.jwks_urls[0]


def trusted_issuer(issuer: str, spec: Any, where: str) -> TrustedIssuer:
    """An issuer's entry of the setting (a string of the old forms, a JSON object, or a
    TrustedIssuer); ValueError naming the setting, the issuer and what is expected."""
    if not isinstance(issuer, str) or not issuer or len(issuer) > MAX_ISSUER_CHARS:
        raise ValueError(f"{where}: an issuer must be 1 to {MAX_ISSUER_CHARS} characters")
    if isinstance(spec, TrustedIssuer):
        return spec
    if isinstance(spec, str):
        if _is_url(spec):
            return TrustedIssuer(jwks_urls=(spec,))
        path = file_path(spec)
        if path is None:
            raise ValueError(
                f"{where}: the JWKS location of issuer {issuer!r} must be an http(s) URL, "
                f"a file:// URL or an absolute path, not {spec!r}"
            )
        return TrustedIssuer(keys_file=path)
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{where}: the entry of issuer {issuer!r} must be a string (JWKS URL or file) or "
            'an object {"jwks_urls": [...], "keys_file": "..."}'
        )
    unknown = sorted(str(k) for k in spec if k not in _MEMBERS)
    if unknown:
        raise ValueError(
            f"{where}: issuer {issuer!r} has unknown member(s) {', '.join(unknown)}; "
            "expected jwks_urls and/or keys_file"
        )
    urls = _urls(issuer, spec.get("jwks_urls"), where)
    keys = _keys_file(issuer, spec.get("keys_file"), where)
    if not urls and keys is None:
        raise ValueError(f"{where}: issuer {issuer!r} needs jwks_urls, keys_file or both")
    return TrustedIssuer(urls, keys)


def file_path(location: str) -> Path | None:
    """The path of a ``file://`` URL or an absolute path, else None."""
    if location.lower().startswith("file://"):
        return Path(url2pathname(urlparse(location).path))
    return Path(location) if os.path.isabs(location) else None


def _is_url(text: str) -> bool:
    parts = urlparse(text)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _urls(issuer: str, value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not all(isinstance(u, str) and _is_url(u) for u in urls):
        raise ValueError(
            f"{where}: jwks_urls of issuer {issuer!r} must be an http(s) URL or a list of them"
        )
    return tuple(dict.fromkeys(urls))


def _keys_file(issuer: str, value: Any, where: str) -> Path | None:
    if value is None:
        return None
    path = file_path(value) if isinstance(value, str) else None
    if path is None:
        raise ValueError(
            f"{where}: keys_file of issuer {issuer!r} must be an absolute path or a file:// URL"
        )
    return path
