"""ascii_json.dumps: compact ASCII JSON with orjson, the same values as json.dumps wrote."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_fast_json import _same

from cpoc_fhir import ascii_json
from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import open_source
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.service import Evaluator
from cpoc_fhir.synthetic import generate_practice

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)  # beyond int64: json writes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)  # any code point: non-ASCII, controls, quotes, backslashes, DEL
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)  # as_json could hand tuples: both write arrays
        | st.dictionaries(st.text(max_size=6), inner)
    ),
    max_leaves=20,
)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


@settings(max_examples=400, deadline=None)
@given(_values)
def test_same_values_as_json_dumps(value: Any) -> None:
    """The former definition, json.dumps, is the reference: parsing either text gives the same
    values with the same types; the text is ASCII and, but for the spelling of floats,
    json.dumps' compact text (non-ASCII, astral, control characters and DEL escaped alike)."""
    text = ascii_json.dumps(value)
    former = json.dumps(value)
    assert text.isascii()
    assert _same(json.loads(text), json.loads(former))
    if not _has_float(value):
        assert text == json.dumps(value, separators=(",", ":"))


def test_hand_written_examples() -> None:
    # Written by hand from RFC 8259: no spaces; é as its \u escape (json.dumps' ensure_ascii);
    # a quote and a backslash escaped; a newline as \n.
    assert ascii_json.dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"\\u00e9"],"b":null}'
    # "→" (U+2192) as the explanations write it; 😀 (U+1F600) as a UTF-16 surrogate pair; DEL.
    assert ascii_json.dumps(["3 → level 2"]) == '["3 \\u2192 level 2"]'
    assert ascii_json.dumps(["😀", "a\x7f"]) == '["\\ud83d\\ude00","a\\u007f"]'
    assert ascii_json.dumps(['say "hi"\\', "x\ny"]) == '["say \\"hi\\"\\\\","x\\ny"]'
    # What orjson refuses, json writes as it always did: a 2**64 integer, an int key.
    assert ascii_json.dumps([2**64]) == "[18446744073709551616]"
    assert ascii_json.dumps({1: True}) == '{"1":true}'


def test_timelines_of_a_generated_practice(tmp_path: Path, knowledge: Knowledge) -> None:
    """What `cpoc timeline --format json` writes per patient: the same JSON as before."""
    generate_practice(tmp_path, 40, seed=11, year=2025, claims=False)
    evaluator = Evaluator(knowledge, RuleSettings(), load_payer(None))
    seen = 0
    for timeline in evaluator.timelines(open_source(tmp_path), date(2026, 6, 30)):
        data = timeline.as_json()
        assert json.loads(ascii_json.dumps(data)) == json.loads(json.dumps(data))
        seen += bool(data["lines"])
    assert seen > 20  # patients with lines were compared, not just empty timelines
