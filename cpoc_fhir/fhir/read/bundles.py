"""Bundles (any type) flattened into resources, with their fullUrls recorded as aliases.

A transaction Bundle names its resources by ``urn:uuid:`` fullUrls and its references use
them (https://hl7.org/fhir/R4/bundle.html#references); ``aliases`` maps each such fullUrl
to "Type/id" so that references resolve after flattening. Nested Bundles are opened one
level deep (a searchset of documents, a collection holding a Bundle).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Resource = dict[str, Any]


def flatten(
    bundle: Resource, aliases: dict[str, str], warnings: list[str], where: str, depth: int = 0
) -> Iterator[Resource]:
    """The resources inside ``bundle`` (nested Bundles opened once)."""
    entries = bundle.get("entry")
    if entries is None:
        return
    if not isinstance(entries, list):
        warnings.append(f"{where}: Bundle.entry is not a list; Bundle skipped")
        return
    resources = [
        _with_alias(entry, entry.get("resource"), aliases)
        for entry in entries
        if isinstance(entry, dict)
    ]
    for resource in resources:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            continue
        if resource["resourceType"] != "Bundle":
            yield resource
        elif depth == 0:
            yield from flatten(resource, aliases, warnings, where, depth + 1)
        else:
            warnings.append(f"{where}: a Bundle nested more than one level deep was skipped")


def _with_alias(entry: Resource, resource: object, aliases: dict[str, str]) -> object:
    """Record a ``urn:`` fullUrl as an alias; absolute URLs end in Type/id and need none."""
    full_url = entry.get("fullUrl")
    if not isinstance(resource, dict) or not isinstance(full_url, str):
        return resource
    if not full_url.startswith("urn:"):
        return resource
    if not isinstance(resource.get("id"), str) or not resource["id"]:
        # A transaction entry may leave the id to the server: name it after its fullUrl.
        resource = {**resource, "id": full_url.rsplit(":", 1)[-1]}
    aliases[full_url] = f"{resource.get('resourceType')}/{resource['id']}"
    return resource
