"""How brain lesions find their room on the head scene: places, tissue shares, distances through tissue.

Shared by the infarct and glioblastoma families (the glioblastoma imports it from here).  Everything works
on a crop of the `head_adult` scene (families/anatomy/head/__init__.py: geometry `brain`, `region`,
`territory`, `side`), in mm of the grid's frame.  It draws only from the `rng` it is handed, writes no
scene array, and knows no intensity.

    labels_of        the plan's label table as ids, groups and tissues (the haemorrhage family's ids as fallback)
    location_mask    the brain voxels a location name means: a region (lobe or nucleus, white matter under a
                     lobe included), a label group of the stdlib (cerebrum, deep_grey, posterior_fossa),
                     basal_ganglia (its nuclei), white_matter (hemispheric white matter: label white_matter)
    tissue_share     each voxel's share of some tissues after the scene's partial-volume layers
    depth_mm         distance from the brain's outer surface (the ventricles count as inside)
    one_side_domain  brain on one side, where the other hemisphere is reached only through the corpus callosum
    geodesic_mm      distance from start voxels through passable voxels, optionally cost-weighted
                     (skimage.graph.MCP_Geometric, 26-neighbour moves, anisotropic spacing)
    smooth_noise     a unit-variance Gaussian random field of a given correlation length
    radial_field     a smooth random function of direction (sums of squared projections on random axes)
    replay           a generator that repeats `rng`'s draws from a saved state: a lesion is grown again, with
                     the same fields, on the scene its own mass effect has moved (nearest-neighbour warping of
                     a finished mask would tear thin parts of it: a rim, the callosal bridge)
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, distance_transform_edt, gaussian_filter

from synthspec.families.pathology.haemorrhage import DEFAULT_IDS, REGION_GROUPS

GROUPS = {
    "cerebrum": ("grey_matter", "white_matter", "lateral_frontal", "medial_frontal", "medial_parietal",
                 "parietal_lobe", "temporal_lobe", "inferior_temporal", "occipital_lobe", "insula", "corpus_callosum"),
    "deep_grey": ("basal_ganglia", "thalamus", "caudate", "putamen", "globus_pallidus", "internal_capsule"),
    "posterior_fossa": ("cerebellum", "brainstem"),
}
"""The stdlib's label groups of the head (anatomy_head.synth), used when the plan's labels carry none."""
DEFAULT_TISSUE = {"white_matter": "white_matter", "corpus_callosum": "white_matter", "internal_capsule": "white_matter",
                  "brainstem": "white_matter"}
VENTRICLES = ("lateral_ventricles", "third_ventricle", "fourth_ventricle")


def labels_of(labels) -> tuple[dict[str, int], dict[str, tuple[str, ...]], dict[int, str]]:
    """(name -> id, group -> member names, id -> tissue) from the plan's label entries."""
    ids = dict(DEFAULT_IDS)
    groups: dict[str, list[str]] = {}
    tissue = {i: DEFAULT_TISSUE.get(n, "grey_matter") for n, i in DEFAULT_IDS.items()}
    for e in labels or ():
        name, lid = getattr(e, "name", None), getattr(e, "id", None)
        if name is None or lid is None:
            continue
        ids[name] = int(lid)
        if getattr(e, "tissue", None):
            tissue[int(lid)] = str(e.tissue)
        if getattr(e, "group", None):
            groups.setdefault(str(e.group), []).append(name)
    out = {g: tuple(m) for g, m in GROUPS.items()}
    out.update({g: tuple(m) for g, m in groups.items()})
    return ids, out, tissue


def location_name(loc) -> str:
    return str(loc).strip().lower().split(".")[-1]


def location_mask(scene, ids, groups, name: str, crop=None) -> np.ndarray:
    """Brain voxels (bool, on `crop` or the whole grid) of the location `name`."""
    crop = crop if crop is not None else (slice(None),) * 3
    geo = scene.geometry
    brain = geo["brain"][crop]
    region = geo["region"][crop]
    labels = scene.base_labels[crop]
    if name == "white_matter":
        return brain & (labels == ids["white_matter"])
    if name == "grey_matter":
        return brain & (labels == ids["grey_matter"])
    names = list(groups.get(name, ())) or [name]
    members: list[str] = []
    for n in names:
        members.extend(REGION_GROUPS.get(n, (n,)))
    mask = brain & np.isin(region, [ids[n] for n in members if n in ids and n not in ("white_matter", "grey_matter")])
    for n in ("white_matter", "grey_matter"):
        if n in members:
            mask |= brain & (labels == ids[n])
    return mask


