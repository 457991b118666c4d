"""The value-based adjustment (§12.4): the II-C.2 table as shipped, the rows and midpoints,
participation years, monotonicity, and ``cpoc vba``."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpoc_fhir.cli import main
from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.value.adjustment import (
    adjustment,
    percent_text,
    table_from_data,
    vba_table,
)
from cpoc_fhir.value.model import Rating

HIGH, APPROPRIATE, LOW = Rating.HIGH, Rating.APPROPRIATE, Rating.LOW

# Hand-copied from the proposal (seed 002, II-C.2, "The following table shows how the size of
# the Value-Based Adjustment could be phased in over a seven-year period"), years 1…7:
#   High on Pathway Use + High on Quality + High on Avoiding ER Use  +1% +2% +3% +4% +6% +8% +10%
#   High on Two Measures + Low on One Measure                        0.5% +1% +1.5% +2% +3% +4% +5%
#   High on One Measure + Low on Two Measures                        0% -0.5% -1% -2% -3% -4% -5%
#   Low on Pathway Use + Low on Quality + Low on Avoiding ER Use     0% -1% -2% -4% -6% -8% -10%
PROPOSAL = {
    3: ["+1%", "+2%", "+3%", "+4%", "+6%", "+8%", "+10%"],
    1: ["+0.5%", "+1%", "+1.5%", "+2%", "+3%", "+4%", "+5%"],
    -1: ["0%", "-0.5%", "-1%", "-2%", "-3%", "-4%", "-5%"],
    -3: ["0%", "-1%", "-2%", "-4%", "-6%", "-8%", "-10%"],
}
ROW_RATINGS = {
    3: (HIGH, HIGH, HIGH),
    1: (HIGH, HIGH, LOW),
    -1: (HIGH, LOW, LOW),
    -3: (LOW, LOW, LOW),
}


@pytest.mark.parametrize("score", sorted(PROPOSAL))
def test_every_row_matches_the_proposal(score: int) -> None:
    table = vba_table()
    assert [percent_text(table.row(score, year)) for year in range(1, 8)] == PROPOSAL[score]
    assert [percent_text(adjustment(year, ROW_RATINGS[score])) for year in range(1, 8)] == PROPOSAL[
        score
    ]


def test_table_cites_its_source() -> None:
    assert "II-C.2" in vba_table().source
    assert vba_table().labels[3].startswith("High on Pathway Use")


@pytest.mark.parametrize(
    ("year", "ratings", "expected"),
    [
        # +2 (high, high, appropriate): midpoint of rows +3 and +1
        (1, (HIGH, HIGH, APPROPRIATE), "0.0075"),  # (1 % + 0.5 %) / 2
        (3, (HIGH, APPROPRIATE, HIGH), "0.0225"),  # (3 % + 1.5 %) / 2
        (7, (APPROPRIATE, HIGH, HIGH), "0.075"),  # (10 % + 5 %) / 2
        # −2: midpoint of rows −1 and −3
        (1, (LOW, LOW, APPROPRIATE), "0"),  # (0 % + 0 %) / 2
        (2, (LOW, APPROPRIATE, LOW), "-0.0075"),  # (−0.5 % − 1 %) / 2
        (5, (APPROPRIATE, LOW, LOW), "-0.045"),  # (−3 % − 6 %) / 2
        # 0: the standard payment, whatever the mix
        (7, (APPROPRIATE, APPROPRIATE, APPROPRIATE), "0"),
        (7, (HIGH, APPROPRIATE, LOW), "0"),
        # +1 and −1 without a low / a high take the rows
        (3, (HIGH, APPROPRIATE, APPROPRIATE), "0.015"),
        (3, (LOW, APPROPRIATE, APPROPRIATE), "-0.01"),
        # participation year 8 and later take year 7
        (8, (HIGH, HIGH, HIGH), "0.10"),
        (20, (LOW, LOW, LOW), "-0.10"),
    ],
)
def test_sums_between_rows_and_later_years(
    year: int, ratings: tuple[Rating, Rating, Rating], expected: str
) -> None:
    assert adjustment(year, ratings) == Decimal(expected)


def test_toward_standard_takes_the_inner_row() -> None:
    data = {
        "table": {"years": 2, "between_rows": "toward-standard", "source": "test"},
        "rows": [
            {"score": 3, "percent": ["1", "2"]},
            {"score": 1, "percent": ["0.5", "1"]},
            {"score": -1, "percent": ["0", "-0.5"]},
            {"score": -3, "percent": ["0", "-1"]},
        ],
    }
    table = table_from_data(data, "t.toml")
    assert adjustment(2, (HIGH, HIGH, APPROPRIATE), table) == Decimal("0.01")
    assert adjustment(2, (LOW, LOW, APPROPRIATE), table) == Decimal("-0.005")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table": {"years": 0}}, "table.years"),
        ({"table": {"years": 2, "between_rows": "nearest"}}, "between_rows"),
        ({"rows": [{"score": 2, "percent": ["1", "2"]}]}, "score"),
        ({"rows": [{"score": 3, "percent": ["1"]}]}, "2 years"),
        ({"rows": [{"score": 3, "percent": ["1", 2.5]}]}, "not a percentage"),
        ({"rows": [{"score": 3, "percent": ["1", "2"]}]}, "no row for score 1"),
    ],
)
def test_bad_tables_name_the_field(change: dict[str, object], message: str) -> None:
    data: dict[str, object] = {"table": {"years": 2}, "rows": []}
    data.update(change)
    with pytest.raises(KnowledgeError, match=message):
        table_from_data(data, "t.toml")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="participation year"):
        adjustment(0, (HIGH, HIGH, HIGH))
    with pytest.raises(ValueError, match="three ratings"):
        adjustment(1, (HIGH, HIGH))  # type: ignore[arg-type]


RATING = st.sampled_from(list(Rating))


@given(
    year=st.integers(min_value=1, max_value=12),
    ratings=st.tuples(RATING, RATING, RATING),
    which=st.integers(min_value=0, max_value=2),
)
def test_monotone_in_each_rating(
    year: int, ratings: tuple[Rating, Rating, Rating], which: int
) -> None:
    """Raising any one rating (low → appropriate → high) never lowers the adjustment."""
    order = [LOW, APPROPRIATE, HIGH]
    here = adjustment(year, ratings)
    for better in order[order.index(ratings[which]) + 1 :]:
        raised = list(ratings)
        raised[which] = better
        assert adjustment(year, (raised[0], raised[1], raised[2])) >= here


def test_symmetric_in_the_measures_and_bounded_by_the_table() -> None:
    for year in range(1, 9):
        for ratings in itertools.product(Rating, repeat=3):
            value = adjustment(year, ratings)
            for perm in itertools.permutations(ratings):
                assert adjustment(year, perm) == value
            assert adjustment(year, (LOW, LOW, LOW)) <= value <= adjustment(year, (HIGH,) * 3)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.015", "+1.5%"),
        ("0.005", "+0.5%"),
        ("0", "0%"),
        ("-0.00", "0%"),
        ("-0.10", "-10%"),
        ("0.10", "+10%"),
        ("0.0225", "+2.25%"),
    ],
)
def test_percent_text(value: str, text: str) -> None:
    assert percent_text(Decimal(value)) == text


@pytest.mark.parametrize(
    ("argv", "printed"),
    [
        (["3", "high", "high", "low"], "+1.5%"),
        (["1", "high", "high", "low"], "+0.5%"),
        (["7", "appropriate", "appropriate", "appropriate"], "0%"),
        (["7", "low", "low", "low"], "-10%"),
        (["9", "HIGH", "high", "high"], "+10%"),
    ],
)
def test_cpoc_vba(argv: list[str], printed: str, capsys: pytest.CaptureFixture[str]) -> None:
    year, pathways, quality, er = argv
    code = main(
        [
            "vba",
            "--participation-year",
            year,
            "--pathways",
            pathways,
            "--quality",
            quality,
            "--er",
            er,
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == printed + "\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--participation-year", "0", "--pathways", "high", "--quality", "high", "--er", "low"],
            "participation year",
        ),
        (
            ["--participation-year", "2", "--pathways", "good", "--quality", "high", "--er", "low"],
            "not a rating",
        ),
        (["--participation-year", "2", "--pathways", "high", "--quality", "high"], "--er"),
    ],
)
def test_cpoc_vba_bad_usage(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["vba", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["vba", "--help"], ["payer", "set-vba", "--help"]])
def test_help_texts_render(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: cpoc" in capsys.readouterr().out
