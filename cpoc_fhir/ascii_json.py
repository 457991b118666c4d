"""Python values → compact JSON text on the timeline's output path, with orjson.

``cpoc timeline --format json`` (and scripts/bench_timeline.py, which times what it does)
serialised each timeline with ``json.dumps``: about 7 % of the job's CPU over generated
practices; orjson (https://github.com/ijl/orjson, a declared dependency, already used to read)
with the escaping below takes half of that (0.034 → 0.016 s for 400 patients' timelines).
The text is compact (``,`` and ``:`` without spaces) and ASCII as ``json.dumps`` wrote it;
but for the spelling of floats it is ``json.dumps(value, separators=(",", ":"))``'s text:
  * orjson writes UTF-8; outside strings JSON is ASCII, so every non-ASCII character is in a
    string, where orjson writes it as is: each is replaced by ``json``'s own escape
    (``encode_basestring_ascii``: ``\\uXXXX``, a surrogate pair beyond U+FFFF), and so is
    DEL (U+007F), which ``json`` escapes and orjson does not. The explanations' "→" is in
    nearly every timeline, so this is the common path (``_ascii``);
  * what orjson refuses (integers beyond 64 bits, non-string keys, other types) is written by
    ``json.dumps`` too, which converts or raises as it always did;
  * floats: orjson writes the same shortest round-trip digits (``1e16`` where json wrote
    ``1e+16``: the same number). NaN and infinities (not JSON) would become ``null``; the
    timeline's JSON has no floats (amounts are strings, points integers).
FHIR resources (Decimal amounts, non-ASCII written as is) go through ``fhir/json_text.py``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_orjson: Any
try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None
else:
    _orjson = orjson

SEPARATORS = (",", ":")
# Bytes 0x00-0x7E: what json.dumps' ensure_ascii writes as it is (or escapes as orjson does).
_KEPT_BYTES = bytes(range(0x7F))


def _ascii(data: bytes) -> str:
    """orjson's UTF-8 text with each non-ASCII character (and DEL) as ``json.dumps`` escapes
    it. Deleting the kept bytes leaves the UTF-8 of exactly those characters (multi-byte
    sequences have no byte below 0x80), so the few distinct ones (a timeline has "→" some
    twenty times) are found at C speed and each replaced throughout: escapes are per
    character. (A regular expression over the text took longer than json.dumps.)"""
    text = data.decode("utf-8")
    for char in set(data.translate(None, _KEPT_BYTES).decode("utf-8")):
        text = text.replace(char, encode_basestring_ascii(char)[1:-1])  # without its quotes
    return text


def dumps(value: Any) -> str:
    """Compact, ASCII JSON text of ``value``: ``json.dumps(value, separators=(",", ":"))``'s
    values (see the module docstring), faster."""
    if _orjson is not None:
        try:
            data: bytes = _orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: json decides
            pass
        else:
            if data.isascii() and b"\x7f" not in data:
                return data.decode("ascii")
            return _ascii(data)
    return json.dumps(value, separators=SEPARATORS)
