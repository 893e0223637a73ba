"""The `xray` modality: projection radiographs cast through the subject's 3-D tissue scene.

    render.py       tissue scene -> per-material density volumes (g/cm^3), partial volume and bone mineral
    projector.py    cone-beam rays from the focal spot to a flat detector: Siddon and trilinear line integrals
    spectrum.py     tungsten spectra for kVp and filtration, the heel effect (SpekPy)
    attenuation.py  mass attenuation per material and energy (xraydb), tissue -> material
    detector.py     polychromatic primary, scatter and grid, blur, noise, vendor-like processing, the lead marker
    acquisition.py  one radiograph of one subject: geometry, positioning, the chain above, masks on the detector
    estimate.py     memory, time and storage per subject for the planner
    dicom.py        the Digital X-Ray (for presentation) writer;  preview.py  PNG previews

A radiograph is stored as a one-slice channel [1, rows, cols] (rows from the patient's head
end, columns from the patient's right as the image is viewed), so the cohort's readers, the
dataset and the exporters treat it like any other channel; its DICOM carries the projection
geometry.  The 3-D phantom's labels stay the subject's `labels.nii.gz` (the same contract as
every modality, and what the anatomy checks judge); the masks projected into the detector
plane are written beside them.

Importing this package loads neither numpy nor torch: the registry, the planner and the
report import it cheaply; the stages import their modules when they run.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from synthspec.compiler.values import Dist
from synthspec.families.base import Channel, Window

BITS_STORED = 12
STORED_MAX = 2**BITS_STORED - 1
WINDOWS = (Window("default", float(STORED_MAX + 1), float((STORED_MAX + 1) // 2)),
           Window("bone", 0.6 * (STORED_MAX + 1), 0.6 * (STORED_MAX + 1)))
CHANNELS = (Channel("image", "DV", "uint16", WINDOWS),)
MARKER_UNITS = 400.0
"""Peak offset (stored values of 4095) of the planted shortcut marker at marker_strength 100 %."""
DEFAULT_FOCAL_SPOT_MM = {"small": 0.6, "large": 1.2}
"""Nominal focal spots of a general radiography tube (IEC 60336 sizes): fine for extremities, broad for chest."""
DEFAULT_FILTRATION = (("Al", 2.5),)
"""Total filtration of 2.5 mm Al, the IEC 60601-1-3 minimum above 70 kV; used at every kV here."""
CHEST_ADDED_CU_MM = 0.1
"""0.1 mm Cu added for chest radiography, common on DR rooms to harden the beam above 100 kV."""
ANODE_ANGLE_DEG = 12.0
ROTATION_SD_DEG, AXIAL_ROTATION_SD_DEG, TILT_SD_DEG = 4.0, 3.0, 1.5
"""Positioning, drawn per subject and clipped at three SDs: the body part turned on the detector about the central
ray, turned about its own long axis (a hand's pronation or supination, a chest's rotation), and the tube tilted
along the long axis, by a few degrees (SD) as a technologist's positioning varies."""
COLLIMATION_MARGIN_MM = (8.0, 25.0)
"""The collimated field's margin around the body part at the detector, drawn per subject (mm)."""
MARKER_CORNERS = ("top_left", "top_right")


class DetectorClass(BaseModel):
    """What the plan keeps of one scanner class's detector."""

    kind: str = "SCINTILLATOR"
    """DICOM DetectorType: SCINTILLATOR (CsI flat panel) or STORAGE (computed radiography phosphor)."""
    noise_factor: float = 1.0
    mtf50_lp_mm: float = 2.5
    electronic_noise: float = 2.0
    """Electronic noise per pixel, in absorbed-quanta equivalents."""


