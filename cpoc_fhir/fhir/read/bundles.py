"""Bundles (any type) flattened into resources, with their fullUrls recorded as aliases.

A transaction Bundle names its resources by ``urn:uuid:`` fullUrls and its references use
them (https://hl7.org/fhir/R4/bundle.html#references); ``aliases`` maps each such fullUrl
to "Type/id" so that references resolve after flattening. Nested Bundles are opened one
level deep (a searchset of documents, a collection holding a Bundle). An entry whose
elements have the wrong FHIR type is skipped with a warning naming it (cpoc-rules §11).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cpoc_fhir.fhir.read import access
from cpoc_fhir.fhir.read.access import UnreadableElement

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
    resources = [_entry(entry, n, aliases, warnings, where) for n, entry in enumerate(entries)]
    for resource in resources:
        if resource is None:
            continue
        if resource["resourceType"] != "Bundle":
            yield resource
        elif depth == 0:
            yield from flatten(resource, aliases, warnings, where, depth + 1)
        else:
            warnings.append(f"{where}: a Bundle nested more than one level deep was skipped")


def _entry(
    entry: object, number: int, aliases: dict[str, str], warnings: list[str], where: str
) -> Resource | None:
    """One entry's resource (its ``urn:`` fullUrl recorded), or None with a warning."""
    at = f"Bundle.entry[{number}]"
    try:
        if type(entry) is not dict:
            raise UnreadableElement(None, at, "Bundle entry")
        full_url = access.string(entry, "fullUrl", at)
        resource = access.obj(entry, "resource", at, "Resource")
        if resource is None:
            return None  # a response or deletion entry carries no resource
        if type(resource.get("resourceType")) is not str:
            raise UnreadableElement(None, f"{at}.resource", "Resource")
        rid = access.string(resource, "id", f"{at}.resource")
    except UnreadableElement as exc:
        warnings.append(f"{where}: {exc.problem}; entry skipped")
        return None
    if full_url is None or not full_url.startswith("urn:"):
        return resource  # absolute URLs end in Type/id and need no alias
    if not rid:
        # A transaction entry may leave the id to the server: name it after its fullUrl.
        resource = {**resource, "id": full_url.rsplit(":", 1)[-1]}
    aliases[full_url] = f"{resource['resourceType']}/{resource['id']}"
    return resource
