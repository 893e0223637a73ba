"""Polychromatic CT beam: two-material line integrals, beam hardening, water and bone corrections.

Role: the `beam: polychromatic` path of `acquisition.simulate_ct`.  Per chunk of slices:

    HU -> water- and bone-equivalent partial densities (g/cm^3)     decompose
    -> two parallel-beam projections Lw, Lb (g/cm^3 mm)              geometry.project_columns
    -> p = -log sum_E w(E) exp(-(mu/rho)_w(E) Lw - (mu/rho)_b(E) Lb)  polychromatic_p (a 2-D table)
    -> counts, quantum + electronic noise, log                         acquisition.measure (same draws)
    -> water correction (lookup: p of water -> mu_w_ref L)             WaterCorrection
    -> optional first-order bone correction (Joseph & Spital)         one extra pass
    -> the monochromatic path's filtered back-projection, mu -> HU with mu_w_ref

Two-material split (a standard basis decomposition, e.g. Joseph & Spital, J. Comput. Assist.
Tomogr. 2 (1978) 100): HU <= 100 is water-like, water-equivalent density 1 + HU/1000 (air 0);
between 100 HU and the HU of ICRU-44 cortical bone (1.92 g/cm^3) at the reference energy the voxel
is a volume mix of water at 1.1 g/cm^3 and cortical bone, linear in HU; above, cortical bone whose
density scales with 1 + HU/1000.  At the reference (effective) energy the split reproduces the
voxel's HU exactly, so a monochromatic scan of the two maps is the monochromatic path.

Spectrum: SpekPy tungsten (xray/spectrum.py) at the protocol kV, 12 deg anode, FILTRATION_MM_AL of
aluminium (inherent + added CT filtration, typical 6-7 mm Al equivalent); the bowtie filter is not
modelled (the beam is the same for every ray).  Detector: energy-integrating with complete
absorption, weight E * fluence(E).  Attenuation: xraydb mass attenuation (xray/attenuation.py).

Water correction: scanners linearise each reading with the measured polychromatic p of water
paths; here an exact lookup from p(L of water) back to mu_w_ref L, mu_w_ref the same
`mu_water_per_mm(kV)` that converts mu to HU, so water reads 0 HU and a water cylinder is flat.
Bone correction (fraction `bone_correction`, 0..1): reconstruct once, split that image into water
and bone, project both, and add `bone_correction` times the bone-induced error
(mono-equivalent - water-corrected polychromatic p of those paths) to the measured line integrals,
then reconstruct again.  Below 1 (default 0.7 in CTSettings), and from a blurred, noisy first pass,
it leaves residual dark streaks between dense bones, as real images have (PHYSICS.md, Head CT).
Noise: the same CPU draws in the same order as the monochromatic path (one pair per reading).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from synthspec.families.modality.xray.attenuation import MATERIALS, mass_attenuation
from synthspec.families.modality.xray.spectrum import tungsten_spectrum

FILTRATION_MM_AL = 6.5
"""Total CT filtration, mm Al equivalent (bowtie ignored)."""
ANODE_ANGLE_DEG = 7.0
"""CT tubes use small anode angles (~7 deg)."""
SOFT_HU = 100.0
"""Up to this HU a voxel is all water-like."""
SOFT_DENSITY = 1.0 + SOFT_HU / 1000.0
BONE_DENSITY = MATERIALS["cortical_bone"].density
TABLE_MM = 2000.0
"""The water-correction lookup covers water paths up to this length (mm); beyond, linear extrapolation."""
TABLE_STEP_MM = 0.5


@functools.lru_cache(maxsize=16)
def beam_model(kv: float) -> dict:
    """Energy weights and attenuation of the beam at `kv`: numpy, float64.

    w: detected energy weights (sum 1); mw, mb: (mu/rho)/10 of water and cortical bone, so that
    mw * Lw is dimensionless for Lw in g/cm^3 mm; hu_bone: HU of cortical bone at the reference energy;
    mu_ref: mu_water_per_mm(kv); mb_ref: the mono-equivalent mu per g/cm^3 of bone, 1/mm.
    """
    from synthspec.families.modality.ct.acquisition import EFFECTIVE_KEV, mu_water_per_mm

    kvp = min(max(float(kv), 40.0), 150.0)
    spec = tungsten_spectrum(kvp, (("Al", FILTRATION_MM_AL),), anode_angle_deg=ANODE_ANGLE_DEG, bin_kev=1.0)
    e = np.asarray(spec.energies_kev, dtype=np.float64)
    keep = e >= 10.0
    e, fluence = e[keep], np.asarray(spec.fluence, dtype=np.float64)[keep]
    w = e * fluence
    w = w / w.sum()
    mw = mass_attenuation("water", e) / 10.0
    mb = mass_attenuation("cortical_bone", e) / 10.0
    kvs = sorted(EFFECTIVE_KEV)
    e_eff = float(np.interp(kvp, kvs, [EFFECTIVE_KEV[k] for k in kvs]))
    ratio = float(mass_attenuation("cortical_bone", [e_eff])[0] / mass_attenuation("water", [e_eff])[0])
    hu_bone = 1000.0 * (BONE_DENSITY * ratio - 1.0)
    mu_ref = mu_water_per_mm(kv)
    return {"kv": float(kv), "e": e, "w": w, "mw": mw, "mb": mb, "hu_bone": hu_bone, "mu_ref": mu_ref,
            "mb_ref": mu_ref * ratio}


def decompose(hu: torch.Tensor, hu_bone: float) -> tuple[torch.Tensor, torch.Tensor]:
    """HU -> (water-equivalent, bone) partial densities, g/cm^3 (same shape, float32)."""
    hu = hu.to(torch.float32)
    f = ((hu - SOFT_HU) / (hu_bone - SOFT_HU)).clamp_(min=0.0)
    water = torch.where(f > 0, SOFT_DENSITY * (1.0 - f).clamp(min=0.0), (1.0 + hu / 1000.0).clamp(min=0.0))
    bone = BONE_DENSITY * torch.where(f <= 1, f, (1.0 + hu / 1000.0) / (1.0 + hu_bone / 1000.0))
    return water, bone


LW_STEP, LB_STEP = 0.5, 0.1
"""Node spacing (g/cm^3 mm) of the polychromatic lookup table along the water and bone paths."""
LB_TABLE = 300.0
"""The table covers bone paths up to this (g/cm^3 mm: 156 mm of cortical bone); longer ones are summed exactly."""


def exact_polychromatic_p(lw: torch.Tensor, lb: torch.Tensor, model: dict) -> torch.Tensor:
    """-log of the detected fraction behind water and bone paths, summed over every energy bin (float64)."""
    lw, lb = lw.double(), lb.double()
    acc = torch.zeros_like(lw)
    for w, mw, mb in zip(model["w"], model["mw"], model["mb"]):
        acc += w * torch.exp(-(float(mw) * lw + float(mb) * lb))
    return -torch.log(acc.clamp_(min=1e-300))


@functools.lru_cache(maxsize=8)
def _table(kv: float) -> np.ndarray:
    """p on the (Lw, Lb) nodes, float64 [nw, nb]: exp separates, so the energy sum is one matrix product."""
    model = beam_model(kv)
    lw = np.arange(0.0, TABLE_MM + LW_STEP / 2, LW_STEP)
    lb = np.arange(0.0, LB_TABLE + LB_STEP / 2, LB_STEP)
    a = np.exp(-np.outer(lw, model["mw"])) * model["w"]          # [nw, E]
    b = np.exp(-np.outer(lb, model["mb"]))                        # [nb, E]
    return -np.log(np.maximum(a @ b.T, 1e-300))


_DEVICE_TABLES: dict = {}


def polychromatic_p(lw: torch.Tensor, lb: torch.Tensor, model: dict) -> torch.Tensor:
    """-log of the detected fraction behind water and bone paths (g/cm^3 mm); float32, lw's shape.

    Bilinear in a table of the exact sum (nodes LW_STEP x LB_STEP; within 2e-6 of the exact value,
    tests/test_ct_beam.py), so a reading costs four lookups instead of an exponential per energy bin.
    Each reading depends only on its own two paths: the result is the same for any chunk of slices."""
    key = (float(model["kv"]), str(lw.device))
    table = _DEVICE_TABLES.get(key)
    if table is None:
        table = _DEVICE_TABLES[key] = torch.from_numpy(_table(float(model["kv"]))).to(lw.device)
    nw, nb = table.shape
    u = lw.double().clamp(min=0.0) / LW_STEP
    v = lb.double().clamp(min=0.0) / LB_STEP
    outside = (u > nw - 1) | (v > nb - 1)
    i = u.floor().clamp_(max=nw - 2)
    j = v.floor().clamp_(max=nb - 2)
    fu, fv = (u - i).clamp_(max=1.0), (v - j).clamp_(max=1.0)
    flat = table.reshape(-1)
    k = i.long() * nb + j.long()
    p = (flat[k] * (1.0 - fu) + flat[k + nb] * fu) * (1.0 - fv) + (flat[k + 1] * (1.0 - fu) + flat[k + nb + 1] * fu) * fv
    if bool(outside.any()):
        p[outside] = exact_polychromatic_p(lw[outside], lb[outside], model)
    return p.to(torch.float32)


class WaterCorrection:
    """Measured polychromatic p of water -> the monochromatic-equivalent mu_w_ref L (a dense lookup)."""

    def __init__(self, model: dict, device):
        lengths = torch.arange(0.0, TABLE_MM + TABLE_STEP_MM, TABLE_STEP_MM, dtype=torch.float64)
        p = exact_polychromatic_p(lengths, torch.zeros_like(lengths), model)
        self.p = p.to(device)
        self.target = (lengths * model["mu_ref"]).to(device)
        self.slope_end = float((self.target[-1] - self.target[-2]) / (self.p[-1] - self.p[-2]))

    def __call__(self, p: torch.Tensor) -> torch.Tensor:
        q = p.double()
        i = torch.searchsorted(self.p, q.contiguous()).clamp_(1, self.p.numel() - 1)
        p0, p1 = self.p[i - 1], self.p[i]
        t0, t1 = self.target[i - 1], self.target[i]
        out = t0 + (q - p0) * (t1 - t0) / (p1 - p0)
        out = torch.where(q > self.p[-1], self.target[-1] + (q - self.p[-1]) * self.slope_end, out)
        return out.to(torch.float32)


def scan_chunk(block: torch.Tensor, geom, acq, mu_w: float, n0, responses, noise_generator, pad) -> list[torch.Tensor]:
    """The polychromatic counterpart of acquisition._scan_chunk: HU [b, Y, X] -> HU [b, Y, X] per response (the
    bone-correction pass uses the first)."""
    from synthspec.families.modality.ct.acquisition import FILTER_SLICES, _noise, filter_projections, measure
    from synthspec.families.modality.ct.geometry import backproject_columns, project_columns

    b, y, x = block.shape
    n, v, d = geom.n, geom.views, geom.detectors
    py, px = pad
    model = beam_model(acq.kv)
    block = block.to(torch.float32)
    if (y, x) != (n, n):
        block = torch.nn.functional.pad(block, (px, n - x - px, py, n - y - py), value=-1000.0)
    water, bone = decompose(block.reshape(b, n * n).t(), model["hu_bone"])
    del block
    paths = project_columns(torch.cat([water, bone], dim=1).contiguous(), geom, acq.pixel_mm)   # [V*D, 2b]
    del water, bone
    sino = polychromatic_p(paths[:, :b], paths[:, b:], model)                                     # [V*D, b]
    del paths
    correct = WaterCorrection(model, sino.device) if acq.water_correction else None
    for s0 in range(0, b, FILTER_SLICES):
        s1 = min(s0 + FILTER_SLICES, b)
        normals = None if noise_generator is None else _noise(s1 - s0, v, d, noise_generator, sino.device)
        measured = measure(sino[:, s0:s1], n0, acq.electronic_noise, normals)
        sino[:, s0:s1] = measured if correct is None else correct(measured)

    def reconstruct(p: torch.Tensor, response=responses[0]) -> torch.Tensor:
        q = torch.empty_like(p)
        for s0 in range(0, b, FILTER_SLICES):
            s1 = min(s0 + FILTER_SLICES, b)
            q[:, s0:s1] = filter_projections(p[:, s0:s1], geom, response)
        return backproject_columns(q, geom, acq.pixel_mm).mul_(math.pi / (v * acq.pixel_mm))   # mu [n*n, b]

    if correct is not None and acq.bone_correction > 0:
        first = reconstruct(sino).mul_(1000.0 / mu_w).sub_(1000.0)
        water, bone = decompose(first, model["hu_bone"])
        del first
        paths = project_columns(torch.cat([water, bone], dim=1).contiguous(), geom, acq.pixel_mm)
        del water, bone
        lw, lb = paths[:, :b], paths[:, b:]
        mono = lw * model["mu_ref"] + lb * model["mb_ref"]
        error = mono - correct(polychromatic_p(lw, lb, model))
        del paths, lw, lb, mono
        sino.add_(error, alpha=float(acq.bone_correction))
        del error
    out = []
    for response in responses:
        rec = reconstruct(sino, response)
        rec = rec.t().reshape(b, n, n)[:, py:py + y, px:px + x]
        out.append(rec.mul(1000.0 / mu_w).sub_(1000.0))
    del sino
    return out
