"""The `mri` modality: tissue PD, T1, T2, T2* and ADC maps, imaged by each sequence through complex k-space.

    protocol.py     lowering the `mri` block: tissue table at the field (T2* rule, fallbacks), sequences,
                    agent, scanner facts, refusals
    tissue.py       per-subject property maps from the tissue scene (partial volume, PropertyChange)
    contrast.py     gadolinium uptake by tissue and the T1/T2 shortening of a post-contrast sequence
    signal.py       the signal equations (spin echo, TSE, spoiled GRE, MPRAGE-like, IR, FLAIR, diffusion)
    kspace.py       FFT, truncation (Gibbs), partial Fourier, motion ghosts, coil bias, complex noise, magnitude
    diffusion.py    b = 0, trace images and the scanner-style ADC map
    acquire.py      one subject's examination: every sequence, co-registered, in a fixed draw order
    estimate.py     memory, time and storage per subject for the planner
    series.py       each channel's sequence, role and b-value, and each sequence type's DICOM codes
    dicom.py        the MR Image Storage series writer (one series per channel)
    bids.py         BIDS-style NIfTI names per channel and the JSON / .bval / .bvec sidecars

Channels: a structural sequence `s` gives channel `s`; a diffusion sequence `s` with b-values 0 < b1 ... gives
`s_b0`, `s_b<b>` (isotropic trace per nonzero b) and `s_adc` (1e-6 mm^2/s).  Intensities are stored as uint16
on a scale fixed per sequence by the plan (white matter of mid-range values at about 1000).

Importing this package loads neither numpy nor torch: the registry, the planner and the report import it
cheaply; the stages import their modules when they run.
"""

from __future__ import annotations

from pydantic import BaseModel

from synthspec.families.base import Channel, Window

STORED_MAX = 65535
DEFAULT_FOV_MM = 240.0
DEFAULT_MATRIX = 256
DEFAULT_SLICE_MM = 5.0
DEFAULT_PHASE_RESOLUTION = 0.8
"""Share of the phase-encode lines acquired (256 x 205 of a 256 matrix): clinical brain protocols acquire
70-100 % (vendor default protocols); the rest is zero-filled, which rings at sharp edges (Gibbs)."""
DEFAULT_PHASE_DIRECTION = "LR"
"""Phase encoding left-right, the usual choice for axial brain imaging (eye and flow ghosts off the brain)."""
MOTION_PROBABILITY = 0.15
"""Share of subjects who move during their examination: motion artefacts force a repeated sequence in ~20 % of
clinical MR examinations (Andre et al., J Am Coll Radiol 12:689, 2015)."""
MOTION_MM = (0.5, 2.0)
"""In-plane translation of a moving subject (mm): the 0.5-2 mm of typical cooperative-patient head motion."""
MARKER_UNITS = 200.0
"""Peak offset of the planted shortcut marker at marker_strength 100 % (a fifth of white matter)."""
WM_LEVEL = 1000.0

WINDOWS = (Window("brain", 2000.0, 1000.0), Window("wide", 4000.0, 2000.0))
ADC_WINDOWS = (Window("adc", 3000.0, 1500.0),)
CHANNELS = (Channel("image", "a.u.", "uint16", WINDOWS),)
"""Generic fallback; a plan's channels come from `channels_for(settings)`."""


class MRSequence(BaseModel):
    name: str
    type: str
    tr_ms: float
    te_ms: float
    ti_ms: float | None = None
    flip_deg: float = 90.0
    b_values: list[float] = []
    post_contrast: bool = False
    partial_fourier: float = 1.0
    """Share of the phase-encode lines of k-space acquired asymmetrically (0.5..1; zero-filled)."""
    echo_train_length: int | None = None
    """Readout pulses per inversion of an MPRAGE (signal.py); echoes per excitation of a TSE (DICOM only)."""
    encoding: str = "multislice"
    """"multislice" (2-D slices, each excited and encoded on its own) or "volume" (3-D: the slab is excited at
    once and phase-encoded along z as well, so every voxel's signal is averaged over all partitions)."""
    scale: float = 1.0
    """Stored intensity per unit of signal (PD units): white matter of mid-range values at WM_LEVEL."""


class MRScanner(BaseModel):
    field_strength_t: float | None = None
    snr: float
    """SNR of a fully relaxed PD = 1 voxel of 1 mm^3, 256 phase-encode lines, one average (acquire.py)."""
    coil_bias: float = 0.0
    """Amplitude of the receive-coil intensity non-uniformity (1 +/- coil_bias over the field of view)."""
    max_b: float | None = None
    sequences: list[str] = []


class MRContrast(BaseModel):
    agent: str
    r1_per_mM_s: float
    r2_per_mM_s: float
    dose_mmol_kg: float
    plasma_mM: float
    uptake: dict[str, tuple[float, float]]
    """Tissue concentration / plasma concentration (low, high) per tissue (contrast.py)."""


