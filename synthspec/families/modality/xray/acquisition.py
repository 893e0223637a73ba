"""One radiograph of one subject: the projection geometry, positioning and collimation, then the physics chain.

Role: the second half of the `xray` modality.  From the per-material density volumes
(`render.py`) and the subject's drawn exposure and positioning it builds the cone-beam
geometry, integrates every material along every ray (`projector.py`), lays the lead
laterality marker and the collimator on the detector, and hands the areal densities to the
detector model (`detector.py`: spectrum, scatter and grid, blur, noise, processing).  The same
geometry projects the anatomy labels and lesion ids into the detector plane, so masks and
image line up pixel for pixel.  It also gathers what the DICOM writer states about the
exposure.  It draws random numbers only from the subject's noise generator.
"""

from __future__ import annotations

import numpy as np
import torch

LEAD_MARKER_MM = 1.0
"""Thickness of the lead letter (radiographic markers are 1-2 mm lead behind plastic)."""
MARKER_HEIGHT_MM = 10.0
MARKER_INSET_MM = 4.0
"""The marker's distance from the collimated field's edge, at the detector."""
BODY_AREAL_G_CM2 = 0.05
"""Areal density (g/cm^2, about half a millimetre of tissue) above which a ray counts as crossing the body."""


def geometry(s, acquisition: dict, binned: bool = True):
    """The cone beam of this subject: central ray along the family's beam axis, turned with the patient about
    the long (z) axis and tilted along it as positioning drew (`axial_rotation_deg`, `tilt_deg`).  The part's
    rotation on the detector is applied to the projections (`rotate_on_detector`), exact for a rotation about
    the central ray.  `binned`: the coarser detector the rays are cast to (every `projection_binning` pixels,
    same centre)."""
    from synthspec.families.modality.xray.projector import ProjectionGeometry

    k = s.projection_binning if binned else 1
    return ProjectionGeometry(sid_mm=s.sid_mm, sod_mm=s.sod_mm, rows=s.rows // k, cols=s.cols // k,
                              pixel_mm=s.detector_pixel_mm * k, beam=s.beam,
                              rotation_deg=float(acquisition.get("axial_rotation_deg", 0.0)),
                              tilt_deg=float(acquisition.get("tilt_deg", 0.0)))


def unbin(maps: torch.Tensor, k: int, nearest: bool = False) -> torch.Tensor:
    """[C, rows/k, cols/k] maps on the binned detector -> [C, rows, cols]: bilinear between ray centres (pixel
    centres line up: both detectors share their centre and k divides rows and cols), or nearest for labels."""
    if k == 1:
        return maps
    out = torch.nn.functional.interpolate(maps[None].float(), scale_factor=k,
                                          mode="nearest" if nearest else "bilinear",
                                          **({} if nearest else {"align_corners": False}))[0]
    return out.to(maps.dtype)


def rotate_on_detector(maps: torch.Tensor, degrees: float, nearest: bool = False) -> torch.Tensor:
    """[C, rows, cols] maps turned by `degrees` (counter-clockwise as viewed) about the detector centre, as the
    shadow of a body part turned about the central ray; zero where nothing was (bilinear, or nearest for labels)."""
    if abs(degrees) < 1e-9:
        return maps
    c, rows, cols = maps.shape
    t = np.radians(degrees)
    # output pixel -> input pixel in normalised coordinates, with the aspect ratio of the pixel grid undone
    aspect = rows / cols
    theta = torch.tensor([[np.cos(t), -np.sin(t) * aspect, 0.0], [np.sin(t) / aspect, np.cos(t), 0.0]],
                         dtype=torch.float32, device=maps.device)[None]
    grid = torch.nn.functional.affine_grid(theta, [1, c, rows, cols], align_corners=False)
    out = torch.nn.functional.grid_sample(maps[None].float(), grid, mode="nearest" if nearest else "bilinear",
                                          padding_mode="zeros", align_corners=False)[0]
    return out.to(maps.dtype)


