"""Ischaemic infarct (`ischaemic_infarct`): an arterial-territory lesion that changes the brain it lies in.

Stage role: given a `head_adult` tissue scene (contract in families/anatomy/head/__init__.py) and
`lesion_rng`, place each requested infarct inside its arterial territory (territory.py), grow it to the
drawn volume as a wedge of cortex and white matter on one side, push the brain for a large swollen infarct
(the haemorrhage family's mass_effect.py; the infarct is then grown again with the same draws on the moved
brain, so it still fills its territory), and record it.  The infarct paints no tissue: it is a
`PropertyChange` whose factors follow the time since onset (timecourse.py), so DWI, ADC, FLAIR and CT
hypodensity all evolve from one physiology.  It draws only from `lesion_rng` and writes no intensity; every
array it edits is copied first (the twin's clean scene shares them).

    timecourse.py  property factors, swelling and phase by onset (Schlaug 1997, Lansberg 2001, Thomalla 2011)
    territory.py   territory and seed (and what happens when the location lies outside the territory), growth
    spread.py      places, tissue shares and distances through brain (shared with the glioblastoma family)
    placing.py     the family interface and attempt loop both brain lesion families share

Draws per lesion, in order: onset (uniform 0.5-24 h when the spec gives none), volume (log-uniform 1-100 mL
when none), the ADC drop (30-50 %), the oedema scale (0.8-1.2), then per attempt the seed and the noise of
the growth.

Interface:
    PropertyChange  name `infarct_<id>`, `fraction` = the lesion (1) times the voxel's grey + white matter
                    share, on a box; factors `adc`, `t2`, `t1`, `pd` (multiply the property; T2* follows T2 in the
                    modality) and
                    `hu_offset` (HU added; CT)
    lesion_mask     the lesion id on every infarct voxel (brain voxels, >= 50 % parenchyma)
    InsertedLesion  subtype = phase (hyperacute < 6 h, acute < 4 d, subacute < 3 weeks, chronic);
                    location = the region holding the seed; attributes: territory, onset_h, phase, factors
                    (dict), adc_drop, oedema_scale, swelling, midline_shift_mm, malignant_mca (MCA and > 145 mL,
                    Oppenheim 2000), volume_capped, location_requested, location_resolution (`location`: the
                    seed lies in the drawn location; `territory`: the location was outside the drawn territory,
                    the territory was kept; `from_location`: no territory drawn, the location's own), seed
                    (cortical | deep)
"""

from __future__ import annotations

import numpy as np

from synthspec.families.base import InsertedLesion, PropertyChange
from synthspec.families.pathology.haemorrhage import mass_effect
from synthspec.families.pathology.infarct import spread, territory as T, timecourse
from synthspec.families.pathology.infarct.placing import BrainLesionFamily, attempts

DEFAULT_ONSET_H = (0.5, 24.0)
DEFAULT_VOLUME_ML = (1.0, 100.0)
MALIGNANT_ML = 145.0
"""DWI lesion volume above which an MCA infarct is expected to turn malignant (Oppenheim et al., Stroke 2000)."""
PARENCHYMA = ("grey_matter", "white_matter")


