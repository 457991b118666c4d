"""A cancer disease status given only as text, read with its negation (cpoc-rules §6).

The rule, NegEx-style (Chapman et al., "A simple algorithm for identifying negated findings
and diseases in discharge summaries", J Biomed Inform 2001): concepts and triggers are lists
of words in ``knowledge/data/disease-status.toml``.

1. The text is lower-cased; "-" and "/" separate words; "cannot" / "can't" read "can not"
   and "n't" reads " not"; a SNOMED semantic tag at the end ("(finding)") is dropped. A
   clause ends at . , ; : ! ( ) a line break, or a terminator ("but", "however" …).
2. Phrases are matched left to right, longest first, so "no evidence of" is a trigger before
   "no", and "disease progression" a concept before "disease".
3. A concept is negated by a negation trigger at most ``window`` words before it or
   ``window_after`` words after it in its clause ("no evidence of disease", "remission not
   achieved", "progression-free"); uncertain by an uncertainty trigger in the same reach
   ("possible recurrence"). Two negations, or any uncertainty, make it a doubt.
4. Each concept then says a state, "compatible-<state>" (agrees with anything; alone, that
   state), "doubt" (no NED with it; alone, undetermined) or nothing. The text is NED only when
   some concept says NED and nothing says another state or a doubt; it is a state when exactly
   one state is said; contradicting states, remission with a doubt, or no concept at all are
   undetermined, with the reason. When unsure: undetermined, never NED by guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cpoc_fhir.engine.facts import DiseaseState
from cpoc_fhir.knowledge.disease_status import COMPATIBLE, STATES, TextConcept, TextRules

_WORD = re.compile(r"[a-z0-9]+|[?.,;:!()\n]")
_BOUNDARY = frozenset(".,;:!()\n")
_BLANKS = re.compile(r"[ \t\r]+")
_TAG = re.compile(
    r"\s*\((?:finding|disorder|qualifier value|qualifier|situation|observable entity)\)\s*$"
)
_CONTRACTIONS = (
    ("cannot", "can not"), ("can't", "can not"), ("won't", "will not"), ("n't", " not"),
)  # fmt: skip

NOT_UNDERSTOOD = "names no disease status that can be read"
CONTRADICTING = "states contradicting disease statuses"
DOUBTED = "names remission together with a doubt or another finding"


@dataclass(frozen=True)
class TextReading:
    """The state a text says; ``problem`` says why it is undetermined (no text quoted)."""

    state: DiseaseState
    problem: str | None = None


@dataclass
class _Item:
    kind: str  # "concept", "trigger", "word"
    concept: TextConcept | None = None
    negation: tuple[bool, bool] = (False, False)  # (before a concept, after a concept)
    uncertain: tuple[bool, bool] = (False, False)


class TextReader:
    """Reads disease status text with the rules of the data file."""

    def __init__(self, rules: TextRules) -> None:
        self.rules = rules
        self.whole = {_normal(text): state for text, state in rules.whole.items()}
        table: dict[tuple[str, ...], _Item] = {}
        for concept in rules.concepts:
            for phrase in concept.phrases:
                table[_words(phrase)] = _Item("concept", concept)
        self.terminators = {_words(t) for t in rules.terminators}
        for words in self.terminators:
            table.setdefault(words, _Item("terminator"))
        for phrases, field, side in (
            (rules.negation_before, "negation", 0),
            (rules.negation_after, "negation", 1),
            (rules.uncertain_before, "uncertain", 0),
            (rules.uncertain_after, "uncertain", 1),
        ):
            for phrase in phrases:
                item = table.setdefault(_words(phrase), _Item("trigger"))
                if item.kind != "trigger":
                    continue  # a concept or terminator of the same words wins
                flags = list(getattr(item, field))
                flags[side] = True
                setattr(item, field, (flags[0], flags[1]))
        self.by_first: dict[str, list[tuple[tuple[str, ...], _Item]]] = {}
        for words, item in sorted(table.items(), key=lambda pair: -len(pair[0])):
            self.by_first.setdefault(words[0], []).append((words, item))

    def read(self, text: str) -> TextReading:
        normal = _normal(text)
        if normal in self.whole:
            return TextReading(self.whole[normal])
        outcomes = [
            self._outcome(clause, index)
            for clause in self._clauses(normal)
            for index, item in enumerate(clause)
            if item.kind == "concept"
        ]
        return _combine(outcomes)

    def _clauses(self, normal: str) -> list[list[_Item]]:
        words = _WORD.findall(normal)
        clauses: list[list[_Item]] = [[]]
        at = 0
        while at < len(words):
            word = words[at]
            if word in _BOUNDARY:
                clauses.append([])
                at += 1
                continue
            phrase, item = next(
                (
                    (words_, found)
                    for words_, found in self.by_first.get(word, ())
                    if tuple(words[at : at + len(words_)]) == words_
                ),
                ((word,), _Item("word")),
            )
            if item.kind == "terminator":
                clauses.append([])
            else:
                clauses[-1].append(item)
            at += len(phrase)
        return [clause for clause in clauses if clause]

    def _outcome(self, clause: list[_Item], index: int) -> str:
        negations = uncertain = 0
        low, high = max(0, index - self.rules.window), index + self.rules.window_after
        for other in range(low, min(len(clause), high + 1)):
            item = clause[other]
            if item.kind != "trigger":
                continue
            side = 0 if other < index else 1
            negations += item.negation[side]
            uncertain += item.uncertain[side]
        concept = clause[index].concept
        assert concept is not None
        if uncertain or negations > 1:
            return "doubt"
        return concept.negated if negations else concept.affirmed


def _combine(outcomes: list[str]) -> TextReading:
    stated = {STATES[o] for o in outcomes if o in STATES}
    doubt = "doubt" in outcomes
    compatible = {STATES[o.removeprefix(COMPATIBLE)] for o in outcomes if o.startswith(COMPATIBLE)}
    undetermined = DiseaseState.UNDETERMINED
    if stated == {DiseaseState.NED}:
        return TextReading(DiseaseState.NED) if not doubt else TextReading(undetermined, DOUBTED)
    if len(stated) == 1:
        return TextReading(next(iter(stated)))
    if stated:
        return TextReading(undetermined, CONTRADICTING)
    if doubt:
        return TextReading(undetermined)  # read: not NED, and nothing more is said
    if len(compatible) == 1:
        return TextReading(next(iter(compatible)))
    return TextReading(undetermined, NOT_UNDERSTOOD)


def _normal(text: str) -> str:
    text = _TAG.sub("", text.lower().replace("\u2019", "'"))
    for written, read in _CONTRACTIONS:
        text = text.replace(written, read)
    return _BLANKS.sub(" ", text.replace("-", " ").replace("/", " ")).strip()


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(_normal(phrase)))
