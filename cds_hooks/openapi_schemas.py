"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of what the CDS Hooks endpoints read and answer.

Written from the CDS Hooks 2.0.1 specification (/work/shared/docs/external/cds-hooks-2.0.1-
spec.md: §Discovery, §Calling a CDS Service, §CDS Service Response, §Feedback, §Extensions)
and the hooks' context tables (patient-view 1.0, order-select 1.0, order-sign 1.0). They
describe the wire format; the service's own checks (cds_hooks/hook_request.py, feedback.py)
are what refuses a body, with a 400 naming the field. Pure data: cds_hooks/openapi.py puts
them under ``components.schemas``.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_STRING: Schema = {"type": "string", "minLength": 1}
_EXTENSION: Schema = {
    "type": "object",
    "description": "Spec §Extensions: members named in reverse-domain notation.",
}
_FHIR_RESOURCE: Schema = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": _STRING},
    "description": "A FHIR R4 resource.",
}
_BUNDLE: Schema = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"const": "Bundle"}, "entry": {"type": "array"}},
    "description": "A FHIR R4 Bundle of the draft orders.",
}
_COMMON_CONTEXT: dict[str, Schema] = {
    "userId": {**_STRING, "description": "Practitioner/…, PractitionerRole/…, …"},
    "patientId": {**_STRING, "description": "The FHIR id of the patient (not a reference)."},
    "encounterId": {**_STRING, "description": "The FHIR id of the encounter."},
}

# The context of each hook the services may answer (required members per its definition).
HOOK_CONTEXTS: dict[str, Schema] = {
    "patient-view": {
        "type": "object",
        "required": ["userId", "patientId"],
        "properties": dict(_COMMON_CONTEXT),
    },
    "order-select": {
        "type": "object",
        "required": ["userId", "patientId", "selections", "draftOrders"],
        "properties": {
            **_COMMON_CONTEXT,
            "selections": {"type": "array", "items": _STRING},
            "draftOrders": _BUNDLE,
        },
    },
    "order-sign": {
        "type": "object",
        "required": ["userId", "patientId", "draftOrders"],
        "properties": {**_COMMON_CONTEXT, "draftOrders": _BUNDLE},
    },
}

SCHEMAS: dict[str, Schema] = {
    "Coding": {
        "type": "object",
        "required": ["code", "system"],
        "properties": {"code": _STRING, "system": _STRING, "display": _STRING},
    },
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {**_STRING, "description": "bad-request, unauthorized, not-found, …"},
            "message": {**_STRING, "description": "What was wrong (never a value sent)."},
            "where": {**_STRING, "description": "A JSON path in the request body."},
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["services"],
        "properties": {"services": {"type": "array", "items": ref("ServiceDescription")}},
    },
    "ServiceDescription": {
        "type": "object",
        "required": ["hook", "description", "id"],
        "properties": {
            "hook": _STRING,
            "title": _STRING,
            "description": _STRING,
            "id": _STRING,
            "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
            "usageRequirements": _STRING,
            "extension": {
                **_EXTENSION,
                "properties": {"org.cpoc-fhir.version": {**_STRING, "description": "version"}},
            },
        },
    },
    "FhirAuthorization": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
        "properties": {
            "access_token": {**_STRING, "writeOnly": True},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "scope": _STRING,
            "subject": _STRING,
            "patient": _STRING,
        },
    },
    "HookRequest": {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": _STRING,
            "hookInstance": {**_STRING, "description": "A UUID for this call."},
            "fhirServer": {"type": "string", "format": "uri"},
            "fhirAuthorization": ref("FhirAuthorization"),
            "context": {"type": "object"},
            "prefetch": {
                "type": "object",
                "additionalProperties": {"oneOf": [_FHIR_RESOURCE, {"type": "null"}]},
            },
            "extension": _EXTENSION,
        },
    },
    "Source": {
        "type": "object",
        "required": ["label"],
        "properties": {
            "label": _STRING,
            "url": {"type": "string", "format": "uri"},
            "icon": {"type": "string", "format": "uri"},
            "topic": ref("Coding"),
        },
    },
    "Action": {
        "type": "object",
        "required": ["type", "description"],
        "properties": {
            "type": {"enum": ["create", "update", "delete"]},
            "description": _STRING,
            "resource": _FHIR_RESOURCE,
            "resourceId": {**_STRING, "description": "A relative reference (delete)."},
        },
    },
    "Suggestion": {
        "type": "object",
        "required": ["label"],
        "properties": {
            "label": _STRING,
            "uuid": _STRING,
            "isRecommended": {"type": "boolean"},
            "actions": {"type": "array", "items": ref("Action")},
        },
    },
    "Link": {
        "type": "object",
        "required": ["label", "url", "type"],
        "properties": {
            "label": _STRING,
            "url": {"type": "string", "format": "uri"},
            "type": {"enum": ["absolute", "smart"]},
            "appContext": {"type": "string"},
            "autolaunchable": {"type": "boolean"},
        },
    },
    "Card": {
        "type": "object",
        "required": ["summary", "indicator", "source"],
        "properties": {
            "uuid": _STRING,
            "summary": {**_STRING, "maxLength": 140},
            "detail": {"type": "string", "description": "GitHub Flavored Markdown."},
            "indicator": {"enum": ["info", "warning", "critical"]},
            "source": ref("Source"),
            "suggestions": {"type": "array", "items": ref("Suggestion")},
            "selectionBehavior": {"enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": ref("Coding")},
            "links": {"type": "array", "items": ref("Link")},
            "extension": _EXTENSION,
        },
    },
    "CdsResponse": {
        "type": "object",
        "required": ["cards"],
        "properties": {
            "cards": {"type": "array", "items": ref("Card")},
            "systemActions": {"type": "array", "items": ref("Action")},
        },
    },
    "Feedback": {
        "type": "object",
        "required": ["feedback"],
        "properties": {
            "feedback": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["card", "outcome", "outcomeTimestamp"],
                    "properties": {
                        "card": {**_STRING, "description": "The card's uuid."},
                        "outcome": {"enum": ["accepted", "overridden"]},
                        "outcomeTimestamp": {"type": "string", "format": "date-time"},
                        "acceptedSuggestions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {"id": _STRING},
                            },
                        },
                        "overrideReason": {
                            "type": "object",
                            "properties": {
                                "reason": ref("Coding"),
                                "userComment": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "FeedbackResult": {
        "type": "object",
        "required": ["feedback"],
        "properties": {
            "feedback": {
                "type": "object",
                "description": "How many items were new, merged into one kept, or repeats.",
                "properties": {
                    name: {"type": "integer", "minimum": 1}
                    for name in ("stored", "merged", "duplicate")
                },
                "additionalProperties": False,
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not-ready"]},
            "checks": {
                "type": "object",
                "required": ["store", "trustedIssuerKeys"],
                "properties": {
                    "store": {"enum": ["ok", "failed"]},
                    "trustedIssuerKeys": {
                        "enum": ["ok", "failed", "off"],
                        "description": "off: client JWT verification is off",
                    },
                },
            },
            "failed": {"type": "array", "items": {"enum": ["store", "trustedIssuerKeys"]}},
            "issuersWithoutKeys": {"type": "integer", "minimum": 1},
        },
    },
}
