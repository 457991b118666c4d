"""Python values → compact JSON text on the timeline's output path, with orjson.

``cpoc timeline --format json`` (and scripts/bench_timeline.py, which times what it does)
serialised each timeline with ``json.dumps``: about 7 % of the job's CPU over generated
practices, where orjson (https://github.com/ijl/orjson, a declared dependency, already used to
read) takes a tenth of that. The text is compact (``,`` and ``:`` without spaces) and stays
ASCII as ``json.dumps`` wrote it, so a consumer parsing it gets the same values:
  * orjson writes UTF-8: a text with any non-ASCII character is written by ``json.dumps``
    instead (same separators, ``\\uXXXX`` escapes as before);
  * what orjson refuses (integers beyond 64 bits, non-string keys, other types) is written by
    ``json.dumps`` too, which converts or raises as it always did;
  * floats: orjson writes the same shortest round-trip digits (``1e16`` where json wrote
    ``1e+16``: the same number). NaN and infinities (not JSON) would become ``null``; the
    timeline's JSON has no floats (amounts are strings, points integers).
"""

from __future__ import annotations

import json
from typing import Any

_orjson: Any
try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None
else:
    _orjson = orjson

SEPARATORS = (",", ":")


def dumps(value: Any) -> str:
    """Compact, ASCII JSON text of ``value``: ``json.dumps(value, separators=(",", ":"))``'s
    values (see the module docstring), faster."""
    if _orjson is not None:
        try:
            data: bytes = _orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: json decides
            pass
        else:
            if data.isascii():
                return data.decode("ascii")
    return json.dumps(value, separators=SEPARATORS)
