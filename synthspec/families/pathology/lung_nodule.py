"""Lung nodules: shape, appearance and placement under the spec's constraints.

Stage role: given a subject's tissue scene and `lesion_rng`, place each requested
nodule by rejection sampling and add it to the scene as a tissue layer (solid
nodule or ground glass, with its own texture field and level) and to the lesion
mask.  It draws only from `lesion_rng`; its layer covers only the lesion's crop
and is zero outside the reported bounding box, so twins without pathology match
outside the boxes.  It never changes the organ labels and never sets an intensity:
the modality renders the layer (CT: tissues.synth HU, ct/render.py texture amplitudes).

Shape: a sphere of the requested diameter whose radius is modulated by a few
random low-order Legendre terms (lobulation; volume-corrected so the
equivalent diameter stays the requested one), with thin tapering spicules a
few mm long radiating from the surface (spiculation).  The edge is a
partial-volume ramp one voxel wide along the normal, so small nodules are not
binary blocks; `lesion_mask` marks voxels the lesion occupies >= 50 % (and,
for a lesion smaller than one voxel, its most occupied voxel).

Tissues (Fleischner glossary, Hansell 2008; tissues.synth): solid nodule, ground
glass, part-solid = ground-glass halo with a solid core of 30-60 % of the diameter.
Nodules replace lung parenchyma, not vessels, so vessels run through and beside
nodules as in real scans: a voxel of lesion occupancy o and vessel occupancy v
becomes  x + o * (lesion * (1 - v) + blood * v - x)  in any modality's property x.

Constraints, checked per attempt (the names appear in `rejected`):
    lung            every lesion voxel lies in lung parenchyma (not wall, mediastinum, airway)
    field_of_view   the lesion is not cut by the grid's faces
    lobe            >= 75 % of its lung voxels lie in the chosen lobe
    overlap         it does not overlap an earlier lesion
    min_pleura_mm   min over lesion voxels of the distance to the lung surface >= X
    max_vessel_overlap  fraction of lesion voxels labelled pulmonary vessel or airway <= X
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter

from synthspec.families.base import FamilyError, InsertedLesion, Layer, LesionParams, TissueScene
from synthspec.families.grid import Grid, raster_capsules

SUBTYPES = ("solid", "part_solid", "ground_glass")
CONSTRAINTS = ("lung", "field_of_view", "lobe", "overlap", "min_pleura_mm", "max_vessel_overlap")
DEFAULT_LOBULATION = {"solid": 0.3, "part_solid": 0.25, "ground_glass": 0.15}
DEFAULT_SPICULATION = {"solid": 0.15, "part_solid": 0.1, "ground_glass": 0.0}
VESSEL_GROUPS = ("pulmonary_vessels", "airways")


class LungLabels:
    """The lung's structures as the plan's label table names them (lobes, and what counts as vessel)."""

    def __init__(self, labels):
        lobes = [e for e in labels if e.kind == "anatomy" and e.tissue == "lung"]
        self.lobe_name = {e.id: e.name for e in lobes}
        self.by_name = {e.name: e.id for e in lobes}
        self.lobes = tuple(sorted(self.lobe_name))
        right = tuple(i for i in self.lobes if self.lobe_name[i].startswith("right_"))
        left = tuple(i for i in self.lobes if self.lobe_name[i].startswith("left_"))
        self.groups = {"lung": self.lobes, "lungs": self.lobes, "right_lung": right, "left_lung": left}
        self.vessel_like = np.zeros(256, dtype=bool)
        self.vessel_like[[e.id for e in labels if e.kind == "anatomy" and e.group in VESSEL_GROUPS]] = True
        self.is_lobe = np.zeros(256, dtype=bool)
        self.is_lobe[list(self.lobes)] = True

    def resolve(self, names: list[str]) -> tuple[list[int], list[str]]:
        """Lobe labels a lesion may sit in, and the names that mean no lobe."""
        lobes: list[int] = []
        unknown = []
        for name in names or ["lung"]:
            key = str(name).strip().lower().split(".")[-1]
            if key in self.groups:
                lobes.extend(self.groups[key])
            elif key in self.by_name:
                lobes.append(self.by_name[key])
            else:
                unknown.append(str(name))
        return sorted(set(lobes)), unknown


def _legendre(l: int, t: np.ndarray) -> np.ndarray:
    if l == 2:
        return 0.5 * (3 * t * t - 1)
    if l == 3:
        return 0.5 * (5 * t ** 3 - 3 * t)
    return (35 * t ** 4 - 30 * t * t + 3) / 8


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class NoduleShape:
    """Everything random about one nodule except where it sits (mm, z/y/x directions)."""

    def __init__(self, request: LesionParams, rng: np.random.Generator):
        if request.subtype not in SUBTYPES:
            raise FamilyError(f"lung_nodule subtype must be one of {', '.join(SUBTYPES)}, got {request.subtype!r}")
        self.subtype = request.subtype
        r0 = 0.5 * float(request.diameter_mm)
        lob = float(np.clip(request.lobulation, 0.0, 1.0))
        spic = float(np.clip(request.spiculation, 0.0, 1.0))
        n_terms = 4
        self.axes = _unit(rng, n_terms)
        self.degrees = rng.integers(2, 5, size=n_terms)
        coef = rng.standard_normal(n_terms)
        norm = math.sqrt(float(np.sum(coef ** 2 / (2 * self.degrees + 1)))) or 1.0
        self.coef = 0.13 * lob * coef / norm
        # keep the volume of the requested sphere
        golden = np.pi * (3.0 - np.sqrt(5.0))
        k = np.arange(600) + 0.5
        zz = 1 - 2 * k / 600
        rr = np.sqrt(1 - zz * zz)
        dirs = np.stack([zz, rr * np.cos(golden * k), rr * np.sin(golden * k)], axis=1)
        self.r0 = r0 * float(np.mean((1 + self.modulation(dirs)) ** 3)) ** (-1.0 / 3.0)
        self.r_max = self.r0 * (1 + float(np.max(self.modulation(dirs))))
        self.r_min = self.r0 * (1 + float(np.min(self.modulation(dirs))))
        n_sp = int(round(spic * 14))
        self.sp_dirs = _unit(rng, n_sp) if n_sp else np.zeros((0, 3))
        self.sp_len = rng.uniform(2.5, 6.0, n_sp) * (0.6 + 0.8 * spic)
        self.sp_r = rng.uniform(0.45, 0.85, n_sp) * min(1.0, max(r0, 1.5) / 4.0)
        self.core = float(rng.uniform(0.3, 0.6))
        # where this nodule's solid and ground-glass parts sit in their tissues' ranges (the modality's
        # table turns them into intensities)
        self.solid_quantile = float(rng.random())
        self.gg_quantile = float(rng.random())
        self.extent = self.r_max + (float(self.sp_len.max()) if n_sp else 0.0) + 1.0

    def modulation(self, dirs: np.ndarray) -> np.ndarray:
        m = np.zeros(dirs.shape[:-1])
        for ax, l, c in zip(self.axes, self.degrees, self.coef):
            if c != 0.0:
                m += c * _legendre(int(l), dirs @ ax)
        return np.clip(m, -0.4, 0.4)

    def occupancy(self, centre: np.ndarray, lo: np.ndarray, hi: np.ndarray, grid: Grid):
        """(body+spicules, core) occupancy on the crop [lo, hi) of voxel indices."""
        sp = np.asarray(grid.spacing, dtype=np.float64)
        origin = grid.origin_mm()
        axes = [origin[a] + np.arange(lo[a], hi[a]) * sp[a] - centre[a] for a in range(3)]
        vz, vy, vx = np.meshgrid(*axes, indexing="ij")
        dist = np.sqrt(vz * vz + vy * vy + vx * vx)
        safe = np.maximum(dist, 1e-9)
        dirs = np.stack([vz, vy, vx], axis=-1) / safe[..., None]
        h = (np.abs(vz) * sp[0] + np.abs(vy) * sp[1] + np.abs(vx) * sp[2]) / safe
        h = np.where(dist < 1e-9, sp.min(), h)
        radius = self.r0 * (1 + self.modulation(dirs))
        body = _ramp(radius, dist, h)
        core = _ramp(radius * self.core, dist, h) if self.subtype == "part_solid" else None
        if self.sp_dirs.shape[0]:
            base = self.r0 * (1 + self.modulation(self.sp_dirs))
            a = centre + self.sp_dirs * (0.8 * base)[:, None]
            b = centre + self.sp_dirs * (base + self.sp_len)[:, None]
            occ = np.zeros(body.shape, np.float32)
            lab = np.zeros(body.shape, np.uint8)
            region = np.zeros(body.shape, np.uint8)
            allowed = np.ones(256, dtype=np.bool_)
            raster_capsules(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(self.sp_r),
                            np.full(len(a), 0.15), np.ones(len(a), np.uint8), occ, lab, region, allowed,
                            origin + lo * sp, sp)
            body = np.maximum(body, occ)
        return body.astype(np.float32), core


def _ramp(radius, dist, h):
    """Occupancy of a voxel by a solid of the given radius: a ramp one voxel wide, thin-solid corrected."""
    thick = radius >= 0.5 * h
    o_thick = 0.5 + (radius - dist) / h
    s = 2.0 * radius / h
    o_thin = s * s * (1.0 - dist / h)
    return np.clip(np.where(thick, o_thick, o_thin), 0.0, 1.0)


def _lobe_boxes(labels: np.ndarray, lobes) -> dict:
    out = {}
    for lobe in lobes:
        m = labels == lobe
        n = int(np.count_nonzero(m))
        if n:
            zs, ys, xs = np.flatnonzero(m.any((1, 2))), np.flatnonzero(m.any((0, 2))), np.flatnonzero(m.any((0, 1)))
            out[lobe] = (n, np.array([zs[0], ys[0], xs[0]]), np.array([zs[-1] + 1, ys[-1] + 1, xs[-1] + 1]))
    return out


def insert_lesions(scene: TissueScene, grid: Grid, requests: list[LesionParams], rng: np.random.Generator,
                   table: LungLabels, max_attempts: int, first_id: int = 1) -> None:
    """Place every request into `scene`: a tissue layer, the lesion mask and the lesion record each,
    or a reason in `scene.rejected`."""
    lesion_mask = scene.lesion_mask
    inserted, rejected = scene.lesions, scene.rejected
    boxes = None
    sp = np.asarray(grid.spacing, dtype=np.float64)
    origin = grid.origin_mm()
    shape = np.asarray(grid.shape)
    for index, req in enumerate(requests):
        lesion_id = first_id + index
        what = f"{req.kind} {lesion_id} ({req.subtype}, {req.diameter_mm:g} mm)"
        if req.kind != "lung_nodule":
            rejected.append(f"kind: {what}: only lung_nodule can be inserted into the thorax phantom")
            continue
        nodule = NoduleShape(req, rng)
        lobes, unknown = table.resolve(req.locations)
        if boxes is None:
            boxes = scene.geometry.get("lobe_boxes") or _lobe_boxes(scene.labels, table.lobes)
        present = [lb for lb in lobes if lb in boxes]
        if not present:
            where = ", ".join(req.locations) if req.locations else "lung"
            rejected.append(f"location: {what}: no lobe of {where!r} lies in the field of view"
                            + (f" (not lung lobes: {', '.join(unknown)})" if unknown else ""))
            continue
        weights = np.array([boxes[lb][0] for lb in present], dtype=np.float64)
        weights /= weights.sum()
        fails = dict.fromkeys(CONSTRAINTS, 0)
        placed = None
        for attempt in range(1, max(1, int(max_attempts)) + 1):
            lobe = present[int(rng.choice(len(present), p=weights))]
            _, blo, bhi = boxes[lobe]
            vox = None
            for _ in range(64):
                cand = rng.integers(blo, bhi)
                if scene.labels[tuple(cand)] == lobe:
                    vox = cand
                    break
            if vox is None:
                fails["lobe"] += 1
                continue
            centre = origin + (vox + rng.random(3) - 0.5) * sp
            verdict = _try(nodule, centre, lobe, req, scene, table, grid, sp, origin, shape)
            if isinstance(verdict, str):
                fails[verdict] += 1
                continue
            placed = (attempt, lobe, centre, verdict)
            break
        if placed is None:
            worst = max(fails, key=lambda k: fails[k])
            detail = ", ".join(f"{k} {v}" for k, v in fails.items() if v)
            limits = []
            if req.min_pleura_mm is not None:
                limits.append(f"distance_to(pleura) >= {req.min_pleura_mm:g} mm")
            if req.max_vessel_overlap is not None:
                limits.append(f"vessel overlap <= {req.max_vessel_overlap:g}")
            rejected.append(f"{worst}: {what} in {', '.join(table.lobe_name[lb] for lb in present)} not placed after "
                            f"{max_attempts} attempts" + (f" under {' and '.join(limits)}" if limits else "")
                            + f" (failed: {detail})")
            continue
        attempt, lobe, centre, (lo, hi, body, core, mask) = placed
        scene.layers.append(_layer(nodule, scene, lo, hi, body, core, rng))
        crop = tuple(slice(lo[a], hi[a]) for a in range(3))
        lesion_mask[crop][mask] = lesion_id
        changed = np.argwhere(body > 0)
        b0 = lo + changed.min(axis=0)
        b1 = lo + changed.max(axis=0) + 1
        volume = float(np.count_nonzero(mask)) * grid.voxel_mm3 / 1000.0   # as in lesion_mask
        inserted.append(InsertedLesion(
            id=lesion_id, kind=req.kind, subtype=req.subtype, location=table.lobe_name[lobe],
            diameter_mm=float(req.diameter_mm), centre_mm=(float(centre[2]), float(centre[1]), float(centre[0])),
            bbox=(int(b0[0]), int(b0[1]), int(b0[2]), int(b1[0]), int(b1[1]), int(b1[2])),
            volume_ml=volume, attempts=attempt))


def _try(nodule: NoduleShape, centre, lobe, req, scene: TissueScene, table: LungLabels, grid, sp, origin, shape):
    """One placement attempt: the occupancy on its crop, or the name of the constraint it breaks."""
    lo_f = np.floor((centre - nodule.extent - 2 * sp - origin) / sp).astype(int)
    hi_f = np.ceil((centre + nodule.extent + 2 * sp - origin) / sp).astype(int) + 1
    lo, hi = np.maximum(lo_f, 0), np.minimum(hi_f, shape)
    crop = tuple(slice(lo[a], hi[a]) for a in range(3))
    whole_lung = scene.geometry["lung"]
    lung = whole_lung[crop]
    # the nodule's core must sit in lung before anything costly
    c_idx = np.clip(np.round((centre - origin) / sp).astype(int), 0, shape - 1)
    if not whole_lung[tuple(c_idx)]:
        return "lung"
    body, core = nodule.occupancy(centre, lo, hi, grid)
    mask = body >= 0.5
    if not mask.any():
        mask = body >= body.max()
    if not np.all(lung[mask]) or np.any(body[~lung] >= 0.5):
        return "lung"
    for ax in range(3):   # the grid would cut the lesion
        if (lo_f[ax] < 0 and np.take(mask, 0, axis=ax).any()) or (
                hi_f[ax] > shape[ax] and np.take(mask, -1, axis=ax).any()):
            return "field_of_view"
    labs = scene.labels[crop][mask]
    in_lobe = table.is_lobe[labs]
    if in_lobe.any() and np.mean(labs[in_lobe] == lobe) < 0.75:
        return "lobe"
    if np.any(scene.lesion_mask[crop][body > 0.0] != 0):
        return "overlap"
    if req.max_vessel_overlap is not None and np.mean(table.vessel_like[labs]) > float(req.max_vessel_overlap):
        return "max_vessel_overlap"
    if req.min_pleura_mm is not None and float(req.min_pleura_mm) > 0:
        if not pleura_clear(whole_lung, mask, lo, centre, float(req.min_pleura_mm), grid, nodule.r_min):
            return "min_pleura_mm"
    return (lo, hi, body, core, mask)


def pleura_clear(lung_region: np.ndarray, mask: np.ndarray, lo: np.ndarray, centre: np.ndarray, limit_mm: float,
                 grid: Grid, r_min: float) -> bool:
    """Whether every lesion voxel centre lies >= limit_mm from every voxel centre outside the lung.

    Exact (a Euclidean distance transform on a crop grown by limit_mm) when bounds from the
    nearest non-lung voxel to the centre cannot decide.  The grid's faces are not pleura."""
    sp = np.asarray(grid.spacing, dtype=np.float64)
    grow = np.ceil((limit_mm + 1.0) / sp).astype(int)
    g0 = np.maximum(lo - grow, 0)
    g1 = np.minimum(lo + np.asarray(mask.shape) + grow, lung_region.shape)
    lung = lung_region[tuple(slice(g0[a], g1[a]) for a in range(3))]
    if lung.all():
        return True
    origin = grid.origin_mm() + g0 * sp
    outside = np.argwhere(~lung) * sp + origin
    d_centre = float(np.sqrt(np.min(np.sum((outside - centre) ** 2, axis=1))))
    lesion = np.argwhere(mask) * sp + (grid.origin_mm() + lo * sp)
    reach = float(np.sqrt(np.max(np.sum((lesion - centre) ** 2, axis=1))))
    if d_centre - reach >= limit_mm:
        return True   # every lesion voxel is within `reach` of the centre
    diag = float(np.linalg.norm(sp))
    if r_min >= 0.5 * diag and d_centre - r_min + diag < limit_mm:
        # voxel centres within r_min of the centre are lesion voxels; the one nearest the point
        # r_min - diag/2 toward the nearest outside voxel is closer than the limit
        return False
    edt = distance_transform_edt(lung, sampling=tuple(float(s) for s in sp))
    off = lo - g0
    sub = edt[off[0]:off[0] + mask.shape[0], off[1]:off[1] + mask.shape[1], off[2]:off[2] + mask.shape[2]]
    return float(sub[mask].min()) >= limit_mm


