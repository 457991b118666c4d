"""Deterministic ChargeItem ids: stable, FHIR-id-safe, one per line and generation."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.capture.ids import charge_item_id, next_free_id

SYSTEM = "http://example.org/fhir/sid/cpoc-charge"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # R4 datatypes §2.24.0.1


def test_the_id_is_a_known_hash_of_system_and_identifier() -> None:
    # printf '%s' 'http://example.org/fhir/sid/cpoc-charge|p1.new-patient' | sha256sum, first
    # 40 hex digits, pinned: changing the scheme would make every line a new item.
    assert charge_item_id(SYSTEM, "p1.new-patient") == (
        "cpoc-2841e840a7a4a2cdf8c4e0eaac83eab54c9278e4"
    )
    assert charge_item_id(SYSTEM, "p1.new-patient", 2).endswith("e4-2")


@given(st.text(min_size=1, max_size=300), st.integers(min_value=1, max_value=10**6))
def test_every_id_is_fhir_safe_and_deterministic(identifier: str, generation: int) -> None:
    made = charge_item_id(SYSTEM, identifier, generation)
    assert FHIR_ID.fullmatch(made)
    assert made == charge_item_id(SYSTEM, identifier, generation)


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_lines_and_systems_get_their_own_ids(a: str, b: str) -> None:
    if a != b:
        assert charge_item_id(SYSTEM, a) != charge_item_id(SYSTEM, b)
        assert charge_item_id(a, "x") != charge_item_id(b, "x")


def test_the_next_free_id_skips_taken_generations() -> None:
    first = charge_item_id(SYSTEM, "p.tm.2025-09-03")
    assert next_free_id(SYSTEM, "p.tm.2025-09-03", set()) == first
    assert next_free_id(SYSTEM, "p.tm.2025-09-03", {first, f"{first}-2"}) == f"{first}-3"