def tissue_share(scene, tissues, crop, label_tissue: dict[int, str]) -> np.ndarray:
    """Share (float32 0..1) of each voxel of `crop` that is one of `tissues` after the partial-volume layers
    (each layer paints its fraction over what is painted before it); from the base labels when the scene
    has no layers."""
    tissues = set(tissues)
    lut = np.zeros(256, np.float32)
    for lid, t in label_tissue.items():
        if t in tissues and 0 <= lid < 256:
            lut[lid] = 1.0
    share = lut[scene.base_labels[crop]]
    starts = [c.start or 0 for c in crop]
    stops = [c.stop if c.stop is not None else n for c, n in zip(crop, scene.base_labels.shape)]
    for layer in scene.layers:
        f = layer.fraction
        if layer.box is None:
            part, view = np.asarray(f[crop], np.float32), (slice(None),) * 3
        else:   # a cropped layer: the overlap of its box and ours
            b0 = [max(s, b.start or 0) for s, b in zip(starts, layer.box)]
            b1 = [min(e, b.stop) for e, b in zip(stops, layer.box)]
            if any(a >= b for a, b in zip(b0, b1)):
                continue
            part = np.asarray(f[tuple(slice(a - (b.start or 0), c - (b.start or 0))
                                      for a, c, b in zip(b0, b1, layer.box))], np.float32)
            view = tuple(slice(a - s, c - s) for a, c, s in zip(b0, b1, starts))
        if part.shape != share[view].shape:
            continue
        hit = 1.0 if layer.tissue in tissues else 0.0
        share[view] = share[view] * (1.0 - part) + part * hit
    return np.clip(share, 0.0, 1.0)


def depth_mm(scene, ids, crop, spacing) -> np.ndarray:
    """Distance (mm) of each voxel of `crop` from the brain's outer surface; the ventricles count as brain."""
    inside = scene.geometry["brain"][crop] | np.isin(scene.base_labels[crop], [ids[n] for n in VENTRICLES if n in ids])
    return distance_transform_edt(inside, sampling=tuple(spacing))


def one_side_domain(scene, ids, crop, side: int, allow_crossing: bool) -> np.ndarray:
    """Brain voxels of `crop` on hemisphere `side`; with `allow_crossing` also the midline plane, the
    corpus callosum and those of the other hemisphere that do not touch this one, so a path reaches the
    other side only through the callosum (the falx parts the hemispheres everywhere else)."""
    geo = scene.geometry
    brain = geo["brain"][crop]
    sides = geo["side"][crop] if "side" in geo else np.full(brain.shape, side, np.int8)
    cc = brain & (geo["region"][crop] == ids.get("corpus_callosum", 28))
    own = brain & ~cc & (sides != -side)
    if not allow_crossing:
        return brain & (sides == side)
    other = brain & ~cc & (sides == -side)
    touching = other & binary_dilation(own, structure=np.ones((3, 3, 3), bool))
    return own | cc | (other & ~touching)


def geodesic_mm(passable: np.ndarray, starts, spacing, cost=None) -> np.ndarray:
    """Least cost (mm x cost) from any start voxel to every voxel through `passable` voxels (inf where
    unreachable).  `starts`: a bool mask or an (n, 3) index array; `cost` per voxel (1 when None)."""
    from skimage.graph import MCP_Geometric

    c = np.ones(passable.shape, np.float64) if cost is None else np.asarray(cost, np.float64).copy()
    c[~passable] = np.inf
    pts = np.argwhere(starts) if getattr(starts, "dtype", None) == bool else np.asarray(starts).reshape(-1, 3)
    pts = [tuple(int(v) for v in p) for p in pts if passable[tuple(p)]]
    if not pts:
        return np.full(passable.shape, np.inf)
    dist, _ = MCP_Geometric(c, sampling=tuple(float(s) for s in spacing)).find_costs(pts)
    dist = np.asarray(dist, np.float64)
    dist[~passable] = np.inf
    return dist


def smooth_noise(rng: np.random.Generator, shape, spacing, scale_mm: float) -> np.ndarray:
    """A unit-variance Gaussian random field on `shape` with correlation length about `scale_mm`."""
    sigma = [max(scale_mm / float(s), 0.5) for s in spacing]
    f = gaussian_filter(rng.standard_normal(tuple(shape)), sigma, mode="reflect")
    sd = float(f.std())
    return (f / sd if sd > 0 else f).astype(np.float32)


def radial_field(rng: np.random.Generator, dirs: np.ndarray, terms: int, amplitude: float) -> np.ndarray:
    """1 + a smooth random function of the unit direction `dirs` [..., 3] with mean 0 over the sphere: sums of
    (d . n_k)^2 - 1/3 over random axes n_k with normal weights (sd `amplitude`), a low-order bumpy sphere."""
    axes = rng.standard_normal((terms, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    weights = rng.normal(0.0, amplitude, terms)
    out = np.ones(dirs.shape[:-1], np.float64)
    for w, n in zip(weights, axes):
        out += 1.5 * w * ((dirs @ n) ** 2 - 1.0 / 3.0)
    return np.clip(out, 0.4, 2.0)


def unit_dirs(shape, centre, spacing) -> np.ndarray:
    """Unit vectors (mm frame) from voxel `centre` to every voxel of `shape`."""
    pts = np.stack(np.meshgrid(*((np.arange(shape[a]) - centre[a]) * float(spacing[a]) for a in range(3)),
                               indexing="ij"), axis=-1)
    return pts / np.maximum(np.linalg.norm(pts, axis=-1, keepdims=True), 1e-9)


def replay(rng: np.random.Generator, state: dict) -> np.random.Generator:
    """A new generator of `rng`'s kind at the saved `state` (rng.bit_generator.state); `rng` is not touched."""
    out = np.random.Generator(type(rng.bit_generator)())
    out.bit_generator.state = state
    return out
