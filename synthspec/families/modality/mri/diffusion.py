"""Diffusion-weighted imaging: the b = 0 image, the isotropic trace images and the ADC map a scanner computes.

Role: for one diffusion sequence, the images the MR modality delivers beyond a single magnitude.  The truth
has one (isotropic) ADC per voxel, so the three orthogonal gradient directions give the same noiseless signal
S0 e^(-b ADC); each direction is acquired separately (`kspace.acquire_magnitude`, independent noise), and the
trace image is their geometric mean (S_x S_y S_z)^(1/3), as scanners form it.  The ADC is then computed from the
noisy images exactly as a scanner does, ADC = ln(S_0 / S_b) / b with the highest b, set to 0 where the b = 0
image is below a noise threshold (NOISE_FLOOR_SIGMAS times the image noise sigma: background, air, bone) and
clipped to 0..ADC_MAX.  Single-shot EPI acquires a slice's lines in ~50-100 ms, so no inter-line motion ghosting
is simulated here (nor EPI distortion or N/2 ghosts).  It computes no signal equation (`signal.py`).
"""

from __future__ import annotations

import torch

DIRECTIONS = 3
NOISE_FLOOR_SIGMAS = 5.0
"""b = 0 voxels below this many noise sigmas get ADC 0 (the Rayleigh background mean is 1.25 sigma)."""
ADC_MAX_UM2_MS = 5.0
"""ADC maps are clipped to 0..5 um^2/ms (free water at 37 C is ~3.0; Le Bihan)."""


def trace(images: list[torch.Tensor]) -> torch.Tensor:
    """Geometric mean of the direction images (floored at a tiny positive value before the logarithm)."""
    logs = torch.stack([torch.log(i.clamp_min(1e-12)) for i in images])
    return torch.exp(logs.mean(dim=0))


def adc_map(s0: torch.Tensor, sb: torch.Tensor, b_s_mm2: float, sigma: float) -> torch.Tensor:
    """ADC in um^2/ms (= 1e-3 mm^2/s) from the b = 0 and b images; 0 below the noise floor of s0."""
    ratio = s0.clamp_min(1e-12) / sb.clamp_min(1e-12)
    adc = torch.log(ratio) / b_s_mm2 * 1e3
    adc = adc.clamp(0.0, ADC_MAX_UM2_MS)
    floor = NOISE_FLOOR_SIGMAS * sigma
    return torch.where(s0 > floor, adc, torch.zeros_like(adc))


def acquire_diffusion(signal_b, b_values: list[float], acquire, sigma_image: float) -> dict:
    """{"b0": S0 image, "b<b>": trace image per nonzero b, "adc": ADC in um^2/ms} as torch volumes.

    `signal_b(b)` gives the noiseless signal at b; `acquire(signal)` one noisy magnitude acquisition (the
    caller's k-space path with its noise stream, called in a fixed order: b0, then each b's directions x, y, z);
    `sigma_image` the image-domain noise sigma of one acquisition (the ADC noise floor)."""
    out = {"b0": acquire(signal_b(0.0))}
    for b in b_values[1:]:
        s = signal_b(b)
        out[f"b{int(round(b))}"] = trace([acquire(s) for _ in range(DIRECTIONS)])
    out["adc"] = adc_map(out["b0"], out[f"b{int(round(b_values[-1]))}"], b_values[-1], sigma_image)
    return out
