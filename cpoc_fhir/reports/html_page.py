"""The page kit of the HTML reports: one self-contained page, its header and its figures.

A report page needs no network and no script to be read: the CSS is inlined (templates/
page.css), charts are inline SVG (html_charts.py), drill-downs are ``<details>``, the contents
are anchors. Every value goes through Jinja2 with autoescape, so nothing a FHIR record or a data
file says can become markup. A report module (the value report, the economics reports) builds a
:class:`PageHeader`, its charts and a template that extends ``page.html`` (macros.html has the
figure, scrolling-table, reference-list and rating pieces), then calls :func:`render_page`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from cpoc_fhir.value.adjustment import percent_text

_ID = re.compile(r"[^A-Za-z0-9_-]+")
# Characters no HTML or SVG text may hold (XML 1.0 Char; HTML parse errors): control characters
# but tab, newline and carriage return, lone surrogates (json.loads accepts "\ud800"; UTF-8
# cannot encode it) and the two non-characters. They are shown as U+FFFD.
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

MISSING = "—"


@dataclass(frozen=True)
class PageHeader:
    """What the top of every report page says.

    ``illustrative``: one sentence per input that is illustrative (benchmarks, payer file, fee
    schedule); any makes the page carry the ILLUSTRATIVE banner. ``facts``: label/value pairs
    (practice, participation year …). ``sections``: (anchor, label) for the page's contents.
    """

    title: str
    period: str
    source: str  # where the benchmarks (or other payer figures) come from, or why there are none
    illustrative: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    sections: tuple[tuple[str, str], ...] = ()
    source_label: str = "Benchmarks"  # "Payer file", "Fee schedule" …
    footer: str = (
        "Written by cpoc-fhir. Resource ids only: this page names no patient. "
        "It needs no network and no script; the drill-downs open with a click or Enter."
    )


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cpoc_fhir.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_printable,
    )
    env.filters.update(percent=percent, signed_percent=signed_percent, number=number, z=z_score)
    return env


def _printable(value: Any) -> Any:
    """Every value a template prints, with NOT_TEXT characters replaced (charts, already
    Markup, were cleaned when drawn)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_text(value)
    return value


def clean_text(text: str) -> str:
    """``text`` with the characters no page may hold replaced by U+FFFD."""
    return NOT_TEXT.sub("\ufffd", text)


def render_page(
    template: str, header: PageHeader, warnings: Iterable[Any] | None = None, **context: Any
) -> str:
    """The page ``template`` (a file under templates/ extending page.html), autoescaped; page.html
    lists the ``warnings`` (a report's "warnings", None for none) before the page's content."""
    listed = [str(w) for w in warnings or ()]
    return _environment().get_template(template).render(header=header, warnings=listed, **context)


# --- Ids ------------------------------------------------------------------------------------


def element_id(text: str) -> str:
    """An HTML id from free text ("Q1" → "q1"): letters, digits, - and _ only."""
    return _ID.sub("-", text).strip("-").lower() or "x"


def unique_ids(texts: Iterable[str], prefix: str) -> list[str]:
    """One distinct id per text, ``prefix-<text>``, numbered when two texts slug alike."""
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        base = f"{prefix}-{element_id(text)}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


# --- Numbers as people read them ------------------------------------------------------------


def to_decimal(value: Any, where: str) -> Decimal | None:
    """A JSON number or decimal string as a Decimal; None stays None.

    Rates arrive as 4-place floats or decimal strings (the report's shape); ``str(float)`` is
    the shortest repr, so 0.1667 stays 0.1667.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{where}: expected a number, a decimal string or null, got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{where}: not a finite number: {value!r}")
    return result


def percent(value: Any, places: int = 1) -> str:
    """A fraction 0-1 as a percentage ("0.8125" → "81.3%"); null → "—"."""
    fraction = to_decimal(value, "percent")
    if fraction is None:
        return MISSING
    quantum = Decimal(1).scaleb(-places)
    return f"{(fraction * 100).quantize(quantum, rounding=ROUND_HALF_UP)}%"


def signed_percent(value: Any) -> str:
    """An adjustment fraction as a signed percentage, written as `cpoc vba` and the table write
    it ("0.015" → "+1.5%", "-0.0075" → "-0.75%", "-0.01" → "-1%", "0" → "0%")."""
    fraction = to_decimal(value, "adjustment")
    if fraction is None:
        return MISSING
    return percent_text(fraction)


def number(value: Any) -> str:
    """A count or amount as given, with thousands separators ("1234" → "1,234")."""
    amount = to_decimal(value, "number")
    if amount is None:
        return MISSING
    return f"{amount:,}"


def z_score(value: Any) -> str:
    """A z-score with its sign, two places ("-0.4" → "-0.40")."""
    z = to_decimal(value, "z")
    if z is None:
        return MISSING
    return f"{z.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):+}"
