"""One template head on the MNI152 1 mm grid, built once from the priors and cached.

What comes from real data and what is added (stated, since the cohort card repeats it):
    from the MNI152 maps   grey and white matter probabilities; CSF = intracranial minus brain
    from Colin27 + AAL     lobes (AAL regions grouped), caudate, putamen, globus pallidus, thalamus,
                           insula, cerebellum; the scalp's outer surface (Colin27's head)
    derived here           the intracranial space (the brain closed over its sulci, 2 mm beyond it),
                           ventricles (deep CSF), third and fourth ventricles, basal cisterns and Sylvian
                           fissures (CSF by position), brainstem (unlabelled brain below the thalami),
                           internal capsule (white matter between the lentiform nucleus and the
                           caudate / thalamus), corpus callosum (midline white matter), falx (midline
                           CSF above the callosum) and tentorium (CSF between cerebellum and cerebrum)
    procedural             the skull (a shell of the subject's thickness around the intracranial space,
                           thinner over the temporal squama, shape.py draws it), petrous pyramids, frontal,
                           sphenoid and maxillary sinuses and mastoid air at approximate MNI positions

Arterial territories follow Tatu et al. (Neurology 50:1699, 1998) at the level of AAL regions: a
region belongs wholly to one territory (its approximation: borders fall on region borders, not on
the individual watershed).  Everything is in the LPS frame of the MNI grid (x = 98 - i, y = 134 - j,
z = k - 72; +x left, +y posterior).  This module builds one template; it varies nothing per subject.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from synthspec.families.anatomy.head import TERRITORY_CODES
from synthspec.families.anatomy.head.priors import MNI_ORIGIN_LPS, aal_names, fetch_priors, fingerprint, read_on_mni_grid
from synthspec.families.array_cache import cached_arrays

TEMPLATE_VERSION = 2
"""Bump when the derivation below changes: the cached template is keyed by it and by the priors' sums."""

# Stdlib ids (anatomy_head.synth); the builder maps them by name, these are the template's own codes.
REGION_OF_AAL = {
    "lateral_frontal": ("Precentral", "Frontal_Sup_", "Frontal_Sup_Orb", "Frontal_Mid", "Frontal_Inf", "Rolandic_Oper"),
    "medial_frontal": ("Frontal_Sup_Medial", "Frontal_Med_Orb", "Rectus", "Supp_Motor_Area", "Cingulum_Ant",
                       "Cingulum_Mid", "Paracentral_Lobule", "Olfactory"),
    "medial_parietal": ("Precuneus", "Cingulum_Post"),
    "parietal_lobe": ("Postcentral", "Parietal_Sup", "Parietal_Inf", "SupraMarginal", "Angular"),
    "temporal_lobe": ("Heschl", "Temporal_Sup", "Temporal_Pole_Sup", "Temporal_Mid", "Temporal_Pole_Mid"),
    "inferior_temporal": ("Temporal_Inf", "Fusiform", "ParaHippocampal", "Hippocampus", "Amygdala"),
    "occipital_lobe": ("Calcarine", "Cuneus", "Lingual", "Occipital"),
    "insula": ("Insula",),
    "caudate": ("Caudate",), "putamen": ("Putamen",), "globus_pallidus": ("Pallidum",), "thalamus": ("Thalamus",),
    "cerebellum": ("Cerebelum", "Vermis"),
}
REGIONS = ("lateral_frontal", "medial_frontal", "medial_parietal", "parietal_lobe", "temporal_lobe",
           "inferior_temporal", "occipital_lobe", "insula", "corpus_callosum", "thalamus", "internal_capsule",
           "caudate", "putamen", "globus_pallidus", "cerebellum", "brainstem")
