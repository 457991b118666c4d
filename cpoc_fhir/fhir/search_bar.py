"""A paged search with the progress bar (issue 17 item 6) over its matches.

``cpoc report revenue --fhir-base`` reads every ChargeItem and Coverage of a server, page by
page: that is the long part of the command, not a patient loop, so the bar counts resources.
Its total is the searchset's ``Bundle.total`` when the first page has one (FHIR R4 makes it
optional: https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.total); without it the bar
counts with a rate and no ETA. The policy is ``cpoc_fhir.progress``'s: stderr, none when not
a terminal or when asked for quiet, and then the pages are read exactly as ``client.search``
reads them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import chain
from typing import Any, TextIO

from cpoc_fhir.fhir.client import FhirClient, matches
from cpoc_fhir.fhir.transport import Params
from cpoc_fhir.progress import progress, shown

Resource = dict[str, Any]


def bundle_total(bundle: Resource) -> int | None:
    """The searchset's ``total`` when it is a count (a non-negative integer), else None."""
    total = bundle.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    return None


def counted_search(
    client: FhirClient,
    resource_type: str,
    params: Params = None,
    quiet: bool = False,
    stream: TextIO | None = None,
) -> Iterator[Resource]:
    """``client.search(resource_type, params)`` with a bar of ``resource_type`` on
    ``stream`` (default stderr), its total from the first page."""
    out = sys.stderr if stream is None else stream
    if not shown(out, quiet):
        yield from client.search(resource_type, params)
        return
    pages = client.search_bundles(resource_type, params)
    first = next(pages, None)
    if first is None:
        return
    # The bar starts once the first page is in: its total is only known then.
    with progress(bundle_total(first), resource_type, stream=out) as bar:
        for bundle in chain([first], pages):
            found = matches(bundle)
            yield from found
            bar.update(len(found))
