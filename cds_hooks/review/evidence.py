"""The evidence viewer route (issue 17 item 3): ``GET /review/patient/<id>/resource/<type>/<rid>``.

The resource is read from the session's FHIR server with the session's token and shown as a
page of the app (resource_view.py: a readable summary and the JSON). Only a reference the
patient's page linked opens (its signed tag, evidence_links.py): anything else answers 404
before the FHIR server is asked. A linked resource the reader files under another patient
answers 404 too, as does one the server does not have; the log names the reference only.
"""

from __future__ import annotations

import logging

from flask import request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from cds_hooks.review.blueprint import blueprint, page
from cds_hooks.review.evidence_links import TAG_PARAM, evidence_url, tag_matches
from cds_hooks.review.resource_view import RESOURCE_ID, RESOURCE_TYPE, belongs_to, summarise
from cds_hooks.review.sessions import current_session
from cds_hooks.review.smart import fhir_client_for
from cpoc_fhir.fhir.errors import FhirNotFound

log = logging.getLogger(__name__)
# The page's templates (patient.html, _review_macros.html) link evidence through this.
blueprint.add_app_template_global(evidence_url, "evidence_url")


@blueprint.get("/patient/<patient_id>/resource/<resource_type>/<resource_id>")
def resource(patient_id: str, resource_type: str, resource_id: str) -> Response:
    """One resource of the patient's record, inside the app."""
    session = current_session()
    if not (
        RESOURCE_ID.fullmatch(patient_id)
        and RESOURCE_TYPE.fullmatch(resource_type)
        and RESOURCE_ID.fullmatch(resource_id)
    ):
        raise NotFound()
    reference = f"{resource_type}/{resource_id}"
    tag = request.args.get(TAG_PARAM) or ""
    if not tag_matches(session.session_id, patient_id, reference, tag):
        # Not a link of this patient's page: the server is not asked (no read to log there).
        raise NotFound()
    with fhir_client_for(session) as client:
        try:
            found = client.read(resource_type, resource_id)
        except FhirNotFound:
            raise NotFound() from None
    patient_ref = f"Patient/{patient_id}"
    if not belongs_to(found, patient_ref):
        raise NotFound()
    return page("resource.html", summary=summarise(found), patient_id=patient_id)
