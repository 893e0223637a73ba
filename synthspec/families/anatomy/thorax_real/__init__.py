"""The `thorax_adult_real` anatomy family: an adult chest built on a real labelled chest CT.

    codes.py       structure codes (anatomy_thorax_real.synth) and the TotalSegmentator ids they come from
    priors.py      the development scan it is built from, with licence and attribution for the cohort card
    template.py    one template thorax on the scan's grid, derived once and cached: label codes, tissue shares
                   (lung, vessel, fat, air, bone), radial tables of cage, lean core and skin
    shape.py       per-subject variation: lung size by sex and height, muscle wall, fat by BMI and sex,
                   kyphosis by age, pose, a smooth random diffeomorphic deformation
    vessels.py     the peripheral vessel trees the scan's slices blur away, grown into each lobe
    breasts.py     women's breasts (the scan is a man's)
    build.py       `build_tissues`: sample the template through the subject's map onto the plan's grid

It covers a real chest CT's field (lower neck and shoulders to the upper abdomen, with the organs there).  The
acceptance checks are the procedural thorax's (families/anatomy/thorax/checks.py: lung and heart volume, lobar
shares, containment, connectivity, the lesion checks), which read the plan's label table by name.  Importing
this package loads no numpy.
"""

from __future__ import annotations

from pydantic import BaseModel

from synthspec.families.anatomy.thorax.references import ANATOMY_CHECKS, LESION_CHECKS


class ThoraxRealSettings(BaseModel):
    """What the build stage needs from the plan, lowered once from the stdlib."""

    tissues: list[str]
    label_ids: dict[str, int]
    label_tissue: dict[str, str]
    """Structure name -> its tissue in the plan's label table (which share class a label stands for)."""


class ThoraxRealFamily:
    name = "thorax_adult_real"
    scan_length_mm = 330.0
    """Cranio-caudal coverage: lower neck to the upper abdomen, as a chest CT's (about 30-35 cm; 132 slices of
    2.5 mm, one CT chunk at 512 pixels)."""
    patient_support = "couch"
    """CT: the body lies supine on the scanner couch (modality/ct/couch.py)."""
    layer_tissues = ("soft_tissue", "blood", "fat", "lung", "cancellous_bone", "air", "cortical_bone")
    """Tissues the partial-volume layers paint (every share a voxel's label does not stand for)."""
    not_drawn = ("pleura",)
    """The pleura is the lungs' surface (distance_to(pleura) is measured from the lung region's boundary)."""
    anatomy_checks = ANATOMY_CHECKS
    lesion_checks = LESION_CHECKS

    def lower(self, tissues: list[str], labels) -> dict:
        return ThoraxRealSettings(tissues=sorted(tissues), label_ids={e.name: e.id for e in labels},
                                  label_tissue={e.name: e.tissue for e in labels if e.kind == "anatomy"}).model_dump()

    def build(self, settings: dict, demographics, grid, rng):
        from synthspec.families.anatomy.thorax_real.build import build_tissues

        s = ThoraxRealSettings.model_validate(settings)
        by_id = {s.label_ids[n]: tissue for n, tissue in s.label_tissue.items() if n in s.label_ids}
        return build_tissues(demographics, grid, s.tissues, s.label_ids, by_id, rng)

    def assess(self, labels, lesion_mask, spacing, record: dict, plan):
        from synthspec.families.anatomy.thorax.checks import assess_subject

        return assess_subject(labels, lesion_mask, spacing, record, plan)

    def check(self, labels, lesion_mask, spacing, record: dict, plan) -> list[str]:
        return self.assess(labels, lesion_mask, spacing, record, plan).reasons

    def provenance(self) -> list[dict]:
        from synthspec.families.anatomy.thorax_real.priors import PRIOR_SOURCES

        return list(PRIOR_SOURCES)


FAMILY = ThoraxRealFamily()
