"""cds_hooks/body.py: the C-speed string removal of the nesting check, against the regex."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks import body

# strings rich in what could confuse a string scanner: quotes, backslashes, brackets
_text = st.text(alphabet='ab"\\[]{}\n\u00e9', max_size=8)
_values = st.recursive(
    st.none() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(_values, st.booleans())
def test_strings_removed_as_the_regex_removes_them(value: Any, ascii_only: bool) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert body._outside_strings(data) == body._STRING.sub(b"", data)


def test_nesting_counts_brackets_outside_strings_only() -> None:
    # depth 3 ([ { [ ), with 10 brackets inside a string and an escaped quote before them
    data = json.dumps([{"a": ['x\\"[[[[[[[[[[']}]).encode()
    assert not body.nesting_exceeds(data, 3)
    assert body.nesting_exceeds(data, 2)