class XRaySettings(BaseModel):
    """The acquisition the plan fixes for every subject; mAs and positioning are drawn per subject."""

    kv: float
    mas: Dist
    sid_mm: float
    sod_mm: float
    grid_ratio: float
    view: str
    beam: str
    """Direction the central ray travels in the phantom frame ("-y" or "+y")."""
    detector_pixel_mm: float
    rows: int
    cols: int
    voxel_mm: tuple[float, float, float]
    """Spacing (dz, dy, dx) of the phantom the rays cross."""
    focal_spot_mm: float
    filtration: list[tuple[str, float]]
    anode_angle_deg: float = ANODE_ANGLE_DEG
    materials: list[str]
    tissue_material: dict[str, str]
    tissue_density: dict[str, float]
    body_part: str
    laterality: str
    """The side imaged ("L", "R"), or "" for an unpaired part."""
    marker: bool = True
    detectors: dict[str, DetectorClass] = {}
    projection_binning: int = 1
    """Rays are cast every `projection_binning` detector pixels and the line integrals interpolated to every
    pixel (`projection_binning`); the physics (spectrum, scatter, blur, noise) runs on every pixel."""
    mask_priority: list[int] = []
    """Label ids, most important first: a detector pixel's label is the first its ray crosses (`mask_priority`)."""


BONE_TISSUES = ("cortical_bone", "cancellous_bone")
RAYS_PER_VOXEL = 1.6
"""Cast at least this many rays per phantom voxel (at the detector) before interpolating between them."""


def projection_binning(voxel_mm: float, magnification: float, pixel_mm: float) -> int:
    """How many detector pixels apart to cast rays: the line integrals of a phantom of `voxel_mm` voxels carry
    nothing finer than its voxels, so casting a ray every 0.5 mm of a 0.15 mm detector and interpolating
    bilinearly between them loses almost nothing (tests/test_xray_cohort.py measures it) at a ninth of the cost.
    The quantum noise, blur and scatter still act on every pixel."""
    return max(1, int(voxel_mm * magnification / (RAYS_PER_VOXEL * pixel_mm)))


def mask_priority(labels) -> list[int]:
    """Which structure a pixel of the projected label map shows where several overlap along its ray: growth
    plates first (the findings of the hand live there), then bones (the finer, higher id, first), then the other
    structures in id order (soft tissue before the subcutaneous fat every ray crosses); air and unwritten
    labels never."""
    def rank(e) -> tuple[int, int]:
        first = 0 if e.group == "physes" else 1 if e.tissue in BONE_TISSUES else 2
        return first, -int(e.id) if first < 2 else int(e.id)   # the envelope: deeper soft tissue before its fat

    return [int(e.id) for e in sorted((e for e in labels if e.written and e.tissue != "air" and e.kind == "anatomy"),
                                      key=rank)]