def _layer(nodule: NoduleShape, scene: TissueScene, lo, hi, body, core, rng: np.random.Generator) -> Layer:
    """The nodule as a tissue layer on its crop: it takes the parenchymal share of each lung voxel
    (non-lung voxels keep their tissue) and leaves the vessel share (occupancy v) to blood."""
    crop = tuple(slice(lo[a], hi[a]) for a in range(3))
    tex = gaussian_filter(rng.standard_normal(body.shape), sigma=1.0)
    tex /= max(float(tex.std()), 1e-6)
    tex = np.tanh(0.8 * tex)
    quantiles = {"nodule_solid": nodule.solid_quantile, "ground_glass": nodule.gg_quantile}
    weight = body * scene.geometry["lung"][crop]
    keep = scene.geometry["vessel_fraction"][crop]
    if nodule.subtype == "part_solid":
        w = np.clip(core / np.maximum(body, 1e-6), 0.0, 1.0)
        return Layer("ground_glass", weight, box=crop, texture=tex, core_tissue="nodule_solid", core=w,
                     keep_tissue="blood", keep=keep, level_quantiles=quantiles)
    tissue = "nodule_solid" if nodule.subtype == "solid" else "ground_glass"
    return Layer(tissue, weight, box=crop, texture=tex, keep_tissue="blood", keep=keep, level_quantiles=quantiles)


