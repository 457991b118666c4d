"""capture.shapes: a ChargeItem of a shape already accepted skips the R4B model only when that
cannot change the answer — checked against the full model validation."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.capture import shapes
from cpoc_fhir.capture.shapes import check_charge_item
from cpoc_fhir.fhir.write import ResourceValidationError, validate_charge_item

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"


def item() -> dict[str, Any]:
    """A valid ChargeItem of the shape build_charge_item makes (the fields it fills)."""
    return {
        "resourceType": "ChargeItem",
        "meta": {"tag": [{"system": "http://example.org/tag", "code": "cpoc"}]},
        "identifier": [{"system": SYSTEM, "value": "p1.treatment-month.2025-09-01"}],
        "status": "billable",
        "code": {"coding": [{"system": "http://example.org/cs", "code": "xx203"}]},
        "subject": {"reference": "Patient/p1"},
        "context": {"reference": "EpisodeOfCare/e1"},
        "occurrencePeriod": {"start": "2025-09-01", "end": "2025-09-30"},
        "performer": [{"actor": {"reference": "Practitioner/dr"}}],
        "performingOrganization": {"reference": "Organization/o"},
        "quantity": {"value": 1},
        "priceOverride": {"value": Decimal("430.00"), "currency": "USD"},
        "enteredDate": "2025-10-05T08:00:00+00:00",
        "service": [{"reference": "MedicationAdministration/m1"}],
        "supportingInformation": [{"reference": "MedicationAdministration/m1"}],
        "note": [{"text": "Treatment month 1"}],
    }


# (path, value): each path's value replaced; tricky values for the masked fields and others.
PATHS = [
    ("identifier.0.value", str),
    ("subject.reference", str),
    ("context.reference", str),
    ("performer.0.actor.reference", str),
    ("service.0.reference", str),
    ("occurrencePeriod.start", str),
    ("occurrencePeriod.end", str),
    ("priceOverride.value", Decimal),
    ("note.0.text", str),
    ("status", str),
    ("code.coding.0.code", str),
    ("priceOverride.currency", str),
    ("enteredDate", str),
]
TEXTS = st.sampled_from(
    [
        "",
        " ",
        "x",
        "a b",
        "Patient/p2",
        "2025-02-29",
        "2024-02-29",
        "2025-13-01",
        "0000-01-01",
        "2025-9-01",
        "2025-09-01T00:00:00Z",
        "billable",
        "entered-in-error",
        "USD",
        "ZZZ",
        "\t",
    ]
) | st.text(max_size=12)
AMOUNTS = st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-1.5"), Decimal("0")]) | (
    st.decimals(allow_nan=False, allow_infinity=False, places=2)
)


def put(resource: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    here: Any = resource
    for key in parents:
        here = here[int(key)] if key.isdigit() else here[key]
    here[int(last) if last.isdigit() else last] = value


def accepted(check: Any, resource: dict[str, Any]) -> bool:
    try:
        check(copy.deepcopy(resource))
    except ResourceValidationError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_same_answer_as_the_model(data: st.DataObject) -> None:
    shapes._accepted.clear()
    assert check_charge_item(item())  # the base shape is now accepted without the model
    changed = item()
    for path, kind in data.draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        put(changed, path, data.draw(AMOUNTS if kind is Decimal else TEXTS))
    assert accepted(check_charge_item, changed) == accepted(validate_charge_item, changed)


def test_a_known_shape_skips_the_model_and_a_new_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shapes._accepted.clear()
    calls: list[str] = []

    def counted(resource: dict[str, Any]) -> dict[str, Any]:
        calls.append(resource["identifier"][0]["value"])
        return validate_charge_item(resource)

    monkeypatch.setattr(shapes, "validate_charge_item", counted)
    first, second, other = item(), item(), item()
    put(second, "identifier.0.value", "p2.treatment-month.2025-10-01")
    put(second, "occurrencePeriod.start", "2025-10-01")
    put(second, "priceOverride.value", Decimal("215.50"))
    put(other, "identifier.0.value", "p3.x")
    put(other, "status", "planned")  # another shape: the model decides
    for resource in (first, second, other):
        check_charge_item(resource)
    assert calls == ["p1.treatment-month.2025-09-01", "p3.x"]
    broken = item()
    put(broken, "code.coding.0.code", "xx 203 ")  # a code with a trailing space: not an R4 code
    with pytest.raises(ResourceValidationError, match="code"):
        check_charge_item(broken)


def test_a_shape_orjson_refuses_is_still_a_shape() -> None:
    """orjson writes the shape key; what it refuses (here an integer beyond 64 bits, which
    json writes) falls back to json: the same key for the same item, and a different key from
    the plain item's, so the unusual item is validated by the model itself."""
    plain, huge = item(), item()
    huge["quantity"] = {"value": 2**70}
    assert shapes._shape(huge) == shapes._shape(copy.deepcopy(huge))
    assert shapes._shape(huge) != shapes._shape(plain)
    assert "1180591620717411303424" in (shapes._shape(huge) or "")  # 2**70, by json
    check_charge_item(plain)
    try:
        validate_charge_item(huge)
    except ResourceValidationError:
        with pytest.raises(ResourceValidationError):
            check_charge_item(huge)
    else:
        assert check_charge_item(huge) is huge
