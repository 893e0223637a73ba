"""Photon attenuation of body tissues and detector/shielding materials for projection radiography.

Role: elemental compositions (mass fractions) and nominal densities of the materials the X-ray chain
needs, the map from stdlib tissue names to those materials, and total mass attenuation coefficients
mu/rho (cm^2/g, coherent scattering included) from xraydb's elemental cross sections (Elam, Ravel &
Sieber, Radiat. Phys. Chem. 63 (2002) 121), combined by the mixture rule mu/rho = sum_i w_i (mu/rho)_i.

Not here: densities of the scene (the stdlib gives each tissue its density; the projector multiplies it
into areal density), energy-absorption coefficients for dose, or any image formation (`detector.py`).

Sources of compositions (mass fractions, in %):
  ICRU Report 44 (1989), "Tissue Substitutes in Radiation Dosimetry and Measurement", as tabulated in
  NIST's X-ray mass attenuation database (Hubbell & Seltzer, NISTIR 5632, Table 2): water, soft tissue,
  adipose, lung, cortical bone, blood, brain (grey/white matter), skeletal muscle, air (dry, sea level).
  Woodard & White, Br. J. Radiol. 59 (1986) 1209 (also ICRU Report 46, 1992): red marrow, cartilage, liver.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import xraydb


@dataclass(frozen=True)
class Material:
    """A material: elemental mass fractions (summing to 1) and a nominal density in g/cm^3."""

    name: str
    fractions: tuple[tuple[str, float], ...]
    density: float
    source: str


def _pct(**percent: float) -> tuple[tuple[str, float], ...]:
    total = sum(percent.values())
    return tuple((element, value / total) for element, value in percent.items())  # renormalise rounding


def _mix(a: Material, b: Material, mass_fraction_a: float) -> tuple[tuple[str, float], ...]:
    out: dict[str, float] = {}
    for element, w in a.fractions:
        out[element] = out.get(element, 0.0) + mass_fraction_a * w
    for element, w in b.fractions:
        out[element] = out.get(element, 0.0) + (1.0 - mass_fraction_a) * w
    return tuple(out.items())


_ICRU44 = "ICRU Report 44 (1989), composition as in NIST NISTIR 5632 Table 2"
_WW86 = "Woodard & White, Br. J. Radiol. 59 (1986) 1209; ICRU Report 46 (1992)"

_BASE = [
    Material("water", _pct(H=11.1894, O=88.8106), 1.0, "H2O; NIST NISTIR 5632 Table 2"),
    Material("soft_tissue", _pct(H=10.2, C=14.3, N=3.4, O=70.8, Na=0.2, P=0.3, S=0.3, Cl=0.2, K=0.3), 1.06,
             _ICRU44 + ' "Tissue, Soft (ICRU-44)"'),
    Material("muscle", _pct(H=10.2, C=14.3, N=3.4, O=71.0, Na=0.1, P=0.2, S=0.3, Cl=0.1, K=0.4), 1.05,
             _ICRU44 + ' "Muscle, Skeletal (ICRU-44)"'),
    Material("adipose", _pct(H=11.4, C=59.8, N=0.7, O=27.8, Na=0.1, S=0.1, Cl=0.1), 0.95,
             _ICRU44 + ' "Adipose Tissue (ICRU-44)"'),
    # ICRU-44 lung is the tissue at 1.05 g/cm^3; inflated lung (0.26, the stdlib's density) is the same
    # composition at lower density (air in the alveoli adds < 0.1 % of the mass).
    Material("lung", _pct(H=10.3, C=10.5, N=3.1, O=74.9, Na=0.2, P=0.2, S=0.3, Cl=0.3, K=0.2), 0.26,
             _ICRU44 + ' "Lung Tissue (ICRU-44)" (1.05 deflated), inflated density 0.26 (stdlib)'),
    Material("cortical_bone", _pct(H=3.4, C=15.5, N=4.2, O=43.5, Na=0.1, Mg=0.2, P=10.3, S=0.3, Ca=22.5), 1.92,
             _ICRU44 + ' "Bone, Cortical (ICRU-44)"'),
    Material("blood", _pct(H=10.2, C=11.0, N=3.3, O=74.5, Na=0.1, P=0.1, S=0.2, Cl=0.3, K=0.2, Fe=0.1), 1.06,
             _ICRU44 + ' "Blood, Whole (ICRU-44)"'),
    Material("brain", _pct(H=10.7, C=14.5, N=2.2, O=71.2, Na=0.2, P=0.4, S=0.2, Cl=0.3, K=0.3), 1.04,
             _ICRU44 + ' "Brain, Grey/White Matter (ICRU-44)"'),
    Material("liver", _pct(H=10.2, C=13.9, N=3.0, O=71.6, Na=0.2, P=0.3, S=0.3, Cl=0.2, K=0.3), 1.06,
             _WW86 + " (adult liver)"),
    Material("red_marrow", _pct(H=10.5, C=41.4, N=3.4, O=43.9, P=0.1, S=0.2, Cl=0.2, K=0.2, Fe=0.1), 1.03,
             _WW86 + " (red marrow)"),
    Material("cartilage", _pct(H=9.6, C=9.9, N=2.2, O=74.4, Na=0.5, P=2.2, S=0.9, Cl=0.3), 1.10,
             _WW86 + " (cartilage)"),
    Material("air", _pct(C=0.0124, N=75.5268, O=23.1781, Ar=1.2827), 0.001205,
             'NIST NISTIR 5632 Table 2 "Air, Dry (near sea level)"'),
    Material("aluminium", (("Al", 1.0),), 2.699, "element; density NIST NISTIR 5632 Table 1"),
    Material("copper", (("Cu", 1.0),), 8.96, "element; density NIST NISTIR 5632 Table 1"),
    Material("tungsten", (("W", 1.0),), 19.30, "element; density NIST NISTIR 5632 Table 1"),
    Material("lead", (("Pb", 1.0),), 11.35, "element; density NIST NISTIR 5632 Table 1"),
    Material("iodine", (("I", 1.0),), 4.93, "element; density NIST NISTIR 5632 Table 1"),
    # CsI: Cs 132.905, I 126.904 g/mol (IUPAC) -> mass fractions 0.5115 / 0.4885; density 4.51 (NIST Table 2).
    Material("csi", (("Cs", 132.905 / 259.809), ("I", 126.904 / 259.809)), 4.51,
             'stoichiometric CsI; density NIST NISTIR 5632 Table 2 "Cesium Iodide"'),
]
MATERIALS: dict[str, Material] = {m.name: m for m in _BASE}

# Spongiosa (cancellous bone) as a mass mixture of ICRU-44 cortical bone and red marrow with the stdlib's
# density 1.18 g/cm^3: volume fraction of bone v = (1.18 - 1.03) / (1.92 - 1.03) = 0.169, mass fraction
# 1.92 v / 1.18 = 0.274. Approximation in the manner of the ICRP 110 spongiosa media (bone + marrow mixed
# by mass), not a tabulated tissue.
_V_BONE = (1.18 - 1.03) / (1.92 - 1.03)
_W_BONE = 1.92 * _V_BONE / 1.18
MATERIALS["cancellous_bone"] = Material(
    "cancellous_bone", _mix(MATERIALS["cortical_bone"], MATERIALS["red_marrow"], _W_BONE), 1.18,
    f"mass mixture {_W_BONE:.3f} ICRU-44 cortical bone + {1 - _W_BONE:.3f} red marrow (Woodard & White 1986)")

# Iodinated blood (CT angiography, 200-400 HU at 120 kV, stdlib): whole blood with 1.0 % iodine by mass
# (about 10.7 mg I / mL at 1.07 g/cm^3). Iodine adds roughly 25-30 HU per mg/mL at 120 kV (e.g. Bae,
# Radiology 256 (2010) 32), so ~11 mg/mL gives ~300 HU, the middle of the stdlib range. Approximation.
MATERIALS["iodinated_blood"] = Material(
    "iodinated_blood", _mix(MATERIALS["iodine"], MATERIALS["blood"], 0.010), 1.07,
    "ICRU-44 whole blood + 1.0 % iodine by mass (approximation for arterial-phase contrast)")

ALIASES = {"al": "aluminium", "aluminum": "aluminium", "cu": "copper", "w": "tungsten", "pb": "lead",
           "cesium_iodide": "csi", "caesium_iodide": "csi", "adipose_tissue": "adipose", "bone": "cortical_bone",
           "spongiosa": "cancellous_bone", "trabecular_bone": "cancellous_bone"}

# Stdlib tissue -> material: the tissue gives the density (stdlib/tissues.synth), the material the
# composition. Lesions take the composition of the tissue they replace (approximation).
TISSUE_MATERIAL: dict[str, str] = {
    "air": "air",
    "lung": "lung",
    "ground_glass": "lung",          # partially filled alveoli: lung tissue at 0.5 g/cm^3
    "nodule_solid": "soft_tissue",
    "fat": "adipose",
    "water": "water",
    "csf": "water",                  # CSF is ~99 % water
    "necrosis": "water",             # fluid-like necrotic core (stdlib: "fluid-like")
    "grey_matter": "brain",
    "white_matter": "brain",
    "infarct": "brain",
    "tumour_enhancing": "brain",
    "oedema": "brain",
    "muscle": "muscle",
    "blood": "blood",
    "acute_blood": "blood",
    "iodinated_blood": "iodinated_blood",
    "liver": "liver",
    "soft_tissue": "soft_tissue",
    "cancellous_bone": "cancellous_bone",
    "cortical_bone": "cortical_bone",
    "cartilage": "cartilage",
}


def material(name: str) -> Material:
    """The material called `name` (a material name, an alias, or a stdlib tissue name)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in MATERIALS:
        return MATERIALS[key]
    if key in TISSUE_MATERIAL:
        return MATERIALS[TISSUE_MATERIAL[key]]
    raise KeyError(f"unknown X-ray material {name!r}; known: {sorted(MATERIALS)}")


