"""Gathering the probes' data from a cohort: each subject's slabs and the variants the tests need.

Reads the written images (on MRI the probe channel, `reading.py`), labels and lesion masks; finds the
lungs (on MRI the brain parenchyma) through the plan's label table (`synthspec.cohort.labels`);
asks `variants.py` for twins, masked copies and swaps.
It trains nothing and judges nothing.
"""

from __future__ import annotations

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.validate.shortcut.reading import is_mri, probe_channel, read, region_ids
from synthspec.validate.shortcut.planted import plant
from synthspec.validate.shortcut.settings import ShortcutSettings
from synthspec.validate.shortcut.slabs import Data, lesion_slices, lung_extent, scan_slices, slab, stack
from synthspec.validate.shortcut.variants import (mask_lesions, mismatch, noise_swap, scanner_swap, twin,
                                                  virtual_lesion_slices)


def collect(cohort, subjects, params, positive, folds, tests, s: ShortcutSettings, prep, control: bool) -> Data:
    """Choose the slabs and build every variant the tests need.

    Negatives' detector slabs run through virtual lesions (a positive's lesion requests placed
    in the negative's own anatomy by the generator; only the mask is used): slab selection is
    then the same procedure for both classes.  Matching on slice height alone leaves a confound
    a probe learns (a lesion needs thick lung around it), and matching on the held-out
    positives' heights leaks their labels."""
    from scipy.ndimage import binary_erosion

    plan = cohort.plan
    lungs = region_ids(plan)          # lungs, intracranial labels or brain parenchyma (reading.py)
    channel = probe_channel(plan)     # None on CT: the first channel
    positive, folds = list(positive), list(folds)
    data = Data(positive=positive, folds=folds, test={}, unit="units" if is_mri(plan) else "HU")
    donors = [k for k in range(len(subjects)) if positive[k]]
    for k, sub in enumerate(subjects):
        labels, image = sub.labels(), read(sub, channel)
        lung = np.isin(labels, lungs)
        if positive[k]:
            lesions = sub.lesions()
            zs = lesion_slices(lesions, s.slices_per_lesion)
            if not zs:
                data.notes.append(f"{sub.subject_id} is positive but its lesion mask is empty; left out")
                folds[k] = -1
                continue
        else:
            donor = params[donors[k % len(donors)]]
            zs = virtual_lesion_slices(plan, params[k], donor, s.slices_per_lesion)
            if not zs:
                data.notes.append(f"{sub.subject_id}: no virtual lesion could be placed; evenly spaced slabs used")
                zs = scan_slices(lung_extent(lung), s.slices_per_lesion)
        data.test[k] = zs
        for z in zs:
            data.original[(k, z)] = slab(image, z)
            data.lung[(k, z)] = binary_erosion(lung[z])
        scan_z = scan_slices(lung_extent(lung), s.scan_slices)
        free = image
        if positive[k]:
            if "lesion_mask" in tests:
                masked = mask_lesions(image, lesions, lung, cohort.spacing,
                                      analysis_rng("shortcut", s.seed, "lesion_mask", sub.index))
                for z in zs:
                    data.masked[(k, z)] = slab(masked, z)
            if "counterfactual" in tests:
                lesion_free, twin_labels = twin(plan, params[k], channel, with_labels=True)
                # what the lesion changed: its mask, a pathology's own masks (a tumour's oedema) and the
                # anatomy its mass effect moved (labels that differ from the twin's)
                changed = (lesions > 0) | (twin_labels != labels)
                for name in sub.extra_masks():
                    changed |= sub.mask(name) > 0
                data.mismatch[sub.subject_id] = mismatch(lesion_free, image, changed)
                for z in zs:
                    data.twin[(k, z)] = slab(lesion_free, z)
                free = lesion_free
                if control:   # the in-memory planted control: the marker on the twin, at the control's strength
                    marked = plant(plan, params[k], lesion_free, strength=s.control_strength)
                    data.scan_marked[k] = stack(prep, marked, lung, scan_z)
        if "counterfactual" in tests:
            data.scan[k] = stack(prep, free, lung, scan_z)
    if "artifact_swap" in tests:
        noise_swap(data, cohort, subjects, channel)
    if "scanner_swap" in tests:
        scanner_swap(data, cohort, params, channel)
    return data
