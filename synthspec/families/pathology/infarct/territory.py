"""Where an infarct lies: its arterial territory, its seed, and the region it grows to.

Territory codes are the head family's (`geometry['territory']`, families/anatomy/head TERRITORY_CODES).  A
stdlib territory names the artery: MCA supplies its cortical branches' territory (code MCA) and, through its
lenticulostriate branches, the basal ganglia and internal capsule (code lenticulostriate; the stdlib's MCA
`covers` lists them), so an MCA infarct may hold both; ACA and PCA are one code each.  Without a territory
the location decides: the code most of its voxels carry (posterior_circulation in the posterior fossa).

Resolution when the drawn location is not supplied by the drawn territory (the two are drawn independently
per lesion; the spec's check ANA004 only asks that each location lies in *some* listed territory): the
territory is kept (it is the finding the spec balances) and the seed is drawn from the territory's own
voxels on a random side; the lesion records `location_requested` and `location_resolution: "territory"`,
and its `location` is the region the seed fell in.

Growth: from the seed, a geodesic distance through brain voxels of the territory on the seed's side (grey
and white matter alike), with a cost that rises with depth below the cortex for a cortical seed,
c = 1 + 1.5 * depth / 10 mm, so the region spreads along the cortical ribbon and its sulci faster than into
the depth: a wedge with its base on the cortex (the pattern of a branch occlusion).  A deep seed (basal
ganglia, thalamus, internal capsule, posterior fossa) grows with unit cost: a rounded striatocapsular or
lacunar lesion.  The cost carries a smooth random factor exp(0.35 g), g a unit Gaussian field of 6 mm
correlation (irregular, gyral borders).  The region is the `volume_ml / voxel` voxels nearest the seed in
that distance (exactly the volume, to a voxel), or the whole territory on that side when smaller
(recorded as `volume_capped`).
"""

from __future__ import annotations

import numpy as np

from synthspec.families.pathology.haemorrhage.shapes import crop_around
from synthspec.families.pathology.infarct import spread

TERRITORY_CODES = {"ACA": 1, "MCA": 2, "PCA": 3, "lenticulostriate": 4, "posterior_circulation": 5}
"""The head family's codes (families/anatomy/head/__init__.py; repeated so this module loads no anatomy)."""
SUPPLIES = {"ACA": (1,), "MCA": (2, 4), "PCA": (3,), "lenticulostriate": (4,), "posterior_circulation": (5,)}
NAME_OF_CODE = {2: "MCA", 1: "ACA", 3: "PCA", 4: "MCA", 5: "posterior_circulation"}
DEEP = ("caudate", "putamen", "globus_pallidus", "thalamus", "internal_capsule", "cerebellum", "brainstem")
WEDGE_SLOPE, WEDGE_DEPTH_MM = 1.5, 10.0
NOISE_AMPLITUDE, NOISE_MM = 0.35, 6.0
CORTEX_DEPTH_MM = 6.0
"""A cortical seed lies in grey matter within this depth of the brain's surface."""


def canonical(territory: str | None) -> str | None:
    if territory is None:
        return None
    t = str(territory).strip()
    for name in SUPPLIES:
        if name.lower() == t.lower():
            return name
    return t


def resolve(scene, ids, groups, territory: str | None, location: str, rng) -> dict | str:
    """The territory, its codes and the seed candidates (argwhere rows) for one lesion, or a reason."""
    geo = scene.geometry
    terr = geo["territory"]
    loc_mask = spread.location_mask(scene, ids, groups, location)
    out = {"location_requested": location, "resolution": "location"}
    if territory is None:
        codes = terr[loc_mask & (terr > 0)]
        if not codes.size:
            return "location"
        code = int(np.bincount(codes).argmax())
        territory = NAME_OF_CODE.get(code, "MCA")
        out["resolution"] = "from_location"
    territory = canonical(territory)
    if territory not in SUPPLIES:
        return "territory"
    codes = SUPPLIES[territory]
    supplied = geo["brain"] & np.isin(terr, codes)
    cand = loc_mask & supplied
    if not cand.any():      # the location lies outside the territory: keep the territory, choose inside it
        out["resolution"] = "territory"
        cand = supplied
        if "side" in geo:
            side = 1 if rng.random() < 0.5 else -1
            cand = cand & (geo["side"] == side) if (cand & (geo["side"] == side)).any() else cand
    if not cand.any():
        return "territory"
    deep_ids = [ids[n] for n in DEEP if n in ids]
    out.update(territory=territory, codes=codes, candidates=np.argwhere(cand),
               deep=bool(np.isin(geo["region"][cand], deep_ids).mean() > 0.5))
    return out


def pick_seed(scene, ids, where: dict, grid, rng):
    """A seed voxel: cortical grey matter near the surface for a cortical location, any voxel for a deep one."""
    cand = where["candidates"]
    if not where["deep"]:
        if "cortical" not in where:
            lab = scene.base_labels[tuple(cand.T)]
            region = scene.geometry["region"][tuple(cand.T)]
            grey = lab == region                     # lobe labels are cortex; white matter is labelled apart
            depth = spread.depth_mm(scene, ids, (slice(None),) * 3, grid.spacing)[tuple(cand.T)]
            where["cortical"] = cand[grey & (depth <= CORTEX_DEPTH_MM)]
        if len(where["cortical"]):
            return where["cortical"][int(rng.integers(len(where["cortical"])))], True
    return cand[int(rng.integers(len(cand)))], False


def grow(scene, ids, grid, seed, codes, volume_ml: float, cortical: bool, rng):
    """(lo, hi, mask, capped) of the infarct grown from `seed`, or a reason."""
    geo = scene.geometry
    sp = np.asarray(grid.spacing, dtype=np.float64)
    side = int(geo["side"][tuple(seed)]) if "side" in geo else 1
    if side == 0:
        return "midline"
    n_target = max(int(round(volume_ml * 1000.0 / grid.voxel_mm3)), 1)
    r_eq = (3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    lo, hi, crop = crop_around(seed, max(3.0 * r_eq, r_eq + 25.0), grid)
    domain = spread.one_side_domain(scene, ids, crop, side, allow_crossing=False) & np.isin(geo["territory"][crop], codes)
    s = np.asarray(seed) - lo
    if not domain[tuple(s)]:
        return "territory"
    cost = np.exp(NOISE_AMPLITUDE * spread.smooth_noise(rng, domain.shape, sp, NOISE_MM))
    if cortical:
        cost *= 1.0 + WEDGE_SLOPE * spread.depth_mm(scene, ids, crop, sp) / WEDGE_DEPTH_MM
    dist = spread.geodesic_mm(domain, s[None], sp, cost)
    reach = np.isfinite(dist)
    n_reach = int(reach.sum())
    capped = n_reach < n_target
    if capped:
        mask = reach
    else:
        thr = np.partition(dist[reach], n_target - 1)[n_target - 1]
        mask = reach & (dist <= thr)
        if int(mask.sum()) > n_target:      # ties at the threshold: drop the farthest in index order
            extra = np.flatnonzero(mask & (dist == thr))[: int(mask.sum()) - n_target]
            mask.flat[extra] = False
    if not mask.any():
        return "territory"
    return lo, hi, mask, capped
