"""Glioblastoma (`glioblastoma`): a ring-enhancing necrotic mass in the hemispheric white matter, with oedema.

Stage role: given a `head_adult` tissue scene (contract in families/anatomy/head/__init__.py) and
`lesion_rng`, centre each requested tumour in the hemispheric white matter of its location, grow its
compartments (compartments.py: necrotic core, enhancing rim, white-matter oedema; it may cross to the other
hemisphere through the corpus callosum when it lies near it), push the brain for its mass (the haemorrhage
family's mass_effect.py; the compartments are then grown again with the same draws on the moved brain), paint the compartments as layers of the stdlib
tissues `oedema`, `tumour_enhancing` and `necrosis`, and deliver the BraTS compartments mask.  It draws only
from `lesion_rng` and writes no intensity; every array it edits is copied first (the twin's clean scene
shares them).  Contrast enhancement is the MR modality's (its uptake table gives tumour_enhancing leakage).

Subtypes: the stdlib's `enhancing_rim, necrosis, oedema` name a glioblastoma's compartments, and every tumour
here has all three; a drawn subtype says which one dominates: `enhancing_rim` (the default, the classic
ring-enhancing tumour), `necrosis` (a large necrotic core, thin rim), `oedema` (oedema reaching 2.2-3 tumour
radii).  Any other drawn subtype is recorded as `enhancing_rim`.

Draws per lesion, in order: the shape numbers (necrotic fraction, oedema reach), the level quantiles of the
three tissues, then per attempt the seed and the shape fields.

Interface:
    layers       Layer("oedema", fraction = the voxel's white-matter share, at least 0.5, on SNFH voxels),
                 Layer("tumour_enhancing", 1 on ET voxels), Layer("necrosis", 1 on NCR voxels), each on a box
                 and with `level_quantiles` for its tissue (U(0.2, 0.8), the lesion's own level)
    masks        scene.masks["tumour_compartments"]: uint8 on the plan grid, BraTS 2023 labels
                 1 = necrotic (and non-enhancing) core NCR, 2 = oedema / SNFH, 3 = enhancing tumour ET
    lesion_mask  the lesion id on the tumour core (BraTS TC = labels 1 and 3), what a `segment` job's mask
                 holds; the oedema is in the compartments mask only
    InsertedLesion  volume_ml and diameter_mm of the tumour core (equivalent sphere); attributes:
                 requested_diameter_mm, necrosis_ml, enhancing_ml, oedema_ml, whole_tumour_ml, necrotic_k,
                 oedema_q, side, crosses_midline (a tumour or oedema voxel on the other hemisphere),
                 midline_shift_mm, compartments_mask
Mass effect: the haemorrhage family's shift of a mass of core + 0.3 x oedema volume (oedematous white matter
swells by a fraction of its volume; a judgement).
"""

from __future__ import annotations

import numpy as np

from synthspec.families.base import InsertedLesion, Layer
from synthspec.families.pathology.glioblastoma import compartments as C
from synthspec.families.pathology.haemorrhage import mass_effect
from synthspec.families.pathology.haemorrhage.shapes import crop_around
from synthspec.families.pathology.infarct import spread
from synthspec.families.pathology.infarct.placing import BrainLesionFamily, attempts

MASK_NAME = "tumour_compartments"
OEDEMA_SWELL = 0.3
SEED_DEPTH_SHARE = 0.5
"""Seeds at least this share of the radius below the brain's surface where the location has such voxels."""


