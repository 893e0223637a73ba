"""Rickets: widened, frayed, cupped physes with splayed metaphyses, graded by the Thacher score.

Stage role: given a `hand_pediatric` tissue scene and `lesion_rng`, change the tissues at the
requested physes and record each lesion.  It draws only from `lesion_rng`, changes labels and
adds layers only on a crop around each physis (so a twin's tissues match everywhere else), and
never sets an intensity: the modality renders cartilage and bone from its own tables and applies
`scene.factors['bone_mineral_scale']` (osteopenia) to the density of every bone.  Osteopenia is
part of the disease, so a twin's delivered radiograph differs from its original's in every bone
too (and, through the detector's adaptive window, a little in grey level everywhere), most at the
widened physis.

Grading (Thacher et al., Radiographic scoring method for the assessment of the severity of
nutritional rickets, J Trop Pediatr 2000;46:132-139; shared PHYSICS.md): wrist score 0-4, the
radius and the ulna each 0-2: 1 = widened physis with an irregular metaphyseal margin but no
concave cupping, 2 = metaphyseal concavity (cupping) with fraying.

What a lesion does to the tissues at one physis (bone frame: axial depth d into the metaphysis
from the physis' metaphyseal face, radial distance rho, physis radius R):
    widening   metaphyseal bone with 0 <= d < D(rho) becomes physeal cartilage, D = w (1-4 mm,
               the stdlib's `physis_widening`) ...
    cupping    ... + c (1 - rho^2 / R^2), c ~ 0.35 R (grade 2 only): a concave metaphyseal end
    fraying    ... + a noise field of amplitude 0.3-0.6 mm (grade 1) or 0.6-1.2 mm (grade 2)
    splaying   the metaphysis flares: its radius grows by s R exp(-d / R) (s 0.08-0.12 grade 1,
               0.15-0.25 grade 2); the flare is bone (soft tissue turns into bone)
    osteopenia one factor for the whole skeleton, 1 - 0.05 per Thacher point (0.06 per hand grade)

Locations (LesionParams.locations, one chosen per lesion): distal_radius_physis and
distal_ulna_physis (the wrist: the chosen bone gets the lesion's grade, the other one grade g or
g - 1, both changed where open), metacarpal_physes and phalangeal_physes (every open physis of
the group; the wrist grades are then 0); `physes` means all four.  The widening is the request's
`diameter_mm` (the sampler's size for this family), clipped to 1-4 mm; a subtype `grade_1` /
`mild` or `grade_2` / `severe` fixes the grade, else it is drawn (grade 2 more likely the wider).
A closed physis cannot be rickety: the lesion is rejected (`open_physis`) in `scene.rejected`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.ndimage import gaussian_filter

from synthspec.families.base import InsertedLesion, Layer, LesionParams, TissueScene
from synthspec.families.grid import Grid

GROUPS = ("distal_radius_physis", "distal_ulna_physis", "metacarpal_physes", "phalangeal_physes")
WRIST = {"distal_radius_physis": "radius", "distal_ulna_physis": "ulna"}
WIDENING_MM = (1.0, 4.0)
"""anatomy `physis_widening: 1 mm .. 4 mm` (pathologies.synth, rickets appearance xray)."""
HAND_WIDENING = 0.5
"""Hand physes (~1 mm) widen about half as much as the distal radius (their metaphyses are smaller)."""
OSTEOPENIA_PER_POINT = 0.05
"""Bone mineral lost per Thacher wrist point (rickets radiographs show generalised osteopenia;
forearm BMD is some 10-25 % low in active nutritional rickets, Thacher/Fischer and others)."""
GRADE_SUBTYPES = {"grade_1": 1, "mild": 1, "grade_2": 2, "severe": 2, "moderate": 2}


def _grade(req: LesionParams, w: float, rng: np.random.Generator) -> int:
    key = str(req.subtype or "").strip().lower()
    if key in GRADE_SUBTYPES:
        return GRADE_SUBTYPES[key]
    p2 = float(np.clip((w - 1.0) / 3.0, 0.1, 0.9))
    return 2 if rng.random() < p2 else 1


def resolve_locations(locations) -> tuple[list[str], list[str]]:
    """Physis groups a lesion may sit in, and the names that mean none."""
    out, unknown = [], []
    for name in locations or ["physes"]:
        key = str(name).strip().lower().split(".")[-1]
        if key in ("physes", "physis", "rickets"):
            out.extend(GROUPS)
        elif key in GROUPS:
            out.append(key)
        elif key in ("wrist", "distal_forearm"):
            out.extend(("distal_radius_physis", "distal_ulna_physis"))
        else:
            unknown.append(str(name))
    return list(dict.fromkeys(out)), unknown


def change_physis(scene: TissueScene, grid: Grid, physis: dict, grade: int, widening_mm: float,
                  rng: np.random.Generator, lesion_id: int) -> dict:
    """Widen, cup, fray and splay one open physis in `scene` (labels, base labels, a cartilage and a bone
    layer on its crop, the lesion mask).  Returns what changed (voxel counts, box, cup depth)."""
    b = physis["bone_obj"]
    t0, t1 = physis["t_physis"]
    side = b.epi_side
    R = float(physis["radius_mm"])
    cup = float(np.clip(0.35 * R, 0.8, 3.0)) * float(rng.uniform(0.8, 1.2)) if grade >= 2 else 0.0
    fray = float(rng.uniform(0.3, 0.6) if grade == 1 else rng.uniform(0.6, 1.2))
    splay = float(rng.uniform(0.08, 0.12) if grade == 1 else rng.uniform(0.15, 0.25))
    depth = widening_mm + cup + fray * 2.5 + 1.0
    reach = max(depth, 3.0 * R)
    # crop: the physis, the metaphysis `reach` deep, the flare
    sp = np.asarray(grid.spacing, float)
    org = grid.origin_mm()
    ts = (t0 - reach, t1) if side > 0 else (t0, t1 + reach)
    p0, p1 = b.point(ts[0]), b.point(ts[1])
    rmax = max(float(np.interp(t, b.tk, b.rk)) for t in np.linspace(ts[0], ts[1], 9)) * (1 + splay)
    rmax += 2 * float(sp.max())
    lo = np.maximum(np.floor((np.minimum(p0, p1) - rmax - org) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((np.maximum(p0, p1) + rmax - org) / sp).astype(int) + 1, np.asarray(grid.shape))
    crop = tuple(slice(int(lo[a]), int(hi[a])) for a in range(3))
    axes = [org[a] + np.arange(lo[a], hi[a]) * sp[a] - b.a[a] for a in range(3)]
    qz, qy, qx = np.meshgrid(*axes, indexing="ij")
    t = qz * b.u[0] + qy * b.u[1] + qx * b.u[2]
    rho = np.sqrt(np.maximum(qz * qz + qy * qy + qx * qx - t * t, 0.0))
    d = (t0 - t) if side > 0 else (t - t1)                    # depth into the metaphysis
    r_here = np.interp(np.clip(t, 0.0, b.length), b.tk, b.rk)
    flare = splay * R * np.exp(-np.maximum(d, 0.0) / R)
    r_new = r_here + np.where(d >= -(t1 - t0), flare, 0.0)
    noise = gaussian_filter(rng.standard_normal(t.shape), sigma=0.7 / sp)
    noise /= max(float(noise.std()), 1e-6)
    D = widening_mm + cup * np.clip(1.0 - (rho / R) ** 2, 0.0, 1.0) + fray * np.clip(noise, -2.0, 2.0)
    D = np.maximum(D, 0.5 * widening_mm)

    labels, base = scene.labels[crop], scene.base_labels[crop]
    ids = scene.geometry["label_ids"]
    soft = np.isin(labels, [ids["soft_tissue"], ids["subcutaneous_fat"]])
    mine = labels == physis["bone_label"]
    inside_new = rho < r_new
    to_cart = inside_new & (d >= 0.0) & (d < D) & (mine | soft)
    # the physis itself splays with the metaphysis
    to_cart |= inside_new & (d < 0.0) & (d >= -(t1 - t0)) & soft
    to_bone = inside_new & ~to_cart & (d >= 0.0) & (d < reach) & soft & (rho >= r_here)
    old_physis = (labels == physis["label"]) & (rho < r_new)
    labels[to_cart] = physis["label"]
    base[to_cart] = physis["label"]
    labels[to_bone] = physis["bone_label"]
    base[to_bone] = physis["bone_label"]
    changed = to_cart | to_bone
    scene.lesion_mask[crop][changed] = lesion_id
    # all cartilage now, the old physis' partial-volume bone share at its faces included
    scene.layers.append(Layer("cartilage", (to_cart | old_physis).astype(np.float32), box=crop))
    # the flare: a thin cortex over cancellous bone
    scene.layers.append(Layer("cortical_bone", to_bone.astype(np.float32), box=crop))
    where = np.argwhere(changed)
    box = (lo + where.min(axis=0), lo + where.max(axis=0) + 1) if len(where) else (lo, lo)
    return {"cartilage_voxels": int(np.count_nonzero(to_cart)), "bone_voxels": int(np.count_nonzero(to_bone)),
            "box": box, "cup_mm": cup, "fray_mm": fray, "splay": splay, "voxels": int(np.count_nonzero(changed))}


BOWING_MM = (1.0, 3.0)
"""Radial deflection (mm) of the distal forearm at the middle of the imaged segment in grade-2 wrist rickets, drawn
uniformly: an assumption for the visible distal third of a child's forearm (florid rickets bows the long bones,
Thacher et al. 2000 grade only the physes; no measured paediatric forearm curvature is used here)."""


def _roll_x(array: np.ndarray, shifts: np.ndarray, z0: int) -> None:
    """Shift rows z0.. of `array` [Z, Y, X] along x by `shifts` voxels each (in place; what leaves one side is air
    coming back on the other, so the body must lie away from the x faces)."""
    for k, shift in enumerate(shifts):
        if shift:
            array[z0 + k] = np.roll(array[z0 + k], int(shift), axis=-1)


def bow_forearm(scene: TissueScene, grid: Grid, z_top_mm: float, deflection_mm: float) -> int:
    """Bend the forearm below `z_top_mm` (the distal physes) sideways: each axial slice between the grid's
    proximal face and the physes moves along x by deflection * sin(pi * t), t running 0..1 over that
    segment, so the segment bows while both its ends stay put.  Moves labels, tissues, layers (widened to the
    whole x range where they are cropped), texture and lesion mask together; returns the largest shift
    (voxels)."""
    nz, ny, nx = grid.shape
    top = int(np.floor(z_top_mm / grid.spacing[0] + (nz - 1) / 2.0))
    if top < 4:
        return 0
    t = np.arange(top) / float(top)
    shifts = np.rint(deflection_mm * np.sin(np.pi * t) / grid.spacing[2]).astype(int)
    if not shifts.any():
        return 0
    # the anatomy's arrays and layers are shared with the lesion-free scene a re-draw starts from: copy, never edit
    def moved(array):
        if array is None or np.ndim(array) != 3 or array.shape[0] != nz:
            return array
        out = array.copy()
        _roll_x(out, shifts, 0)
        return out

    scene.labels, scene.base_labels = moved(scene.labels), moved(scene.base_labels)
    _roll_x(scene.lesion_mask, shifts, 0)   # the engine's own copy for this lesion draw
    scene.textures = {name: moved(field) for name, field in scene.textures.items()}
    for i, layer in enumerate(scene.layers):
        box = layer.box if layer.box is not None else (slice(0, nz), slice(0, ny), slice(0, nx))
        z0, z1 = box[0].indices(nz)[:2]
        if z0 >= top or np.ndim(layer.fraction) != 3:
            continue
        x0, x1 = box[2].indices(nx)[:2]

        def widen(part):
            if part is None or np.ndim(part) != 3:
                return part
            full = np.zeros((z1 - z0, part.shape[1], nx), part.dtype)
            full[:, :, x0:x1] = part
            _roll_x(full, shifts[z0:min(z1, top)], 0)
            return full

        scene.layers[i] = replace(layer, fraction=widen(layer.fraction), core=widen(layer.core),
                                  keep=widen(layer.keep), texture=widen(layer.texture),
                                  box=(box[0], box[1], slice(0, nx)))
    return int(np.abs(shifts).max())


def insert_lesions(scene: TissueScene, grid: Grid, requests: list[LesionParams], rng: np.random.Generator,
                   max_attempts: int, first_id: int = 1) -> None:
    physes = scene.geometry.get("physes") or []
    for index, req in enumerate(requests):
        lesion_id = first_id + index
        what = f"{req.kind} {lesion_id}"
        if req.kind != "rickets":
            scene.rejected.append(f"kind: {what}: only rickets can be inserted by this family")
            continue
        if not physes:
            scene.rejected.append(f"location: {what}: the anatomy has no physes (rickets needs hand_pediatric)")
            continue
        groups, unknown = resolve_locations(req.locations)
        if not groups:
            scene.rejected.append(f"location: {what}: {', '.join(unknown)} are not physes "
                                  f"(choose from physes, {', '.join(GROUPS)})")
            continue
        location = groups[int(rng.integers(len(groups)))]
        w = float(np.clip(req.diameter_mm, *WIDENING_MM))
        grade = _grade(req, w, rng)
        mine = [p for p in physes if p["group"] == location]
        open_ = [p for p in mine if p["open"]]
        if not open_:
            fused = max((p["closure_y"] for p in mine), default=float("nan"))
            scene.rejected.append(f"open_physis: {what} at {location}: the physis is closed (fused at about "
                                  f"{fused:.1f} y; the subject is {scene.age_y:g} y), a fused physis cannot "
                                  "show rickets")
            continue
        grades = {"radius": 0, "ulna": 0}
        targets: list[tuple[dict, int, float]] = []
        if location in WRIST:
            chosen = WRIST[location]
            other = "ulna" if chosen == "radius" else "radius"
            grades[chosen] = grade
            g_other = int(rng.integers(max(0, grade - 1), grade + 1))
            for p in physes:
                if p["group"] in WRIST and p["open"]:
                    g = grade if WRIST[p["group"]] == chosen else g_other
                    if g > 0:
                        targets.append((p, g, w))
                        grades[WRIST[p["group"]]] = g
            if not any(p["open"] and WRIST[p["group"]] == other for p in physes if p["group"] in WRIST):
                grades[other] = 0
        else:
            targets = [(p, grade, max(WIDENING_MM[0], HAND_WIDENING * w)) for p in open_]
        results = [change_physis(scene, grid, p, g, wi, rng, lesion_id) for p, g, wi in targets]
        bowing = 0.0
        if location in WRIST and max(grades.values()) >= 2:   # florid wrist rickets: the forearm bows too
            bowing = float(rng.uniform(*BOWING_MM))
            z_top = min(float(p["centre_mm"][0]) for p, _, _ in targets) - 2.0 * w
            if bow_forearm(scene, grid, z_top, bowing) == 0:
                bowing = 0.0
        n = sum(r["voxels"] for r in results)
        if n == 0:
            scene.rejected.append(f"location: {what} at {location}: the physis lies outside the field of view")
            continue
        thacher = grades["radius"] + grades["ulna"]
        points = thacher if location in WRIST else grade
        scale = 1.0 - (OSTEOPENIA_PER_POINT if location in WRIST else 0.06) * points
        scene.factors["bone_mineral_scale"] = float(min(scene.factors.get("bone_mineral_scale", 1.0), scale))
        lo = np.min([r["box"][0] for r in results if r["voxels"]], axis=0)
        hi = np.max([r["box"][1] for r in results if r["voxels"]], axis=0)
        centre = np.array(open_[0]["centre_mm"]) if location not in WRIST else \
            np.array(next(p for p, _, _ in targets if WRIST[p["group"]] == WRIST[location])["centre_mm"])
        cart_ml = sum(r["cartilage_voxels"] for r in results) * grid.voxel_mm3 / 1000.0
        scene.lesions.append(InsertedLesion(
            id=lesion_id, kind="rickets", subtype=f"grade_{int(grade)}", location=location, diameter_mm=w,
            centre_mm=(float(centre[2]), float(centre[1]), float(centre[0])),
            bbox=(int(lo[0]), int(lo[1]), int(lo[2]), int(hi[0]), int(hi[1]), int(hi[2])),
            volume_ml=n * grid.voxel_mm3 / 1000.0, attempts=1,
            attributes={"thacher_wrist": int(thacher), "grade_radius": int(grades["radius"]),
                        "grade_ulna": int(grades["ulna"]), "physis_widening_mm": round(w, 3),
                        "grade": int(grade), "physes_changed": [p["bone"] for p, _, _ in targets],
                        "cupping_mm": round(max(r["cup_mm"] for r in results), 3),
                        "added_cartilage_ml": round(cart_ml, 4),
                        "bone_mineral_scale": round(scale, 4), "bowing_mm": round(bowing, 3)}))


class Rickets:
    """The `rickets` pathology family: what the sampler needs to know, and the insertion stage."""

    name = "rickets"
    default_diameter_mm = 2.0
    default_diameter_range_mm = (1.0, 4.0)
    """The physis widening (mm) is drawn uniformly from the stdlib's `physis_widening` range (1-4 mm) when the spec
    gives no `diameter`."""
    default_subtype = "graded"
    """No subtype in the spec: the Thacher grade is drawn, grade 2 the likelier the wider the physis."""
    default_location = "physes"
    tissues = ("cartilage", "cortical_bone", "cancellous_bone")

    def shape_defaults(self, subtype: str) -> tuple[float, float]:
        return 0.0, 0.0

    def placement_limits(self, constraints) -> dict[str, float | None]:
        return {}

    def insert(self, scene: TissueScene, grid: Grid, lesions: list[LesionParams], rng: np.random.Generator,
               labels, max_attempts: int, first_id: int = 1) -> None:
        """Place `lesions` into `scene`; their ids in the lesion mask start at `first_id`.

        The scene's label maps and factors are shared with the lesion-free scene the engine re-draws lesions
        from (and twins are made of), so they are copied before the physes are relabelled."""
        scene.labels, scene.base_labels = scene.labels.copy(), scene.base_labels.copy()
        scene.factors = dict(scene.factors)
        insert_lesions(scene, grid, lesions, rng, max_attempts=max_attempts, first_id=first_id)


PATHOLOGY = Rickets()
