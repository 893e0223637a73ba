"""Beam-hardening streaks in the posterior fossa of a generated head (python benchmarks/head_ct_streaks.py).

Real head CT shows dark bands between the petrous bones across the pons and cerebellum (the
Hounsfield bar; PHYSICS.md, Head CT).  This scans one subject of examples/head_ct_haemorrhage.synth
twice without noise -- with the example's polychromatic beam (water correction and the default
bone correction) and with a monochromatic beam -- and reports, in the brain of the posterior fossa
(cerebellum, brainstem) and of the supratentorial slices, the polychromatic minus monochromatic
difference: its mean, its 5th percentile (the dark streaks) and its SD.  Then the same subject with
noise, as delivered: the SD of brain in the two places (streaks add to the posterior fossa's).

    .venv/bin/python benchmarks/head_ct_streaks.py [--subject K]

Same subject, same anatomy, same grid for both beams; only the beam differs.  About a minute on CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POSTERIOR_FOSSA = ("cerebellum", "brainstem")
SUPRATENTORIAL = ("grey_matter", "white_matter", "lateral_frontal", "medial_frontal", "medial_parietal",
                  "parietal_lobe", "temporal_lobe", "occipital_lobe", "insula")


def with_beam(plan, beam: str, bone_correction: float | None = None):
    out = plan.model_copy(deep=True)
    settings = out.stage("acquire").params.settings
    if beam == "monochromatic":
        settings.pop("beam", None)
        settings.pop("bone_correction", None)
    else:
        settings["beam"] = beam
        if bone_correction is not None:
            settings["bone_correction"] = bone_correction
    return out


def region(labels: np.ndarray, plan, names) -> np.ndarray:
    ids = [e.id for e in plan.labels if e.name in names]
    inner = np.isin(labels, ids)
    # keep away from the edges of the region (partial volume with CSF and bone is not a streak)
    from scipy.ndimage import binary_erosion

    return binary_erosion(inner, structure=np.ones((1, 5, 5), bool))


def summary(values: np.ndarray) -> str:
    return (f"mean {values.mean():+6.1f} HU   5th pct {np.percentile(values, 5):+6.1f} HU   "
            f"SD {values.std():5.1f} HU   ({values.size} voxels)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subject", type=int, default=0)
    args = ap.parse_args()

    from synthspec import api
    from synthspec.engine.subject import generate_subject

    plan = api.plan(ROOT / "examples" / "head_ct_haemorrhage.synth", device="cpu")
    k = args.subject
    scans = {}
    for beam in ("polychromatic", "monochromatic"):
        p = with_beam(plan, beam)
        scans[beam] = generate_subject(p, k, noiseless=True, with_pathology=False)
    noisy = {beam: generate_subject(with_beam(plan, beam), k, with_pathology=False) for beam in scans}
    labels = scans["polychromatic"].labels
    fossa = region(labels, plan, POSTERIOR_FOSSA)
    above = region(labels, plan, SUPRATENTORIAL)
    fossa_z = np.flatnonzero(fossa.any(axis=(1, 2)))
    above &= np.arange(labels.shape[0])[:, None, None] > fossa_z.max()   # slices above the posterior fossa
    poly = scans["polychromatic"].channels["image"].astype(np.float32)
    mono = scans["monochromatic"].channels["image"].astype(np.float32)
    diff = poly - mono
    print(f"subject {k} of {plan.cohort_name}: {plan.grid.shape} voxels at "
          f"{' x '.join(f'{s:g}' for s in plan.grid.spacing)} mm; posterior fossa on slices "
          f"{fossa_z.min()}-{fossa_z.max()}")
    print("noiseless, polychromatic (the default bone correction) minus monochromatic:")
    print(f"  posterior fossa brain  {summary(diff[fossa])}")
    print(f"  supratentorial brain   {summary(diff[above])}")
    worst = min(fossa_z, key=lambda z: np.percentile(diff[z][fossa[z]], 5) if fossa[z].sum() > 50 else 0.0)
    print(f"  darkest posterior-fossa slice {worst}: {summary(diff[worst][fossa[worst]])}")
    water_only = generate_subject(with_beam(plan, "polychromatic", 0.0), k, noiseless=True, with_pathology=False)
    diff0 = water_only.channels["image"].astype(np.float32) - mono
    print("noiseless, polychromatic with the water correction only (no bone correction) minus monochromatic:")
    print(f"  posterior fossa brain  {summary(diff0[fossa])}")
    print(f"  supratentorial brain   {summary(diff0[above])}")
    print("with noise (as delivered), SD of brain HU:")
    for beam, sub in noisy.items():
        img = sub.channels["image"].astype(np.float32)
        print(f"  {beam:14s} posterior fossa {img[fossa].std():5.1f} HU   supratentorial {img[above].std():5.1f} HU")


if __name__ == "__main__":
    main()
