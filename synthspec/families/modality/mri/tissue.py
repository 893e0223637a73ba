"""MR tissue properties of one subject: PD, T1, T2, T2*, ADC and gadolinium maps on the plan's grid.

Role: the first half of the MR modality, the counterpart of `ct/render.py`.  Each tissue's values for
the subject are drawn inside the plan's ranges (the stdlib table at the plan's field, `protocol.py`) at
the subject's quantile for that tissue (`scene.quantiles`, one uniform per tissue drawn by the anatomy,
correlated through the subject's shared tissue factor, `correlated_quantiles`): the same quantile for every
property of a tissue, so a "wetter" subject has longer T1 and T2, more PD
and more ADC together.  The maps are painted as `ct/render.py` paints HU: the base labels first, then
the partial-volume layers of the anatomy and the lesions in scene order (value <- value + fraction *
(layer value - value)), then `scene.changes` multiply the properties under them.

Partial volume: PD, ADC and gadolinium concentration mix linearly in the voxel fraction; T1, T2 and
T2* mix as rates (R1 = 1/T1 ...), the fast-exchange approximation of a mixed voxel (a voxel half white
matter and half CSF relaxes at the mean rate, not the mean time).  It draws no random number and
decides no anatomy.
"""

from __future__ import annotations

import numpy as np

from synthspec.families.base import Layer, TissueScene

PROPERTIES = ("pd", "t1_ms", "t2_ms", "t2s_ms", "adc_um2_ms")
RATES = ("t1_ms", "t2_ms", "t2s_ms")
"""Properties that mix (and are stored while painting) as rates 1/T."""
CHANGE_KEYS = {"pd": "pd", "t1": "t1_ms", "t2": "t2_ms", "t2s": "t2s_ms", "adc": "adc_um2_ms"}
"""PropertyChange factor names -> truth keys."""
LESION_TEXTURE_REL = 0.05
"""A lesion layer's unit texture field modulates its rates and PD by this relative amount (heterogeneity of a
tumour or an infarct at the scale of a few voxels; a judgement, small beside the contrast between tissues)."""


SHARED_TISSUE_CORRELATION = 0.9
"""Correlation of every tissue's quantile with the subject's shared tissue factor (`factors["tissue_z"]`).  The
tables' ranges are mostly spreads between studies and methods (Stanisz 2005 against Wansapura 1999 and others),
which move every tissue of one measurement together, and within a person grey and white matter T1 and T2 vary
together with age and water content; independent quantiles would let a subject draw the long end of white
matter's T2 with the short end of grey matter's, a FLAIR with white matter above grey matter that no healthy
brain shows.  0.9 is a judgement that keeps each tissue's own range and its spread across subjects."""


def correlated_quantiles(quantiles: dict[str, float], shared_z: float | None,
                         rho: float = SHARED_TISSUE_CORRELATION) -> dict[str, float]:
    """u' = Phi(rho z + sqrt(1 - rho^2) Phi^-1(u)) per tissue (a Gaussian copula: each u' is still uniform);
    the quantiles unchanged without a shared factor (an anatomy that draws none)."""
    if shared_z is None:
        return dict(quantiles)
    from scipy.special import ndtr, ndtri

    own = np.sqrt(1.0 - rho * rho)
    return {name: float(ndtr(rho * float(shared_z) + own * float(ndtri(min(max(float(u), 1e-9), 1 - 1e-9)))))
            for name, u in quantiles.items()}


def subject_values(tissues: dict[str, dict[str, tuple[float, float]]], quantiles: dict[str, float]) -> dict[
        str, dict[str, float]]:
    """One value per property per tissue for this subject: low + u * (high - low), u = the tissue's quantile
    (0.5 for a tissue the anatomy did not place)."""
    out = {}
    for name in sorted(tissues):
        u = float(quantiles.get(name, 0.5))
        out[name] = {k: float(lo) + u * (float(hi) - float(lo)) for k, (lo, hi) in tissues[name].items()}
    return out


