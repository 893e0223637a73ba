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


class HandFamily:
    name = "hand_pediatric"
    field_mm = (270.0, 60.0, 180.0)
    """(z, y, x) field a fixed cohort grid needs for every age 0-18 y (a tall 18-year-old's hand with the
    fingers spread and 45 mm of distal forearm); a 10-12 y cohort fits in about 220 x 50 x 140 mm."""
    scan_length_mm = field_mm[0]
    radiography = RadiographyField(field_mm=field_mm, voxel_mm=0.5, beams={"pa": "+y"}, default_view="pa",
                                   default_sid_mm=1000.0, detector_gap_mm=10.0, body_part="HAND", laterality="L",
                                   focal_spot="small", field_by_age=((12.0, (220.0, 50.0, 140.0)),))
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
