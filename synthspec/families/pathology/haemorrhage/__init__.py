"""Intracranial haemorrhage: epidural, subdural, subarachnoid, intraparenchymal, intraventricular.

Stage role: given a `head_adult` tissue scene (contract in families/anatomy/head/__init__.py) and
`lesion_rng`, place each requested bleed, push the brain away from it (mass_effect.py), add it as a
`haematoma` tissue layer whose level quantile encodes its attenuation by age and haematocrit
(blood.py), with partial-volume edges (partial_volume.py), and mark the voxels it fills at least half of
in the lesion mask.  It draws only from `lesion_rng` and never writes an
intensity.  Every array it edits is copied first (the twin's clean scene shares them).

    blood.py        HU by onset and haematocrit (New & Aronow 1976; Parizel 2001)
    shapes.py       the five compartments' shapes (lens, crescent, CSF fill, ventricle layering, ellipsoid)
    partial_volume.py  a voxel's tissue shares from the anatomy layers; edge ramps; the mask of a share map
    mass_effect.py  midline shift from volume and the displacement field that applies it; effacement of the
                    sulci and ventricle next to the bleed

Size: IPH, SAH, IVH from `volume_ml` (default ranges below when the spec gives none); EDH and SDH from
`diameter_mm` = maximal thickness.  Constraint `require distance_to(skull) <= X` is `max_skull_mm`: the
gap between the lesion's edge and the skull's (0 when a lesion voxel touches a skull voxel) must be <= X.

Co-occurrence (documented, simple): an EDH comes with a linear skull fracture over it with probability
0.85 (fractures accompany most adult EDH; Osborn) -- a one-voxel soft-tissue gap through the skull over
the lens; an SAH of >= 10 mL extends into the ventricles with probability 0.25 (10 % of its volume,
dependent layering), recorded as `ivh_extension_ml`.

Records: subtype = blood age class; volume_ml = the blood's volume (the sum of its shares); attributes
onset_h, blood_hu, haematocrit, midline_shift_mm, effaced_csf_ml, compartment (+ location_class for IPH:
deep / lobar / infratentorial).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter

from synthspec.families.base import InsertedLesion, Layer, LesionParams, TissueScene
from synthspec.families.pathology.haemorrhage import blood, mass_effect, partial_volume, shapes

DEFAULT_IDS = {
    "scalp": 1, "skull": 2, "subarachnoid_space": 3, "lateral_ventricles": 4, "third_ventricle": 5, "dura": 6,
    "falx": 7, "tentorium": 8, "diploe": 9, "grey_matter": 10, "white_matter": 11, "sutures": 12,
    "fourth_ventricle": 15, "basal_cisterns": 16, "sylvian_fissures": 17, "lateral_frontal": 20, "medial_frontal": 21,
    "medial_parietal": 22, "parietal_lobe": 23, "temporal_lobe": 24, "inferior_temporal": 25, "occipital_lobe": 26,
    "insula": 27, "corpus_callosum": 28, "basal_ganglia": 30, "thalamus": 31, "internal_capsule": 32, "caudate": 33,
    "putamen": 34, "globus_pallidus": 35, "cerebellum": 40, "brainstem": 41,
}
REGION_GROUPS = {"basal_ganglia": ("caudate", "putamen", "globus_pallidus"),
                 "frontal_lobe": ("lateral_frontal", "medial_frontal"), "lobar": (
                     "lateral_frontal", "medial_frontal", "medial_parietal", "parietal_lobe", "temporal_lobe",
                     "inferior_temporal", "occipital_lobe", "insula")}
DEEP = {"caudate", "putamen", "globus_pallidus", "thalamus", "internal_capsule", "basal_ganglia"}
INFRA = {"cerebellum", "brainstem"}
EDH_FRACTURE_P = 0.85
SAH_IVH_P, SAH_IVH_MIN_ML, SAH_IVH_SHARE = 0.25, 10.0, 0.10
OEDEMA_MM_PER_CBRT_ML = 0.9
"""Perihaematomal oedema rim thickness, mm = 0.9 * V^(1/3) * min(1, onset/24 h) + 1 mm: absolute oedema grows
over the first days to about the haematoma's own volume (Gebel et al., Stroke 2002; a judgement of shape)."""


def _ids(labels) -> dict[str, int]:
    out = dict(DEFAULT_IDS)
    for e in labels or ():
        name, lid = getattr(e, "name", None), getattr(e, "id", None)
        if name is not None and lid is not None:
            out[name] = int(lid)
    return out


