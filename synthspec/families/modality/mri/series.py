"""What each image channel of an MR subject is, as plain values: its sequence, role and the facts its files state.

Role: the link between the plan's MR acquisition settings and the MR writers (`mri/dicom.py`, `mri/bids.py`).
`channel_facts(settings)` reads `settings["sequences"]` (name, type, tr_ms, te_ms, ti_ms, flip_deg, b_values,
post_contrast, partial_fourier, encoding, and optionally echo_train_length), `settings["field_strength_t"]` and `settings["contrast"]`
(agent, dose) and names each channel as the MR modality does:

* a structural sequence `s`: channel `s` (role `structural`);
* a diffusion sequence `s` with b-values b0 < b1 < ...: `s_b0` (the lowest b, role `b0`), `s_b<int b>` for
  each higher b (role `trace`: the isotropic trace image), and `s_adc` (role `adc`, a derived map in
  1e-6 mm^2/s).

`sequence_codes` gives the DICOM ScanningSequence / SequenceVariant / MRAcquisitionType of a sequence type
(PS3.3 C.8.3.1 defined terms).  Nothing here reads pixels or writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass

GYROMAGNETIC_MHZ_PER_T = 42.577478
"""gamma / 2 pi of the 1H nucleus in MHz/T (CODATA 2018: 42.577 478 518 MHz/T): ImagingFrequency = this * B0."""
GADOLINIUM_MG_PER_MMOL = 157.25
"""Standard atomic weight of gadolinium (IUPAC): mg of Gd per mmol, for ContrastBolusIngredientConcentration."""
AGENT_CONCENTRATION_MMOL_PER_ML = {"gadobutrol": 1.0, "gadoterate": 0.5}
"""Formulation strength of the stdlib gadolinium agents: Gadovist/Gadavist 1.0 mmol/mL (gadobutrol SmPC),
Dotarem 0.5 mmol/mL (gadoterate meglumine SmPC).  An agent not listed gets no volume in ml
(ContrastBolusTotalDose is then left out; the dose in mmol/kg stays in the sidecar)."""
DIFFUSION_TYPES = ("diffusion",)
ROLES = ("structural", "b0", "trace", "adc")


@dataclass(frozen=True)
class SequenceFacts:
    name: str
    type: str
    tr_ms: float | None = None
    te_ms: float | None = None
    ti_ms: float | None = None
    flip_deg: float | None = None
    b_values: tuple[float, ...] = ()
    post_contrast: bool = False
    echo_train_length: int | None = None
    partial_fourier: float | None = None
    """Share of the phase-encode lines acquired asymmetrically (< 1: partial Fourier)."""
    encoding: str | None = None
    """"volume" (3-D encoded) or "multislice" (2-D); None: the type's default (gradient echoes 3-D)."""

    @property
    def volume(self) -> bool:
        if self.encoding is not None:
            return self.encoding == "volume"
        return self.type in ("gradient_echo", "inversion_prepared_gradient_echo")

    @property
    def diffusion(self) -> bool:
        return self.type in DIFFUSION_TYPES or bool(self.b_values)


@dataclass(frozen=True)
class ContrastFacts:
    agent: str
    dose_mmol_kg: float | None = None
    kind: str = "gadolinium"

    @property
    def concentration_mmol_ml(self) -> float | None:
        return AGENT_CONCENTRATION_MMOL_PER_ML.get(self.agent)

    def volume_ml(self, weight_kg: float | None) -> float | None:
        """The injected volume of the formulation: dose (mmol/kg) x weight / concentration; None when unknown."""
        conc = self.concentration_mmol_ml
        if conc is None or self.dose_mmol_kg is None or not weight_kg:
            return None
        return float(self.dose_mmol_kg) * float(weight_kg) / conc


@dataclass(frozen=True)
class ChannelFacts:
    channel: str
    sequence: SequenceFacts
    role: str = "structural"
    b_value: float | None = None
    """s/mm^2: the channel's b-value (b0, trace); for `adc` the highest b it was computed with."""


def _number(value) -> float | None:
    return None if value is None else float(value)


def sequence_facts(entry: dict) -> SequenceFacts:
    """One entry of settings["sequences"] as plain values."""
    get = entry.get if isinstance(entry, dict) else (lambda k, d=None: getattr(entry, k, d))
    etl = get("echo_train_length", None)
    if str(get("type")) == "inversion_prepared_gradient_echo":
        etl = 1   # one gradient echo per readout pulse; the plan's value is the pulses per inversion (signal.py)
    return SequenceFacts(name=str(get("name")), type=str(get("type")), tr_ms=_number(get("tr_ms", None)),
                         te_ms=_number(get("te_ms", None)), ti_ms=_number(get("ti_ms", None)),
                         flip_deg=_number(get("flip_deg", None)),
                         b_values=tuple(sorted(float(b) for b in (get("b_values", None) or ()))),
                         post_contrast=bool(get("post_contrast", False)),
                         echo_train_length=None if etl is None else int(etl),
                         partial_fourier=_number(get("partial_fourier", None)),
                         encoding=get("encoding", None))


