"""The `hand_pediatric` anatomy family: a procedural child's hand and wrist (left, PA) built as tissues.

    references.py  norms with sources: hand growth, bone proportions, ossification and closure ages,
                   cortical thickness; the check names
    shape.py       every random proportion and the placement of each bone (step 1 of the build)
    build.py       `build_tissues`: rasterise bones, cartilage and soft tissue, returning a TissueScene
    checks.py      acceptance checks of one subject (the re-draw loop and `synth validate` use them)

Frame (a LEFT hand, palm down): z the hand's long axis (fingertips +z), x ulnar (-x, little finger)
to radial (+x, thumb), y depth with the dorsum at -y (tube side) and the palm at +y (detector side);
the PA beam travels +y.
Importing this package loads no numpy: the registry and `synth plan` may import it cheaply.
"""

from __future__ import annotations

from pydantic import BaseModel

from synthspec.families.anatomy.hand.references import ANATOMY_CHECKS, LESION_CHECKS
from synthspec.families.base import RadiographyField


class HandSettings(BaseModel):
    """What the build stage needs from the plan, lowered once from the stdlib."""

    tissues: list[str]
    """Every tissue the stdlib names, sorted: the subject draws one quantile per tissue."""
    label_ids: dict[str, int]
    """Structure name -> id in the plan's label table."""


FIELD_BY_AGE = ((6.0, (225.0, 50.0, 145.0)), (10.0, (255.0, 56.0, 170.0)), (14.0, (290.0, 64.0, 200.0)))
"""Phantom fields (z, y, x mm) for cohorts whose oldest child is at most the given age: the largest hand of 400
draws per sex at a height 2.5 SD above the age's median (WHO / CDC), fingers spread, 45 mm of forearm and the
build's margin (`benchmarks/xray_figures.py --only fields` prints them); older cohorts take `field_mm`."""


class HandFamily:
    name = "hand_pediatric"
    pediatric = True
    """Without `height` in the spec, the sampler draws a child's height for its age (WHO / CDC growth charts)."""
    field_mm = (305.0, 68.0, 210.0)
    """(z, y, x) field a fixed cohort grid needs for every age 0-18 y: the largest of 400 hands per sex of an
    18-year-old 2.5 SD above the median height, fingers spread, with 45 mm of distal forearm."""
    scan_length_mm = field_mm[0]
    radiography = RadiographyField(field_mm=field_mm, voxel_mm=0.6, beams={"pa": "+y"}, default_view="pa",
                                   default_sid_mm=1000.0, detector_gap_mm=10.0, body_part="HAND", laterality="L",
                                   focal_spot="small", field_by_age=FIELD_BY_AGE)
    """A left hand PA for bone age (Greulich-Pyle convention): dorsum at -y toward the tube, the palm on the
    detector at +y, SID 100 cm (PHYSICS.md, Radiography).  The hand is centred in the 60 mm depth, so its
    palm lies some 5-10 mm inside the phantom's +y face; the gap adds the cassette cover."""
    layer_tissues = ("cancellous_bone", "cortical_bone", "cartilage", "soft_tissue", "air")
    """Tissues the partial-volume layers paint (medulla, carpal rims, physeal faces, bone and skin edges)."""
    not_drawn = ()
    anatomy_checks = ANATOMY_CHECKS
    """Checks of the anatomy alone: a failure calls for a new anatomy draw."""
    lesion_checks = LESION_CHECKS
    """Checks of the lesions: a failure re-draws only the lesions, so a twin keeps its anatomy."""

    def lower(self, tissues: list[str], labels) -> dict:
        return HandSettings(tissues=sorted(tissues), label_ids={e.name: e.id for e in labels}).model_dump()

    def build(self, settings: dict, demographics, grid, rng):
        from synthspec.families.anatomy.hand.build import build_tissues

        s = HandSettings.model_validate(settings)
        return build_tissues(demographics, grid, s.tissues, s.label_ids, rng)

    def assess(self, labels, lesion_mask, spacing, record: dict, plan):
        """Every acceptance check on one subject, with measurements (`SubjectAnatomy`)."""
        from synthspec.families.anatomy.hand.checks import assess_subject

        return assess_subject(labels, lesion_mask, spacing, record, plan)

    def check(self, labels, lesion_mask, spacing, record: dict, plan) -> list[str]:
        """Failure reasons of one subject (empty = it passes); each starts with its check's name."""
        return self.assess(labels, lesion_mask, spacing, record, plan).reasons


FAMILY = HandFamily()