def areal_densities(truth: np.ndarray, s, acquisition: dict, device: str) -> torch.Tensor:
    """[M, rows, cols] g/cm^2 of each material along each ray (Joseph's method on the axis-aligned beam)."""
    from synthspec.families.modality.xray.projector import project

    volumes = torch.from_numpy(np.ascontiguousarray(truth, dtype=np.float32)).to(torch.device(device))
    with torch.no_grad():
        line = unbin(project(volumes, tuple(s.voxel_mm), geometry(s, acquisition), method="joseph"),
                     s.projection_binning)
    return rotate_on_detector(line / 10.0, float(acquisition.get("rotation_deg", 0.0)))   # g/cm^3 x mm -> g/cm^2


def collimated_field(areal: torch.Tensor, s, acquisition: dict) -> tuple[int, int, int, int]:
    """(row0, col0, row1, col1), half-open: the body's footprint plus the drawn margin, inside the detector."""
    body = (areal.sum(dim=0) > BODY_AREAL_G_CM2).cpu().numpy()
    rows, cols = np.flatnonzero(body.any(axis=1)), np.flatnonzero(body.any(axis=0))
    if not rows.size:
        return 0, 0, s.rows, s.cols
    margin = int(round(float(acquisition.get("collimation_margin_mm", 15.0)) / s.detector_pixel_mm))
    return (max(0, int(rows[0]) - margin), max(0, int(cols[0]) - margin),
            min(s.rows, int(rows[-1]) + 1 + margin), min(s.cols, int(cols[-1]) + 1 + margin))


def place_marker(s, acquisition: dict, field: tuple[int, int, int, int]) -> tuple[int, int, np.ndarray] | None:
    """The lead letter of the side imaged, inside the collimated field's drawn corner (None: no marker)."""
    from synthspec.families.modality.xray.detector import laterality_marker

    if not (s.marker and s.laterality) or acquisition.get("marker_corner") == "none":
        return None
    r0, c0, r1, c1 = field
    _, _, glyph = laterality_marker(s.rows, s.cols, s.detector_pixel_mm, s.laterality, "top_left", MARKER_HEIGHT_MM)
    inset = int(round(MARKER_INSET_MM / s.detector_pixel_mm))
    h, w = glyph.shape
    row = r0 + inset
    col = c0 + inset if acquisition.get("marker_corner", "top_left") == "top_left" else c1 - inset - w
    row, col = max(0, min(row, s.rows - h)), max(0, min(col, s.cols - w))
    return row, col, glyph


def radiograph(truth: np.ndarray, s, acquisition: dict, scanner: str, noise, device: str) -> np.ndarray:
    """The delivered radiograph of one subject: float32 [1, rows, cols] in stored values (0..4095)."""
    from synthspec.families.modality.xray.detector import DetectorModel, render_radiograph
    from synthspec.families.modality.xray.spectrum import heel_profile, tungsten_spectrum

    areal = areal_densities(truth, s, acquisition, device)
    field = collimated_field(areal, s, acquisition)
    materials = list(s.materials)
    marker = place_marker(s, acquisition, field)
    letter = torch.zeros(s.rows, s.cols, dtype=torch.bool, device=areal.device)
    if marker is not None:
        row, col, glyph = marker
        lead = torch.zeros_like(areal[:1])
        g = torch.from_numpy(np.ascontiguousarray(glyph, dtype=np.float32)).to(lead.device)
        lead[0, row:row + glyph.shape[0], col:col + glyph.shape[1]] = g * (11.35 * LEAD_MARKER_MM / 10.0)
        letter[row:row + glyph.shape[0], col:col + glyph.shape[1]] = True   # its box, left out of the window
        areal = torch.cat([areal, lead])
        materials.append("lead")
    filtration = tuple((m, float(t)) for m, t in s.filtration)
    spectrum = tungsten_spectrum(float(acquisition["kv"]), filtration, s.anode_angle_deg)
    positions = (np.arange(s.rows, dtype=np.float64) - (s.rows - 1) / 2) * s.detector_pixel_mm
    heel = heel_profile(float(acquisition["kv"]), filtration, s.anode_angle_deg, s.sid_mm, positions)
    d = s.detectors.get(scanner)
    base = DetectorModel(pixel_mm=s.detector_pixel_mm)
    detector = DetectorModel(pixel_mm=s.detector_pixel_mm, mtf50_lp_mm=d.mtf50_lp_mm if d else base.mtf50_lp_mm,
                             noise_factor=base.noise_factor * (d.noise_factor if d else 1.0),
                             electronic_noise=d.electronic_noise if d else base.electronic_noise)
    collimator = torch.zeros(s.rows, s.cols, dtype=torch.bool, device=areal.device)
    collimator[field[0]:field[2], field[1]:field[3]] = True
    out = render_radiograph(areal, materials, spectrum, mas=float(acquisition["mas"]), sid_mm=s.sid_mm,
                            sod_mm=s.sod_mm, kvp=float(acquisition["kv"]), grid_ratio=s.grid_ratio,
                            focal_spot_mm=s.focal_spot_mm, detector=detector, heel=heel, collimator=collimator,
                            generator=noise, exclude=letter)
    image = out["image"]
    image = image.cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    return image.astype(np.float32)[None]


