"""A feedback POST body (CDS Hooks 2.0.1 §Feedback), checked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cds_hooks.hook_request import RequestError
from cpoc_fhir.store.hooks import FeedbackItem

OUTCOMES = ("accepted", "overridden")


def parse_feedback(body: Any) -> list[FeedbackItem]:
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
        raise RequestError("$.feedback", "required, an array")
    if not body["feedback"]:
        raise RequestError("$.feedback", "must not be empty")
    return [_item(entry, f"$.feedback[{i}]") for i, entry in enumerate(body["feedback"])]


def _item(entry: Any, where: str) -> FeedbackItem:
    if not isinstance(entry, dict):
        raise RequestError(where, "must be a JSON object")
    card = _text(entry.get("card"), f"{where}.card", 255)
    outcome = entry.get("outcome")
    if outcome not in OUTCOMES:
        raise RequestError(f"{where}.outcome", "must be accepted or overridden")
    timestamp = _timestamp(entry.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
    accepted = _accepted(entry.get("acceptedSuggestions"), outcome, where)
    system = code = display = comment = None
    reason = entry.get("overrideReason")
    if reason is not None:
        if outcome != "overridden":
            raise RequestError(f"{where}.overrideReason", "only with the overridden outcome")
        if not isinstance(reason, dict):
            raise RequestError(f"{where}.overrideReason", "must be a JSON object")
        coding = reason.get("reason")
        if coding is not None:
            if not isinstance(coding, dict):
                raise RequestError(f"{where}.overrideReason.reason", "must be a Coding object")
            code = _text(coding.get("code"), f"{where}.overrideReason.reason.code", 255)
            system = _text(coding.get("system"), f"{where}.overrideReason.reason.system", 512)
            display = coding.get("display") if isinstance(coding.get("display"), str) else None
        comment = reason.get("userComment")
        if comment is not None and not isinstance(comment, str):
            raise RequestError(f"{where}.overrideReason.userComment", "must be a string")
    return FeedbackItem(card, outcome, timestamp, accepted, system, code, display, comment)


def _accepted(value: Any, outcome: str, where: str) -> tuple[str, ...]:
    if outcome != "accepted":
        if value:
            raise RequestError(f"{where}.acceptedSuggestions", "only with the accepted outcome")
        return ()
    if not isinstance(value, list) or not value:
        raise RequestError(f"{where}.acceptedSuggestions", "required for accepted, an array")
    ids = []
    for i, suggestion in enumerate(value):
        sid = suggestion.get("id") if isinstance(suggestion, dict) else None
        ids.append(_text(sid, f"{where}.acceptedSuggestions[{i}].id", 255))
    return tuple(dict.fromkeys(ids))


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(where, "required, a non-empty string")
    if len(value) > limit:
        raise RequestError(where, f"longer than {limit} characters")
    return value


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise RequestError(where, "required, an ISO 8601 UTC date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(where, "not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise RequestError(where, "needs a time zone (UTC: a trailing Z)")
    return moment
