"""What a FHIR server's CapabilityStatement says about the capture's writes.

Read once per run (``ServerStore``) and once per write server by the CDS service: whether a PUT
to a new id creates (``updateCreate``, so creates are PUTs by deterministic id,
docs/exactly-once.md) and whether the server takes transaction Bundles (so a group's creates
are one commit, docs/scale.md "Parallel server capture").
"""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]


def _server_rests(capabilities: Resource) -> list[Resource]:
    """The statement's ``rest`` entries in server mode."""
    return [
        rest
        for rest in capabilities.get("rest") or []
        if isinstance(rest, dict) and rest.get("mode", "server") == "server"
    ]


def _codes(interactions: Any) -> set[Any]:
    return {i.get("code") for i in interactions or [] if isinstance(i, dict)}


def allows_update_create(capabilities: Resource, resource_type: str = "ChargeItem") -> bool:
    """Whether a CapabilityStatement says the server creates ``resource_type`` on a PUT to a new
    id (rest.resource.updateCreate, with the update interaction)."""
    for rest in _server_rests(capabilities):
        for entry in rest.get("resource") or []:
            if not isinstance(entry, dict) or entry.get("type") != resource_type:
                continue
            return entry.get("updateCreate") is True and "update" in _codes(
                entry.get("interaction")
            )
    return False


def allows_transaction(capabilities: Resource) -> bool:
    """Whether a CapabilityStatement lists the system-level ``transaction`` interaction
    (rest.interaction, R4 system-restful-interaction)."""
    return any("transaction" in _codes(r.get("interaction")) for r in _server_rests(capabilities))