def projected_masks(scene, s, acquisition: dict, device: str) -> dict[str, np.ndarray]:
    """`labels_projected` (uint8: the first structure of the plan's `mask_priority` each ray crosses: physes,
    then bones, then soft tissue; lesions aside) and `lesions_projected` (uint16 lesion
    ids), each [1, rows, cols]."""
    from synthspec.families.modality.xray.projector import project_labels

    g = geometry(s, acquisition)
    spacing = tuple(s.voxel_mm)
    dev = torch.device(device)
    labels = torch.from_numpy(np.ascontiguousarray(scene.labels)).to(dev)
    present = {int(v) for v in np.unique(scene.labels) if v}
    priority = [i for i in s.mask_priority if i in present] or sorted(present, reverse=True)
    turn = float(acquisition.get("rotation_deg", 0.0))

    def projected(volume: torch.Tensor, ids: list[int], dtype) -> np.ndarray:
        flat = unbin(project_labels(volume, spacing, g, ids)[None].to(torch.float32), s.projection_binning, True)
        return rotate_on_detector(flat.to(torch.float32), turn, nearest=True).cpu().numpy().astype(dtype)

    with torch.no_grad():
        out = {"labels_projected": projected(labels, priority, np.uint8)}
        lesion_ids = [int(v) for v in np.unique(scene.lesion_mask) if v]
        if lesion_ids:
            mask = torch.from_numpy(np.ascontiguousarray(scene.lesion_mask.astype(np.int64))).to(dev)
            out["lesions_projected"] = projected(mask, lesion_ids, np.uint16)
        else:
            out["lesions_projected"] = np.zeros((1, s.rows, s.cols), np.uint16)
    return out


def dx_info(subject, plan, identity, version: str, s):
    """What the Digital X-Ray writer states about this subject's exposure."""
    from synthspec.families.modality.xray.dicom import DXInfo

    p, a = subject.params, subject.params.acquisition
    d = s.detectors.get(p.scanner)
    return DXInfo(identity=identity, age_y=p.age_y, sex=p.sex, scanner=p.scanner, kvp=float(a["kv"]),
                  mas=float(a["mas"]), sid_mm=s.sid_mm, sod_mm=s.sod_mm, imager_pixel_mm=s.detector_pixel_mm,
                  magnification=s.sid_mm / s.sod_mm, view_position=s.view.upper(), laterality=s.laterality,
                  body_part=s.body_part, grid=s.grid_ratio, focal_spot_mm=s.focal_spot_mm, model_key=plan.seed_key,
                  synthspec_version=version, series_description=f"SYNTHETIC {plan.cohort_name} {p.subject_id}",
                  bits_stored=12, detector_type=d.kind if d else "SCINTILLATOR")
