"""The `ct` modality: tissues rendered in Hounsfield units, then scanned and reconstructed.

    render.py       tissue scene -> HU (stdlib tissue table, texture amplitudes, partial volume, bone by age)
    couch.py        the patient couch under a supine body (carbon-fibre top, foam core, pad)
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
BONE_KERNEL = "bone"
"""The kernel of the thin bone series (`thin_slices`)."""
SERIES_CHANNELS = (Channel("image", "HU", "int16", WINDOWS), Channel("bone", "HU", "int16", WINDOWS),
                   Channel("thick", "HU", "int16", WINDOWS))
"""With `thin_slices`: the thin series in the spec's kernel (on the plan's grid, with the labels), the thin
series in the bone kernel, and the spec's slice thickness as the mean of consecutive thin images (as a
scanner reconstructs a thick series from the same acquisition)."""


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
    thick_mm: float | None = None
    """With `thin_slices`: the thick series' slice thickness (a whole multiple of the thin slices)."""
    bone_kernel: str | None = None
    """With `thin_slices`: the kernel of the second thin series."""
    couch: bool = False
    """The patient couch under the body (couch.py), for anatomies whose `patient_support` is "couch"."""

    @property
    def thin_per_thick(self) -> int:
        return int(round(self.thick_mm / self.slice_thickness_mm)) if self.thick_mm else 1


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

        thin = getattr(protocol, "thin_slices", None)
        if not thin:
            return slice_stack(protocol, voxel_size, anatomy.scan_length_mm, DEFAULT_MATRIX, DEFAULT_FOV_MM,
                               DEFAULT_SLICE_MM)
        # thin slices on the plan's grid, as many as a whole number of thick slices needs
        thick = protocol.slice_thickness or DEFAULT_SLICE_MM
        per = max(1, int(round(thick / thin)))
        (z, y, x), (_dz, dy, dx) = slice_stack(protocol.model_copy(update={"slice_thickness": thin}), voxel_size,
                                               anatomy.scan_length_mm, DEFAULT_MATRIX, DEFAULT_FOV_MM, DEFAULT_SLICE_MM)
        return (int(math.ceil(z / per)) * per, y, x), (float(thin), dy, dx)

    def lower(self, protocol, shape, spacing, tissue_hu: dict, bone_labels: list[int], anatomy=None,
              **_) -> tuple[dict, list[str]]:
        """The acquisition settings, and notes for `synth plan`.  Full angular sampling unless the spec sets `views`."""
        full = math.ceil(math.pi / 2 * shape[2])
        views = protocol.views or full
        notes = []
        if views < full:
            notes.append(f"{views} views is below the {full} that full angular sampling needs; "
                         "expect faint streaks far from the centre (set `views` in the ct block)")
        beam = getattr(protocol, "beam", None) or "monochromatic"
        thin = getattr(protocol, "thin_slices", None)
        thick = None
        if thin:
            thick = float(protocol.slice_thickness or DEFAULT_SLICE_MM)
            per = thick / float(thin)
            if float(thin) >= thick or abs(per - round(per)) > 1e-6:
                raise ValueError(f"ct.thin_slices: {float(thin):g} mm must divide slice_thickness {thick:g} mm into "
                                 "a whole number (2 or more) of thin slices; use e.g. 1.25 mm or 2.5 mm with 5 mm")
            notes.append(f"thin series: {float(thin):g} mm in the {protocol.kernel or DEFAULT_KERNEL} and the "
                         f"{BONE_KERNEL} kernel, and a {thick:g} mm series from {int(round(per))} thin slices each "
                         f"({int(round(per))} times the slices of a {thick:g} mm scan to generate)")
        settings = CTSettings(kv=protocol.kv, mas=protocol.mas, kernel=protocol.kernel or DEFAULT_KERNEL,
                              slice_thickness_mm=spacing[0], pixel_mm=spacing[2], views=views,
                              tissue_hu=tissue_hu, bone_labels=bone_labels, beam=beam, thick_mm=thick,
                              bone_kernel=BONE_KERNEL if thin else None,
                              couch=getattr(anatomy, "patient_support", None) == "couch").model_dump(mode="json")
        if not settings["couch"]:   # a head (no couch modelled) keeps its plan bytes
            settings.pop("couch")
        if not thin:   # a spec without thin slices keeps its plan bytes
            settings.pop("thick_mm")
            settings.pop("bone_kernel")
        if beam == "monochromatic":
            # the plan of a monochromatic spec keeps its bytes (and its seed key) from before the beam option
            settings.pop("beam")
            settings.pop("bone_correction")
        return settings, notes

    def settings(self, data: dict) -> CTSettings:
        return CTSettings.model_validate(data)

    def channels_for(self, settings: dict) -> tuple[Channel, ...]:
        """image; with `thin_slices` also the thin bone series and the thick series."""
        return SERIES_CHANNELS if settings and settings.get("thick_mm") else CHANNELS

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
        hu = render_hu(scene, label_tissue, {k: tuple(v) for k, v in s.tissue_hu.items()}, tuple(s.bone_labels))
        if s.couch:
            from synthspec.families.modality.ct.couch import add_couch

            add_couch(hu, s.pixel_mm)
        return hu

    def acquire(self, truth, settings: dict, acquisition: dict, scanner, noise, device: str) -> dict:
        """Scan and reconstruct `truth`; returns {channel: float32 volume in HU}, air (HU_MIN) outside the
        reconstruction circle (acquisition.outside_reconstruction_circle)."""
        import numpy as np
        import torch

        from synthspec.families.modality.ct.acquisition import CTAcquisition, outside_reconstruction_circle, simulate_ct

        s = self.settings(settings)
        acq = CTAcquisition(kv=acquisition["kv"], mas=acquisition["mas"],
                            slice_thickness_mm=acquisition["slice_thickness_mm"], pixel_mm=s.pixel_mm,
                            kernel=acquisition["kernel"], views=s.views, noise_factor=scanner.noise_factor,
                            electronic_noise=scanner.electronic_noise, mtf50_lp_mm=scanner.mtf50, beam=s.beam,
                            bone_correction=s.bone_correction if s.beam == "polychromatic" else 0.0)
        hu = torch.from_numpy(np.ascontiguousarray(truth, dtype=np.float32)).to(torch.device(device))
        outside = outside_reconstruction_circle(*hu.shape[1:])

        def circled(volume):
            image = volume.to("cpu").numpy()
            image[:, outside] = HU_MIN
            return image

        if not s.thick_mm:
            with torch.no_grad():
                return {"image": circled(simulate_ct(hu, acq, noise))}
        from synthspec.families.modality.ct.acquisition import simulate_ct_kernels

        with torch.no_grad():
            images = simulate_ct_kernels(hu, acq, noise, (s.kernel, s.bone_kernel or BONE_KERNEL))
        channels = {kernel: circled(volume) for kernel, volume in images.items()}
        image = channels[s.kernel]
        per = s.thin_per_thick
        z = image.shape[0] // per * per
        thick = image[:z].reshape(z // per, per, *image.shape[1:]).mean(axis=1, dtype=np.float64).astype(np.float32)
        return {"image": image, "bone": channels[s.bone_kernel or BONE_KERNEL], "thick": thick}

    def channel_geometry(self, plan, channel: str):
        """(spacing zyx, origin xyz) of a channel's volume: CT images lie on the plan's grid, but the thick series,
        whose slice k is the mean of thin slices k*n .. k*n + n - 1 (centred between them)."""
        spacing, origin = tuple(plan.grid.spacing), plan.grid.origin_xyz()
        if channel != "thick":
            return spacing, origin
        s = self.settings(plan.stage("acquire").params.settings)
        per = s.thin_per_thick
        return (spacing[0] * per, spacing[1], spacing[2]), (origin[0], origin[1], origin[2] + spacing[0] * (per - 1) / 2.0)

    def store(self, image):
        """Delivered values: CT numbers rounded and clipped to the stored range, int16."""
        import numpy as np

        return np.clip(np.rint(image), HU_MIN, HU_MAX).astype(np.int16)

    def seg_source(self, subject) -> str:
        """The folder of the series the masks lie on (the DICOM SEG references it): the thin image series."""
        return "dicom" if set(subject.channels) == {"image"} else "dicom/image"

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
        if set(subject.channels) == {"image"}:
            write_ct_series(folder / "dicom", subject.channels["image"], tuple(plan.grid.spacing),
                            plan.grid.origin_xyz(), info)
            return "dicom/"
        # thin and thick series: one folder each, as MR writes its sequences
        from dataclasses import replace

        from synthspec.families.modality.synthetic_dicom import series_identity

        s = self.settings(plan.stage("acquire").params.settings)
        for number, channel in enumerate(subject.channels, start=1):
            spacing, origin = self.channel_geometry(plan, channel)
            kernel = {"image": a["kernel"], "bone": s.bone_kernel or BONE_KERNEL, "thick": a["kernel"]}[channel]
            ident = series_identity(identity, channel, number == 1, "ct_series")
            series = replace(info, identity=ident, kernel=kernel, slice_thickness_mm=float(spacing[0]),
                             series_number=number,
                             series_description=f"SYNTHETIC {channel} {spacing[0]:g} mm {kernel} {plan.cohort_name} "
                                                f"{p.subject_id}")
            (folder / "dicom" / channel).mkdir()
            write_ct_series(folder / "dicom" / channel, subject.channels[channel], spacing, origin, series)
        return "dicom/"


MODALITY = CT()
