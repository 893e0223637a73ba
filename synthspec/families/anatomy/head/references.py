"""Reference values the head's acceptance checks judge against, with their sources.

Ranges are wide on purpose: a check catches a broken build (a missing brain, a skull of the
wrong thickness, ventricles of a child in an 80-year-old), not an unusual but real person.
"""

from __future__ import annotations

from synthspec.families.anatomy.head.shape import ICV_ML, ventricle_growth

ANATOMY_CHECKS = ("labels_present", "intracranial_volume", "brain_fraction", "ventricle_volume", "skull_thickness",
                  "territories")
"""Checks of the anatomy alone: a failure calls for a new anatomy draw."""
LESION_CHECKS = ("lesion_record", "lesion_site")
"""Checks of the lesions: a failure re-draws only the lesions (the twin keeps its anatomy)."""
CHECKS = ANATOMY_CHECKS + LESION_CHECKS

INTRACRANIAL = ("subarachnoid_space", "lateral_ventricles", "third_ventricle", "fourth_ventricle", "basal_cisterns",
                "sylvian_fissures", "falx", "tentorium", "dura", "grey_matter", "white_matter", "lateral_frontal",
                "medial_frontal", "medial_parietal", "parietal_lobe", "temporal_lobe", "inferior_temporal",
                "occipital_lobe", "insula", "corpus_callosum", "thalamus", "internal_capsule", "caudate", "putamen",
                "globus_pallidus", "cerebellum", "brainstem")
BRAIN = INTRACRANIAL[9:]
TERRITORY_LABELS = BRAIN[2:]
"""Brain labels that carry a territory of their own (Tatu 1998, template.TERRITORY_OF_REGION); the white matter
(11) takes the territory of the lobe above it, grey_matter (10) is cortex the atlas left unnamed."""
REQUIRED = ("scalp", "skull", "diploe", "subarachnoid_space", "lateral_ventricles", "white_matter", "lateral_frontal",
            "temporal_lobe", "occipital_lobe", "thalamus", "putamen", "caudate", "cerebellum", "brainstem")

ICV_SD_LIMIT = 3.5
"""Intracranial volume within 3.5 SD of the sex's mean (Buckner 2004, shape.ICV_ML), height ignored."""
BRAIN_FRACTION = (0.62, 0.93)
"""Brain parenchymal fraction (brain / intracranial volume): about 0.85-0.90 in young adults falling to about
0.70-0.75 at 80-90 (Vagberg et al., PLoS One 12:e0170300, 2017, review of BPF by age)."""
VENTRICLE_ML_AT_30 = 15.0
"""Lateral ventricles about 10-20 mL in young adults (Scahill 2003; Kaye et al. 1992)."""
VENTRICLE_FACTOR = (0.25, 4.0)
"""Accepted band around the age-expected volume (individual spread is wide: a factor 2 either way is common)."""
SKULL_MM = (3.0, 12.0)
"""Median calvarial thickness over a supratentorial slice (Lillie 2016: 4-10 mm; the squama thinner)."""
TERRITORY_SHARE = 0.9
"""At least 90 % of the brain carries a territory label or lies in white matter under one."""


def icv_range(sex: str | None) -> tuple[float, float]:
    mean, sd = ICV_ML.get(sex or "female", ICV_ML["female"])
    if sex is None:
        return ICV_ML["female"][0] - ICV_SD_LIMIT * ICV_ML["female"][1], ICV_ML["male"][0] + ICV_SD_LIMIT * ICV_ML["male"][1]
    return mean - ICV_SD_LIMIT * sd, mean + ICV_SD_LIMIT * sd


def ventricle_range(age_y: float | None) -> tuple[float, float]:
    expected = VENTRICLE_ML_AT_30 * ventricle_growth(age_y if age_y is not None else 50.0)
    return expected * VENTRICLE_FACTOR[0], expected * VENTRICLE_FACTOR[1]
