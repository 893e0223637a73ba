"""The `thorax_adult` anatomy family: a procedural adult chest built as tissues.

    shape.py       body size from demographics, every random proportion (step 1 of the build)
    classify.py    analytic classification of every voxel (body layers, bones, heart, lungs, lobes)
    vessels.py     mediastinal tubes and the pulmonary vessel trees
    codes.py       the builder's structure codes (mapped to the plan's label table by name)
    build.py       `build_tissues`: the whole build, returning a TissueScene
    references.py  reference values the acceptance checks judge against, with sources
    checks.py      acceptance checks of one subject (the re-draw loop and `synth validate` use them)

Importing this package loads no numpy: the registry and `synth plan` may import it cheaply.
"""

from __future__ import annotations

from pydantic import BaseModel

from synthspec.families.anatomy.thorax.references import ANATOMY_CHECKS, LESION_CHECKS
from synthspec.families.base import RadiographyField


class ThoraxSettings(BaseModel):
    """What the build stage needs from the plan, lowered once from the stdlib."""

    tissues: list[str]
    """Every tissue the stdlib names, in sorted order: the subject draws one quantile per tissue."""
    label_ids: dict[str, int]
    """Structure name -> id in the plan's label table."""


class ThoraxFamily:
    name = "thorax_adult"
    scan_length_mm = 300.0
    patient_support = "couch"
    """CT: the body lies supine on the scanner couch (modality/ct/couch.py)."""
    """Cranio-caudal coverage of the grid: lung apices to the diaphragm with margin."""
    radiography = RadiographyField(field_mm=(300.0, 450.0, 450.0), voxel_mm=2.0, beams={"pa": "-y", "ap": "+y"},
                                   default_view="pa", default_sid_mm=1800.0, detector_gap_mm=30.0, body_part="CHEST",
                                   focal_spot="large")
    """A chest radiograph: PA at 180 cm with the chest against the detector (PHYSICS.md, Radiography); the phantom
    covers the CT field (the largest subjects, 190 cm at BMI 35, fit 450 mm) at 2 mm voxels."""
    layer_tissues = ("soft_tissue", "air", "blood", "cortical_bone")
    """Tissues the partial-volume layers paint (fissures and airway walls, lumens, vessels, the cortex)."""
    not_drawn = ("pleura",)
    """Structures the stdlib declares that the builder does not label (the pleura is the lung's surface)."""
    anatomy_checks = ANATOMY_CHECKS
    """Checks of the anatomy alone: a failure calls for a new anatomy draw."""
    lesion_checks = LESION_CHECKS
    """Checks of the lesions: a failure re-draws only the lesions, so a twin keeps its anatomy."""

    def lower(self, tissues: list[str], labels) -> dict:
        return ThoraxSettings(tissues=sorted(tissues), label_ids={e.name: e.id for e in labels}).model_dump()

    def build(self, settings: dict, demographics, grid, rng):
        from synthspec.families.anatomy.thorax.build import build_tissues

        s = ThoraxSettings.model_validate(settings)
        return build_tissues(demographics, grid, s.tissues, s.label_ids, rng)

    def assess(self, labels, lesion_mask, spacing, record: dict, plan):
        """Every acceptance check on one subject, with measurements (`SubjectAnatomy`)."""
        from synthspec.families.anatomy.thorax.checks import assess_subject

        return assess_subject(labels, lesion_mask, spacing, record, plan)

    def check(self, labels, lesion_mask, spacing, record: dict, plan) -> list[str]:
        """Failure reasons of one subject (empty = it passes); each starts with its check's name."""
        return self.assess(labels, lesion_mask, spacing, record, plan).reasons


FAMILY = ThoraxFamily()
