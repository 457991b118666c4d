"""Tables 1-4 and the level bands of the proposal (III-B), cpoc-rules §5."""

from decimal import Decimal

import pytest

from cpoc_fhir.packs.cpoc import tables


@pytest.mark.parametrize(
    ("total", "level"),
    [(0, 1), (2, 1), (3, 2), (5, 2), (6, 3), (8, 3), (9, 4), (16, 4)],
)
def test_level_bands(total: int, level: int) -> None:
    assert tables.treatment_level(total) == level


@pytest.mark.parametrize(("index", "points"), [(0, 0), (3, 0), (4, 1), (7, 1), (8, 2), (15, 2)])
def test_table_1_comorbidity(index: int, points: int) -> None:
    assert tables.comorbidity_points(index) == points


@pytest.mark.parametrize(("ecog", "points"), [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2)])
def test_table_2_performance(ecog: int, points: int) -> None:
    assert tables.performance_points(ecog) == points


@pytest.mark.parametrize(
    ("karnofsky", "ecog"),
    [(100, 0), (90, 0), (80, 1), (70, 1), (60, 2), (50, 2), (40, 3), (30, 3), (20, 4), (10, 4)],
)
def test_karnofsky_conversion(karnofsky: int, ecog: int) -> None:
    assert tables.karnofsky_to_ecog(karnofsky) == ecog


def test_karnofsky_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="0-100"):
        tables.karnofsky_to_ecog(110)


@pytest.mark.parametrize(
    ("hosp", "qol", "death", "points"),
    [
        ("19.9", "49", "0.9", 0),
        ("20", "0", "0", 2),
        ("35", "0", "0", 2),  # "20 % - 35 %" is the 2-point row
        ("35.1", "0", "0", 4),
        ("0", "50", "0", 2),
        ("0", "74", "0", 2),
        ("0", "75", "0", 4),
        ("0", "0", "1", 2),
        ("0", "0", "9.9", 2),
        ("0", "0", "10", 4),  # the table's "<10 %" in the 4-point row is read as ≥ 10 %
    ],
)
def test_table_3_toxicity(hosp: str, qol: str, death: str, points: int) -> None:
    assert tables.toxicity_points(Decimal(hosp), Decimal(qol), Decimal(death)) == points


@pytest.mark.parametrize(
    ("days", "points"),
    [
        ([], 0),
        ([0], 0),  # one injection
        ([0, 0], 1),  # 2+ treatments at level 0
        ([1], 1),
        ([1, 1], 2),
        ([2], 2),
        ([2, 2], 4),
        ([3], 3),
        ([3, 2], 4),  # two days at ≥ 2
        ([3, 3], 6),
        ([4], 4),
        ([4, 4], 8),
        ([4, 0, 0], 4),  # 2+ at level 0 earns 1; one day at 4 earns 4
        ([6], 6),  # stem cell transplant
        ([6, 4], 8),  # two days at ≥ 4
        ([3, 1, 1, 1], 3),
    ],
)
def test_table_4_infusions(days: list[int], points: int) -> None:
    assert tables.infusion_points(days) == points


@pytest.mark.parametrize(
    ("pattern", "initial", "points"),
    [
        ("single-daily", True, 1),
        ("single-daily", False, 0),
        ("single-on-off", True, 2),
        ("single-on-off", False, 1),
        ("multi-daily", True, 2),
        ("multi-daily", False, 2),
        ("multi-on-off", True, 4),
        ("multi-on-off", False, 3),
    ],
)
def test_table_4_oral(pattern: str, initial: bool, points: int) -> None:
    assert tables.oral_points(pattern, initial) == points


def test_unknown_oral_pattern_is_named() -> None:
    with pytest.raises(ValueError, match="weekly"):
        tables.oral_points("weekly", True)
