"""Placing lung nodules under the spec's constraints, and painting them as tissue layers.

Stage role: given a subject's tissue scene and `lesion_rng`, place each requested
nodule by rejection sampling and add it to the scene as a tissue layer (solid
nodule or ground glass, with its own texture field and level) and to the lesion
mask.  It draws only from `lesion_rng`; its layer covers only the lesion's crop
and is zero outside the reported bounding box, so twins without pathology match
outside the boxes.  It never changes the organ labels and never sets an intensity:
the modality renders the layer (CT: tissues.synth HU, ct/render.py texture amplitudes).
The shape is shape.py's (a real LIDC-IDRI outline); `lesion_mask` marks voxels the
lesion occupies >= 50 % (and, for a lesion smaller than one voxel, its most occupied voxel).

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
    attachment      with the spec's `attachment`: the lesion grown by one voxel meets its target
                    (juxta_pleural: the chest wall or mediastinum outside the lung; juxta_vascular: a
                    pulmonary vessel; perifissural: another lobe, across a fissure); isolated: it meets
                    neither the pleura nor a fissure (vessels may pass, as they do)

An attached nodule's centre is drawn among the lobe's voxels whose distance to the target lies
between its half-thickness and that plus one voxel (a distance transform over the lobe's box), so
it lands touching; the outline is irregular, so the attachment is checked again on the mask.
Perifissural and juxta-pleural nodules lie on their surface as lentiform nodules do: each is
flattened along the direction to the nearest target voxel to a thickness of 0.5-0.8 of its
size, drawn once per nodule (FLATTENED; perifissural nodules are typically lentiform or
triangular, Ahn et al., Radiology 2010; the ratio is a judgement), the other two axes widened
at the same volume.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, distance_transform_edt, gaussian_filter

from synthspec.families.base import InsertedLesion, Layer, LesionParams, TissueScene
from synthspec.families.grid import Grid
from synthspec.families.pathology.lung_nodule.outlines import OutlineLibrary
from synthspec.families.pathology.lung_nodule.shape import NoduleShape

CONSTRAINTS = ("lung", "field_of_view", "lobe", "overlap", "min_pleura_mm", "max_vessel_overlap", "attachment")
ATTACHED_TO = {"juxta_pleural": "pleura", "juxta_vascular": "vessel", "perifissural": "fissure"}
"""What each attachment touches (`attachment: isolated` touches neither the pleura nor a fissure)."""
FLATTENED = {"juxta_pleural": (0.5, 0.8), "perifissural": (0.5, 0.8)}
"""Thickness along the surface normal, as a fraction of the nodule's size, drawn uniformly per nodule."""
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
                   table: LungLabels, max_attempts: int, library: OutlineLibrary, first_id: int = 1) -> None:
    """Place every request into `scene`: a tissue layer, the lesion mask and the lesion record each,
    or a reason in `scene.rejected`."""
    lesion_mask = scene.lesion_mask
    inserted, rejected = scene.lesions, scene.rejected
    boxes = None
    bands: dict = {}
    sp = np.asarray(grid.spacing, dtype=np.float64)
    origin = grid.origin_mm()
    shape = np.asarray(grid.shape)
    for index, req in enumerate(requests):
        lesion_id = first_id + index
        what = f"{req.kind} {lesion_id} ({req.subtype}, {req.diameter_mm:g} mm)"
        if req.kind != "lung_nodule":
            rejected.append(f"kind: {what}: only lung_nodule can be inserted into the thorax phantom")
            continue
        nodule = NoduleShape(req, rng, library)
        thickness = float(rng.uniform(*FLATTENED[req.attachment])) if req.attachment in FLATTENED else 1.0
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
        target = ATTACHED_TO.get(req.attachment or "")
        for attempt in range(1, max(1, int(max_attempts)) + 1):
            lobe = present[int(rng.choice(len(present), p=weights))]
            _, blo, bhi = boxes[lobe]
            vox = None
            if target is not None:   # among the voxels at the nodule's half-thickness from what it touches
                key = (target, lobe, round(nodule.radius * thickness, 3))
                if key not in bands:
                    bands[key] = touching_band(scene, table, lobe, boxes[lobe], target, nodule.radius * thickness, sp)
                band, towards = bands[key]
                if not len(band):
                    fails["attachment"] += 1
                    continue
                pick = int(rng.integers(len(band)))
                vox = band[pick]
                if thickness < 1.0:
                    nodule.flatten(towards[pick], thickness)
            else:
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
            if req.attachment:
                limits.append(f"attachment {req.attachment}")
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
            volume_ml=volume, attempts=attempt,
            attributes={**nodule.describe(), **({"attachment": req.attachment} if req.attachment else {})}))


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
    if req.attachment and not attached(req.attachment, mask, scene.labels[crop], lung, lobe, table):
        return "attachment"
    return (lo, hi, body, core, mask)


def _targets(kind: str, labels: np.ndarray, lung: np.ndarray, lobe: int, table: LungLabels) -> np.ndarray:
    """The voxels a nodule of attachment target `kind` (pleura, vessel, fissure) touches, on a crop."""
    if kind == "pleura":
        return ~lung
    if kind == "vessel":
        return table.vessel_like[labels]
    return table.is_lobe[labels] & (labels != lobe)


def attached(attachment: str, mask: np.ndarray, labels: np.ndarray, lung: np.ndarray, lobe: int,
             table: LungLabels) -> bool:
    """Whether the lesion `mask`, grown by one voxel (26-neighbours), meets what its attachment names; for
    `isolated`, whether it meets neither the pleura nor another lobe."""
    grown = binary_dilation(mask, structure=np.ones((3, 3, 3), bool)) & ~mask
    if attachment == "isolated":
        return not any((grown & _targets(kind, labels, lung, lobe, table)).any() for kind in ("pleura", "fissure"))
    return bool((grown & _targets(ATTACHED_TO[attachment], labels, lung, lobe, table)).any())


def touching_band(scene: TissueScene, table: LungLabels, lobe: int, box, target: str, radius_mm: float,
                  sp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voxel indices of `lobe` whose distance to `target` lies in [radius, radius + one voxel] (where a nodule
    of that half-thickness, centred, touches it) and the direction (mm, z/y/x) from each to its nearest target
    voxel.  A distance transform over the lobe's box grown by the reach."""
    _, blo, bhi = box
    reach = np.ceil((radius_mm + 2.0 * float(sp.max())) / sp).astype(int)
    lo = np.maximum(blo - reach, 0)
    hi = np.minimum(bhi + reach, np.asarray(scene.labels.shape))
    crop = tuple(slice(lo[a], hi[a]) for a in range(3))
    labels = scene.labels[crop]
    found = _targets(target, labels, scene.geometry["lung"][crop], lobe, table)
    if not found.any():
        return np.zeros((0, 3), dtype=np.int64), np.zeros((0, 3))
    distance, nearest = distance_transform_edt(~found, sampling=tuple(float(s) for s in sp), return_indices=True)
    band = (labels == lobe) & (distance >= radius_mm) & (distance <= radius_mm + float(sp.max()))
    where = np.argwhere(band)
    towards = (nearest[:, band].T - where) * sp
    return where + lo, towards


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
