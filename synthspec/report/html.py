"""The HTML report: one self-contained file a reviewer can open, mail or attach to a pull request.

`write_report(cohort, validation, out_path)` renders `templates/report.html.j2`
with jinja2 (autoescape on, so a spec title like `<script>` is shown, never run)
and embeds every picture as a base64 PNG, so the file needs nothing beside it:

- subject thumbnails: the axial slice through each subject's largest lesion (the
  middle of the lungs for a subject without one) in the lung window
  (W1500/L-600) and, in a second row, the mediastinal window (W400/L40), with
  the lesion mask drawn as a contour;
- distribution plots (matplotlib, drawn off-screen): age by sex, BMI, lesion
  diameters against the Fleischner size classes, scanner mix against the plan;
- the validation tables (anatomy, realism, shortcut) or "not run";
- the cohort card (uses, prohibited uses, claims, approval, composition, hashes).

A Content-Security-Policy in the page forbids scripts and every network fetch.

Images here are in display orientation: numpy [Z, Y, X] in LPS, so a slice
[z] shown as is has anterior at the top and the patient's right on the
viewer's left (the radiological convention).
"""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from synthspec.validate.results import ValidationReport
from synthspec.report.card import SIZE_CLASSES, ReportError, as_cohort, cohort_card, manifest_rows

LUNG_WINDOW = (1500.0, -600.0)          # (width, level) HU
MEDIASTINAL_WINDOW = (400.0, 40.0)
CONTOUR_RGB = (255, 48, 48)
THUMBNAIL_PX = 200
LUNG_LABELS = (10, 11, 12, 13, 14)      # anatomy_thorax.synth lobes
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


# ---------------------------------------------------------------- pixels

def apply_window(hu: np.ndarray, width: float, level: float) -> np.ndarray:
    """HU -> uint8 grey levels: level - width/2 is black, level + width/2 is white (linear between)."""
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = level - width / 2.0
    scaled = (np.asarray(hu, dtype=np.float64) - low) * 255.0 / width
    return np.clip(np.rint(np.nan_to_num(scaled, nan=0.0)), 0, 255).astype(np.uint8)


def _axis_coords(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # pixel centres aligned: out pixel centre j maps to in position (j + 0.5) * n_in / n_out - 0.5
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1.0)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0)