REGION_CODE = {name: i + 1 for i, name in enumerate(REGIONS)}
TERRITORY_OF_REGION = {
    "medial_frontal": "ACA", "medial_parietal": "ACA", "corpus_callosum": "ACA",
    "lateral_frontal": "MCA", "parietal_lobe": "MCA", "temporal_lobe": "MCA", "insula": "MCA",
    "occipital_lobe": "PCA", "inferior_temporal": "PCA", "thalamus": "PCA",
    "caudate": "lenticulostriate", "putamen": "lenticulostriate", "globus_pallidus": "lenticulostriate",
    "internal_capsule": "lenticulostriate",
    "cerebellum": "posterior_circulation", "brainstem": "posterior_circulation",
}
"""Tatu 1998 by region: ACA medial frontal and parietal cortex and the callosum; MCA the lateral convexity and
insula; PCA occipital and inferior temporal cortex and the thalamus (thalamoperforators); the lenticulostriate
(deep MCA) branches the striatum, pallidum and internal capsule (the caudate head's Heubner supply from the ACA
is folded in: an approximation); vertebrobasilar the cerebellum and brainstem."""
CSF_CODE = {"subarachnoid_space": 1, "lateral_ventricles": 2, "third_ventricle": 3, "fourth_ventricle": 4,
            "basal_cisterns": 5, "sylvian_fissures": 6, "falx": 7, "tentorium": 8}
AIR_SPACES = {
    # name: (centre LPS mm (x, y, z), radii mm (x, y, z), mirrored in x)
    "frontal_sinus": ((9.0, -72.0, 8.0), (9.0, 6.0, 11.0), True),
    "sphenoid_sinus": ((8.0, -18.0, -38.0), (9.0, 10.0, 9.0), True),
    "maxillary_sinus": ((30.0, -42.0, -58.0), (12.0, 16.0, 16.0), True),
    "mastoid_air": ((50.0, 30.0, -42.0), (8.0, 10.0, 10.0), True),
}
"""Approximate MNI positions of the air spaces (atlas figures; no package ships them): a sinus is only drawn
outside the intracranial space, so a position a few mm off still leaves the brain intact."""
PETROUS = (((50.0, 28.0, -40.0), (16.0, 6.0, -33.0)), (9.0, 4.0))
"""Petrous pyramid as a tapered capsule from its base (lateral, at the mastoid) to its apex beside the clivus
(LPS mm, mirrored in x) and its radii there (mm): about 40 mm long, 18 mm thick at the base, running
anteromedially at about 55 deg to the midline.  The densest bone of the skull, between the middle and
posterior fossae, and the source of the dark streaks of posterior-fossa CT.  The MNI maps are an average
brain whose temporal lobes and cerebellum blur across the bone, so the pyramid is carved out of the brain
priors (a few mL of smoothed probability) before the intracranial space is drawn."""


def lps_coordinates(shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) LPS mm of the MNI grid's voxel centres as broadcastable arrays ([Z, Y, X] order)."""
    z = (np.arange(shape[0]) + MNI_ORIGIN_LPS[2])[:, None, None]
    y = (MNI_ORIGIN_LPS[1] - np.arange(shape[1]))[None, :, None]
    x = (MNI_ORIGIN_LPS[0] - np.arange(shape[2]))[None, None, :]
    return x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)