class MRSettings(BaseModel):
    """The examination the plan fixes for every subject."""

    field_strength_t: float
    slice_thickness_mm: float
    """The excited slice (noise and DICOM SliceThickness); slices lie `slice_thickness_mm + slice_gap_mm` apart."""
    pixel_mm: float
    slice_gap_mm: float = 0.0
    sequences: list[MRSequence]
    tissues: dict[str, dict[str, tuple[float, float]]]
    """(low, high) of pd, t1_ms, t2_ms, t2s_ms, adc_um2_ms per tissue at the field (protocol.py)."""
    contrast: MRContrast | None = None
    scanners: dict[str, MRScanner]
    phase_resolution: float = DEFAULT_PHASE_RESOLUTION
    phase_direction: str = DEFAULT_PHASE_DIRECTION
    motion_probability: float = MOTION_PROBABILITY
    motion_mm: tuple[float, float] = MOTION_MM


def channel_names(sequences) -> list[tuple[str, bool]]:
    """(channel name, is an ADC map) per channel, in sequence order."""
    out = []
    for seq in sequences:
        kind, name = (seq["type"], seq["name"]) if isinstance(seq, dict) else (seq.type, seq.name)
        if kind == "diffusion":
            bs = seq["b_values"] if isinstance(seq, dict) else seq.b_values
            out.append((f"{name}_b0", False))
            out.extend((f"{name}_b{int(round(b))}", False) for b in bs if b > 0)
            out.append((f"{name}_adc", True))
        else:
            out.append((name, False))
    return out


