"""What blocks and fields exist, and what kind of value each field takes.

One table for cohort specs and for stdlib definitions alike, because users may
define scanners, tissues and pathologies in their own files in the same
language.  `elaborate` walks a block against this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldType:
    shape: str
    """quantity | range | dist | count | count_range | number | name | names | mix |
    quantities | text | path | date | bool"""
    dimension: str = "count"
    options: tuple[str, ...] | None = None
    """Fixed options for names / mix; None when resolved against the stdlib later."""
    refers_to: str | None = None
    """Registry a name resolves in: anatomy, scanner, pathology_kind, tissue, organ, agent."""
    required: bool = False
    low: float | None = None
    high: float | None = None
    """Domain of the value in canonical units (inclusive)."""


def q(dimension, **kw): return FieldType("quantity", dimension, **kw)
def qr(dimension, **kw): return FieldType("range", dimension, **kw)
def dist(dimension, **kw): return FieldType("dist", dimension, **kw)
def qs(dimension, **kw): return FieldType("quantities", dimension, **kw)
def count(**kw): return FieldType("count", **kw)
def count_range(**kw): return FieldType("count_range", **kw)
def number(**kw): return FieldType("number", **kw)
def name(options=None, **kw): return FieldType("name", options=tuple(options) if options else None, **kw)
def names(options=None, **kw): return FieldType("names", options=tuple(options) if options else None, **kw)
def mix(options=None, **kw): return FieldType("mix", options=tuple(options) if options else None, **kw)
def text(**kw): return FieldType("text", **kw)
def path(**kw): return FieldType("path", **kw)
def date(**kw): return FieldType("date", **kw)
def boolean(**kw): return FieldType("bool", **kw)


@dataclass(frozen=True)
class BlockSchema:
    fields: dict[str, FieldType]
    children: tuple[str, ...] = ()
    """Block kinds allowed inside."""
    named: bool = False
    """Whether the block takes a name (`pathology nodule { ... }`)."""
    repeatable: tuple[str, ...] = ()
    requires: bool = False
    """Whether `require` constraints may appear inside."""
    any_fields: bool = False
    """Free-form key: value pairs (appearance tables)."""
    doc: str = ""


MODALITIES = ("ct", "xray", "mri")
JOBS = ("detect", "segment", "classify")
SEXES = ("female", "male")
KERNELS = ("soft", "standard", "sharp", "lung", "bone")
SCANNER_SEQUENCES = ("spin_echo", "gradient_echo", "inversion_recovery", "flair", "diffusion")
"""Sequence families a scanner class lists under `sequences`."""
SEQUENCE_FAMILY = {"spin_echo": "spin_echo", "turbo_spin_echo": "spin_echo", "gradient_echo": "gradient_echo",
                   "inversion_prepared_gradient_echo": "gradient_echo", "inversion_recovery": "inversion_recovery",
                   "flair": "flair", "diffusion": "diffusion"}
"""A sequence `type` -> the scanner family that runs it (a turbo spin echo runs where spin echo does, an
inversion-prepared gradient echo where gradient echo does)."""
SEQUENCE_TYPES = tuple(SEQUENCE_FAMILY)
INVERSION_TYPES = ("inversion_recovery", "flair", "inversion_prepared_gradient_echo")
"""Sequence types that need (and alone take) an inversion time."""
ENCODINGS = ("multislice", "volume")
"""`sequence.encoding`: 2-D slices one at a time, or 3-D encoding of the whole slab (phase encoding along z too)."""
STRATA = ("sex", "age_band", "bmi_band", "scanner", "site")
MAX_SUBJECTS = 10_000_000
"""The most subjects one cohort may ask for (the spec's `subjects:` and `--subjects` alike)."""
FORMATS = ("dicom", "nifti", "masks", "png")
DICOM_SEG = ("lesions", "all", "none")
"""`output.dicom_seg`: a DICOM SEG beside each series with the lesion masks (default), lesions and anatomy, or none."""
DICOM_COMPRESSION = ("none", "jpeg_ls")
"""`output.dicom_compression`: the transfer syntax of written series, lossless only (why not deflate: ct/dicom.py)."""
VIEWS = ("pa", "ap", "lateral", "oblique")
TERRITORIES = ("ACA", "MCA", "PCA")
ATTACHMENTS = ("isolated", "juxta_pleural", "juxta_vascular", "perifissural")
SHORTCUT_TESTS = ("counterfactual", "lesion_mask", "artifact_swap", "scanner_swap")

PROTOCOL_COMMON = {
    "protocol": text(),
    "slice_thickness": q("length", low=0.01, high=100),
    "field_of_view": q("length", low=1, high=1000),
    "matrix": count(low=8, high=4096),
    "coverage": names(),
}

SCHEMAS: dict[str, BlockSchema] = {
    # ---- cohort spec -------------------------------------------------------------
    "cohort": BlockSchema(
        named=True,
        fields={
            "title": text(required=True),
            "description": text(),
            "subjects": count(required=True, low=1, high=MAX_SUBJECTS),
            "seed": count(required=True, low=0, high=2**63 - 1),
            "anatomy": name(refers_to="anatomy", required=True),
            "scanners": mix(refers_to="scanner", required=True),
            "voxel_size": q("length", low=0.05, high=20),
            "sampling_budget": count(low=1, high=1_000_000),
        },
        children=("task", "ct", "xray", "mri", "population", "pathology", "validate", "transfer",
                  "governance", "output", "debug"),
        repeatable=("pathology",),
        doc="One synthetic cohort: what to generate, how, for whom, and under which governance."),
    "task": BlockSchema(fields={
        "finding": name(refers_to="pathology_kind", required=True),
        "modality": name(MODALITIES, required=True),
        "job": name(JOBS, required=True),
        "target": text(),
    }, doc="The clinical imaging job the cohort serves."),
    "ct": BlockSchema(fields={
        **PROTOCOL_COMMON,
        "kv": q("voltage", required=True, low=1, high=1000),
        "mas": dist("charge", required=True, low=0.001, high=100_000),
        "kernel": name(KERNELS),
        "contrast": name(("none", "iodinated")),
        "phase": name(("non_contrast", "arterial", "portal_venous", "delayed")),
        "pitch": number(low=0.01, high=10),
        "views": count(low=8, high=100_000),
        "beam": name(("monochromatic", "polychromatic")),
        "thin_slices": q("length", low=0.1, high=50),
    }, doc="CT acquisition physics."),
    "xray": BlockSchema(fields={
        **PROTOCOL_COMMON,
        "kv": q("voltage", required=True, low=1, high=1000),
        "mas": dist("charge", required=True, low=0.001, high=100_000),
        "sid": q("length", low=10, high=10_000),
        "grid_ratio": number(low=0, high=40),
        "view": name(VIEWS),
        "detector_pixel": q("length", low=0.001, high=10),
    }, doc="Projection radiography physics."),
    "mri": BlockSchema(fields={
        **PROTOCOL_COMMON,
        "field_strength": q("field", required=True, low=0.001, high=100),
        "slice_gap": q("length", low=0, high=100),
    }, children=("sequence", "contrast"), repeatable=("sequence",), doc="MR acquisition: field strength, sequences, contrast."),
    "sequence": BlockSchema(named=True, fields={
        "type": name(SEQUENCE_TYPES, required=True),
        "tr": q("time", low=0.01, high=100_000),
        "te": q("time", low=0.001, high=10_000),
        "ti": q("time", low=0.01, high=100_000),
        "flip": q("angle", low=0.01, high=360),
        "b_values": qs("b_value", low=0, high=100_000),
        "post_contrast": boolean(),
        "encoding": name(ENCODINGS),
        "echo_train_length": count(low=1, high=1024),
    }, doc="One MR sequence."),
    "contrast": BlockSchema(fields={
        "agent": name(refers_to="agent", required=True),
        "dose": q("contrast_dose", required=True, low=0, high=100),
    }, doc="Contrast agent and dose."),
    "population": BlockSchema(fields={
        "age": dist("age", required=True, low=0, high=130),
        "sex": mix(SEXES),
        "height": dist("length", low=300, high=2800),
        "bmi": dist("bmi", low=5, high=100),
        "stratify": names(STRATA),
        "age_bands": qs("age", low=0, high=130),
        "min_per_stratum": count(low=1, high=10_000_000),
    }, doc="Who the synthetic subjects are."),
    "pathology": BlockSchema(named=True, requires=True, fields={
        "kind": name(refers_to="pathology_kind", required=True),
        "subtype": mix(),
        "diameter": dist("length", low=0.01, high=1000),
        "volume": dist("volume", low=0.0001, high=10_000),
        "location": mix(refers_to="organ"),
        "territory": mix(TERRITORIES),
        "attachment": mix(ATTACHMENTS),
        "onset": dist("time", low=0, high=1e12),
        "count": count_range(low=0, high=1000),
        "prevalence": q("fraction", required=True, low=0, high=1),
        "min_positives": count(low=1, high=10_000_000),
        "lobulation": dist("fraction", low=0, high=1),
        "spiculation": dist("fraction", low=0, high=1),
        "enhancement": boolean(),
    }, doc="One finding to insert, under clinical constraints."),
    "validate": BlockSchema(fields={
        "anatomy": boolean(),
        "reference": path(),
        "max_wasserstein": q("ct_number", low=0, high=10_000),
        "max_discriminator_auc": q("fraction", low=0, high=1),
        "shortcut_tests": names(SHORTCUT_TESTS),
        "reader_study": boolean(),
        "max_resamples": count(low=0, high=1000),
    }, doc="Checks run on the generated cohort."),
    "transfer": BlockSchema(fields={
        "data": path(required=True),
        "sites": names(),
        "held_out": names(),
        "metric": name(("auc", "dice", "sensitivity", "specificity", "froc")),
        "model": name(("unet", "densenet", "resnet", "swin_unetr")),
        "min_gain": q("fraction", low=-1, high=1),
    }, doc="Train on real vs real+synthetic, test on held-out real sites."),
    "governance": BlockSchema(fields={
        "purpose": names(refers_to="purpose", required=True),
        "claims": names(refers_to="claim"),
        "prohibit": names(refers_to="prohibited_use"),
        "approved_by": text(),
        "approval": text(),
        "expires": date(),
        "real_confirmation": name(("required", "done", "not_required")),
    }, doc="Where this synthetic cohort may and may not be used."),
    "output": BlockSchema(fields={
        "formats": names(FORMATS),
        "dir": path(),
        "masks": boolean(),
        "dicom_seg": name(DICOM_SEG),
        "dicom_compression": name(DICOM_COMPRESSION),
    }, doc="What is written and where."),
    "debug": BlockSchema(fields={
        "planted_shortcut": boolean(),
        "marker_strength": q("fraction", low=0, high=1),
    }, doc="Test-only switches; never for cohorts that leave the lab."),
    # ---- stdlib definitions ------------------------------------------------------
    "anatomy": BlockSchema(named=True, fields={
        "description": text(),
        "ages": qr("age", required=True, low=0, high=130),
        "pediatric": boolean(),
        "regions": names(),
        "body_width": q("length", low=1, high=1000),
        "body_depth": q("length", low=1, high=1000),
        "reference_height": q("length", low=300, high=2800),
        "source": text(),
    }, children=("organ", "territory"), repeatable=("organ", "territory"), doc="An anatomy family."),
    "organ": BlockSchema(named=True, fields={
        "label": count(required=True, low=1, high=65535),
        "tissue": name(refers_to="tissue", required=True),
        "group": name(),
        "region": name(),
        "size": q("length", low=0.01, high=1000),
        "volume": qr("volume", low=0, high=100_000),
        "closes": qr("age", low=0, high=130),
        "closes_female": qr("age", low=0, high=130),
        "closes_male": qr("age", low=0, high=130),
        "contains": names(),
    }, doc="One labelled structure of an anatomy family."),
    "territory": BlockSchema(named=True, fields={"covers": names(required=True), "description": text()},
                             doc="A vascular territory and the structures it supplies."),
    "tissue": BlockSchema(named=True, fields={
        "hu": qr("ct_number", low=-1100, high=4000),
        "hu_typical": q("ct_number", low=-1100, high=4000),
        "density": q("density", low=0, high=30),
        "pd": number(low=0, high=1.5),
        "t1_1p5t": qr("time", low=0, high=10_000), "t2_1p5t": qr("time", low=0, high=10_000),
        "t1_3t": qr("time", low=0, high=10_000), "t2_3t": qr("time", low=0, high=10_000),
        "adc": qr("diffusivity", low=0, high=5),
        "source": text(required=True),
    }, doc="Physical properties of a tissue, with the source of each number."),
    "scanner": BlockSchema(named=True, fields={
        "modality": name(MODALITIES, required=True),
        "description": text(),
        "kv": qs("voltage", low=1, high=1000),
        "kv_range": qr("voltage", low=1, high=1000),
        "mas": qr("charge", low=0, high=100_000),
        "slice_thickness": qr("length", low=0, high=100),
        "field_of_view": q("length", low=1, high=1000),
        "detector_pixel": q("length", low=0.001, high=10),
        "kernels": names(KERNELS),
        "noise_factor": number(low=0, high=100),
        "electronic_noise": number(low=0, high=1e6),
        "mtf50": q("spatial_frequency", low=0, high=100),
        "field_strength": q("field", low=0.001, high=100),
        "sequences": names(SCANNER_SEQUENCES),
        "max_b": q("b_value", low=0, high=100_000),
        "coil_bias": q("fraction", low=0, high=1),
        "snr": number(low=0, high=10_000),
        "grid_ratios": qs("count", low=0, high=40),
        "sid": qr("length", low=0, high=10_000),
        "note": text(required=True),
    }, doc="A scanner class profile (an approximation, never a vendor's model)."),
    "agent": BlockSchema(named=True, fields={
        "kind": name(("gadolinium", "iodinated"), required=True),
        "r1_1p5t": q("relaxivity", low=0, high=100), "r1_3t": q("relaxivity", low=0, high=100),
        "standard_dose": q("contrast_dose", low=0, high=10),
        "source": text(required=True),
    }, doc="A contrast agent."),
    "pathology_kind": BlockSchema(named=True, fields={
        "description": text(),
        "families": names(refers_to="anatomy", required=True),
        "locations": names(required=True),
        "subtypes": names(),
        "attachments": names(ATTACHMENTS),
        "diameter": qr("length", low=0, high=1000),
        "volume": qr("volume", low=0, high=10_000),
        "ages": qr("age", low=0, high=130),
        "visible_in": names(MODALITIES, required=True),
        "needs_contrast": boolean(),
        "displaces": boolean(),
        # true for space-occupying collections (subdural, epidural) that grow by pushing the
        # neighbouring structures aside, so the host structure's `size` does not bound them
        "territories": names(TERRITORIES),
        "co_occurs": names(),
        "source": text(),
    }, children=("appearance",), repeatable=("appearance",), doc="A pathology the generator can insert."),
    "appearance": BlockSchema(named=True, any_fields=True, fields={}, doc="How a finding looks in one modality."),
    "governance_vocabulary": BlockSchema(named=True, fields={
        "purposes": names(required=True),
        "prohibited": names(required=True),
        "claims": names(required=True),
        "claims_need_real_confirmation": names(),
        "safety_critical": names(),
    }, doc="Allowed purposes, prohibited uses and claims that need real data."),
}

TOP_LEVEL = ("cohort", "anatomy", "tissue", "scanner", "agent", "pathology_kind", "governance_vocabulary")
DEFINITION_KINDS = TOP_LEVEL[1:]
