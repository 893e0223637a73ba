"""X-ray tube output for projection radiography: tungsten-anode spectra, the heel effect, half-value layers.

Role: give the image-formation chain (`detector.py`) the photon fluence per energy bin of a diagnostic
tube, through SpekPy (Poludniowski et al., "SpekPy v2.0 - a software toolkit for modeling x-ray tube
spectra", Med. Phys. 48 (2021) 3630), and the anode heel effect along the anode-cathode axis.
`half_value_layer_mm_al` checks a beam's quality against IEC 61267 standard qualities.

Not here: attenuation by the patient (`attenuation.py`, `detector.py`), scatter, the detector, and the
geometric falloff of fluence off the central ray (inverse square, obliquity): `heel_profile` removes
those by default so the caller can apply its own geometry once.

Units: energies in keV; fluence in photons per mm^2 per mAs at 1 m from the focus, per energy bin
(SpekPy returns photons cm^-2 per bin per mAs at z = 100 cm; 1 cm^2 = 100 mm^2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import spekpy
import xraydb

# Total filtration >= 2.5 mm Al above 70 kVp: IEC 60601-1-3 (radiation protection in diagnostic X-ray
# equipment), the 21 CFR 1020.30(m) minimum HVL rule is its US counterpart.
DEFAULT_FILTRATION: tuple[tuple[str, float], ...] = (("Al", 2.5),)
ELECTRON_REST_KEV = 510.99895  # m_e c^2, CODATA 2018
CM2_PER_MM2 = 0.01


@dataclass(frozen=True)
class Spectrum:
    """A tube spectrum on the central ray: `fluence[i]` photons / mm^2 / mAs at 1 m in the bin centred on
    `energies_kev[i]` (bins `bin_kev` wide)."""

    energies_kev: np.ndarray
    fluence: np.ndarray
    kvp: float
    filtration: tuple[tuple[str, float], ...]
    anode_angle_deg: float
    bin_kev: float = 1.0

    @property
    def mean_energy_kev(self) -> float:
        """Fluence-weighted mean photon energy, keV."""
        return float((self.energies_kev * self.fluence).sum() / self.fluence.sum())

    @property
    def total_fluence(self) -> float:
        """Photons / mm^2 / mAs at 1 m, all bins."""
        return float(self.fluence.sum())


def _filtration_key(filtration) -> tuple[tuple[str, float], ...]:
    return tuple((str(m), float(t)) for m, t in filtration)


@functools.lru_cache(maxsize=16)
def _spek(kvp: float, filtration: tuple[tuple[str, float], ...], anode_angle_deg: float, bin_kev: float):
    """A filtered SpekPy model (0.6 s to build; later `get_spectrum` calls with x/y/z are ms)."""
    model = spekpy.Spek(kvp=float(kvp), th=float(anode_angle_deg), dk=float(bin_kev))
    for material, mm in filtration:
        if mm > 0:
            model.filter(material, float(mm))
    return model


@functools.lru_cache(maxsize=32)
def _tungsten_spectrum_cached(kvp, filtration, anode_angle_deg, bin_kev) -> Spectrum:
    model = _spek(kvp, filtration, anode_angle_deg, bin_kev)
    energies, per_cm2 = model.get_spectrum(flu=True, diff=False)  # photons cm^-2 per bin per mAs at 1 m
    fluence = np.asarray(per_cm2, dtype=np.float64) * CM2_PER_MM2
    energies = np.asarray(energies, dtype=np.float64)
    keep = fluence > fluence.max() * 1e-9  # drop bins below the filter's transmission floor
    energies, fluence = energies[keep], fluence[keep]
    energies.setflags(write=False)
    fluence.setflags(write=False)
    return Spectrum(energies, fluence, float(kvp), filtration, float(anode_angle_deg), float(bin_kev))


def tungsten_spectrum(kvp: float, filtration: tuple[tuple[str, float], ...] = DEFAULT_FILTRATION,
                      anode_angle_deg: float = 12.0, bin_kev: float = 1.0) -> Spectrum:
    """Central-ray spectrum of a tungsten-anode tube (SpekPy default 'casim' physics), filtered by each
    (material, mm) in `filtration` (SpekPy material names: 'Al', 'Cu', 'Be', 'Air', ...). Cached."""
    if not 20.0 <= kvp <= 150.0:
        raise ValueError(f"kvp {kvp} outside the diagnostic range 20-150 kV")
    return _tungsten_spectrum_cached(float(kvp), _filtration_key(filtration), float(anode_angle_deg),
                                     float(bin_kev))


@functools.lru_cache(maxsize=32)
def _heel_grid(kvp, filtration, anode_angle_deg, sid_mm, include_geometry, half_span_mm):
    model = _spek(kvp, filtration, anode_angle_deg, 1.0)
    z_cm = sid_mm / 10.0
    grid_mm = np.linspace(-half_span_mm, half_span_mm, 129)

    def energy_fluence(**where) -> float:
        return float(np.sum(model.get_spectrum(flu=False, diff=False, z=z_cm, **where)[1]))

    centre = energy_fluence(x=0.0)
    anode_face_mm = -sid_mm * np.tan(np.radians(anode_angle_deg))  # no emission beyond the target's surface
    values = []
    for p in grid_mm:
        if p <= anode_face_mm + 1e-6:
            values.append(0.0)  # (asking SpekPy here only makes it warn "Zero emission")
            continue
        along = energy_fluence(x=float(p) / 10.0)
        if include_geometry:
            values.append(along / centre)
        else:
            # The same off-axis distance orthogonal to the anode-cathode axis has the same inverse-square
            # and oblique-filtration loss but no heel, so the ratio keeps only the anode self-absorption.
            values.append(along / energy_fluence(y=float(p) / 10.0))
    return grid_mm, np.asarray(values)


def heel_profile(kvp: float, filtration: tuple[tuple[str, float], ...], anode_angle_deg: float, sid_mm: float,
                 positions_mm: np.ndarray, include_geometry: bool = False) -> np.ndarray:
    """Relative energy fluence at detector positions along the anode-cathode axis, 1 on the central ray.

    Sign convention (SpekPy's `x`, checked: emission falls to zero at x = -z tan(anode angle)):
    NEGATIVE positions are toward the ANODE (where the heel cuts the beam), positive toward the cathode.
    Beyond the anode face (|angle off axis| > anode angle on the anode side) the value is 0.
    `include_geometry=False` (default) returns the heel alone; True also keeps SpekPy's inverse-square and
    oblique-filtration falloff along that axis. Only intensity is modelled, not the heel's spectral hardening.
    """
    positions_mm = np.asarray(positions_mm, dtype=np.float64)
    half_span = float(max(np.abs(positions_mm).max(initial=0.0), 1.0))
    half_span = float(np.ceil(half_span / 10.0) * 10.0)  # share the cache between similar fields
    grid_mm, values = _heel_grid(float(kvp), _filtration_key(filtration), float(anode_angle_deg),
                                 float(sid_mm), bool(include_geometry), half_span)
    return np.interp(positions_mm, grid_mm, values)


# --- beam quality -------------------------------------------------------------------------------------

def _klein_nishina_transfer_fraction(energies_kev: np.ndarray) -> np.ndarray:
    """Mean fraction of a Compton-scattered photon's energy given to the electron (Klein-Nishina, free
    electron), integrated numerically over the scattering angle (Attix, Introduction to Radiological
    Physics and Radiation Dosimetry, 1986, ch. 7)."""
    alpha = np.asarray(energies_kev, dtype=np.float64)[:, None] / ELECTRON_REST_KEV
    cos_t = np.linspace(-1.0, 1.0, 2001)[None, :]
    ratio = 1.0 / (1.0 + alpha * (1.0 - cos_t))  # E'/E
    dsigma = ratio**2 * (ratio + 1.0 / ratio - (1.0 - cos_t**2))  # dσ/dΩ up to a constant
    sigma = np.trapezoid(dsigma, cos_t, axis=1)
    sigma_tr = np.trapezoid(dsigma * (1.0 - ratio), cos_t, axis=1)
    return sigma_tr / sigma


def air_mass_energy_absorption(energies_kev) -> np.ndarray:
    """(mu_en/rho) of dry air, cm^2/g, from xraydb (Elam) cross sections: photoelectric absorption in full
    (K fluorescence of N, O, Ar is negligible, yields < 0.01 below 4 keV) plus incoherent scattering times
    the Klein-Nishina energy-transfer fraction; radiative losses of the electrons (g < 0.1 % below 150 keV,
    Hubbell 1982) are neglected, so mu_en = mu_tr. Within a few % of Hubbell & Seltzer (NISTIR 5632) here."""
    e_ev = np.asarray(energies_kev, dtype=np.float64) * 1000.0
    photo = xraydb.material_mu("air", e_ev, density=1.0, kind="photo")
    incoh = xraydb.material_mu("air", e_ev, density=1.0, kind="incoh")
    return photo + incoh * _klein_nishina_transfer_fraction(np.asarray(energies_kev, dtype=np.float64))


def _air_kerma(spectrum_fluence: np.ndarray, energies_kev: np.ndarray, muen_air: np.ndarray) -> float:
    return float(np.sum(spectrum_fluence * energies_kev * muen_air))


def half_value_layer_mm_al(spectrum: Spectrum, which: int = 1) -> float:
    """First (`which=1`) or second (2) half-value layer, mm Al (density 2.70 g/cm^3, xraydb), in narrow-beam
    geometry: the Al thickness that halves the air kerma (Kerma ∝ Σ Φ(E) E (mu_en/rho)_air(E))."""
    e = spectrum.energies_kev
    muen = air_mass_energy_absorption(e)
    mu_al_per_mm = xraydb.material_mu("Al", e * 1000.0, kind="total") / 10.0  # xraydb: 1/cm at its density
    k0 = _air_kerma(spectrum.fluence, e, muen)

    def thickness_for(fraction: float) -> float:
        lo, hi = 0.0, 200.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            k = _air_kerma(spectrum.fluence * np.exp(-mu_al_per_mm * mid), e, muen)
            lo, hi = (mid, hi) if k > fraction * k0 else (lo, mid)
        return 0.5 * (lo + hi)

    first = thickness_for(0.5)
    if which == 1:
        return first
    if which == 2:
        return thickness_for(0.25) - first
    raise ValueError("which must be 1 or 2")


def spekpy_hvl_mm_al(kvp: float, filtration: tuple[tuple[str, float], ...] = DEFAULT_FILTRATION,
                     anode_angle_deg: float = 12.0) -> float:
    """SpekPy's own first HVL (mm Al, air kerma), a cross-check of `half_value_layer_mm_al`."""
    return float(_spek(float(kvp), _filtration_key(filtration), float(anode_angle_deg), 1.0).get_hvl1())