class MRI:
    name = "mri"
    channels = CHANNELS
    windows = WINDOWS
    units_range = (0, STORED_MAX)
    marker_units = MARKER_UNITS
    acquisition_fields = ("field_strength_t", "motion_mm")
    """Per-subject acquisition values in the subject record and the manifest."""
    writes_seg = False

    def grid(self, protocol, voxel_size: float | None, anatomy, max_age_y: float | None = None) -> tuple[
            tuple[int, int, int], tuple[float, float, float]]:
        """(shape, spacing): matrix and field of view in plane, slices over the anatomy's coverage, one every
        slice thickness plus the spec's `slice_gap` (contiguous without one)."""
        import math

        from synthspec.families.modality.slice_grid import slice_stack

        (z, y, x), (dz, dy, dx) = slice_stack(protocol, voxel_size, anatomy.scan_length_mm, DEFAULT_MATRIX,
                                              DEFAULT_FOV_MM, DEFAULT_SLICE_MM)
        gap = getattr(protocol, "slice_gap", None) or 0.0
        if gap:
            dz += gap
            z = int(math.ceil(anatomy.scan_length_mm / dz))
        return (z, y, x), (dz, dy, dx)

    def channels_for(self, settings: dict) -> tuple[Channel, ...]:
        return tuple(Channel(name, "1e-6 mm2/s" if adc else "a.u.", "uint16", ADC_WINDOWS if adc else WINDOWS)
                     for name, adc in channel_names(settings["sequences"]))

    def lower(self, protocol, shape, spacing, tissue_hu: dict, bone_labels: list[int], *, scanners: dict | None = None,
              stdlib=None, **_) -> tuple[dict, list[str]]:
        """The examination settings, and notes for `synth plan`; ValueError (place and fix) for what the cohort's
        scanner classes cannot run."""
        from synthspec.families.modality.mri import contrast as gd
        from synthspec.families.modality.mri import protocol as lowering
        from synthspec.families.modality.mri.signal import reference_signal

        if stdlib is None:
            raise ValueError("the MR modality needs the stdlib tables to plan (tissues, scanners, agents)")
        facts = lowering.scanner_facts(scanners or {}, stdlib)
        b0 = lowering.field_strength(protocol, facts)
        gap = getattr(protocol, "slice_gap", None) or 0.0
        thickness = spacing[0] - gap
        for name, f in facts.items():
            limits = f["slice_thickness_mm"]
            if limits and not limits[0] - 1e-6 <= thickness <= limits[1] + 1e-6:
                raise ValueError(f"{lowering._at(protocol, 'slice_thickness')}: slice_thickness {thickness:g} mm is "
                                 f"outside {limits[0]:g}-{limits[1]:g} mm of {name}; choose a thickness in that range")
            fov = spacing[2] * shape[2]
            if f["field_of_view_mm"] and fov > f["field_of_view_mm"] + 1e-6:
                raise ValueError(f"{lowering._at(protocol, 'field_of_view')}: field_of_view {fov:g} mm is over the "
                                 f"{f['field_of_view_mm']:g} mm of {name}; lower it")
        sequences = lowering.sequences(protocol, facts)
        agent = lowering.contrast(protocol, sequences, stdlib, b0)
        tissues = lowering.tissue_table(stdlib.items["tissue"], b0)
        wm = tissues["white_matter"]
        for seq in sequences:
            seq["scale"] = round(WM_LEVEL / max(reference_signal(seq, wm), 1e-6), 4)
        contrast = None
        if agent is not None:
            contrast = {**agent, "plasma_mM": round(gd.plasma_mM(agent["dose_mmol_kg"]), 4),
                        "uptake": gd.uptake_table(tissues)}
        settings = MRSettings(field_strength_t=b0, slice_thickness_mm=round(thickness, 6), slice_gap_mm=gap,
                              pixel_mm=spacing[2],
                              sequences=sequences, tissues=tissues, contrast=contrast,
                              scanners={n: {k: v for k, v in f.items() if k in MRScanner.model_fields}
                                        for n, f in facts.items()}).model_dump(mode="json")
        from synthspec.families.modality.mri.bids import file_stems

        file_stems(settings)   # two sequences whose file names would collide are refused now, not at write time
        notes = [f"MR at {b0:g} T: {len(sequences)} sequence(s), {len(self.channels_for(settings))} channel(s); "
                 f"phase encoding {DEFAULT_PHASE_DIRECTION} with {DEFAULT_PHASE_RESOLUTION:.0%} of the lines "
                 "(Gibbs ringing along phase), zero-filled partial Fourier where a sequence uses it"]
        return settings, notes

    def settings(self, data: dict) -> MRSettings:
        return MRSettings.model_validate(data)

    def estimate(self, shape, settings: dict, device: str) -> tuple[int, dict[str, float]]:
        from synthspec.families.modality.mri import estimate

        images = estimate.images_per_subject(settings)
        return estimate.bytes_per_subject(shape, images), estimate.seconds_per_subject(shape, images, device)

    def bytes_on_disk(self, shape, formats, seg: tuple[int, int] = (1, 0), compression: str = "none",
                      settings: dict | None = None) -> dict[str, int]:
        from synthspec.families.modality.mri import estimate

        channels = len(self.channels_for(settings)) if settings else 1
        return estimate.bytes_on_disk_per_subject(tuple(shape), formats, channels, compression)

    def sample(self, settings: dict, rng, draw, budget: int) -> dict:
        """This subject's examination: the plan's field, and whether (and how far) the subject moves.  Two
        uniforms are always drawn, so the stream keeps its order whatever the outcome."""
        s = self.settings(settings)
        moves, size = float(rng.random()), float(rng.random())
        lo, hi = s.motion_mm
        motion = lo + size * (hi - lo) if moves < s.motion_probability else 0.0
        return {"field_strength_t": s.field_strength_t, "motion_mm": round(motion, 2)}

    def truth(self, scene, settings: dict, label_tissue: dict[int, str]) -> dict:
        """The subject's property maps (float32 [Z, Y, X]): pd, t1_ms, t2_ms, t2s_ms, adc_um2_ms, gd_mM; and under
        `tissues` the per-compartment tissue values (tissue.SubjectTissues) the signals are painted from."""
        from synthspec.families.modality.mri.tissue import property_maps

        s = self.settings(settings)
        tissues = {k: {p: tuple(v) for p, v in d.items()} for k, d in s.tissues.items()}
        if s.contrast is not None:
            return property_maps(scene, label_tissue, tissues, {k: tuple(v) for k, v in s.contrast.uptake.items()},
                                 s.contrast.plasma_mM)
        return property_maps(scene, label_tissue, tissues)

    def acquire(self, truth, settings: dict, acquisition: dict, scanner, noise, device: str) -> dict:
        """Every sequence of the examination from `truth`; {channel: float32 volume in stored units}."""
        from synthspec.families.modality.mri.acquire import acquire_subject

        s = self.settings(settings)
        name = getattr(scanner, "name", scanner)
        if name not in s.scanners:
            name = next(iter(s.scanners))
        return acquire_subject(truth, s, acquisition, name, noise, device)

    def channel_geometry(self, plan, channel: str):
        """(spacing zyx, origin xyz): every sequence lies on the plan's grid (co-registered)."""
        return tuple(plan.grid.spacing), plan.grid.origin_xyz()

    def store(self, image):
        """Delivered values: rounded and clipped to 0..65535, uint16."""
        import numpy as np

        return np.clip(np.rint(image), 0, STORED_MAX).astype(np.uint16)

    def channel_file(self, channel: str, plan) -> str:
        """The BIDS-style NIfTI name of a channel (`acq-t1post_ce-gadobutrol_T1w.nii.gz`)."""
        from synthspec.families.modality.mri.bids import channel_file

        return channel_file(channel, plan)

    def write_sidecars(self, folder, subject, plan) -> dict[str, str]:
        """JSON sidecars per sequence channel, and `.bval` / `.bvec` beside the diffusion images."""
        from synthspec.families.modality.mri.bids import write_sidecars

        return write_sidecars(folder, subject, plan, geometry=self.channel_geometry)

    def write_series(self, folder, subject, plan, identity, version: str) -> str:
        """The MR DICOM series of every channel into `folder` (dicom.py); returns the folder name."""
        from synthspec.families.modality.mri.dicom import write_mr_series

        return write_mr_series(folder, subject, plan, identity, version)


MODALITY = MRI()
