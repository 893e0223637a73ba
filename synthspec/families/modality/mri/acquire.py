"""One subject's MR examination: every sequence of the plan from the same truth maps, co-registered.

Role: the orchestration of the acquire stage.  Draw order from the subject's noise generator (fixed, so a
subject is reproducible and its twin shares it): the coil's bias field (once: the head and the coil stay put
between sequences), then per sequence in plan order its motion event (five numbers, always drawn) and its
noise, slice by slice.  Each sequence: the signal equation on the truth maps (`signal.py`; gadolinium only in a
post-contrast sequence), the k-space path (`kspace.py`), or for diffusion the b = 0, trace and ADC images
(`diffusion.py`); signals are painted compartment by compartment from the subject's tissues
(`tissue.SubjectTissues`, slow exchange in a mixed voxel); then the plan's fixed intensity scale of the sequence (white matter of mid-range values about
1000) so intensities compare across subjects.  Noise: the scanner class's `snr` is the SNR of a fully relaxed
PD = 1 voxel of 1 mm^3 with 256 phase-encode lines and one average at its own field; it scales with voxel
volume, sqrt(readouts: phase-encode lines, times partitions for a 3-D sequence) and, linearly, B0 (PHYSICS.md, image formation).  Without a generator
(noiseless) there is no noise, no motion and a flat coil.
"""

from __future__ import annotations

import numpy as np
import torch

from synthspec.families.modality.mri import diffusion, kspace
from synthspec.families.modality.mri.signal import sequence_signal

REFERENCE_VOXEL_MM3 = 1.0
REFERENCE_LINES = 256


def noise_sigma(snr: float, spacing, lines: int, b0: float, scanner_b0: float | None) -> float:
    """Per-component k-space (= fully sampled image) noise sigma in units of PD."""
    voxel = float(np.prod(spacing))
    eff = snr * voxel / REFERENCE_VOXEL_MM3 * np.sqrt(lines / REFERENCE_LINES) * (b0 / (scanner_b0 or b0))
    return float(1.0 / eff)


def acquire_subject(truth: dict, s, acquisition: dict, scanner: str, generator, device: str) -> dict:
    """{channel: float32 [Z, Y, X] numpy} in stored units for every sequence of the plan settings `s`."""
    dev = torch.device(device)
    facts = s.scanners[scanner]
    shape = truth["pd"].shape
    bias = kspace.bias_field(shape, facts.coil_bias, generator)
    phase_axis = kspace.PHASE_AXES[s.phase_direction]
    lines = shape[phase_axis]
    pixel = s.pixel_mm
    spacing = (s.slice_thickness_mm, pixel, pixel)

    def sigma_of(seq) -> float:
        """A 3-D sequence samples every partition of every line: lines x partitions readouts."""
        readouts = lines * shape[0] if seq.encoding == "volume" else lines
        return noise_sigma(facts.snr, spacing, readouts, s.field_strength_t, facts.field_strength_t)

    motion_mm = float(acquisition.get("motion_mm", 0.0))
    r1 = s.contrast.r1_per_mM_s if s.contrast else 0.0
    r2 = s.contrast.r2_per_mM_s if s.contrast else 0.0
    tissues = truth.get("tissues")

    def signal(q: dict, b: float = 0.0):
        """Painted per compartment from the subject's tissues when the truth carries them (tissue.py), else from
        the property maps voxel by voxel (phantoms)."""
        if tissues is not None:
            return tissues.signal_map(lambda p: sequence_signal(q, p, r1, r2, b))
        return sequence_signal(q, truth, r1, r2, b)

    out = {}
    with torch.no_grad():
        for seq in s.sequences:
            q = seq.model_dump()
            motion = kspace.draw_motion(generator, motion_mm if seq.type != "diffusion" else 0.0, lines, pixel)
            sigma = sigma_of(seq)

            def acquire(signal, pf=seq.partial_fourier, motion=motion, sigma=sigma, volume=seq.encoding == "volume"):
                t = torch.from_numpy(np.ascontiguousarray(signal, dtype=np.float32)).to(dev)
                return kspace.acquire_magnitude(t, sigma=sigma, phase_axis=phase_axis,
                                                phase_resolution=s.phase_resolution, partial_fourier=pf,
                                                bias=bias, motion=motion, generator=generator, volume=volume)

            if seq.type == "diffusion":
                acquired = kspace.sampling_mask(lines, s.phase_resolution, seq.partial_fourier).double().mean()
                sigma_image = sigma * float(acquired) ** 0.5
                images = diffusion.acquire_diffusion(lambda b, q=q: signal(q, b), seq.b_values,
                                                     acquire, sigma_image)
                for key, image in images.items():
                    scale = 1000.0 if key == "adc" else seq.scale    # ADC: um^2/ms -> 1e-6 mm^2/s
                    out[f"{seq.name}_{key}"] = (image * scale).to("cpu").numpy().astype(np.float32)
            else:
                image = acquire(signal(q))
                out[seq.name] = (image * seq.scale).to("cpu").numpy().astype(np.float32)
    return out