def skull_gap_mm(skull: np.ndarray, lo, hi, mask: np.ndarray, grid) -> float:
    """Gap (mm) between the lesion's edge and the skull's: 0 when a lesion voxel touches a skull voxel."""
    sp = np.asarray(grid.spacing, dtype=np.float64)
    grow = 6
    g0 = np.maximum(np.asarray(lo) - grow, 0)
    g1 = np.minimum(np.asarray(hi) + grow, skull.shape)
    sk = skull[tuple(slice(g0[a], g1[a]) for a in range(3))]
    if not sk.any():
        return float("inf")
    d = distance_transform_edt(~sk, sampling=tuple(sp))
    off = np.asarray(lo) - g0
    sub = d[off[0]:off[0] + mask.shape[0], off[1]:off[1] + mask.shape[1], off[2]:off[2] + mask.shape[2]]
    return max(float(sub[mask].min()) - float(sp.min()), 0.0)


class Haemorrhage:
    """One intracranial compartment's bleeds (the five kinds share this class)."""

    default_subtype = "acute"
    default_diameter_mm = 10.0
    default_location = "dura"
    tissues = ("haematoma", "oedema", "soft_tissue")

    def __init__(self, name: str, compartment: str, default_location: str, default_volume_ml=None,
                 default_diameter_range_mm=None):
        self.name = name
        self.compartment = compartment
        self.default_location = default_location
        self.default_volume_ml = default_volume_ml
        self.default_diameter_range_mm = default_diameter_range_mm

    def shape_defaults(self, subtype: str) -> tuple[float, float]:
        return 0.0, 0.0

    def placement_limits(self, constraints) -> dict[str, float | None]:
        """`require distance_to(skull) <= X` -> max_skull_mm."""
        out: dict[str, float | None] = {}
        for con in constraints:
            arg = (getattr(con, "argument", None) or "").strip().lower()
            if (con.function == "distance_to" and con.op in ("<=", "<") and con.right_dimension == "length"
                    and arg in ("skull", "inner_table", "")):
                out["max_skull_mm"] = con.right_value
        return out

    def insert(self, scene: TissueScene, grid, lesions: list[LesionParams], rng: np.random.Generator, labels,
               max_attempts: int, first_id: int = 1) -> None:
        ids = _ids(labels)
        scene.layers = list(scene.layers)
        scene.lesion_mask = (np.zeros(grid.shape, np.uint16) if scene.lesion_mask is None
                             else scene.lesion_mask.copy())
        for index, req in enumerate(lesions):
            self._one(scene, grid, req, rng, ids, max(1, int(max_attempts)), first_id + index)

    # ---------------------------------------------------------------- one lesion
    def _one(self, scene, grid, req, rng, ids, max_attempts, lesion_id):
        geo = scene.geometry
        what = f"{req.kind} {lesion_id}"
        if "intracranial" not in geo or "skull" not in geo:
            scene.rejected.append(f"kind: {what}: the scene has no intracranial geometry (head_adult only)")
            return
        hct = float(np.clip(rng.normal(blood.HCT_MEAN, blood.HCT_SD), 0.2, 0.6))
        onset = float(req.onset_h) if req.onset_h is not None else float(rng.uniform(0.0, 72.0))
        volume = req.volume_ml
        if volume is None and self.default_volume_ml is not None:
            volume = float(np.exp(rng.uniform(*np.log(self.default_volume_ml))))
        fails: dict[str, int] = {}
        placed = None
        cache: dict = {}   # whole-volume candidate lists, computed once per lesion
        for attempt in range(1, max_attempts + 1):
            got = self._shape(scene, grid, req, rng, ids, volume, cache)
            if isinstance(got, str):
                fails[got] = fails.get(got, 0) + 1
                continue
            lo, hi, frac, location = got
            crop = tuple(slice(lo[a], hi[a]) for a in range(3))
            if np.any(scene.lesion_mask[crop][partial_volume.core_mask(frac)] != 0):
                fails["overlap"] = fails.get("overlap", 0) + 1
                continue
            edge = frac > 0.01                                   # where the blood reaches, fringe included
            if req.max_skull_mm is not None and skull_gap_mm(geo["skull"], lo, hi, edge, grid) > req.max_skull_mm:
                fails["max_skull_mm"] = fails.get("max_skull_mm", 0) + 1
                continue
            placed = (attempt, lo, hi, frac, location)
            break
        if placed is None:
            worst = max(fails, key=fails.get) if fails else "location"
            lim = f" under distance_to(skull) <= {req.max_skull_mm:g} mm" if req.max_skull_mm is not None else ""
            scene.rejected.append(f"{worst}: {what} not placed after {max_attempts} attempts{lim} (failed: "
                                  + ", ".join(f"{k} {v}" for k, v in fails.items()) + ")")
            return
        attempt, lo, hi, frac, location = placed
        sp = np.asarray(grid.spacing, dtype=np.float64)
        crop = tuple(slice(lo[a], hi[a]) for a in range(3))
        vol_ml = float(frac.sum()) * grid.voxel_mm3 / 1000.0
        pts = np.argwhere(frac > 0)
        centre = grid.origin_mm() + (lo + np.average(pts, axis=0, weights=frac[frac > 0])) * sp
        attrs = {}
        # SAH extension into the ventricles
        if self.compartment == "subarachnoid" and vol_ml >= SAH_IVH_MIN_ML and rng.random() < SAH_IVH_P:
            ext = self._ventricle_fill(scene, grid, rng, ids, SAH_IVH_SHARE * vol_ml)
            if ext is not None:
                frac, lo, hi = _union(frac, lo, hi, *ext)
                crop = tuple(slice(lo[a], hi[a]) for a in range(3))
                attrs["ivh_extension_ml"] = float(ext[2].sum()) * grid.voxel_mm3 / 1000.0
                vol_ml = float(frac.sum()) * grid.voxel_mm3 / 1000.0
        shift = mass_effect.midline_shift_mm(vol_ml, location in INFRA)
        mass_effect.apply_shift(scene, grid, centre, shift)
        side = self._side(geo, frac, lo, centre)
        attrs["effaced_csf_ml"] = mass_effect.efface(scene, grid, frac, lo, vol_ml, side, ids,
                                                    location in INFRA)
        mask = partial_volume.core_mask(frac)
        hu = blood.blood_hu(onset, hct)
        scene.layers.append(Layer("haematoma", frac, box=crop, level_quantiles={"haematoma": blood.quantile_of(hu)}))
        if onset < 3.0:   # active bleeding: a mixed-density swirl of fresher, unretracted blood
            noise = gaussian_filter(rng.standard_normal(mask.shape), 1.5)
            swirl = (mask & (noise > np.quantile(noise[mask], 0.7))).astype(np.float32) * frac
            if swirl.any():
                scene.layers.append(Layer("haematoma", swirl, box=crop,
                                          level_quantiles={"haematoma": blood.quantile_of(hu - 15.0)}))
        if self.compartment == "intraparenchymal":
            attrs["oedema_ml"] = self._oedema(scene, grid, rng, frac > 0.01, lo, hi, vol_ml, onset, ids)
        if self.compartment == "epidural" and rng.random() < EDH_FRACTURE_P:
            attrs["skull_fracture"] = self._fracture(scene, grid, rng, ids, mask, lo, centre)
        elif self.compartment == "epidural":
            attrs["skull_fracture"] = False
        scene.lesion_mask[crop][mask] = lesion_id
        occupied = np.argwhere(mask)
        b0, b1 = lo + occupied.min(axis=0), lo + occupied.max(axis=0) + 1
        attrs.update(onset_h=onset, blood_hu=hu, haematocrit=hct, midline_shift_mm=shift,
                     compartment=self.compartment)
        if self.compartment == "intraparenchymal":
            attrs["location_class"] = "deep" if location in DEEP else ("infratentorial" if location in INFRA
                                                                         else "lobar")
        scene.lesions.append(InsertedLesion(
            id=lesion_id, kind=req.kind, subtype=blood.age_class(onset), location=location,
            diameter_mm=(float(req.diameter_mm) if self.compartment in ("epidural", "subdural")
                         else float((6.0 * vol_ml * 1000.0 / np.pi) ** (1.0 / 3.0))), centre_mm=(float(centre[2]), float(centre[1]), float(centre[0])),
            bbox=(int(b0[0]), int(b0[1]), int(b0[2]), int(b1[0]), int(b1[1]), int(b1[2])),
            volume_ml=vol_ml, attempts=attempt, attributes=attrs))

    # ---------------------------------------------------------------- shapes per compartment
    def _shape(self, scene, grid, req, rng, ids, volume, cache):
        geo = scene.geometry
        c = self.compartment
        if c in ("epidural", "subdural"):
            if "inner_table" not in cache:
                cand = shapes.inner_table_voxels(geo)
                # convexity, not the skull base: the upper two thirds of the intracranial space
                zs = np.flatnonzero(geo["intracranial"].any(axis=(1, 2)))
                cache["inner_table"] = cand[cand[:, 0] >= zs[0] + (zs[-1] - zs[0]) // 3] if len(zs) else cand
            cand = cache["inner_table"]
            if not len(cand):
                return "skull"
            seed = cand[int(rng.integers(len(cand)))]
            got = shapes.extra_axial(c, req.diameter_mm, seed, scene, grid, rng, ids)
            if isinstance(got, str):
                return got
            return (*got, "dura")
        if c == "subarachnoid":
            return self._sah(scene, grid, rng, ids, volume)
        if c == "intraventricular":
            got = self._ventricle_fill(scene, grid, rng, ids, volume)
            return "ventricles" if got is None else (*got, "lateral_ventricles")
        return self._iph(scene, grid, req, rng, ids, volume)

    def _sah(self, scene, grid, rng, ids, volume):
        csf_ids = [ids[n] for n in ("subarachnoid_space", "sylvian_fissures", "basal_cisterns") if n in ids]
        csf = np.isin(scene.base_labels, csf_ids) & scene.geometry["intracranial"]
        seeds = np.argwhere(np.isin(scene.base_labels, [ids.get("sylvian_fissures", 17), ids.get("basal_cisterns", 16)]))
        allc = np.argwhere(csf)
        if not len(allc):
            return "csf"
        seed = (seeds if len(seeds) else allc)[int(rng.integers(len(seeds) if len(seeds) else len(allc)))]
        d = shapes.seed_distance_mm(allc, seed, grid)
        csf_share = self._csf_share(scene, allc, ids)
        blood_share = csf_share * shapes.sah_concentration(d, rng)
        rows, vals = shapes.fill_until(allc, d, blood_share, volume * 1000.0 / grid.voxel_mm3)
        return shapes.share_map(rows, vals) + ("subarachnoid_space",)

    def _ventricle_fill(self, scene, grid, rng, ids, volume):
        lat = ids.get("lateral_ventricles", 4)
        vent_ids = [ids[n] for n in ("lateral_ventricles", "third_ventricle", "fourth_ventricle") if n in ids]
        vent = np.argwhere(np.isin(scene.base_labels, vent_ids))
        lat_pts = np.argwhere(scene.base_labels == lat)
        if not len(lat_pts):
            return None
        seed = lat_pts[int(rng.integers(len(lat_pts)))]
        sp = np.asarray(grid.spacing, dtype=np.float64)
        y_mm = vent[:, 1] * sp[1]
        score = shapes.seed_distance_mm(vent, seed, grid) - 1.5 * y_mm     # dependent (posterior) first
        blood_share = self._csf_share(scene, vent, ids) * np.float32(rng.uniform(0.6, 1.0))
        rows, vals = shapes.fill_until(vent, score, blood_share, volume * 1000.0 / grid.voxel_mm3)
        return shapes.share_map(rows, vals)

    @staticmethod
    def _side(geo, frac, lo, centre) -> int:
        """The hemisphere (the geometry's `side` code) the blood lies in: the side of most of its volume."""
        if "side" in geo:
            crop = tuple(slice(lo[a], lo[a] + frac.shape[a]) for a in range(3))
            codes = geo["side"][crop]
            weights = {c: float(frac[codes == c].sum()) for c in (-1, 1)}
            if max(weights.values()) > 0:
                return max(weights, key=weights.get)
        return int(np.sign(centre[2] - float(geo.get("midline_x_mm", 0.0))))

    @staticmethod
    def _csf_share(scene, rows, ids) -> np.ndarray:
        """The CSF share of each voxel row (argwhere form) of the scene."""
        lo, hi = rows.min(axis=0), rows.max(axis=0) + 1
        crop = tuple(slice(lo[a], hi[a]) for a in range(3))
        csf = partial_volume.shares(scene, crop, ids)["csf"]
        q = rows - lo
        return csf[q[:, 0], q[:, 1], q[:, 2]]

    def _iph(self, scene, grid, req, rng, ids, volume):
        geo = scene.geometry
        names = []
        for loc in req.locations or [self.default_location]:
            key = str(loc).strip().lower().split(".")[-1]
            names.extend(REGION_GROUPS.get(key, (key,)))
        rid = [ids[n] for n in names if n in ids]
        if not rid:
            return "location"
        region = geo.get("region")
        pts = np.argwhere(np.isin(region, rid)) if region is not None else np.zeros((0, 3), int)
        if not len(pts):
            return "location"
        seed = pts[int(rng.integers(len(pts)))]
        got = shapes.ellipsoid(volume, seed, scene, grid, rng, ids)
        if got is None:
            return "brain"
        lo, hi, mask = got
        return lo, hi, mask, str((req.locations or [self.default_location])[0]).strip().lower().split(".")[-1]

    def _oedema(self, scene, grid, rng, mask, lo, hi, vol_ml, onset, ids):
        sp = np.asarray(grid.spacing, dtype=np.float64)
        t = OEDEMA_MM_PER_CBRT_ML * vol_ml ** (1 / 3) * min(1.0, onset / 24.0) + 1.0
        pad = int(np.ceil(t / sp.min())) + 1
        g0 = np.maximum(lo - pad, 0)
        g1 = np.minimum(hi + pad, np.asarray(grid.shape))
        big = np.zeros(tuple(g1 - g0), bool)
        off = lo - g0
        big[off[0]:off[0] + mask.shape[0], off[1]:off[1] + mask.shape[1], off[2]:off[2] + mask.shape[2]] = mask
        d = distance_transform_edt(~big, sampling=tuple(sp))
        crop = tuple(slice(g0[a], g1[a]) for a in range(3))
        rim = (d > 0) & (d <= t) & scene.geometry["brain"][crop]
        if not rim.any():
            return 0.0
        share = rim * partial_volume.shares(scene, crop, ids)["brain"]       # oedema is swollen brain, not CSF
        scene.layers.append(Layer("oedema", share.astype(np.float32), box=crop,
                                  level_quantiles={"oedema": float(rng.uniform(0.2, 0.8))}))
        return float(share.sum()) * grid.voxel_mm3 / 1000.0

    def _fracture(self, scene, grid, rng, ids, mask, lo, centre):
        """A linear fracture: a one-voxel plane through the skull over the lens, relabelled soft tissue."""
        sp = np.asarray(grid.spacing, dtype=np.float64)
        geo = scene.geometry
        half = 25.0
        f0, f1, crop = shapes.crop_around(np.rint(grid.index_of(centre)).astype(int), half + 15.0, grid)
        skull = geo["skull"][crop]
        pts = np.stack(np.meshgrid(*((grid.origin_mm()[a] + np.arange(f0[a], f1[a]) * sp[a]) - centre[a]
                                     for a in range(3)), indexing="ij"), axis=-1)
        normal = rng.standard_normal(3)
        radial = centre / max(np.linalg.norm(centre), 1e-6)
        normal -= normal.dot(radial) * radial      # the plane contains the outward direction
        normal /= max(np.linalg.norm(normal), 1e-6)
        gap = skull & (np.abs(pts @ normal) <= 0.5 * sp.min()) & (np.linalg.norm(pts, axis=-1) <= half + 12.0)
        if not gap.any():
            return False
        scene.labels = scene.labels.copy()
        scene.base_labels = scene.base_labels.copy()
        soft = ids.get("scalp", 1)
        scene.labels[crop][gap] = soft
        scene.base_labels[crop][gap] = soft
        scene.layers.append(Layer("soft_tissue", gap.astype(np.float32), box=crop))
        return True


def _union(frac, lo, hi, lo2, hi2, frac2):
    """Two share maps on one crop (the larger share where they meet); (share map, lo, hi)."""
    a0 = np.minimum(lo, lo2)
    a1 = np.maximum(hi, hi2)
    out = np.zeros(tuple(a1 - a0), np.float32)
    for o, f in ((lo - a0, frac), (lo2 - a0, frac2)):
        box = tuple(slice(o[a], o[a] + f.shape[a]) for a in range(3))
        out[box] = np.maximum(out[box], f)
    return out, a0, a1


EPIDURAL = Haemorrhage("epidural_haemorrhage", "epidural", "dura", default_diameter_range_mm=(5.0, 30.0))
SUBDURAL = Haemorrhage("subdural_haemorrhage", "subdural", "dura", default_diameter_range_mm=(3.0, 20.0))
SUBARACHNOID = Haemorrhage("subarachnoid_haemorrhage", "subarachnoid", "subarachnoid_space", default_volume_ml=(1.0, 30.0))
INTRAPARENCHYMAL = Haemorrhage("intraparenchymal_haemorrhage", "intraparenchymal", "basal_ganglia",
                               default_volume_ml=(2.0, 60.0))
INTRAVENTRICULAR = Haemorrhage("intraventricular_haemorrhage", "intraventricular", "lateral_ventricles",
                               default_volume_ml=(1.0, 20.0))
