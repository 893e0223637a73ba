"""The HTML report: one self-contained file a reviewer can open, mail or attach to a pull request.

`write_report(cohort, validation, out_path)` renders `templates/report.html.j2`
with jinja2 (autoescape on, so a spec title like `<script>` is shown, never run)
and embeds every picture as a base64 PNG, so the file needs nothing beside it:

- a headline naming every validation family's state (pass / fail / not run) and
  an overall verdict that is green only when everything the spec asks for ran
  and passed (`validation_summary.py`);
- subject thumbnails: the axial slice through each subject's largest lesion (the
  middle of the lungs for a subject without one) in each of the modality's
  display windows (CT: lung, mediastinal), with the lesion mask as a contour;
- distribution plots (`plots.py`), the validation tables and the cohort card
  (uses, prohibited uses, claims, approval, composition, hashes).

A Content-Security-Policy in the page forbids scripts and every network fetch.
It renders what `card.py` decided; it validates nothing and opens no browser
(`screenshot.py` does).
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from synthspec.report.card import ReportError, as_cohort, cohort_card, manifest_rows
from synthspec.report.inputs import DisplayWindow, display_windows, lung_labels, spec_summary, subject_image
from synthspec.report.pixels import data_uri, png_bytes, render_axial
from synthspec.report.plots import distribution_plots
from synthspec.validate.results import ValidationReport
from synthspec.cohort import layout

THUMBNAIL_PX = 200
Progress = Callable[[Iterable[Any], str], Iterable[Any]]  # progress(items, desc) -> the same items
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


# ---------------------------------------------------------------- thumbnails

def _choose_subjects(cohort, limit: int) -> list:
    subjects = list(cohort.subjects)
    if len(subjects) <= limit:
        return subjects
    pos = [s for s in subjects if s.record.get("lesions")]
    neg = [s for s in subjects if not s.record.get("lesions")]
    take_pos = min(len(pos), max(limit - len(neg), (limit + 1) // 2))
    chosen = pos[:take_pos] + neg[:limit - take_pos]
    return sorted(chosen, key=lambda s: s.index)


def _display_slice(subject, image: np.ndarray, lesions: list[dict], lungs: tuple[int, ...]):
    """(z, lesion mask of that slice or None, the largest lesion or None) of the slice a thumbnail shows."""
    written = subject.record.get("hashes") or {}
    if not lesions:
        z = image.shape[0] // 2
        if layout.LABELS in written:   # a damaged label map is an error (CohortError), not a reason to guess
            rows = np.isin(subject.labels(), lungs).any(axis=(1, 2)).nonzero()[0]
            if rows.size:
                z = int((rows[0] + rows[-1]) // 2)
        return z, None, None
    largest = max(lesions, key=lambda l: float(l.get("diameter_mm") or 0.0))
    z0, _, _, z1, _, _ = largest.get("bbox_voxels") or (0, 0, 0, image.shape[0], 0, 0)
    z, mask = (int(z0) + int(z1) - 1) // 2, None
    if layout.LESIONS in written:      # no masks written: the slice still shows, without a contour
        lesion_mask = subject.lesions()
        per_slice = (lesion_mask == int(largest["id"])).sum(axis=(1, 2))
        if per_slice.any():
            z = int(np.argmax(per_slice))
        mask = lesion_mask[int(np.clip(z, 0, lesion_mask.shape[0] - 1))] > 0
    return z, mask, largest


def thumbnail(subject, spacing_yx: tuple[float, float], windows: tuple[DisplayWindow, ...],
              lungs: tuple[int, ...], size: int = THUMBNAIL_PX) -> dict[str, Any]:
    """The display slice of one subject in every window, with the lesion contour.

    `lungs` are the lung label ids (where a subject without lesions is shown)."""
    r = subject.record
    lesions = r.get("lesions") or []
    info: dict[str, Any] = {
        "subject_id": r.get("subject_id", subject.subject_id), "sex": r.get("sex"), "age_y": r.get("age_y"),
        "bmi": r.get("bmi"), "scanner": r.get("scanner"), "mas": r.get("mas"), "n_lesions": len(lesions),
        "lesion": None, "z": None, "images": [], "error": None,
    }
    image = subject_image(subject)   # a damaged volume is refused (CohortError), never shown as a gap
    z, mask, largest = _display_slice(subject, image, lesions, lungs)
    if largest is not None:
        info["lesion"] = {k: largest.get(k) for k in ("id", "subtype", "location", "diameter_mm")}
    z = int(np.clip(z, 0, image.shape[0] - 1))
    info["z"] = z
    info["images"] = [{"window": w.name, "uri": data_uri(png_bytes(render_axial(image[z], spacing_yx,
                                                                                (w.width, w.level), size, mask)))}
                      for w in windows]
    return info


# ---------------------------------------------------------------- page

def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)

    def fmt(value: Any, digits: int = 1) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return str(value)

    def pct(value: Any) -> str:
        return "—" if value is None else f"{float(value):.0%}"

    def state(status: str) -> str:
        """CSS class of a status: green only for a pass."""
        return {"pass": "pass", "fail": "fail", "stale": "fail"}.get(status, "notrun")

    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    env.filters["state"] = state
    return env


def render_report(cohort, validation: ValidationReport | None = None, max_thumbnails: int = 24,
                  thumbnail_px: int = THUMBNAIL_PX, *, progress: Progress | None = None) -> str:
    """The report page as a string (see `write_report`)."""
    cohort = as_cohort(cohort)
    plan = cohort.plan
    card = cohort_card(cohort, validation)
    rows = manifest_rows(cohort)
    spacing_yx = tuple(plan.grid.spacing[1:])
    windows = display_windows(plan)
    lungs = lung_labels(plan)
    chosen = _choose_subjects(cohort, max(0, int(max_thumbnails)))
    if progress is not None:
        chosen = progress(chosen, "thumbnails")
    thumbs = [thumbnail(s, spacing_yx, windows, lungs, thumbnail_px) for s in chosen]
    plots = distribution_plots(rows, spec_summary(plan))
    return _environment().get_template("report.html.j2").render(
        card=card, thumbnails=thumbs, thumbnails_total=len(cohort.subjects), plots=plots,
        plots_missing=not plots, csp=CSP, windows=windows, thumbnail_px=thumbnail_px)


def write_report(cohort, validation: ValidationReport | None = None, out_path: Path | None = None,
                 max_thumbnails: int = 24, *, progress: Progress | None = None) -> Path:
    """Write the self-contained HTML report atomically; default `<cohort>/report.html`. Returns its path.

    `progress(items, desc)`, if given, wraps the subjects as their thumbnails are drawn (a progress bar)."""
    from synthspec.cohort.atomic import write_text_atomic

    cohort = as_cohort(cohort)
    out_path = report_path(cohort.folder, out_path)
    write_text_atomic(out_path, render_report(cohort, validation, max_thumbnails, progress=progress))
    return out_path


def report_path(folder: Path, out_path: Path | None) -> Path:
    """Where the report goes, refused before anything is written if it could overwrite data or cannot be written."""
    out_path = Path(out_path) if out_path is not None else Path(folder) / layout.REPORT_HTML
    from synthspec.cohort.folder import file_target_problem

    problem = file_target_problem(out_path)
    if problem is not None:
        raise ReportError(f"{out_path} {problem}; give --out an .html file name on a disk, e.g. report.html")
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"{out_path} is not an .html file name; give one such as report.html")
    if (Path(folder) / layout.SUBJECTS).resolve() in out_path.resolve().parents:
        raise ReportError(f"{out_path} lies inside the cohort's subjects/ folder; write the report elsewhere")
    parent = out_path.parent
    if not parent.is_dir():
        raise ReportError(f"{parent} does not exist (or is not a folder); create it or choose another --out")
    if not os.access(parent, os.W_OK) or (out_path.exists() and not os.access(out_path, os.W_OK)):
        raise ReportError(f"{out_path} cannot be written (permission denied); choose another --out")
    return out_path
