"""Cards for the lines of a payment-model pack other than CPOC (value-and-models §15).

A pack line's card is titled by the pack (``PaymentModelPack.title``: "EOM episode 2, month 3:
MEOS M0010 $110.00"), else by the shared wording below. The episode models (OCM, EOM, §15.1,
§15.2) keep fee-for-service billing — MEOS is added, nothing is replaced — so these cards name
no CPOC level, score or fee-for-service conflict. Summaries stay under the spec's 140
characters (cards.first_fitting: whole parts or a fixed fallback, never cut mid-word).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from cds_hooks.cards import Card, CardSource, first_fitting, fitted, shorten
from cpoc_fhir.engine.components import Component
from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.lines import BillingLine, LineStatus
from cpoc_fhir.packs.base import PaymentModelPack

# What a pack's component is called in a sentence (the packs share the component vocabulary).
_WORD = {Component.MEOS: "MEOS", Component.CARE_MANAGEMENT: "care management fee"}
KIND_EPISODE_START = "episode-start"
KIND_PACK_LINE = "pack-line"
KIND_PACK_MONTH = "pack-month"
KIND_ENHANCED_SERVICES = "enhanced-services"


def money(amount: Decimal, currency: str) -> str:
    """``$110.00`` for US dollars, else ``EUR 110.00``: two decimals, as ChargeItems carry."""
    value = f"{amount.quantize(Decimal('0.01')):.2f}"
    return f"${value}" if currency in ("USD", "$", "") else f"{currency} {value}"


def line_title(pack: PaymentModelPack, line: BillingLine, currency: str) -> str:
    """The pack's own sentence for ``line``, else the shared one ("EOM M0010: episode 2,
    month 3, $110.00")."""
    own = pack.title(line, currency)
    if own:
        return " ".join(own.split())
    where = (
        f"episode {line.episode}, month {line.month}"
        if line.episode is not None and line.month is not None
        else f"{line.start.isoformat()} to {line.end.isoformat()}"
    )
    return f"{pack.short_name} {line.code}: {where}, {money(line.amount, currency)}"


def episode_start_card(
    source: CardSource,
    pack: PaymentModelPack,
    episode: Episode,
    first: BillingLine | None,
    currency: str,
    notes: Sequence[str] = (),
) -> Card:
    """The order starts an episode: its dates, and what its first month bills."""
    head = (
        f"This order starts {pack.short_name} episode {episode.index} "
        f"({episode.start.isoformat()} to {episode.end.isoformat()})"
    )
    what = ""
    if first is not None:
        word = _WORD.get(first.component, "")
        what = f": {word} {first.code} {money(first.amount, currency)} in month 1"
    summary = first_fitting(
        f"{head}{what}", head, fallback=f"This order starts episode {episode.index}"
    )
    parts = [
        f"**{pack.name}** episode {episode.index} runs from {episode.start.isoformat()} to "
        f"{episode.end.isoformat()} (six months from its trigger, value-and-models §15).",
    ]
    if not episode.confirmed:
        parts.append(
            "Provisional: its trigger is this order's planned administration; the episode "
            "holds once the drug is recorded as given or dispensed."
        )
    if first is not None:
        parts.append(_line_detail(pack, first, currency))
    parts.append(_keeps_ffs(pack))
    parts += list(notes)
    indicator = "warning" if first is not None and _not_billable(first) else "info"
    return source.card(
        KIND_EPISODE_START, summary, indicator, _join(parts), _month(first), pack.short_name
    )


def pack_line_card(
    source: CardSource,
    pack: PaymentModelPack,
    line: BillingLine,
    before: BillingLine | None,
    currency: str,
    notes: Sequence[str] = (),
) -> Card:
    """The pack line of the month an order falls in, and whether the order changes it."""
    title = line_title(pack, line, currency)
    if before is None:
        change = "; this order brings it"
    elif (before.code, before.amount, before.status) == (line.code, line.amount, line.status):
        change = "; unchanged by this order"
    else:
        change = f"; without this order {money(before.amount, currency)} {before.status.value}"
    summary = fitted(title, change) or shorten(title)
    parts = [_line_detail(pack, line, currency), _keeps_ffs(pack), *notes]
    indicator = "warning" if _not_billable(line) else "info"
    return source.card(
        KIND_PACK_LINE, summary, indicator, _join(parts), _month(line), pack.short_name
    )


def pack_month_card(
    source: CardSource, pack: PaymentModelPack, lines: Sequence[BillingLine], currency: str
) -> Card:
    """patient-view: the pack's lines of the current month (one, for an episode model)."""
    first = lines[0]
    title = line_title(pack, first, currency)
    rest = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    summary = fitted(f"{title} ({first.status.value})", rest) or shorten(title)
    parts = [_line_detail(pack, line, currency) for line in lines]
    parts.append(_keeps_ffs(pack))
    indicator = "warning" if any(_not_billable(line) for line in lines) else "info"
    return source.card(
        KIND_PACK_MONTH, summary, indicator, _join(parts), _month(first), pack.short_name
    )


def enhanced_services_card(
    source: CardSource, pack: PaymentModelPack, episode: Episode, missing: Sequence[str]
) -> Card:
    """EOM's enhanced services (§15.2) with nothing on record yet in the current episode."""
    named = " and ".join(_SERVICE.get(m, m) for m in missing)
    summary = first_fitting(
        f"{pack.short_name} episode {episode.index}: no {named} on record yet",
        fallback=f"{pack.short_name}: enhanced services missing in this episode",
    )
    detail = _join(
        [
            f"Episode {episode.index} ({episode.start.isoformat()} to "
            f"{episode.end.isoformat()}) has no {named} on record so far.",
            "The model expects enhanced services during each episode (health-related social "
            "needs screening, electronic patient-reported outcomes); they are recorded, not "
            "billed: the MEOS line does not depend on them.",
        ]
    )
    return source.card(KIND_ENHANCED_SERVICES, summary, "info", detail, None, pack.short_name)


_SERVICE = {
    "hrsn_screening": "health-related social needs screening",
    "epro": "ePRO",
}


def _line_detail(pack: PaymentModelPack, line: BillingLine, currency: str) -> str:
    head = (
        f"**{_inline(line_title(pack, line, currency))}** "
        f"({line.start.isoformat()} to {line.end.isoformat()}): *{line.status.value}*"
    )
    bullets = "\n".join(f"- {_inline(e)}" for e in line.explanation)
    return _join([head, bullets])


def _keeps_ffs(pack: PaymentModelPack) -> str:
    if pack.replaces_fee_for_service:
        return ""
    return (
        f"{pack.short_name} keeps fee-for-service billing: this payment is added to the visit "
        "and drug administration charges, which are billed as usual (no conflict)."
    )


def _not_billable(line: BillingLine) -> bool:
    return line.status is LineStatus.NOT_BILLABLE


def _month(line: BillingLine | None) -> str | None:
    return line.start.isoformat() if line is not None else None


def _inline(text: str) -> str:
    # Markdown that could start HTML or a link from record text is neutralised (cards.py).
    return " ".join(text.split()).replace("<", "&lt;").replace("[", "\\[")


def _join(parts: Sequence[str]) -> str:
    return "\n\n".join(p for p in parts if p)
