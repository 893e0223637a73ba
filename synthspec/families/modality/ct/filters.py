"""Reconstruction kernels: the ramp filter, its apodisation windows, and the scanner MTF.

Role: one function, `fbp_filter`, giving the frequency response that filtered
back-projection multiplies each zero-padded projection by; and the estimate of
the reconstruction's own MTF that sets the scanner blur.  Not here: the
projector (`geometry.py`) or HU (`acquisition.py`).

Frequencies are in cycles per detector bin, relative to the Nyquist frequency
f_N = 1 / (2 pitch): the kernels follow the sampling, as clinical kernels are
tied to a reconstruction grid.  Consequence: at a fixed dose the image noise
scales as pitch^-3/2 (see `acquisition.py`).

The ramp is the band-limited one of Kak & Slaney (*Principles of Computerized
Tomographic Imaging*, 1988, eq. 3.61): h(0) = 1/4, h(k) = -1/(pi k)^2 for odd
k, 0 for even k, transformed after zero padding to at least 2 D - 1 samples,
so that neither the DC term nor the wrap-around of the convolution biases the
CT numbers of large objects.  Windows, with x = f / f_N in [0, 1]:

    soft      Hann                  0.5 (1 + cos(pi x))
    standard  Shepp-Logan           sinc(x / 2)
    sharp     Ram-Lak               1
    lung      Ram-Lak, mild edge enhancement   1 + 0.25 sin^2(3 pi x / 4)
    bone      Ram-Lak, more edge enhancement   1 + 0.50 sin^2(3 pi x / 4)

(The enhancement peaks at 2/3 of Nyquist, which is where clinical lung and bone
kernels overshoot: sharper edges with a slight overshoot and more noise.)
Measured (tests/test_ct_physics.py geometry): noise relative to standard
soft 0.45, sharp 1.25, lung 1.5, bone 1.74; 10-90 % edge width on 1 mm pixels
soft 2.4, standard 1.8, sharp 1.7, lung 1.3, bone 1.1 mm.

Scanner sharpness: a scanner class's mtf50 is the frequency where its standard
kernel's MTF is 0.5.  The reconstruction itself already has an MTF
(window x detector strip x back-projection footprint, approximated here as
W(f) sinc^2(f pitch)); an isotropic Gaussian blur of the image, applied as the
same 1-D Gaussian on every projection, supplies the rest so that the standard
kernel's MTF at mtf50 is 0.5.  The same blur (focal spot and detector
aperture) then applies to every kernel.  When the grid is too coarse to resolve
mtf50 (the standard kernel's MTF is already below 0.5 there) there is no blur.
"""

from __future__ import annotations

import math

import torch

# window(x) for x = f / f_N in [0, 1]; float64 tensors in, float64 out
KERNELS = {
    "soft": lambda x: 0.5 * (1.0 + torch.cos(math.pi * x)),
    "standard": lambda x: torch.sinc(x / 2.0),
    "sharp": lambda x: torch.ones_like(x),
    "lung": lambda x: 1.0 + 0.25 * torch.sin(0.75 * math.pi * x) ** 2,
    "bone": lambda x: 1.0 + 0.50 * torch.sin(0.75 * math.pi * x) ** 2,
}


def check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"unknown CT reconstruction kernel {kernel!r}; known: {', '.join(KERNELS)}")


def padded_length(detectors: int) -> int:
    """Zero-padded FFT length: the smallest 2^a 3^b 5^c >= 2 D (no circular wrap of the ramp; fast FFT sizes)."""
    target, best = 2 * detectors, 1 << math.ceil(math.log2(2 * detectors))
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < best:
                if p5 >= target:
                    best = p5
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return best


def ramp(length: int) -> torch.Tensor:
    """Frequency response (rfft bins) of the spatial band-limited ramp, per unit pitch, float64."""
    k = torch.arange(length, dtype=torch.float64)
    k = torch.minimum(k, length - k)                              # circular distance
    h = torch.zeros(length, dtype=torch.float64)
    h[0] = 0.25
    odd = k % 2 == 1
    h[odd] = -1.0 / (math.pi * k[odd]) ** 2
    return torch.fft.rfft(h).real


def system_mtf(kernel: str, f_lp_mm: float, pitch_mm: float) -> float:
    """Approximate MTF of the reconstruction at f (line pairs per mm): window x sinc^2 (detector strip, footprint)."""
    x = 2.0 * f_lp_mm * pitch_mm                                  # f / f_N
    if x >= 1.0:
        return 0.0
    w = float(KERNELS[kernel](torch.tensor(x, dtype=torch.float64)))
    return w * float(torch.sinc(torch.tensor(f_lp_mm * pitch_mm, dtype=torch.float64))) ** 2


def mtf_blur_sigma_mm(mtf50_lp_mm: float | None, pitch_mm: float) -> float:
    """Std (mm) of the Gaussian that brings the standard kernel's MTF at mtf50 down to 0.5 (0 if not needed)."""
    if mtf50_lp_mm is None or mtf50_lp_mm <= 0:
        return 0.0
    own = system_mtf("standard", mtf50_lp_mm, pitch_mm)
    if own <= 0.5:
        return 0.0
    # exp(-2 pi^2 s^2 f^2) = 0.5 / own
    return math.sqrt(math.log(own / 0.5) / (2.0 * math.pi**2 * mtf50_lp_mm**2))


def fbp_filter(kernel: str, detectors: int, pitch_mm: float, blur_sigma_mm: float = 0.0) -> torch.Tensor:
    """rfft-bin response (float64, CPU) for projections zero-padded to `padded_length(detectors)`.

    Units: multiplying the FFT of a projection (dimensionless line integrals) by
    this gives the ramp-filtered projection q in 1/mm^2 * mm = 1/mm per unit
    angle; back-projection over pi then yields mu in 1/mm (see `ct.fbp`).
    """
    check_kernel(kernel)
    length = padded_length(detectors)
    x = torch.fft.rfftfreq(length, dtype=torch.float64) * 2.0     # f / f_N
    response = ramp(length) / pitch_mm * KERNELS[kernel](x)
    if blur_sigma_mm > 0:
        f = torch.fft.rfftfreq(length, d=pitch_mm, dtype=torch.float64)
        response = response * torch.exp(-2.0 * math.pi**2 * blur_sigma_mm**2 * f**2)
    return response
