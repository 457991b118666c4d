"""Emergency visits and home geolocation read from public Synthea R4 transaction Bundles
(``/work/shared/data/external/synthea_r4_transaction``; skipped when absent): Encounters of
class EMER with ``urn:uuid`` references, Conditions naming their encounter, addresses with the
geolocation extension as Synthea writes it.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.fhir.read.resources import PatientResources
from cpoc_fhir.fhir.read.sources import open_source
from cpoc_fhir.value.er_distance import EARTH_RADIUS_KM, distance_km, home_position
from cpoc_fhir.value.er_visits import Op35, emergency_visits
from cpoc_fhir.value.model import Position

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "external"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/external")
SYNTHEA = DATA / "synthea_r4_transaction"
BUNDLES = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []
BOSTON = Position(42.3601, -71.0589)

pytestmark = pytest.mark.skipif(not BUNDLES, reason="public Synthea data not present")


def patient_of(path: Path) -> PatientResources:
    (resources,) = list(open_source(path).patients())
    return resources


def emer_encounters(path: Path) -> set[tuple[str, date]]:
    """Independently of the reader: the Bundle's Encounters whose class code is EMER."""
    entries = json.loads(path.read_text(encoding="utf-8"))["entry"]
    return {
        (
            f"Encounter/{e['resource']['id']}",
            date.fromisoformat(e["resource"]["period"]["start"][:10]),
        )
        for e in entries
        if e["resource"]["resourceType"] == "Encounter"
        and e["resource"].get("class", {}).get("code") == "EMER"
    }


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name.split("_")[0])
def test_emergency_encounters_found_none_oncology_related(path: Path) -> None:
    """Synthea's emergency visits are appendicitis, sprains and "suspected lung cancer": none
    is in an OP-35 category."""
    warnings: list[str] = []
    visits = emergency_visits(patient_of(path), date(2030, 1, 1), warnings, Op35.bundled())
    assert {(v.ref, v.day) for v in visits} == emer_encounters(path)
    assert all(v.categories == () for v in visits)
    assert warnings == []


def test_condition_naming_its_encounter_through_urn_uuid() -> None:
    """Austin's 1930 emergency visit has its diagnosis only as a Condition whose ``encounter``
    is a urn:uuid fullUrl. Recoded (in memory) as SNOMED CT 386661006 fever, the visit is a
    fever visit citing that Condition."""
    path = next(p for p in BUNDLES if p.name.startswith("Austin"))
    resources = patient_of(path)
    visits = emergency_visits(resources, date(2030, 1, 1), [], Op35.bundled())
    first = min(visits, key=lambda v: v.day)
    changed: list[dict[str, Any]] = []
    target = None
    for resource in resources.resources:
        resource = copy.deepcopy(resource)
        if resource["resourceType"] == "Condition":
            ref = resource.get("encounter", {}).get("reference")
            if resources.key(ref) == first.ref:
                resource["code"] = {
                    "coding": [{"system": "http://snomed.info/sct", "code": "386661006"}]
                }
                target = f"Condition/{resource['id']}"
        changed.append(resource)
    assert target is not None
    recoded = PatientResources(resources.patient_ref, changed, resources.shared, resources.aliases)
    again = {v.ref: v for v in emergency_visits(recoded, date(2030, 1, 1), [], Op35.bundled())}
    assert again[first.ref].categories == ("fever",)
    assert again[first.ref].evidence == (first.ref, target)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name.split("_")[0])
def test_home_geolocation_and_distance(path: Path) -> None:
    """The address geolocation as Synthea writes it (no ``use``), and the distance to Boston
    checked against the spherical law of cosines (another formula, same sphere)."""
    resources = patient_of(path)
    patient = resources.patient
    assert patient is not None
    home = home_position(patient, 2020)
    assert home is not None
    (address,) = patient["address"]
    parts = {p["url"]: p["valueDecimal"] for p in address["extension"][0]["extension"]}
    assert (home.latitude, home.longitude) == (parts["latitude"], parts["longitude"])
    p1, p2 = math.radians(home.latitude), math.radians(BOSTON.latitude)
    dl = math.radians(BOSTON.longitude - home.longitude)
    cosines = EARTH_RADIUS_KM * math.acos(
        math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    )
    assert abs(distance_km(home, BOSTON) - Decimal(repr(cosines))) <= Decimal("0.05")
