"""Which references the evidence viewer opens: only those the patient's page linked.

The page signs each reference it links (the computed lines' evidence, the ChargeItems shown)
with a tag, ``?k=``, an HMAC of the patient and the reference keyed by the session's store key
(the SHA-256 of the session cookie: secret, never sent to the browser, the same in every
worker). The viewer checks the tag before it asks the FHIR server anything, so a hand-typed
``…/resource/Practitioner/x`` (or another patient's resource, or a Medication) is a 404
without a read: the token's scopes reach further than the page's evidence (issue 17 item 3).
Stateless: nothing is stored per page view, and a link keeps working for the session's life
(a tag of one session does not open in another).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import url_for

from cds_hooks.review.sessions import current_session
from cpoc_fhir.engine.lines import is_resource_reference

TAG_PARAM = "k"  # evidence_url's ``k=`` argument
_TAG_BYTES = 16  # 128 bits: not guessable, 22 characters in the URL


def link_tag(session_key: str, patient_id: str, reference: str) -> str:
    """The tag of ``reference`` ("Type/id") linked from ``patient_id``'s page in the session
    whose store key is ``session_key``."""
    message = f"cpoc-evidence\0{patient_id}\0{reference}".encode()
    digest = hmac.new(session_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_TAG_BYTES]).decode().rstrip("=")


def tag_matches(session_key: str, patient_id: str, reference: str, tag: str) -> bool:
    """Whether ``tag`` is the page's tag for ``reference`` (constant-time comparison)."""
    expected = link_tag(session_key, patient_id, reference)
    return bool(tag) and hmac.compare_digest(expected, tag)


def evidence_url(patient_id: str, reference: str) -> str:
    """The viewer's URL of ``reference`` on ``patient_id``'s page, signed for this session;
    "" when ``reference`` names no single resource (a search that was run)."""
    if not is_resource_reference(reference):
        return ""
    kind, _, rid = reference.partition("/")
    tag = link_tag(current_session().session_id, patient_id, reference)
    return url_for(
        "review.resource", patient_id=patient_id, resource_type=kind, resource_id=rid, k=tag
    )