class IschaemicInfarct(BrainLesionFamily):
    name = "ischaemic_infarct"
    default_subtype = "acute"
    """Recorded subtypes are the phase by onset; the stdlib gives the kind no subtypes to draw."""
    default_location = "cerebrum"
    default_diameter_mm = 20.0
    """Unused for the shape (the volume sets it); the sampler draws a diameter for every lesion."""
    needs = ("brain", "region", "territory")
    tissues = ()
    """No tissue layer: the infarct changes the properties of the grey and white matter under it."""

    def _one(self, scene, grid, req, rng, ids, groups, label_tissue, max_attempts, lesion_id):
        what = f"{req.kind} {lesion_id}"
        onset = float(req.onset_h) if req.onset_h is not None else float(rng.uniform(*DEFAULT_ONSET_H))
        volume = (float(req.volume_ml) if req.volume_ml is not None
                  else float(np.exp(rng.uniform(*np.log(DEFAULT_VOLUME_ML)))))
        drop = float(rng.uniform(*timecourse.DROP_RANGE))
        oedema = float(rng.uniform(*timecourse.OEDEMA_RANGE))
        location = spread.location_name((req.locations or [self.default_location])[0])
        where = T.resolve(scene, ids, groups, req.territory, location, rng)
        if isinstance(where, str):
            scene.rejected.append(f"{where}: {what}: no brain of territory {req.territory or '(any)'} "
                                  f"holds the location {location}")
            return

        def try_once():
            seed, cortical = T.pick_seed(scene, ids, where, grid, rng)
            state = rng.bit_generator.state
            got = T.grow(scene, ids, grid, seed, where["codes"], volume, cortical, rng)
            if isinstance(got, str):
                return got
            lo, hi, mask, capped = got
            if np.any(scene.lesion_mask[tuple(slice(lo[a], hi[a]) for a in range(3))][mask] != 0):
                return "overlap"
            return seed, cortical, state, lo, hi, mask, capped

        placed = attempts(scene, max_attempts, try_once, f"{what} not placed in {where['territory']}", "territory")
        if placed is not None:
            self._record(scene, grid, req, rng, ids, label_tissue, lesion_id, where, location, onset, volume, drop,
                         oedema, *placed)

    def _record(self, scene, grid, req, rng, ids, label_tissue, lesion_id, where, location, onset, volume, drop,
                oedema, attempt, seed, cortical, state, lo, hi, mask, capped):
        sp = np.asarray(grid.spacing, dtype=np.float64)
        region = int(scene.geometry["region"][tuple(seed)])
        vol_ml = float(mask.sum()) * grid.voxel_mm3 / 1000.0
        centre = grid.origin_mm() + (lo + np.argwhere(mask).mean(axis=0)) * sp
        swell = timecourse.swelling(onset, oedema)
        fossa = where["territory"] == "posterior_circulation"
        shift = mass_effect.midline_shift_mm(vol_ml * swell, posterior_fossa=fossa)
        if shift > 0.0:   # the swollen infarct is brain itself: grown again, same draws, on the moved brain
            full = np.zeros(grid.shape, bool)
            full[tuple(slice(lo[a], hi[a]) for a in range(3))] = mask
            (full,) = mass_effect.apply_shift(scene, grid, centre, shift, carry=[full])
            again = T.grow(scene, ids, grid, seed, where["codes"], volume, cortical, spread.replay(rng, state))
            if not isinstance(again, str) and not np.any(
                    scene.lesion_mask[tuple(slice(again[0][a], again[1][a]) for a in range(3))][again[2]]):
                lo, hi, mask, capped = again
            else:          # the seed left its territory: the first mask, moved with the brain
                full &= scene.lesion_mask == 0
                pts = np.argwhere(full)
                lo, hi = pts.min(axis=0), pts.max(axis=0) + 1
                mask = full[tuple(slice(lo[a], hi[a]) for a in range(3))]
        crop = tuple(slice(int(lo[a]), int(hi[a])) for a in range(3))
        factors = timecourse.factors(onset, drop, oedema)
        fraction = mask * spread.tissue_share(scene, PARENCHYMA, crop, label_tissue)
        scene.changes.append(PropertyChange(name=f"infarct_{lesion_id}", fraction=fraction.astype(np.float32),
                                            factors=dict(factors), box=crop))
        scene.lesion_mask[crop][mask] = lesion_id
        name_of = {v: k for k, v in ids.items()}
        attrs = {
            "territory": where["territory"], "onset_h": onset, "phase": timecourse.phase(onset),
            "factors": dict(factors), "adc_drop": drop, "oedema_scale": oedema, "swelling": swell,
            "midline_shift_mm": shift, "malignant_mca": bool(where["territory"] == "MCA" and vol_ml > MALIGNANT_ML),
            "volume_capped": bool(capped), "requested_volume_ml": volume, "location_requested": location,
            "location_resolution": where["resolution"], "seed": "cortical" if cortical else "deep",
        }
        pts = np.argwhere(mask)
        b0, b1 = lo + pts.min(axis=0), lo + pts.max(axis=0) + 1
        centre = grid.origin_mm() + (lo + pts.mean(axis=0)) * sp
        vol_ml = float(mask.sum()) * grid.voxel_mm3 / 1000.0
        scene.lesions.append(InsertedLesion(
            id=lesion_id, kind=req.kind, subtype=timecourse.phase(onset), location=name_of.get(region, location),
            diameter_mm=float((6.0 * vol_ml * 1000.0 / np.pi) ** (1.0 / 3.0)),
            centre_mm=(float(centre[2]), float(centre[1]), float(centre[0])),
            bbox=(int(b0[0]), int(b0[1]), int(b0[2]), int(b1[0]), int(b1[1]), int(b1[2])),
            volume_ml=vol_ml, attempts=attempt, attributes=attrs))


PATHOLOGY = IschaemicInfarct()