def _ellipsoid(x, y, z, centre, radii) -> np.ndarray:
    return ((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + ((z - centre[2]) / radii[2]) ** 2


def _capsule_depth(x, y, z, a, b, radii) -> np.ndarray:
    """How far inside a capsule from a to b whose radius tapers linearly from radii[0] to radii[1] (mm;
    negative outside): the radius at the nearest point of the axis minus the distance to it."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    d = b - a
    t = np.clip(((x - a[0]) * d[0] + (y - a[1]) * d[1] + (z - a[2]) * d[2]) / float(d @ d), 0.0, 1.0)
    dist = np.sqrt((x - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (z - a[2] - t * d[2]) ** 2)
    return radii[0] + (radii[1] - radii[0]) * t - dist


def _petrous(x, y, z) -> np.ndarray:
    (a, b), radii = PETROUS
    depth = np.full(np.broadcast_shapes(x.shape, y.shape, z.shape), -np.inf, np.float32)
    for sign in (1, -1):
        depth = np.maximum(depth, _capsule_depth(x, y, z, (sign * a[0], a[1], a[2]), (sign * b[0], b[1], b[2]),
                                                 radii))
    return depth


def _largest_components(mask: np.ndarray, keep: int, min_voxels: int = 50) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())[1:]
    order = np.argsort(sizes)[::-1][:keep]
    return np.isin(lab, [i + 1 for i in order if sizes[i] >= min_voxels])


def build_template(priors: dict[str, np.ndarray], names: dict[int, str]) -> dict[str, np.ndarray]:
    gm, wm = priors["gm"], priors["wm"]
    shape = gm.shape
    x, y, z = lps_coordinates(shape)
    # the petrous pyramids displace the blurred temporal lobes and cerebellum (a 1 mm soft edge)
    petrous_depth = _petrous(x, y, z)
    kept = np.clip(-petrous_depth, 0.0, 1.0).astype(gm.dtype)
    gm, wm = gm * kept, wm * kept
    brain_p = np.clip(gm + wm, 0.0, 1.0)
    brain = ndi.binary_fill_holes(brain_p > 0.5)
    brain = _largest_components(brain & (petrous_depth < 0.0), 1)
    # intracranial: the brain closed over its sulci (8 mm), then 2 mm of CSF and meninges beyond it
    out = ndi.distance_transform_edt(~brain)
    closed = ndi.distance_transform_edt(out <= 8.0) > 8.0
    closed |= brain
    intracranial = ndi.binary_fill_holes(ndi.distance_transform_edt(~closed) <= 2.0)
    intracranial &= petrous_depth < 0.0
    # regions: AAL cortex grouped, spread to the white matter beneath by nearest labelled voxel
    region = np.zeros(shape, np.uint8)
    aal = priors["aal"]
    for rname, prefixes in REGION_OF_AAL.items():
        ids = [i for i, n in names.items() if any(n.startswith(p) for p in prefixes)]
        if rname == "lateral_frontal":
            ids = [i for i, n in names.items() if any(n.startswith(p) for p in prefixes)
                   and not n.startswith("Frontal_Sup_Medial")]
        region[np.isin(aal, ids) & brain] = REGION_CODE[rname]
    thal = REGION_CODE["thalamus"]
    deep = np.isin(region, [REGION_CODE[n] for n in ("caudate", "putamen", "globus_pallidus", "thalamus")])
    # brainstem: brain below the thalami, near the midline, not cerebellum, unlabelled
    stem = brain & (region == 0) & (np.abs(x) < 20) & (z < -8) & (y > -5) & (y < 45)
    region[stem] = REGION_CODE["brainstem"]
    # corpus callosum: midline white matter above the fornix level
    cc = brain & (wm > 0.5) & (np.abs(x) < 7) & (z > 2) & (z < 38) & (y > -40) & (y < 45) & (region == 0)
    region[cc] = REGION_CODE["corpus_callosum"]
    # internal capsule: white matter within 5 mm of the lentiform nucleus and of the caudate or thalamus
    lentiform = np.isin(region, [REGION_CODE["putamen"], REGION_CODE["globus_pallidus"]])
    medial = np.isin(region, [REGION_CODE["caudate"], thal])
    capsule = brain & (region == 0) & (wm > 0.4) & (ndi.distance_transform_edt(~lentiform) < 5.0) \
        & (ndi.distance_transform_edt(~medial) < 6.0)
    region[capsule] = REGION_CODE["internal_capsule"]
    unl = brain & (region == 0)
    if unl.any():
        idx = ndi.distance_transform_edt(region == 0, return_distances=False, return_indices=True)
        region[unl] = region[tuple(i[unl] for i in idx)]
    del deep
    # CSF spaces
    csf = intracranial & ~(brain_p > 0.5)
    depth = ndi.distance_transform_edt(intracranial)
    csf_code = np.where(csf, CSF_CODE["subarachnoid_space"], 0).astype(np.uint8)
    ventricles = csf & (depth > 14.0) & (np.abs(x) < 35) & (z > -12) & (z < 40)
    ventricles = _largest_components(ventricles, 3, 200)
    csf_code[ventricles] = CSF_CODE["lateral_ventricles"]
    third = csf & (np.abs(x) < 4) & (z > -12) & (z < 12) & (depth > 20) & (ndi.distance_transform_edt(region != thal) < 6)
    csf_code[third] = CSF_CODE["third_ventricle"]
    cb, bs = REGION_CODE["cerebellum"], REGION_CODE["brainstem"]
    near_cb = ndi.distance_transform_edt(region != cb) < 5
    near_bs = ndi.distance_transform_edt(region != bs) < 5
    fourth = csf & (np.abs(x) < 10) & near_cb & near_bs & (z < -18) & (z > -50) & (depth > 10)
    csf_code[fourth] = CSF_CODE["fourth_ventricle"]
    cisterns = csf & (csf_code == CSF_CODE["subarachnoid_space"]) & (np.abs(x) < 28) & (z > -35) & (z < -2) \
        & (y > -25) & (y < 35) & (depth > 6)
    csf_code[cisterns] = CSF_CODE["basal_cisterns"]
    insula = REGION_CODE["insula"]
    sylvian = csf & (csf_code == CSF_CODE["subarachnoid_space"]) & (ndi.distance_transform_edt(region != insula) < 12) \
        & (np.abs(x) > 28)
    csf_code[sylvian] = CSF_CODE["sylvian_fissures"]
    falx = intracranial & ~(brain_p > 0.5) & (np.abs(x) <= 0.6) & (z > 12)
    csf_code[falx] = CSF_CODE["falx"]
    cerebral = brain & ~np.isin(region, [cb, bs])
    tent = csf & near_cb & (ndi.distance_transform_edt(~cerebral) < 5) & (z < 5) & (y > 10)
    csf_code[tent] = CSF_CODE["tentorium"]
    region[~brain] = 0
    territory = np.zeros(shape, np.uint8)
    for rname, terr in TERRITORY_OF_REGION.items():
        territory[region == REGION_CODE[rname]] = TERRITORY_CODES[terr]
    # outside the intracranial space: distance from its surface (the skull is drawn per subject), scalp surface
    outward = ndi.distance_transform_edt(~intracranial).astype(np.float32)
    colin = priors["colin"]
    head = ndi.binary_fill_holes(ndi.binary_opening(colin > 0.12 * float(np.percentile(colin[colin > 0], 99)),
                                                    iterations=2))
    head = _largest_components(head, 1) | (outward <= 12.0)
    air = np.zeros(shape, np.uint8)
    codes = {"frontal_sinus": 1, "sphenoid_sinus": 1, "maxillary_sinus": 1, "mastoid_air": 2}
    for name, (centre, radii, mirror) in AIR_SPACES.items():
        for sign in ((1, -1) if mirror else (1,)):
            inside = _ellipsoid(x, y, z, (sign * centre[0], centre[1], centre[2]), radii) <= 1.0
            air[inside & (outward > 1.5) & head] = codes[name]
    petrous = (petrous_depth >= 0.0) & head
    return {"gm": gm.astype(np.float16), "wm": wm.astype(np.float16), "region": region, "csf": csf_code,
            "territory": territory, "intracranial": intracranial, "brain": brain, "outward": outward.astype(np.float16),
            "head": head, "air": air, "petrous": petrous, "ventricles": ventricles,
            "vfield": ndi.gaussian_filter(np.isin(csf_code, [2, 3, 4]).astype(np.float32), 2.0).astype(np.float16)}


def cache_file(paths) -> Path:
    from synthspec.validate.reference.fetch import cache_root

    return cache_root() / "priors" / f"head-template-v{TEMPLATE_VERSION}-{fingerprint(paths)}.npz"


_TEMPLATE: dict | None = None


def load_template() -> dict[str, np.ndarray]:
    """The template head, from the cache when built before (same priors, same version), else built and cached."""
    global _TEMPLATE
    if _TEMPLATE is not None:
        return _TEMPLATE
    paths = fetch_priors()
    template = cached_arrays(cache_file(paths), lambda: build_template(read_on_mni_grid(paths), aal_names(paths)))
    _TEMPLATE = template
    return template