def contrast_facts(settings: dict) -> ContrastFacts | None:
    """settings["contrast"] (agent name, dose in mmol/kg) as plain values; None without contrast."""
    contrast = settings.get("contrast") if isinstance(settings, dict) else getattr(settings, "contrast", None)
    if not contrast:
        return None
    get = contrast.get if isinstance(contrast, dict) else (lambda k, d=None: getattr(contrast, k, d))
    agent = get("agent", None) or get("name", None)
    if not agent:
        return None
    dose = get("dose_mmol_kg", None)
    if dose is None:
        dose = get("dose", None)
    return ContrastFacts(agent=str(agent), dose_mmol_kg=_number(dose), kind=str(get("kind", None) or "gadolinium"))


def channel_facts(settings: dict) -> dict[str, ChannelFacts]:
    """Every image channel of a plan's MR settings, in the modality's order (sequence order, then b0, traces,
    adc within a diffusion sequence)."""
    sequences = settings.get("sequences") if isinstance(settings, dict) else getattr(settings, "sequences", None)
    out: dict[str, ChannelFacts] = {}
    for entry in sequences or ():
        seq = sequence_facts(entry)
        if not seq.diffusion:
            out[seq.name] = ChannelFacts(seq.name, seq)
            continue
        if not seq.b_values:
            raise ValueError(f"diffusion sequence {seq.name!r} has no b-values")
        out[f"{seq.name}_b0"] = ChannelFacts(f"{seq.name}_b0", seq, "b0", seq.b_values[0])
        for b in seq.b_values[1:]:
            name = f"{seq.name}_b{int(round(b))}"
            out[name] = ChannelFacts(name, seq, "trace", b)
        out[f"{seq.name}_adc"] = ChannelFacts(f"{seq.name}_adc", seq, "adc", seq.b_values[-1])
    return out


def field_strength(settings: dict) -> float:
    value = settings.get("field_strength_t") if isinstance(settings, dict) else getattr(settings, "field_strength_t")
    return float(value)

def weight_kg(params) -> float | None:
    """Weight from the sampled height and BMI (BMI = kg / m^2); None when either is missing."""
    height, bmi = getattr(params, "height_mm", None), getattr(params, "bmi", None)
    if not height or not bmi:
        return None
    return float(bmi) * (float(height) / 1000.0) ** 2


def sequence_codes(seq: SequenceFacts) -> tuple[list[str], list[str], str]:
    """(ScanningSequence, SequenceVariant, MRAcquisitionType) of a sequence type.

    ScanningSequence: SE spin echo, IR inversion recovery, GR gradient recalled, EP echo planar.
    SequenceVariant: SK segmented k-space (a multi-echo train), SP spoiled, MP magnetisation prepared,
    NONE.  MRAcquisitionType from the encoding: 3D for a volume sequence (gradient echoes by default, a 3-D TSE or
    FLAIR when the spec asks), else 2D."""
    t = seq.type
    dims = "3D" if seq.volume else "2D"
    if seq.diffusion:
        return ["EP", "SE"], ["SK"], "2D"                   # single-shot spin-echo EPI
    if t == "spin_echo":
        return ["SE"], ["NONE"], dims
    if t == "turbo_spin_echo":
        return ["SE"], ["SK"], dims
    if t in ("flair", "inversion_recovery"):
        return ["SE", "IR"], ["SK", "MP"], dims             # inversion-prepared turbo spin echo
    if t == "gradient_echo":
        return ["GR"], ["SP"], dims
    if t == "inversion_prepared_gradient_echo":
        return ["GR", "IR"], ["SK", "SP", "MP"], dims
    raise ValueError(f"no DICOM scanning sequence for MR sequence type {t!r}")


PHASE_DIRECTIONS = {"LR": "ROW", "RL": "ROW", "AP": "COL", "PA": "COL"}
"""The plan's phase-encoding direction (patient axes) -> InPlanePhaseEncodingDirection of an axial LPS image,
whose rows run right -> left and columns anterior -> posterior."""


def phase_direction(value) -> str | None:
    return PHASE_DIRECTIONS.get(str(value).upper()) if value else None


def inversion(seq: SequenceFacts) -> bool:
    return "IR" in sequence_codes(seq)[0]


def image_type(role: str) -> list[str]:
    """ImageType: ORIGINAL\\PRIMARY\\OTHER for a magnitude image (structural, b0: the MR Image module requires a
    value 3, and none of its defined terms names an original magnitude image); a trace image (a combination of three
    directions) DERIVED\\PRIMARY\\OTHER\\TRACEW and the ADC map DERIVED\\PRIMARY\\DIFFUSION MAP\\ADC: value 3
    from the MR Image module's defined terms (PS3.3 C.8.3.1.1.1), value 4 the vendor term dcm2niix recognises."""
    return {"structural": ["ORIGINAL", "PRIMARY", "OTHER"], "b0": ["ORIGINAL", "PRIMARY", "OTHER"],
            "trace": ["DERIVED", "PRIMARY", "OTHER", "TRACEW"],
            "adc": ["DERIVED", "PRIMARY", "DIFFUSION MAP", "ADC"]}[role]
