"""The `head_adult` anatomy family: an adult head built on real brain templates.

    priors.py      the templates, fetched on demand and cached: MNI ICBM152 2009a grey and white matter
                   probability maps (nilearn wheel), the Colin27 head and the AAL atlas (Debian mricron-data)
    template.py    one template head in MNI space, built once per process from the priors: tissue
                   probabilities, structure ids, territories, skull, scalp, meninges, air spaces
    shape.py       per-subject variation: head size by sex and height, atrophy by age, a smooth random
                   diffeomorphic deformation (the subject -> template map)
    build.py       `build_tissues`: sample the template through the subject's map onto the plan's grid
    references.py  reference values the acceptance checks judge against, with sources
    checks.py      acceptance checks of one subject

Scene contract (what pathologies may rely on, `scene.geometry`):
    intracranial  bool [Z,Y,X]   inside the skull's inner table (brain, CSF spaces, meninges)
    brain         bool           parenchyma: cerebrum, deep grey, cerebellum, brainstem
    region        uint8          for every brain voxel the stdlib id of its lobe or structure (20-27 lobes,
                                 28 corpus callosum, 31 thalamus, 32 internal capsule, 33-35 caudate, putamen,
                                 globus pallidus, 40 cerebellum, 41 brainstem); 0 elsewhere.  White-matter
                                 voxels carry the lobe they lie under (labels say white_matter)
    territory     uint8          arterial territory of every brain voxel: TERRITORY_CODES below
    skull         bool           the bony calvarium and skull base (tables and diploe)
    suture        uint8          on skull voxels: SUTURE_CODES below (0 = no suture)
    side          int8           -1 right, +1 left hemisphere (LPS x > midline is left), 0 on the midline plane
    midline_x_mm  float          x of the mid-sagittal plane in the grid's centred frame

Importing this package loads no numpy: the registry and `synth plan` may import it cheaply.
"""

from __future__ import annotations

from pydantic import BaseModel

from synthspec.families.base import Window

TERRITORY_CODES = {"ACA": 1, "MCA": 2, "PCA": 3, "lenticulostriate": 4, "posterior_circulation": 5}
"""Arterial territories as codes of `geometry['territory']`; lenticulostriate is the deep MCA territory (basal
ganglia, internal capsule), posterior circulation the vertebrobasilar one (cerebellum, brainstem)."""
SUTURE_CODES = {"coronal": 1, "sagittal": 2, "lambdoid": 3, "squamosal": 4}


class HeadSettings(BaseModel):
    """What the build stage needs from the plan, lowered once from the stdlib."""

    tissues: list[str]
    label_ids: dict[str, int]


class HeadFamily:
    name = "head_adult"
    scan_length_mm = 175.0
    """Cranio-caudal coverage: from below the foramen magnum to the vertex, with margin."""
    layer_tissues = ("csf", "grey_matter", "white_matter", "cortical_bone", "cancellous_bone", "soft_tissue", "air")
    """Tissues the partial-volume layers paint (the templates' probabilities mix tissues in a voxel)."""
    not_drawn = ("basal_ganglia",)
    """The stdlib's basal_ganglia is drawn as its nuclei (caudate, putamen, globus pallidus)."""
    realism_reference = "head_ct"
    """Realism is judged against the held-out real head CT (Debian invesalius-examples)."""
    ct_windows = (Window("brain", 80.0, 40.0), Window("subdural", 200.0, 75.0), Window("bone", 2800.0, 600.0))
    """Display presets of head CT (PHYSICS.md, Head CT)."""

    @property
    def anatomy_checks(self):
        from synthspec.families.anatomy.head.references import ANATOMY_CHECKS

        return ANATOMY_CHECKS

    @property
    def lesion_checks(self):
        from synthspec.families.anatomy.head.references import LESION_CHECKS

        return LESION_CHECKS

    def lower(self, tissues: list[str], labels) -> dict:
        return HeadSettings(tissues=sorted(tissues), label_ids={e.name: e.id for e in labels}).model_dump()

    def build(self, settings: dict, demographics, grid, rng):
        from synthspec.families.anatomy.head.build import build_tissues

        s = HeadSettings.model_validate(settings)
        return build_tissues(demographics, grid, s.tissues, s.label_ids, rng)

    def assess(self, labels, lesion_mask, spacing, record: dict, plan):
        from synthspec.families.anatomy.head.checks import assess_subject

        return assess_subject(labels, lesion_mask, spacing, record, plan)

    def check(self, labels, lesion_mask, spacing, record: dict, plan) -> list[str]:
        return self.assess(labels, lesion_mask, spacing, record, plan).reasons

    def provenance(self) -> list[dict]:
        """The priors this family was built from, with licence and attribution, for the cohort card."""
        from synthspec.families.anatomy.head.priors import PRIOR_SOURCES

        return list(PRIOR_SOURCES)


FAMILY = HeadFamily()