def _as_painted(key: str, value):
    """A property as it is painted: rates for relaxation times."""
    return 1.0 / np.maximum(value, 1e-3) if key in RATES else value


def _mix(volume: np.ndarray, layer: Layer, value) -> None:
    """volume <- volume + fraction * (value - volume) where the layer has a share (ct/render.py's mix_layer)."""
    view = volume[layer.box] if layer.box is not None else volume
    f = layer.fraction
    if np.ndim(value) == 0:
        inside = f > 0
        v = view[inside]
        view[inside] = v + f[inside] * (np.float32(value) - v)
    else:
        view[...] = (view + f * (value - view)).astype(np.float32)


def paint(scene: TissueScene, label_tissue: dict[int, str], value) -> np.ndarray:
    """A float32 volume painted from per-tissue values as ct/render.py paints HU: the base labels through a
    look-up table, then each partial-volume layer in scene order (its tissue, its core, its kept tissue).

    `value(tissue, quantile, texture)` gives what a tissue contributes: a scalar, or an array on the layer's
    box where `texture` (the layer's unit texture field) is given; `quantile` is the layer's own level
    quantile for that tissue (a lesion's), None for the subject's."""
    lut = np.full(max(256, int(scene.base_labels.max()) + 1), np.float32(value("air", None, None)), np.float32)
    for lab, tissue in label_tissue.items():
        lut[int(lab)] = value(tissue, None, None)
    volume = lut[scene.base_labels]
    for layer in scene.layers:
        v = value(layer.tissue, layer.level_quantiles.get(layer.tissue), layer.texture)
        if layer.core_tissue is not None:
            v = v + layer.core * (value(layer.core_tissue, layer.level_quantiles.get(layer.core_tissue), None) - v)
        if layer.keep_tissue is not None:
            v = v + layer.keep * (value(layer.keep_tissue, None, None) - v)
        _mix(volume, layer, v)
    return volume


class SubjectTissues:
    """The subject's tissues as the acquisition needs them: per-tissue property values (and the ranges a
    lesion's level quantile reads), the scene to paint them through, and its PropertyChanges.

    Signals are painted tissue by tissue (`signal_map`): each compartment of a mixed voxel relaxes with its
    own T1 and T2 and the voxel's signal is the fraction-weighted sum (slow exchange between compartments,
    true of CSF and brain at imaging time scales), so a voxel of CSF and cortex is nulled on FLAIR in
    proportion to its CSF, as in real images.  The property maps of the truth mix the same layers as rates
    (tissue.py docstring): they describe the voxel, the signals are computed per compartment."""

    def __init__(self, scene: TissueScene, label_tissue: dict[int, str], table: dict, fallback: str = "soft_tissue"):
        self.scene, self.label_tissue, self.table, self.fallback = scene, label_tissue, table, fallback
        self.values = subject_values(table, correlated_quantiles(scene.quantiles, scene.factors.get("tissue_z")))

    def properties(self, tissue: str, quantile: float | None = None) -> dict[str, float]:
        base = self.values.get(tissue) or self.values[self.fallback]
        if quantile is None or tissue not in self.table:
            return base
        return {k: float(lo) + float(quantile) * (float(hi) - float(lo)) for k, (lo, hi) in self.table[tissue].items()}

    def signal_map(self, signal_of) -> np.ndarray:
        """Paint `signal_of(properties)` (a dict of scalars or arrays -> signal) through the scene, then blend in
        each PropertyChange: S <- S + f (S_changed - S), S_changed painted with the change's factors applied to
        every tissue under it."""
        def value_with(factors):
            def value(tissue, quantile, texture):
                p = dict(self.properties(tissue, quantile))
                for name, factor in factors.items():
                    key = CHANGE_KEYS.get(name)
                    if key is not None and key in p:
                        p[key] = p[key] * float(factor)
                if "t2" in factors and "t2s" not in factors:   # T2* follows T2 at constant R2'
                    r2p = 1.0 / p["t2s_ms"] - 1.0 / (p["t2_ms"] / float(factors["t2"]))
                    p["t2s_ms"] = 1.0 / (1.0 / p["t2_ms"] + max(r2p, 0.0))
                if texture is not None:
                    m = 1.0 + LESION_TEXTURE_REL * texture
                    p = {**p, "pd": p["pd"] * m, "t1_ms": p["t1_ms"] / m, "t2_ms": p["t2_ms"] / m,
                         "t2s_ms": p["t2s_ms"] / m}
                return signal_of(p)
            return value

        out = paint(self.scene, self.label_tissue, value_with({}))
        for change in self.scene.changes:
            changed = paint(self.scene, self.label_tissue, value_with(change.factors))
            box = change.box if change.box is not None else (slice(None),) * 3
            f = np.asarray(change.fraction, np.float32)
            out[box] = (out[box] + f * (changed[box] - out[box])).astype(np.float32)
        return out