def materials_for(tissues) -> list[str]:
    """The distinct materials of `tissues` (stdlib names), in order of first appearance."""
    out: list[str] = []
    for tissue in tissues:
        name = TISSUE_MATERIAL.get(tissue)
        if name is None:
            raise KeyError(f"tissue {tissue!r} has no X-ray material; add it to TISSUE_MATERIAL")
        if name not in out:
            out.append(name)
    return out


@functools.lru_cache(maxsize=256)
def _mu_cached(name: str, energies_kev: tuple[float, ...]) -> np.ndarray:
    e_ev = np.asarray(energies_kev, dtype=np.float64) * 1000.0
    total = np.zeros_like(e_ev)
    for element, w in material(name).fractions:
        total += w * np.asarray(xraydb.mu_elam(element, e_ev, kind="total"), dtype=np.float64)
    total.setflags(write=False)
    return total


def mass_attenuation(material_name: str, energies_kev) -> np.ndarray:
    """Total mass attenuation coefficient mu/rho (photoelectric + incoherent + coherent), cm^2/g."""
    energies = np.atleast_1d(np.asarray(energies_kev, dtype=np.float64))
    if energies.min() < 1.0 or energies.max() > 1000.0:
        raise ValueError("energies must be within 1-1000 keV")
    return np.array(_mu_cached(material(material_name).name, tuple(energies.tolist())))


def linear_attenuation_per_mm(material_name: str, energies_kev, density: float | None = None) -> np.ndarray:
    """mu in 1/mm at `density` (g/cm^3; the material's nominal density if None)."""
    rho = material(material_name).density if density is None else density
    return mass_attenuation(material_name, energies_kev) * rho / 10.0


@functools.lru_cache(maxsize=64)
def _table_cached(materials: tuple[str, ...], energies_kev: tuple[float, ...]) -> np.ndarray:
    table = np.stack([mass_attenuation(m, energies_kev) for m in materials]) if materials else \
        np.zeros((0, len(energies_kev)))
    table.setflags(write=False)
    return table


def attenuation_table(materials: list[str], energies_kev) -> np.ndarray:
    """[M, E] mu/rho in cm^2/g for each material at each energy (keV). Cached; read-only result."""
    energies = tuple(np.atleast_1d(np.asarray(energies_kev, dtype=np.float64)).tolist())
    return _table_cached(tuple(materials), energies)
