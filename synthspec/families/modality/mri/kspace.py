"""Image formation in k-space: the noiseless signal of a sequence becomes a reconstructed magnitude image.

Role: the second half of the MR modality, per sequence (`acquire.py` calls it).  A 2-D multi-slice sequence
is imaged slice by slice (the plan's z grid is the slice stack, one plane per slice, thickness plus the spec's
`slice_gap` apart; noise follows the excited thickness, not the spacing); a 3-D (`volume`) sequence is one slab,
phase-encoded along z as well, so each step below runs on the 3-D k-space of the whole stack:

  1. the signal times the receive-coil sensitivity (`bias_field`: a smooth, real, positive field,
     1 + coil_bias * a random low-order cosine field normalised to |f| <= 1; one per subject, the same in
     every sequence: the head and the coil do not change between sequences);
  2. the centred 2-D (3-D) FFT (orthonormal, so white k-space noise of std sigma per real component gives image
     noise of std sigma);
  3. rigid in-plane motion during a block of consecutive phase-encode lines (linear, bottom-up line order):
     those lines are taken from the k-space of the head turned about the scanner's z axis (bilinear resampling)
     and shifted by (dy, dx) (the exact phase ramp exp(-2 pi i (ky dy + kx dx))), which puts ghosts along the
     phase-encode direction only.  The 2-D multi-slice scan acquires line j of every slice in the same TR, and
     the 3-D scan runs its in-plane phase lines as the outer loop (all partitions of a line together), so the
     block is the same for all slices.  Through-plane motion (nodding) is not modelled;
  4. the acquired sampling: phase-encode lines outside the central `phase_resolution` of k-space are not
     acquired (truncation: Gibbs ringing along phase, ~9 % overshoot at a sharp edge), and partial Fourier
     leaves out the first lines of one half (zero-filled reconstruction, not homodyne: a slight blur along
     phase, no phase correction); the readout keeps the full matrix;
  5. complex Gaussian noise on the acquired samples only;
  6. the inverse FFT and the magnitude: Rician where there is signal, Rayleigh (mean sigma sqrt(pi/2),
     std sigma sqrt(2 - pi/2)) where there is none.

Noise and motion are drawn from the caller's CPU torch.Generator slice by slice in slice order, then
moved to the device, so a seed gives the same image on every device and chunk size.  It knows no
tissue and no sequence physics (`signal.py`).
"""

from __future__ import annotations

import math

import torch

CHUNK_SLICES = 16
PHASE_AXES = {"AP": 1, "LR": 2}
"""Phase-encode direction -> axis of the [Z, Y, X] volume (rows run anterior-posterior, columns left-right)."""


def bias_field(shape, coil_bias: float, generator: torch.Generator | None, order: int = 2) -> torch.Tensor:
    """1 + coil_bias * f, f a random sum of separable cosines up to `order` per axis (the constant left out),
    normalised to max |f| = 1 over the volume; float32 [Z, Y, X] on the CPU.  Flat without a generator."""
    if generator is None or coil_bias <= 0:
        return torch.ones(shape, dtype=torch.float32)
    n = order + 1
    c = torch.randn((n, n, n), generator=generator, dtype=torch.float64)
    c[0, 0, 0] = 0.0
    bases = []
    for size in shape:
        u = (torch.arange(size, dtype=torch.float64) + 0.5) / size
        bases.append(torch.stack([torch.cos(math.pi * i * u) for i in range(n)], dim=1))
    f = torch.einsum("ijk,zi,yj,xk->zyx", c, *bases)
    f = f / f.abs().max().clamp_min(1e-12)
    return (1.0 + coil_bias * f).clamp_min(0.2).to(torch.float32)


HEAD_RADIUS_MM = 50.0
"""Rotation is drawn so that it moves the cortex about as far as the translation: angle = (translation / 50 mm) rad,
the 50 mm head radius of framewise displacement (Power et al., NeuroImage 59:2142, 2012)."""


def draw_motion(generator: torch.Generator | None, motion_mm: float, lines: int, pixel_mm: float) -> dict | None:
    """A motion event of one sequence: the block of phase-encode lines (by acquisition order) during which the
    head sits shifted by `motion_mm` in a random in-plane direction and turned about the scanner's z axis by up to
    motion_mm / HEAD_RADIUS_MM radians either way.  Five numbers are always drawn (the stream keeps its order
    whether or not the subject moves); None when it does not."""
    if generator is None:
        return None
    u = torch.rand(5, generator=generator, dtype=torch.float64).tolist()
    if motion_mm <= 0:
        return None
    fraction = 0.1 + 0.3 * u[0]                       # 10-40 % of the lines
    count = max(1, int(round(fraction * lines)))
    start = int(u[1] * (lines - count + 1))
    angle = 2 * math.pi * u[2]
    amplitude = motion_mm * (0.5 + 0.5 * u[3]) / pixel_mm   # pixels
    rotation = math.degrees(motion_mm / HEAD_RADIUS_MM) * (2.0 * u[4] - 1.0)
    return {"start": start, "stop": start + count, "rotation_deg": rotation,
            "shift_px": (amplitude * math.sin(angle), amplitude * math.cos(angle))}