def property_maps(scene: TissueScene, label_tissue: dict[int, str], tissues: dict[str, dict[str, tuple]],
                  uptake: dict[str, tuple[float, float]] | None = None, plasma_mM: float = 0.0,
                  fallback: str = "soft_tissue") -> dict:
    """The subject's property maps (float32 [Z, Y, X]): pd, t1_ms, t2_ms, t2s_ms, adc_um2_ms and gd_mM, and
    under `tissues` the SubjectTissues the acquisition paints its signals from.

    `tissues`: per tissue (low, high) of each property (protocol.py's table at the plan's field);
    `uptake`: per tissue (low, high) of the gadolinium concentration as a fraction of the plasma's
    (contrast.py), None without contrast; `plasma_mM`: the plasma concentration at the acquisition."""
    table = {k: dict(v) for k, v in tissues.items()}
    for name in table:
        lo, hi = (uptake or {}).get(name, (0.0, 0.0))
        table[name]["gd_mM"] = (lo * plasma_mM, hi * plasma_mM)
    subject = SubjectTissues(scene, label_tissue, table, fallback)
    maps = {}
    for key in (*PROPERTIES, "gd_mM"):
        def value(tissue, quantile, texture, key=key):
            v = np.float32(_as_painted(key, subject.properties(tissue, quantile)[key]))
            if texture is not None and key in ("pd", *RATES):
                v = v * (1.0 + LESION_TEXTURE_REL * texture)
            return v
        maps[key] = paint(scene, label_tissue, value)
    _apply_changes(maps, scene.changes)
    for key in RATES:
        maps[key] = (1.0 / np.maximum(maps[key], np.float32(1e-6))).astype(np.float32)
    maps["tissues"] = subject
    return maps


def _apply_changes(maps: dict[str, np.ndarray], changes) -> None:
    """Multiply the properties under each PropertyChange (maps hold rates for T1/T2/T2*, so a time factor
    divides the rate).  A T2 change without its own T2* factor carries T2* with it: the static dephasing
    rate R2' = R2* - R2 stays, so R2*' = R2' + R2 / factor."""
    for change in changes:
        f = np.asarray(change.fraction, np.float32)
        box = change.box if change.box is not None else (slice(None),) * 3

        def scale(key: str, factor: float):
            view = maps[key][box]
            m = 1.0 + f * (np.float32(factor) - 1.0)
            view[...] = (view / m if key in RATES else view * m).astype(np.float32)

        factors = dict(change.factors)
        if "t2" in factors and "t2s" not in factors:
            r2 = maps["t2_ms"][box]
            r2_prime = maps["t2s_ms"][box] - r2
            scale("t2_ms", float(factors.pop("t2")))
            maps["t2s_ms"][box] = (r2_prime + maps["t2_ms"][box]).astype(np.float32)
        for name, factor in factors.items():
            key = CHANGE_KEYS.get(name)
            if key is not None:
                scale(key, float(factor))
