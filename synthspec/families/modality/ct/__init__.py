"""The `ct` modality: tissues rendered in Hounsfield units, then scanned and reconstructed.

    render.py       tissue scene -> HU (stdlib tissue table, texture amplitudes, partial volume, bone by age)
    acquisition.py  HU -> line integrals -> Poisson + electronic noise -> filtered back-projection
    geometry.py     the parallel-beam projector pair;  filters.py  reconstruction kernels and scanner MTF
    estimate.py     memory and time per subject for the planner
    dicom.py        the CT Image Storage series writer

Importing this package loads neither numpy nor torch: the registry, the planner and the
report (display windows) import it cheaply; the stages import their modules when they run.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from synthspec.compiler.values import Dist
from synthspec.families.base import Channel, Window

HU_MIN, HU_MAX = -1024, 3071
"""The stored range (12-bit CT numbers with the usual -1024 offset)."""
DEFAULT_FOV_MM = 400.0
DEFAULT_MATRIX = 256
DEFAULT_SLICE_MM = 2.5
DEFAULT_KERNEL = "standard"
MARKER_UNITS = 100.0
"""Peak offset (HU) of the planted shortcut marker at marker_strength 100 %."""

WINDOWS = (Window("lung", 1500.0, -600.0), Window("mediastinal", 400.0, 40.0), Window("bone", 2000.0, 400.0))
CHANNELS = (Channel("image", "HU", "int16", WINDOWS),)


class CTSettings(BaseModel):
    """The acquisition the plan fixes for every subject; mAs is drawn per subject from `mas`."""

    kv: float
    mas: Dist
    kernel: str = DEFAULT_KERNEL
    slice_thickness_mm: float
    pixel_mm: float
    views: int
    geometry: str = "parallel-beam"
    tissue_hu: dict[str, tuple[float, ...]]
    """(low, high[, typical]) HU per tissue from tissues.synth."""
    bone_labels: list[int] = []
    """Labels whose marrow takes the age-dependent trabecular density."""
    beam: str = "monochromatic"
    """`monochromatic` | `polychromatic` (beam hardening, water correction; acquisition.py, beam.py)."""
    bone_correction: float = 0.7
    """Polychromatic only: fraction of the bone-induced beam-hardening error the scanner removes (0..1)."""


class CT:
    name = "ct"
    channels = CHANNELS
    windows = WINDOWS
    units_range = (HU_MIN, HU_MAX)
    marker_units = MARKER_UNITS
    acquisition_fields = ("kv", "mas", "kernel", "slice_thickness_mm")
    """Per-subject acquisition values in the subject record and the manifest."""

    def grid(self, protocol, voxel_size: float | None, anatomy, max_age_y: float | None = None) -> tuple[
            tuple[int, int, int], tuple[float, float, float]]:
        """(shape, spacing) of the reconstructed volume: matrix and field of view in plane, slices along z over
        the anatomy's cranio-caudal coverage (`scan_length_mm`)."""
        from synthspec.families.modality.slice_grid import slice_stack

        return slice_stack(protocol, voxel_size, anatomy.scan_length_mm, DEFAULT_MATRIX, DEFAULT_FOV_MM, DEFAULT_SLICE_MM)

    def lower(self, protocol, shape, spacing, tissue_hu: dict, bone_labels: list[int], **_) -> tuple[dict, list[str]]:
        """The acquisition settings, and notes for `synth plan`.  Full angular sampling unless the spec sets `views`."""
        full = math.ceil(math.pi / 2 * shape[2])
        views = protocol.views or full
        notes = []
        if views < full:
            notes.append(f"{views} views is below the {full} that full angular sampling needs; "
                         "expect faint streaks far from the centre (set `views` in the ct block)")
        beam = getattr(protocol, "beam", None) or "monochromatic"
        settings = CTSettings(kv=protocol.kv, mas=protocol.mas, kernel=protocol.kernel or DEFAULT_KERNEL,
                              slice_thickness_mm=spacing[0], pixel_mm=spacing[2], views=views,
                              tissue_hu=tissue_hu, bone_labels=bone_labels, beam=beam).model_dump(mode="json")
        if beam == "monochromatic":
            # the plan of a monochromatic spec keeps its bytes (and its seed key) from before the beam option
            settings.pop("beam")
            settings.pop("bone_correction")
        return settings, notes

    def settings(self, data: dict) -> CTSettings:
        return CTSettings.model_validate(data)

    def estimate(self, shape, settings: dict, device: str) -> tuple[int, dict[str, float]]:
        from synthspec.families.modality.ct import estimate

        views = int(settings["views"])
        return estimate.bytes_per_subject(shape, views), estimate.seconds_per_subject(shape, views, device)

    def bytes_on_disk(self, shape, formats, seg: tuple[int, int] = (1, 0), compression: str = "none",
                      settings: dict | None = None) -> dict[str, int]:
        """What one subject's files take on disk, by part (NIfTI image, masks, DICOM series in the `compression`
        transfer syntax, DICOM SEG with `seg` = (finding classes, anatomy labels) segments, records)."""
        from synthspec.families.modality.ct import estimate

        return estimate.bytes_on_disk_per_subject(tuple(shape), formats, tuple(seg), compression)

    def sample(self, settings: dict, rng, draw, budget: int) -> dict:
        """This subject's acquisition: the fixed kV, kernel and slice, and mAs drawn from the spec's distribution."""
        s = self.settings(settings)
        mas = draw(s.mas, rng, budget, "ct.mas")
        return {"kv": s.kv, "mas": round(mas, 2), "kernel": s.kernel, "slice_thickness_mm": s.slice_thickness_mm}

    def truth(self, scene, settings: dict, label_tissue: dict[int, str]):
        """The noiseless HU volume (float32) the scanner sees."""
        from synthspec.families.modality.ct.render import render_hu

        s = self.settings(settings)
        return render_hu(scene, label_tissue, {k: tuple(v) for k, v in s.tissue_hu.items()}, tuple(s.bone_labels))

    def acquire(self, truth, settings: dict, acquisition: dict, scanner, noise, device: str) -> dict:
        """Scan and reconstruct `truth`; returns {channel: float32 volume in HU}."""
        import numpy as np
        import torch

        from synthspec.families.modality.ct.acquisition import CTAcquisition, simulate_ct

        s = self.settings(settings)
        acq = CTAcquisition(kv=acquisition["kv"], mas=acquisition["mas"],
                            slice_thickness_mm=acquisition["slice_thickness_mm"], pixel_mm=s.pixel_mm,
                            kernel=acquisition["kernel"], views=s.views, noise_factor=scanner.noise_factor,
                            electronic_noise=scanner.electronic_noise, mtf50_lp_mm=scanner.mtf50, beam=s.beam,
                            bone_correction=s.bone_correction if s.beam == "polychromatic" else 0.0)
        hu = torch.from_numpy(np.ascontiguousarray(truth, dtype=np.float32)).to(torch.device(device))
        with torch.no_grad():
            image = simulate_ct(hu, acq, noise).to("cpu").numpy()
        return {"image": image}

    def channel_geometry(self, plan, channel: str):
        """(spacing zyx, origin xyz) of a channel's volume: CT images lie on the plan's grid."""
        return tuple(plan.grid.spacing), plan.grid.origin_xyz()

    def store(self, image):
        """Delivered values: CT numbers rounded and clipped to the stored range, int16."""
        import numpy as np

        return np.clip(np.rint(image), HU_MIN, HU_MAX).astype(np.int16)

    def write_series(self, folder, subject, plan, identity, version: str) -> str:
        """The DICOM series of the subject's image into `folder/dicom`; returns the folder name."""
        from synthspec.families.modality.ct.dicom import CTSeriesInfo, body_part_for, display_windows, \
            write_ct_series

        p, a = subject.params, subject.params.acquisition
        info = CTSeriesInfo(identity=identity, age_y=p.age_y, sex=p.sex, scanner=p.scanner, kv=a["kv"], mas=a["mas"],
                            kernel=a["kernel"], slice_thickness_mm=a["slice_thickness_mm"], model_key=plan.seed_key,
                            synthspec_version=version, series_description=f"SYNTHETIC {plan.cohort_name} {p.subject_id}",
                            body_part=body_part_for(plan.anatomy), compression=plan.writing.dicom_compression,
                            windows=display_windows(plan.anatomy))
        (folder / "dicom").mkdir()
        write_ct_series(folder / "dicom", subject.channels["image"], tuple(plan.grid.spacing), plan.grid.origin_xyz(),
                        info)
        return "dicom/"


MODALITY = CT()
