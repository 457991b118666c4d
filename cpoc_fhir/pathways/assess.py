"""Is this order on the practice's pathway? (proposal IV-A)

The first pathway for the patient's cancer whose criteria all hold is the one that applies
(pathway files list the most specific first). The order is on pathway when its regimen —
leaving aside the pathway's backbone (androgen deprivation) — is one of the pathway's
regimens. When no pathway applies but one might once the record says more, the answer is
"undetermined" with what is missing — unless the order is on none of those candidate
pathways, whatever the missing facts: then it is off pathway already, with the candidates
and the missing facts (FOLFOX for metastatic NSCLC without histology). When none can apply,
"no pathway", with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cpoc_fhir.pathways.context import OrderedRegimen, PatientContext
from cpoc_fhir.pathways.model import MISSING, Criterion, Pathway, PathwayLibrary, PathwayOption


class PathwayStatus(Enum):
    ON = "on-pathway"
    OFF = "off-pathway"
    NO_PATHWAY = "no-pathway"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class PathwayAssessment:
    status: PathwayStatus
    context: PatientContext
    regimen: OrderedRegimen
    pathway: Pathway | None = None  # the pathway that applies
    candidates: tuple[Pathway, ...] = ()  # pathways that may apply once the record says more
    missing: tuple[str, ...] = ()  # "PD-L1 … not on record"
    reasons: tuple[str, ...] = ()  # why no pathway applies / why undetermined

    @property
    def line(self) -> int | None:
        value = self.context.answer("line")
        return int(value) if value is not None else None  # type: ignore[arg-type]

    @property
    def alternatives(self) -> tuple[PathwayOption, ...]:
        """The pathway's regimens the order is not, in value order; off every candidate
        pathway (a fact missing), the candidates' regimens, each once, in candidate order."""
        ordered = set(self.regimen.regimen_ids)
        if self.pathway is not None:
            return tuple(o for o in self.pathway.options if o.regimen not in ordered)
        if self.status is not PathwayStatus.OFF:
            return ()
        first: dict[str, PathwayOption] = {}  # the first pathway listing a regimen wins
        for pathway in self.candidates:
            for option in pathway.options:
                first.setdefault(option.regimen, option)
        return tuple(o for r, o in first.items() if r not in ordered)

    def offering(self, regimen_id: str) -> tuple[Pathway, ...]:
        """The pathway, or the candidate pathways, that list ``regimen_id``."""
        pathways = (self.pathway,) if self.pathway is not None else self.candidates
        return tuple(p for p in pathways if regimen_id in p.regimens)

    @property
    def option(self) -> PathwayOption | None:
        """The pathway option the order is (on pathway)."""
        if self.pathway is None:
            return None
        return next(
            (self.pathway.option(r) for r in self.regimen.regimen_ids if self.pathway.option(r)),
            None,
        )


def assess_pathway(
    library: PathwayLibrary, context: PatientContext, regimen: OrderedRegimen
) -> PathwayAssessment:
    cancer = context.answer("cancer")
    if context.cancer is None or cancer is None:
        return PathwayAssessment(
            PathwayStatus.NO_PATHWAY,
            context,
            regimen,
            reasons=("no cancer diagnosis on record for this order",),
        )
    pathways = library.for_cancer(str(cancer))
    if not pathways:
        return PathwayAssessment(
            PathwayStatus.NO_PATHWAY,
            context,
            regimen,
            reasons=(f"the practice has no pathway for {cancer} cancer",),
        )
    undecided: list[tuple[Pathway, list[Criterion]]] = []
    failed: list[str] = []
    for pathway in pathways:
        verdicts = [(c, c.holds(context.answer(c.fact))) for c in pathway.criteria]
        if all(v is True for _, v in verdicts):
            return _judge(pathway, context, regimen)
        misses = [c for c, v in verdicts if v is False]
        unknown = [c for c, v in verdicts if v is None]
        if not misses:
            undecided.append((pathway, unknown))
        else:
            failed.append(f"{pathway.title} needs: {misses[0].description}")
    if undecided:
        facts = dict.fromkeys(c.fact for _, unknown in undecided for c in unknown)
        missing = tuple(MISSING.get(f, f"{f} not on record") for f in facts)
        reasons = tuple(
            f"{p.title} needs: {', '.join(c.description for c in unknown)}"
            for p, unknown in undecided
        )
        # Every pathway that could apply, whatever the missing facts turn out to be, is a
        # candidate: an identified order on none of them is off pathway already.
        off_all = regimen.identified and not any(_is_on(p, regimen) for p, _ in undecided)
        return PathwayAssessment(
            PathwayStatus.OFF if off_all else PathwayStatus.UNDETERMINED,
            context,
            regimen,
            candidates=tuple(p for p, _ in undecided),
            missing=missing,
            reasons=reasons,
        )
    return PathwayAssessment(PathwayStatus.NO_PATHWAY, context, regimen, reasons=tuple(failed))


def _judge(pathway: Pathway, context: PatientContext, regimen: OrderedRegimen) -> PathwayAssessment:
    if not regimen.identified:
        return PathwayAssessment(
            PathwayStatus.UNDETERMINED,
            context,
            regimen,
            pathway=pathway,
            reasons=(
                "the regimen is not identified: "
                + ", ".join(regimen.unidentified)
                + " not in the regimen catalog",
            ),
        )
    status = PathwayStatus.ON if _is_on(pathway, regimen) else PathwayStatus.OFF
    return PathwayAssessment(status, context, regimen, pathway=pathway)


def _is_on(pathway: Pathway, regimen: OrderedRegimen) -> bool:
    """On pathway: the order's regimen, leaving the backbone aside, is one of its options."""
    main = [r for r in regimen.regimen_ids if r not in pathway.backbone]
    return not main or (len(main) == 1 and main[0] in pathway.regimens)
