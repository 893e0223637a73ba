"""One body without a plan: the stdlib's thorax with lesions, rendered to CT numbers.

For tests, benchmarks and notebooks that want the anatomy and pathology stages on a grid of
their own choosing: `build_body` runs the same family code `generate_subject` runs, with the
stdlib's label and tissue tables, and renders the noiseless CT truth.  It writes nothing and
applies no acceptance re-draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synthspec.families import registry
from synthspec.families.base import Demographics, InsertedLesion, LesionParams, TissueScene
from synthspec.families.grid import Grid


@lru_cache(maxsize=4)
def stdlib_tables(anatomy: str = "thorax_adult"):
    """(labels, tissue HU table, tissue names) of the stdlib, as the planner lowers them."""
    from synthspec.compiler.resolve import stdlib
    from synthspec.plan.lower import stdlib_tables as lowered

    labels, tissue_hu, tissues = lowered(stdlib()[0], anatomy, registry.anatomy(anatomy).not_drawn)
    return labels, tissue_hu, sorted(tissues)


@dataclass
class Body:
    hu: np.ndarray            # float32 noiseless CT numbers
    labels: np.ndarray
    lesion_mask: np.ndarray
    lesions: list[InsertedLesion]
    rejected: list[str]
    lung: np.ndarray          # bool lung region (parenchyma and its vessels): distance_to(pleura) is from its edge
    scene: TissueScene


def build_body(demographics: Demographics, grid: Grid, lesions: list[LesionParams], anatomy_rng: np.random.Generator,
               lesion_rng: np.random.Generator, with_pathology: bool = True, max_attempts: int = 200,
               anatomy: str = "thorax_adult") -> Body:
    labels, tissue_hu, tissues = stdlib_tables(anatomy)
    family = registry.anatomy(anatomy)
    scene = family.build(family.lower(tissues, labels), demographics, grid, anatomy_rng)
    if with_pathology:
        for kind in dict.fromkeys(l.kind for l in lesions):
            registry.pathology(kind).insert(scene, grid, [l for l in lesions if l.kind == kind], lesion_rng, labels,
                                            max_attempts)
    from synthspec.families.modality.ct.render import render_hu

    bones = tuple(e.id for e in labels if e.tissue in ("cancellous_bone", "cortical_bone"))
    hu = render_hu(scene, {e.id: e.tissue for e in labels}, tissue_hu, bones)
    return Body(hu=hu, labels=scene.labels, lesion_mask=scene.lesion_mask, lesions=list(scene.lesions),
                rejected=list(scene.rejected), lung=scene.geometry.get("lung"), scene=scene)


def pleura_distance_mm(lung: np.ndarray, spacing) -> np.ndarray:
    """Distance (mm) from each lung voxel centre to the nearest voxel outside the lung (0 outside).

    The grid's own faces are not pleura (a scan that cuts the lungs does not make a surface)."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(lung, sampling=tuple(float(s) for s in spacing)).astype(np.float32)
