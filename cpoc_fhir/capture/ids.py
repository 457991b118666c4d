"""Deterministic ChargeItem ids: the same line gets the same id from every run, on every host.

A run that writes ``PUT ChargeItem/<id>`` (update-as-create, atomic by id on the server) can
then never create a line twice, however many runs race and whatever the ledger says (the
proposal's "never bill twice"; https://hl7.org/fhir/R4/http.html#upsert). The id is a hash of
the practice's identifier system and the line's identifier: FHIR-id-safe (``[A-Za-z0-9\\-.]``,
at most 64 characters, R4 datatypes §2.24.0.1) and free of patient data.

An entered-in-error item keeps its id for ever (FHIR never reuses one); a line that comes back
after its item was retired is re-created under the next *generation* (``…-2``, ``…-3``): the
first of the line's ids not taken on the server. Every run that sees the same items picks the
same one, so racing re-creations also meet on one id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

PREFIX = "cpoc-"
_DIGEST_CHARS = 40  # 160 bits of SHA-256: collisions are not a practical concern


def charge_item_id(system: str, identifier: str, generation: int = 1) -> str:
    """The id of generation ``generation`` (1 = the first item) of the line ``identifier``."""
    if generation < 1:
        raise ValueError(f"a generation counts from 1: {generation}")
    digest = hashlib.sha256(f"{system}|{identifier}".encode()).hexdigest()[:_DIGEST_CHARS]
    return f"{PREFIX}{digest}" + (f"-{generation}" if generation > 1 else "")


def next_free_id(system: str, identifier: str, taken: Collection[str]) -> str:
    """The first generation's id of the line that no ChargeItem on the server has."""
    generation = 1
    while (candidate := charge_item_id(system, identifier, generation)) in taken:
        generation += 1
    return candidate