def resize_bilinear(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of a 2-D array to `shape` (pixel centres aligned, edges clamped)."""
    a = np.asarray(a, dtype=np.float32)
    (y0, y1, fy), (x0, x1, fx) = _axis_coords(a.shape[0], shape[0]), _axis_coords(a.shape[1], shape[1])
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return (top * (1 - fy)[:, None] + bottom * fy[:, None]).astype(np.float32)


def resize_nearest(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    a = np.asarray(a)
    iy = np.minimum((np.arange(shape[0]) + 0.5) * a.shape[0] / shape[0], a.shape[0] - 1).astype(np.intp)
    ix = np.minimum((np.arange(shape[1]) + 0.5) * a.shape[1] / shape[1], a.shape[1] - 1).astype(np.intp)
    return a[iy][:, ix]


def outline(mask: np.ndarray) -> np.ndarray:
    """The ring of pixels just outside a boolean mask (8-neighbours of it, not in it).

    Drawn outside, the contour never covers the lesion it marks."""
    m = np.asarray(mask, dtype=bool)
    p = np.pad(m, 1, constant_values=False)
    h, w = m.shape
    grown = np.zeros_like(m)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            grown |= p[dy:dy + h, dx:dx + w]
    return grown & ~m


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode uint8 grey (H, W) or RGB (H, W, 3) as PNG: no metadata, same pixels give same bytes."""
    a = np.ascontiguousarray(pixels)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or 0 in a.shape:
        raise ValueError(f"png_bytes needs uint8 (H, W) or (H, W, 3), got {a.dtype} {a.shape}")
    height, width = a.shape[:2]
    colour = 0 if a.ndim == 2 else 2
    rows = a.reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def display_shape(shape_yx: tuple[int, int], spacing_yx: tuple[float, float], size: int) -> tuple[int, int]:
    """Pixel size that shows a slice at its physical aspect ratio with the longer side `size`."""
    h_mm, w_mm = shape_yx[0] * spacing_yx[0], shape_yx[1] * spacing_yx[1]
    scale = size / max(h_mm, w_mm)
    return max(1, int(round(h_mm * scale))), max(1, int(round(w_mm * scale)))


def render_axial(hu: np.ndarray, spacing_yx: tuple[float, float], window: tuple[float, float],
                 size: int = THUMBNAIL_PX, mask: np.ndarray | None = None,
                 colour: tuple[int, int, int] = CONTOUR_RGB) -> np.ndarray:
    """One axial slice at a window, resized to `size`; with `mask`, an RGB image with its contour drawn."""
    hu = np.asarray(hu, dtype=np.float32)
    if hu.ndim != 2:
        raise ValueError(f"an axial slice is 2-D, got shape {hu.shape}")
    shape = display_shape(hu.shape, spacing_yx, size)
    grey = apply_window(resize_bilinear(hu, shape), *window)
    if mask is None:
        return grey
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    edge = outline(resize_nearest(np.asarray(mask) > 0, shape))
    rgb[edge] = colour
    return rgb


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


def thumbnail(subject, spacing_yx: tuple[float, float], size: int = THUMBNAIL_PX) -> dict[str, Any]:
    """The display slice of one subject in both windows, with the lesion contour."""
    r = subject.record
    lesions = r.get("lesions") or []
    info: dict[str, Any] = {
        "subject_id": r.get("subject_id", subject.subject_id), "sex": r.get("sex"), "age_y": r.get("age_y"),
        "bmi": r.get("bmi"), "scanner": r.get("scanner"), "mas": r.get("mas"), "n_lesions": len(lesions),
        "lesion": None, "z": None, "lung_uri": None, "mediastinal_uri": None, "error": None,
    }
    try:
        image = subject.image()
    except Exception as error:  # noqa: BLE001 - one unreadable subject must not sink the report
        info["error"] = str(error)
        return info
    mask = None
    if lesions:
        largest = max(lesions, key=lambda l: float(l.get("diameter_mm") or 0.0))
        info["lesion"] = {k: largest.get(k) for k in ("id", "subtype", "location", "diameter_mm")}
        z0, _, _, z1, _, _ = largest.get("bbox_voxels") or (0, 0, 0, image.shape[0], 0, 0)
        z = (int(z0) + int(z1) - 1) // 2
        try:
            lesion_mask = subject.lesions()
            per_slice = (lesion_mask == int(largest["id"])).sum(axis=(1, 2))
            if per_slice.any():
                z = int(np.argmax(per_slice))
            mask = lesion_mask[z] > 0
        except Exception:  # noqa: BLE001 - no masks written: the slice still shows, without a contour
            mask = None
    else:
        z = image.shape[0] // 2
        try:
            lungs = np.isin(subject.labels(), LUNG_LABELS).any(axis=(1, 2)).nonzero()[0]
            if lungs.size:
                z = int((lungs[0] + lungs[-1]) // 2)
        except Exception:  # noqa: BLE001
            pass
    z = int(np.clip(z, 0, image.shape[0] - 1))
    info["z"] = z
    for key, window in (("lung_uri", LUNG_WINDOW), ("mediastinal_uri", MEDIASTINAL_WINDOW)):
        info[key] = data_uri(png_bytes(render_axial(image[z], spacing_yx, window, size, mask)))
    return info


# ---------------------------------------------------------------- plots

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

    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    return env


def render_report(cohort, validation: ValidationReport | None = None, max_thumbnails: int = 24,
                  thumbnail_px: int = THUMBNAIL_PX) -> str:
    """The report page as a string (see `write_report`)."""
    cohort = as_cohort(cohort)
    card = cohort_card(cohort, validation)
    rows = manifest_rows(cohort)
    spacing_yx = tuple(cohort.plan.grid.spacing[1:])
    chosen = _choose_subjects(cohort, max(0, int(max_thumbnails)))
    thumbs = [thumbnail(s, spacing_yx, thumbnail_px) for s in chosen]
    plots = distribution_plots(rows, cohort.plan.cohort)
    return _environment().get_template("report.html.j2").render(
        card=card, thumbnails=thumbs, thumbnails_total=len(cohort.subjects), plots=plots,
        plots_missing=not plots, csp=CSP, lung_window=LUNG_WINDOW, mediastinal_window=MEDIASTINAL_WINDOW,
        thumbnail_px=thumbnail_px)


def write_report(cohort, validation: ValidationReport | None = None, out_path: Path | None = None,
                 max_thumbnails: int = 24) -> Path:
    """Write the self-contained HTML report atomically; default `<cohort>/report.html`. Returns its path."""
    from synthspec.cohort.atomic import write_text_atomic

    cohort = as_cohort(cohort)
    out_path = report_path(cohort.folder, out_path)
    write_text_atomic(out_path, render_report(cohort, validation, max_thumbnails))
    return out_path


def report_path(folder: Path, out_path: Path | None) -> Path:
    """Where the report goes, refused before anything is written if it could overwrite data or cannot be written."""
    out_path = Path(out_path) if out_path is not None else Path(folder) / "report.html"
    if out_path.is_dir():
        raise ReportError(f"{out_path} is a folder; give a file name such as {out_path / 'report.html'}")
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"{out_path} is not an .html file name; give one such as report.html")
    if (Path(folder) / "subjects").resolve() in out_path.resolve().parents:
        raise ReportError(f"{out_path} lies inside the cohort's subjects/ folder; write the report elsewhere")
    parent = out_path.parent
    if not parent.is_dir():
        raise ReportError(f"{parent} does not exist (or is not a folder); create it or choose another --out")
    if not os.access(parent, os.W_OK) or (out_path.exists() and not os.access(out_path, os.W_OK)):
        raise ReportError(f"{out_path} cannot be written (permission denied); choose another --out")
    return out_path