def sampling_mask(n: int, phase_resolution: float, partial_fourier: float) -> torch.Tensor:
    """Acquired phase-encode lines in FFT order (bool [n]): the central `phase_resolution` of k-space, and of
    those the upper half plus (2 pf - 1) of the lower half (partial Fourier pf in 0.5..1)."""
    f = torch.fft.fftfreq(n, dtype=torch.float64)          # cycles / pixel in [-0.5, 0.5)
    half = 0.5 * phase_resolution
    keep = f.abs() <= half + 1e-9
    if partial_fourier < 1.0:
        keep &= f >= -half * (2.0 * partial_fourier - 1.0) - 1e-9
    return keep


def rotate_in_plane(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """[n, Y, X] turned about the centre of the field of view (square pixels), bilinear, zero outside."""
    import torch.nn.functional as F

    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                         dtype=image.dtype, device=image.device)
    n, ny, nx = image.shape
    grid = F.affine_grid(theta[None].expand(n, 2, 3), (n, 1, ny, nx), align_corners=False)
    return F.grid_sample(image[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]


def acquire_magnitude(signal: torch.Tensor, *, sigma: float, phase_axis: int = 2, phase_resolution: float = 1.0,
                      partial_fourier: float = 1.0, bias: torch.Tensor | None = None, motion: dict | None = None,
                      generator: torch.Generator | None = None, volume: bool = False) -> torch.Tensor:
    """The reconstructed magnitude [Z, Y, X] (float32, on signal's device) of a noiseless signal volume.

    `volume`: 3-D encoding, the whole slab in one 3-D FFT (phase encoding along z as well, every partition
    acquired); else 2-D multi-slice, slice by slice.  The noise draws are the same numbers in the same order
    either way (per slice, in slice order)."""
    device = signal.device
    Z, Y, X = signal.shape
    ny, nx = Y, X
    fy = torch.fft.fftfreq(ny, dtype=torch.float64)
    fx = torch.fft.fftfreq(nx, dtype=torch.float64)
    n_phase = (ny, nx)[phase_axis - 1]
    keep = sampling_mask(n_phase, phase_resolution, partial_fourier)
    mask = (keep[:, None].expand(ny, nx) if phase_axis == 1 else keep[None, :].expand(ny, nx)).to(device)
    ramp = line = None
    if motion is not None:
        fphase = fy if phase_axis == 1 else fx
        order = torch.argsort(fphase)                       # acquisition order: -kmax .. +kmax
        moved = torch.zeros(n_phase, dtype=torch.bool)
        moved[order[motion["start"]:motion["stop"]]] = True
        dy, dx = motion["shift_px"]
        phase = -2 * math.pi * (fy[:, None] * dy + fx[None, :] * dx)
        ramp = torch.polar(torch.ones_like(phase), phase).to(torch.complex64).to(device)
        line = (moved[:, None].expand(ny, nx) if phase_axis == 1 else moved[None, :].expand(ny, nx)).to(device)
    turn = float(motion.get("rotation_deg", 0.0)) if motion is not None else 0.0
    dims = (0, 1, 2) if volume else (1, 2)

    def encode(image: torch.Tensor) -> torch.Tensor:
        """k-space of a (chunk or slab of the) volume, with the moved lines taken from the moved head."""
        k = torch.fft.fftn(image.to(torch.complex64), dim=dims, norm="ortho")
        if line is not None:
            head = rotate_in_plane(image, turn) if turn else image
            k_moved = (torch.fft.fftn(head.to(torch.complex64), dim=dims, norm="ortho") if turn else k) * ramp
            k = torch.where(line, k_moved, k)
        return k

    def noise(count: int) -> torch.Tensor:
        draws = torch.stack([torch.randn((2, ny, nx), generator=generator, dtype=torch.float32)
                             for _ in range(count)]).to(device)
        return sigma * torch.complex(draws[:, 0], draws[:, 1])

    noisy = generator is not None and sigma > 0
    out = torch.empty((Z, Y, X), dtype=torch.float32, device=device)
    step = Z if volume else CHUNK_SLICES
    for z0 in range(0, Z, step):
        z1 = min(Z, z0 + step)
        image = signal[z0:z1].to(torch.float32)
        if bias is not None:
            image = image * bias[z0:z1].to(device)
        k = encode(image)
        if noisy:
            k = k + noise(z1 - z0)
        k = k * mask
        out[z0:z1] = torch.fft.ifftn(k, dim=dims, norm="ortho").abs()
    return out
