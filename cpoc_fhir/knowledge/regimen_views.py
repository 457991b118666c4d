"""Views of the regimen catalog for the CLI (`cpoc regimens`): JSON and a fixed-width table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cpoc_fhir.knowledge.regimen_data import FIGURES
from cpoc_fhir.knowledge.regimen_model import Dose, ToxicityFigure
from cpoc_fhir.knowledge.regimens import RegimenCatalog
from cpoc_fhir.terminal import WIDTH, fit_table, wrapped


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def dose_json(dose: Dose) -> dict[str, Any]:
    """One dose as JSON-ready data (camelCase; the amount a number, absent parts null)."""
    return {
        "drug": dose.drug,
        "route": dose.route,
        "text": dose.text,
        "amount": None if dose.amount is None else _number(dose.amount),
        "unit": dose.unit,
        "doseText": dose.dose_text,
        "days": list(dose.days),
        "cycleDays": dose.cycle_days,
        "timesPerDay": dose.times_per_day,
        "minutes": dose.minutes,
        "cancers": list(dose.cancers),
        "cycles": dose.cycles,
        "setting": dose.setting or None,
    }


def figure_json(figure: ToxicityFigure) -> dict[str, Any]:
    """One Table 3 figure with where it was read (cpoc-rules §5's one method)."""
    return {
        "percent": _number(figure.percent),
        "basis": figure.basis,
        "trial": figure.trial or None,
        "arm": figure.arm or None,
        "table": figure.table or None,
        "number": figure.number or None,
        "source": figure.source,
    }


def catalog_json(catalog: RegimenCatalog) -> dict[str, Any]:
    """The catalog's regimens as JSON-ready data (camelCase at this edge)."""
    out = []
    for r in catalog.regimens.values():
        figures = (r.hospitalization, r.qol, r.death)
        sources = dict.fromkeys([*r.sources, *(f.source for f in figures)])
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "ingredients": catalog.ingredients(r),
                "classes": list(r.classes),
                "toxicity": {
                    **{k: _number(f.percent) for k, f in zip(FIGURES, figures, strict=True)},
                    "points": r.toxicity_points,
                },
                "administration": {
                    "category": r.infusion_category,
                    "oral": r.oral_pattern,
                    "stemCellTransplant": r.stem_cell_transplant,
                },
                "figures": {k: figure_json(f) for k, f in zip(FIGURES, figures, strict=True)},
                "infusionBasis": r.infusion_basis or None,
                "sources": list(sources),
                "dosing": [dose_json(d) for d in r.dosing],
                "dosingSource": r.dosing_source or None,
            }
        )
    return {"regimens": out}


def catalog_table(catalog: RegimenCatalog, width: int | None = WIDTH) -> str:
    """A fixed-width table of the regimens for a person: id, name, T points, Table 4, classes;
    fitted to ``width`` columns by wrapping the long cells (None: one line a regimen)."""
    header = ("ID", "NAME", "T", "TABLE 4", "CLASSES")
    rows = [header]
    for r in catalog.regimens.values():
        admin = []
        if r.infusion_category is not None:
            admin.append(f"infusion {r.infusion_category}")
        if r.oral_pattern:
            admin.append(f"oral {r.oral_pattern}")
        if r.stem_cell_transplant:
            admin.append("transplant")
        rows.append((r.id, r.name, str(r.toxicity_points), " + ".join(admin), ", ".join(r.classes)))
    if width is None:
        lines = fit_table(rows, None)
    else:  # 80 columns: a regimen to a paragraph, its classes under it, no word cut
        lines = ["ID  NAME  T points  TABLE 4", "    classes", ""]
        for row in rows[1:]:
            lines += wrapped(f"{row[0]}  {row[1]}  T {row[2]}  {row[3]}", width, "", "    ")
            lines += wrapped(row[4], width, "    ") if row[4] else []
    title = f"Regimen catalog {catalog.version}".rstrip() + f" ({len(rows) - 1} regimens)"
    return "\n".join([title, "", *lines]) + "\n"
