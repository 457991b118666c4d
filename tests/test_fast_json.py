"""fhir/read/fast_json.py: the same values and errors as json.loads, with orjson when present."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.fhir.read import fast_json

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)  # beyond int64 both ways
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal with the types: 1 and 1.0 and True differ here (json keeps int vs float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans())
def test_values_are_json_loads_values(value: Any, compact: bool) -> None:
    text = json.dumps(value, separators=(",", ":") if compact else None).encode()
    assert _same(fast_json.loads(text), json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        b'{"value":123456789012345678901234567890}',  # orjson alone would give a float
        b'{"value": [1, -98765432109876543210]}',
        b"123456789012345678901234567890",  # a bare top-level number
        b'{"value":NaN}',  # json reads NaN and Infinity, orjson refuses them
        b'{"value":1e400}',
        b'\xef\xbb\xbf{"value":1}',  # a UTF-8 byte order mark
        '{"value":"\ud800"}'.encode("utf-8", "surrogatepass"),  # an encoded lone surrogate
        '{"value":1}'.encode("utf-16"),
        b'{"value":0.10}',
        b'{"v" : -12345678901234567890 }',
        b"[12345678901234567890123]",
        b'{"v":12345678901234567890.5,"w":1234567890123456789e3}',  # floats in both
        b'{"t":"seed: 6608123172186290765 (Synthea)","n":1}',
    ],
)
def test_where_orjson_differs_json_decides(text: bytes) -> None:
    assert _same(fast_json.loads(text), json.loads(text))


@pytest.mark.parametrize("text", [b'{"a":', b'{"a":1}}', b"\xff", b"", b'{"a":"\x01"}'])
def test_errors_are_json_loads_errors(text: bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(ValueError) as raised:
        fast_json.loads(text)
    assert type(raised.value) is type(expected.value)
    assert str(raised.value) == str(expected.value)


def test_orjson_is_used_when_installed() -> None:
    orjson = pytest.importorskip("orjson")
    assert fast_json.available()
    # a long digit run only inside a string still parses right (json.loads takes it)
    text = b'{"id":"x","n":[1,"12345678901234567890123"]}'
    assert fast_json.loads(text) == orjson.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "long"),
    [
        (b'{"v":12345678901234567890}', True),  # 20 digits before "}"
        (b'{"v": [ -1234567890123456789 , 2]}', True),  # 19 digits, spaces and a minus
        (b'{"v":123456789012345678}', False),  # 18 digits: an int64
        (b'{"v":12345678901234567890.5}', False),  # a fraction: a float for json too
        (b'{"t":"seed: 6608123172186290765 (Synthea)"}', False),  # in text, not delimited
        (b'{"t":"x,12345678901234567890]"}', True),  # in a string: a false alarm (json decides)
    ],
)
def test_long_integers_are_found_where_an_integer_can_stand(text: bytes, long: bool) -> None:
    assert fast_json._long_integer(text) is long