class Glioblastoma(BrainLesionFamily):
    name = "glioblastoma"
    default_subtype = "enhancing_rim"
    default_location = "white_matter"
    default_diameter_mm = 30.0
    needs = ("brain", "region", "intracranial")
    tissues = ("oedema", "tumour_enhancing", "necrosis")
    masks = (MASK_NAME,)
    """Masks every subject of a cohort with this pathology carries (all zeros where there is no tumour)."""

    def _seeds(self, scene, ids, groups, grid, location, radius):
        loc = spread.location_mask(scene, ids, groups, location)
        wm = loc & (scene.base_labels == ids["white_matter"])
        cand = wm if wm.any() else loc           # the corpus callosum has a label of its own
        if not cand.any():
            return np.zeros((0, 3), int)
        deep = cand & (spread.depth_mm(scene, ids, (slice(None),) * 3, grid.spacing) >= SEED_DEPTH_SHARE * radius)
        return np.argwhere(deep if deep.any() else cand)

    def _one(self, scene, grid, req, rng, ids, groups, label_tissue, max_attempts, lesion_id):
        what = f"{req.kind} {lesion_id}"
        subtype = req.subtype if req.subtype in C.SUBTYPES else self.default_subtype
        shape = C.draw_shape(subtype, rng)
        levels = {t: float(rng.uniform(0.2, 0.8)) for t in self.tissues}
        location = spread.location_name((req.locations or [self.default_location])[0])
        diameter = float(req.diameter_mm)
        seeds = self._seeds(scene, ids, groups, grid, location, 0.5 * diameter)
        if not len(seeds):
            scene.rejected.append(f"location: {what}: no white matter of {location} in this head")
            return

        def try_once():
            seed = seeds[int(rng.integers(len(seeds)))]
            lo, hi, crop = crop_around(seed, 0.5 * diameter * 1.6 * C.OEDEMA_Q[subtype][1] + 10.0, grid)
            state = rng.bit_generator.state
            got = self._build(scene, ids, grid, seed, lo, crop, diameter, shape, label_tissue, rng)
            return got if isinstance(got, str) else (seed, state, lo, crop, got)

        placed = attempts(scene, max_attempts, try_once, f"{what} ({diameter:.0f} mm) not placed in {location}",
                          "brain")
        if placed is None:
            return
        self._paint(scene, grid, req, ids, label_tissue, lesion_id, subtype, shape, levels, location, diameter,
                    rng, *placed)

    @staticmethod
    def _build(scene, ids, grid, seed, lo, crop, diameter, shape, label_tissue, rng):
        """The compartments on `crop`, or a reason (also when the core would overlap an earlier lesion)."""
        wm_share = spread.tissue_share(scene, ("white_matter",), crop, label_tissue)
        got = C.build(scene, ids, grid, seed, lo, crop, diameter, shape, wm_share, rng)
        if not isinstance(got, str) and np.any(scene.lesion_mask[crop][(got == C.NCR) | (got == C.ET)] != 0):
            return "overlap"
        return got

    def _paint(self, scene, grid, req, ids, label_tissue, lesion_id, subtype, shape, levels, location, diameter,
               rng, attempt, seed, state, lo, crop, comp):
        geo = scene.geometry
        sp = np.asarray(grid.spacing, dtype=np.float64)
        ml = grid.voxel_mm3 / 1000.0
        core = (comp == C.NCR) | (comp == C.ET)
        centre = grid.origin_mm() + (lo + np.argwhere(core).mean(axis=0)) * sp
        core_ml, oedema_ml = float(core.sum()) * ml, float((comp == C.SNFH).sum()) * ml
        shift = mass_effect.midline_shift_mm(core_ml + OEDEMA_SWELL * oedema_ml)
        full = np.zeros(grid.shape, np.uint8)
        full[crop] = comp
        if shift > 0.0:   # the tumour is brain tissue: grown again, with the same draws, on the moved brain
            (full,) = mass_effect.apply_shift(scene, grid, centre, shift, carry=[full])
            again = self._build(scene, ids, grid, seed, lo, crop, diameter, shape, label_tissue,
                                spread.replay(rng, state))
            if not isinstance(again, str):
                full = np.zeros(grid.shape, np.uint8)
                full[crop] = again
            # else: the seed left the brain; the first compartments, moved with it, stand
        geo = scene.geometry
        side = int(geo["side"][tuple(seed)]) if "side" in geo else 0
        crosses = bool(side != 0 and np.any((full > 0) & (geo["side"] == -side))) if "side" in geo else False
        pts = np.argwhere(full > 0)
        b0, b1 = pts.min(axis=0), pts.max(axis=0) + 1
        box = tuple(slice(int(b0[a]), int(b1[a])) for a in range(3))
        comp = full[box]
        free = scene.lesion_mask[box] == 0
        oedema = comp == C.SNFH
        wm = spread.tissue_share(scene, ("white_matter",), box, label_tissue)
        scene.layers.append(Layer("oedema", (oedema * np.maximum(wm, C.WM_SHARE_MIN)).astype(np.float32), box=box,
                                  level_quantiles={"oedema": levels["oedema"]}))
        scene.layers.append(Layer("tumour_enhancing", (comp == C.ET).astype(np.float32), box=box,
                                  level_quantiles={"tumour_enhancing": levels["tumour_enhancing"]}))
        scene.layers.append(Layer("necrosis", (comp == C.NCR).astype(np.float32), box=box,
                                  level_quantiles={"necrosis": levels["necrosis"]}))
        core = ((comp == C.NCR) | (comp == C.ET)) & free
        scene.lesion_mask[box][core] = lesion_id
        brats = scene.masks.get(MASK_NAME)
        brats = np.zeros(grid.shape, np.uint8) if brats is None else brats.copy()
        view = brats[box]
        write = (comp > 0) & ((view == 0) | (comp != C.SNFH))
        view[write] = comp[write]
        scene.masks[MASK_NAME] = brats
        core_ml = float(core.sum()) * ml
        attrs = {
            "requested_diameter_mm": diameter, "necrosis_ml": float((comp == C.NCR).sum()) * ml,
            "enhancing_ml": float((comp == C.ET).sum()) * ml, "oedema_ml": float(oedema.sum()) * ml,
            "whole_tumour_ml": float((comp > 0).sum()) * ml, "necrotic_k": shape["necrotic_k"],
            "oedema_q": shape["oedema_q"], "side": side, "crosses_midline": crosses, "midline_shift_mm": shift,
            "compartments_mask": MASK_NAME,
        }
        cb = np.argwhere(core)
        c0, c1 = b0 + cb.min(axis=0), b0 + cb.max(axis=0) + 1
        scene.lesions.append(InsertedLesion(
            id=lesion_id, kind=req.kind, subtype=subtype, location=location,
            diameter_mm=float((6.0 * core_ml * 1000.0 / np.pi) ** (1.0 / 3.0)),
            centre_mm=(float(centre[2]), float(centre[1]), float(centre[0])),
            bbox=(int(c0[0]), int(c0[1]), int(c0[2]), int(c1[0]), int(c1[1]), int(c1[2])),
            volume_ml=core_ml, attempts=attempt, attributes=attrs))


PATHOLOGY = Glioblastoma()
