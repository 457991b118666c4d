"""Distance from the patient's home to the practice, and its band (value-and-models §12.3).

The patient's point is the FHIR ``geolocation`` extension
(http://hl7.org/fhir/StructureDefinition/geolocation: sub-extensions ``latitude`` and
``longitude``, valueDecimal, WGS84) of the home address in use in the year; the practice's is
its Location's ``position``. The distance is the great-circle (haversine) distance on a sphere of
the IUGG mean Earth radius, 6371.0088 km, rounded to 0.1 km before banding, so that a band's
edge is exact: a patient at exactly ``max_km`` is in that band ("up to max_km").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpoc_fhir.fhir.read import access
from cpoc_fhir.value.model import DistanceBand, Position

GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius R1 (Moritz, Geodetic Reference System 1980)
KM = Decimal("0.1")


def haversine_km(a: Position, b: Position) -> float:
    """Great-circle distance in km between two WGS84 points (haversine formula)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km(a: Position, b: Position) -> Decimal:
    """``haversine_km`` rounded to 0.1 km (half up): the figure bands compare."""
    return Decimal(repr(haversine_km(a, b))).quantize(KM, rounding=ROUND_HALF_UP)


def home_position(patient: dict[str, Any] | None, year: int) -> Position | None:
    """The geolocation of the patient's address for the year: a ``home`` address first, then
    any other; one whose period ended before the year or starts after it is passed over.
    None when no usable address carries a complete geolocation."""
    if patient is None:
        return None
    start, end = date(year, 1, 1), date(year, 12, 31)
    candidates = []
    for n, address in enumerate(access.objects(patient, "address", expected="Address")):
        begins, ends = access.period(address, "period", f"address[{n}]")
        if (ends is not None and ends < start) or (begins is not None and begins > end):
            continue
        if access.code(address, "use", f"address[{n}]") in ("old", "temp", "billing"):
            continue
        point = _geolocation(address, f"address[{n}]")
        if point is not None:
            home = access.code(address, "use", f"address[{n}]") == "home"
            candidates.append((0 if home else 1, n, point))
    return min(candidates)[2] if candidates else None


def _geolocation(address: dict[str, Any], at: str) -> Position | None:
    for n, ext in enumerate(access.objects(address, "extension", at, "Extension")):
        if ext.get("url") != GEOLOCATION:
            continue
        parts: dict[str, float] = {}
        where = f"{at}.extension[{n}]"
        for m, part in enumerate(access.objects(ext, "extension", where, "Extension")):
            value = access.decimal(part, "valueDecimal", f"{where}.extension[{m}]")
            if part.get("url") in ("latitude", "longitude") and value is not None:
                parts[str(part["url"])] = float(value)
        lat, lon = parts.get("latitude"), parts.get("longitude")
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            return Position(lat, lon)
    return None


def band_of(bands: Sequence[DistanceBand], km: Decimal | None) -> tuple[int | None, Decimal]:
    """(index of the band, its factor) for a distance; unknown → (None, 1) (§12.3).

    Bands are in increasing ``max_km``; the first with ``km <= max_km`` (or no ``max_km``)
    holds the distance. Farther than every band: the last band (the farthest one stated).
    No bands: factor 1.
    """
    if km is None or not bands:
        return None, Decimal(1)
    for index, band in enumerate(bands):
        if band.max_km is None or km <= band.max_km:
            return index, band.factor
    return len(bands) - 1, bands[-1].factor
