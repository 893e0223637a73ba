"""Distribution plots of a cohort for the HTML report, drawn off-screen with matplotlib as embedded PNGs.

`distribution_plots(rows, planned)`: age by sex, BMI (WHO class limits), lesion
diameters (Fleischner size limits), scanner mix against the plan.  It draws
what the manifest rows hold; it computes no statistics the card does not, and
returns [] when matplotlib is not installed (the report then says so).
"""

from __future__ import annotations

import io

from synthspec.report.card import SIZE_CLASSES
from synthspec.report.pixels import data_uri


def _figure_uri(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return data_uri(buffer.getvalue())


def distribution_plots(rows: list[dict], planned: dict | None = None) -> list[dict[str, str]]:
    """Age by sex, BMI, lesion diameters, scanners; [] when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return []
    planned = planned or {}
    plots = []

    def new(title: str, xlabel: str, ylabel: str = "subjects"):
        fig = Figure(figsize=(4.6, 2.7), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        return fig, ax

    ages = [(str(r.get("sex")), float(r["age_y"])) for r in rows if r.get("age_y") is not None]
    fig, ax = new("Age by sex", "age (years)")
    if ages:
        lo, hi = int(min(a for _, a in ages) // 5 * 5), int(max(a for _, a in ages) // 5 * 5 + 5)
        sexes = sorted({s for s, _ in ages})
        ax.hist([[a for s, a in ages if s == sex] for sex in sexes], bins=range(lo, hi + 1, 5), stacked=True,
                label=sexes, color=["#c0504d", "#4f81bd", "#9bbb59", "#8064a2"][:len(sexes)], edgecolor="white")
        ax.legend(fontsize=8, frameon=False)
    plots.append({"title": "Age by sex", "uri": _figure_uri(fig)})

    bmis = [float(r["bmi"]) for r in rows if r.get("bmi") is not None]
    fig, ax = new("BMI", "BMI (kg/m²)")
    if bmis:
        ax.hist(bmis, bins=min(20, max(5, len(bmis) // 2)), color="#4f81bd", edgecolor="white")
        for cut in (18.5, 25, 30):
            ax.axvline(cut, color="#888", lw=0.8, ls="--")
    plots.append({"title": "BMI (WHO class limits dashed)", "uri": _figure_uri(fig)})

    lesions = [l for r in rows for l in (r.get("lesions") or []) if l.get("diameter_mm") is not None]
    fig, ax = new("Lesion diameters", "diameter (mm)", "lesions")
    if lesions:
        subtypes = sorted({str(l.get("subtype")) for l in lesions})
        ax.hist([[float(l["diameter_mm"]) for l in lesions if str(l.get("subtype")) == s] for s in subtypes],
                bins=min(20, max(5, len(lesions) // 2)), stacked=True, label=subtypes, edgecolor="white")
        for cut in (6, 8):
            ax.axvline(cut, color="#c00", lw=0.8, ls="--")
        ax.legend(fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no lesions", ha="center", va="center", transform=ax.transAxes)
    plots.append({"title": f"Lesion diameters (Fleischner {', '.join(SIZE_CLASSES)}; limits dashed)",
                  "uri": _figure_uri(fig)})

    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r.get("scanner"))] = counts.get(str(r.get("scanner")), 0) + 1
    mix = planned.get("scanners") or {}
    weights = dict(zip(mix.get("names") or [], mix.get("weights") or []))
    names = sorted(set(counts) | set(weights))
    fig, ax = new("Scanners", "", "subjects")
    ax.bar(range(len(names)), [counts.get(n, 0) for n in names], color="#9bbb59", label="generated")
    if weights:
        ax.scatter(range(len(names)), [weights.get(n, 0.0) * len(rows) for n in names], marker="_", s=400,
                   color="#333", zorder=3, label="planned")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xticks(range(len(names)), [n.split(".")[-1] for n in names], rotation=20, ha="right")
    plots.append({"title": "Scanner mix (bars: generated; marks: planned)", "uri": _figure_uri(fig)})
    return plots