class LungNodule:
    """The `lung_nodule` pathology family: what the sampler needs to know, and the insertion stage."""

    name = "lung_nodule"
    default_diameter_mm = 6.0
    default_location = "lung"
    tissues = ("nodule_solid", "ground_glass")

    def shape_defaults(self, subtype: str) -> tuple[float, float]:
        """(lobulation, spiculation) of a subtype when the spec gives neither."""
        return DEFAULT_LOBULATION.get(subtype, 0.2), DEFAULT_SPICULATION.get(subtype, 0.1)

    def placement_limits(self, constraints) -> dict[str, float | None]:
        """The `require` lines this family enforces while placing: distance_to(...) >= X, overlap_with(...) <= X."""
        min_pleura = max_overlap = None
        for con in constraints:
            if con.function == "distance_to" and con.op in (">=", ">") and con.right_dimension == "length":
                min_pleura = con.right_value
            if con.function == "overlap_with" and con.op in ("<=", "<") and con.right_dimension in ("fraction", "count"):
                max_overlap = con.right_value
        return {"min_pleura_mm": min_pleura, "max_vessel_overlap": max_overlap}

    def insert(self, scene: TissueScene, grid: Grid, lesions: list[LesionParams], rng: np.random.Generator,
               labels, max_attempts: int, first_id: int = 1) -> None:
        """Place `lesions` into `scene`; their ids in the lesion mask start at `first_id`."""
        insert_lesions(scene, grid, lesions, rng, LungLabels(labels), max_attempts=max_attempts, first_id=first_id)


PATHOLOGY = LungNodule()