class XRay:
    name = "xray"
    channels = CHANNELS
    windows = WINDOWS
    units_range = (0, STORED_MAX)
    marker_units = MARKER_UNITS
    acquisition_fields = ("kv", "mas", "sid_mm", "grid_ratio", "view", "rotation_deg", "axial_rotation_deg",
                          "tilt_deg")
    """Per-subject acquisition values in the subject record and the manifest."""
    projection = True
    """One projection image per subject with its masks in the detector plane (`registry.is_projection`)."""
    needs_density = True
    """The planner hands `lower` each tissue's mass density (the stdlib's `density`)."""
    writes_seg = False
    """No DICOM SEG over a radiograph: its masks are written in the detector plane as NIfTI."""

    def grid(self, protocol, voxel_size: float | None, anatomy, max_age_y: float | None = None) -> tuple[
            tuple[int, int, int], tuple[float, float, float]]:
        """(shape, spacing) of the 3-D phantom the rays cross: the anatomy's radiographic field for the cohort's
        oldest subject (`RadiographyField.field_for`) at its voxel."""
        voxel = float(voxel_size or anatomy.radiography.voxel_mm)
        shape = tuple(int(math.ceil(extent / voxel)) for extent in anatomy.radiography.field_for(max_age_y))
        return shape, (voxel, voxel, voxel)

    def lower(self, protocol, shape, spacing, tissue_hu: dict, bone_labels: list[int], *, anatomy=None,
              tissue_density: dict | None = None, scanners: dict | None = None,
              labels=None, **_) -> tuple[dict, list[str]]:
        """The acquisition settings, and notes for `synth plan`."""
        from synthspec.families.modality.xray.attenuation import TISSUE_MATERIAL, materials_for

        r = anatomy.radiography
        view = (protocol.view or r.default_view).lower()
        if view not in r.beams:
            raise ValueError(f"the {view} view of {anatomy.name} cannot be simulated yet "
                             f"(available: {', '.join(sorted(r.beams))}); set `view` in the xray block")
        sid = float(protocol.sid or r.default_sid_mm)
        depth = shape[1] * spacing[1]
        oid = depth / 2 + r.detector_gap_mm
        sod = sid - oid
        if sod <= depth:
            raise ValueError(f"`sid: {sid / 10:g} cm` puts the focal spot within a phantom's depth of the "
                             f"{depth:.0f} mm deep {anatomy.name} phantom; set `sid` to at least "
                             f"{(2 * depth + oid) / 10:.0f} cm in the xray block")
        pixel = float(protocol.detector_pixel or 0.15)
        mag = sid / sod
        binning = projection_binning(min(spacing), mag, pixel)
        # rows: the far face's magnification, so the edge rays still cross the phantom's whole depth (a shorter
        # detector than the isocentre's); cols: the near face's, so nothing lateral falls off the detector
        far, near = sid / (sod + depth / 2), sid / (sod - depth / 2)
        rows = binning * int(math.floor(shape[0] * spacing[0] * far / pixel / binning))
        cols = binning * int(math.ceil(shape[2] * spacing[2] * near / pixel / binning))
        density = {k: float(v) for k, v in (tissue_density or {}).items()}
        tissues = sorted(density)
        filtration = list(DEFAULT_FILTRATION) + ([("Cu", CHEST_ADDED_CU_MM)] if r.body_part == "CHEST" else [])
        detectors = {name: DetectorClass(kind="STORAGE" if "computed" in name else "SCINTILLATOR",
                                         noise_factor=s.noise_factor, mtf50_lp_mm=s.mtf50 or 2.5)
                     for name, s in (scanners or {}).items()}
        settings = XRaySettings(kv=protocol.kv, mas=protocol.mas, sid_mm=sid, sod_mm=sod,
                                grid_ratio=float(protocol.grid_ratio or 0.0), view=view, beam=r.beams[view],
                                detector_pixel_mm=pixel, rows=rows, cols=cols, voxel_mm=tuple(spacing),
                                focal_spot_mm=DEFAULT_FOCAL_SPOT_MM[r.focal_spot], filtration=filtration,
                                materials=materials_for(tissues), tissue_material={t: TISSUE_MATERIAL[t] for t in tissues},
                                tissue_density=density, body_part=r.body_part, laterality=r.laterality,
                                detectors=detectors, mask_priority=mask_priority(labels or []),
                                projection_binning=binning)
        notes = [f"detector {rows} x {cols} pixels of {pixel:g} mm at {sid:g} mm SID, magnification {mag:.3f}"
                 + (f"; rays cast every {binning} pixels ({binning * pixel:g} mm, finer than the {min(spacing):g} mm "
                    "phantom) and interpolated" if binning > 1 else "")]
        return settings.model_dump(mode="json"), notes

    def settings(self, data: dict) -> XRaySettings:
        return XRaySettings.model_validate(data)

    def channel_shape(self, settings: dict, shape) -> list[int]:
        s = self.settings(settings)
        return [1, s.rows, s.cols]

    def estimate(self, shape, settings: dict, device: str) -> tuple[int, dict[str, float]]:
        from synthspec.families.modality.xray import estimate

        s = self.settings(settings)
        return (estimate.bytes_per_subject(tuple(shape), s.rows, s.cols, len(s.materials)),
                estimate.seconds_per_subject(tuple(shape), s.rows, s.cols, len(s.materials), device))

    def bytes_on_disk(self, shape, formats, seg: tuple[int, int] = (1, 0), compression: str = "none",
                      settings: dict | None = None) -> dict[str, int]:
        from synthspec.families.modality.xray import estimate

        s = self.settings(settings)
        return estimate.bytes_on_disk_per_subject(tuple(shape), s.rows, s.cols, formats)

    def sample(self, settings: dict, rng, draw, budget: int) -> dict:
        """This subject's exposure and positioning: fixed kV and distances, mAs from the spec, the part's rotation
        on the detector and about its long axis, the tube's tilt, the collimated field's margin and the corner
        of the lead marker."""
        s = self.settings(settings)
        mas = draw(s.mas, rng, budget, "xray.mas")
        rotation, axial, tilt = (float(max(-3.0, min(3.0, rng.normal()))) * sd
                                 for sd in (ROTATION_SD_DEG, AXIAL_ROTATION_SD_DEG, TILT_SD_DEG))
        margin = float(rng.uniform(*COLLIMATION_MARGIN_MM))
        corner = MARKER_CORNERS[int(rng.integers(len(MARKER_CORNERS)))]
        return {"kv": s.kv, "mas": round(mas, 3), "sid_mm": s.sid_mm, "grid_ratio": s.grid_ratio, "view": s.view,
                "rotation_deg": round(rotation, 2), "axial_rotation_deg": round(axial, 2), "tilt_deg": round(tilt, 2),
                "collimation_margin_mm": round(margin, 1), "marker_corner": corner}

    def truth(self, scene, settings: dict, label_tissue: dict[int, str]):
        """Per-material densities [M, Z, Y, X] (float32 g/cm^3) the rays cross."""
        from synthspec.families.modality.xray.render import material_volumes

        s = self.settings(settings)
        return material_volumes(scene, label_tissue, s.tissue_density, s.tissue_material, s.materials)

    def acquire(self, truth, settings: dict, acquisition: dict, scanner, noise, device: str) -> dict:
        """Cast, detect and process one radiograph; returns {"image": float32 [1, rows, cols] stored values}."""
        from synthspec.families.modality.xray.acquisition import radiograph

        return {"image": radiograph(truth, self.settings(settings), acquisition, scanner.name, noise, device)}

    def detector_masks(self, scene, settings: dict, acquisition: dict, device: str) -> dict:
        """The anatomy labels and lesion ids projected into the detector plane ([1, rows, cols] each)."""
        from synthspec.families.modality.xray.acquisition import projected_masks

        return projected_masks(scene, self.settings(settings), acquisition, device)

    def channel_geometry(self, plan, channel: str):
        """(spacing zyx, origin xyz) of a radiograph: detector rows and columns at the pixel size the
        isocentre sees (detector pitch / magnification), one nominal 1 mm slice, centred on 0."""
        s = self.settings(plan.stage("acquire").params.settings)
        pitch = s.detector_pixel_mm * s.sod_mm / s.sid_mm
        return (1.0, pitch, pitch), (-(s.cols - 1) / 2 * pitch, -(s.rows - 1) / 2 * pitch, 0.0)

    def store(self, image):
        """Delivered values: rounded and clipped to 12 bits, uint16."""
        import numpy as np

        return np.clip(np.rint(image), 0, STORED_MAX).astype(np.uint16)

    def write_series(self, folder, subject, plan, identity, version: str) -> str:
        """The Digital X-Ray (for presentation) instance of the subject's radiograph; returns its folder."""
        from synthspec.families.modality.xray.acquisition import dx_info
        from synthspec.families.modality.xray.dicom import write_dx

        info = dx_info(subject, plan, identity, version, self.settings(plan.stage("acquire").params.settings))
        (folder / "dicom").mkdir()
        write_dx(folder / "dicom", subject.channels["image"][0], info)
        return "dicom/"

    def write_previews(self, folder, subject, plan) -> dict[str, str]:
        """PNG previews: the radiograph, and it with the projected masks outlined."""
        from synthspec.families.modality.xray.preview import write_png

        image = subject.channels["image"][0]
        write_png(folder / "preview.png", image, BITS_STORED)
        files = {"preview": "preview.png"}
        masks = getattr(subject, "masks", None) or {}
        lesions = masks.get("lesions_projected")
        if lesions is not None and lesions.any():
            write_png(folder / "preview_lesions.png", image, BITS_STORED, overlay=lesions[0])
            files["preview_lesions"] = "preview_lesions.png"
        return files


MODALITY = XRay()
