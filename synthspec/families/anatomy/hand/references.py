"""The paediatric hand's norms: growth, proportions, ossification, physeal closure, cortex, with sources.

Role: every number the hand builder draws around (shape.py) and the acceptance checks judge
against (checks.py), in one place, each with its source.  It draws nothing and measures
nothing.  All values are approximations for a procedural phantom, rounded from the cited
tables and atlases; they are not a clinical standard.

Checks (each name is the prefix of its failure reasons):

    labels_present   every label the subject's age calls for is drawn (carpals only once one
                     has ossified; physes as long as one of their group is open)
    field_of_view    no bone or cartilage touches a face of the grid (the radius and ulna shafts
                     may leave through the proximal -z face: the forearm is cut there)
    bone_count       the metacarpal label holds five shafts
    bone_length      the 3rd metacarpal's radiographic length within the age/sex range
    carpal_count     ossified carpals consistent with age and sex (onset table below)
    physes           physes open before their closure range, fused after it
    lesion_record    the lesion mask and the subject's lesion records agree
    lesion_site      rickets lesions lie at physes (cartilage or the metaphysis next to it)
"""

from __future__ import annotations

import math

ANATOMY_CHECKS = ("labels_present", "field_of_view", "bone_count", "bone_length", "carpal_count", "physes")
"""Checks of the anatomy alone: a failure calls for a new anatomy draw."""
LESION_CHECKS = ("lesion_record", "lesion_site")
"""Checks of the lesions: a failure re-draws only the lesions (the twin keeps its anatomy)."""
CHECKS = ANATOMY_CHECKS + LESION_CHECKS

LABEL_NAMES = ("soft_tissue", "subcutaneous_fat", "radius", "ulna", "carpals", "metacarpals", "proximal_phalanges",
               "middle_phalanges", "distal_phalanges", "unossified_cartilage", "distal_radius_physis",
               "distal_ulna_physis", "metacarpal_physes", "phalangeal_physes")
"""Structures of anatomy_hand.synth the builder draws (mapped by name to the plan's label ids)."""

# ---------------------------------------------------------------------------------------------
# size

def hand_length_ratio(age_y: float) -> float:
    """Hand length (distal wrist crease to the tip of the middle finger) / stature.

    Adults 0.108 (Drillis & Contini 1966, Body segment parameters, NYU report 1166-03; the
    segment table reprinted in Winter, Biomechanics and Motor Control of Human Movement);
    young children's hands are relatively longer: about 0.113 at 1-2 y falling to the adult
    value by 12 y (Snyder et al. 1977, Anthropometry of infants, children and youths to age 18,
    SAE SP-450: hand length ~85 mm at 1 y / 75 cm, ~145 mm at 10 y / 139 cm)."""
    return 0.108 + 0.005 * min(max((12.0 - age_y) / 11.0, 0.0), 1.0)


HAND_LENGTH_CV = 0.035
"""Between-subject CV of hand length at a given stature (Snyder 1977: SDs ~4-5 % of the mean, part of
which is stature)."""

MC3_PER_HAND_LENGTH = 1.0 / 3.05
"""3rd metacarpal length / hand length: the distal wrist crease lies at the radiocarpal joint, so the
hand length spans the carpal height (0.54), MC3 (1.0), the proximal, middle and distal phalanges
(0.69 + 0.43 + 0.28), three joint spaces and the fingertip pulp: about 3.05 MC3 lengths (the
proportions below; Youm et al. 1978 for the carpus).  Adult men: 190 mm / 3.05 = 62 mm (Garn: 65)."""

# Bone lengths relative to MC3, from the adult means of the metacarpophalangeal pattern
# profile standards (Garn, Hertzog, Poznanski & Nagy, Radiology 1972;105:375; Poznanski,
# The Hand in Radiologic Diagnosis, 2nd ed. 1984, table of 19 tubular bone lengths), rounded.
# The pattern is nearly constant from 2 y to adulthood (that is why MCPP profiles work).
MC_RATIO = (0.71, 1.05, 1.00, 0.88, 0.82)
PP_RATIO = (0.48, 0.62, 0.69, 0.65, 0.51)
MP_RATIO = (None, 0.35, 0.43, 0.40, 0.28)
DP_RATIO = (0.35, 0.26, 0.28, 0.28, 0.25)
BONE_LENGTH_CV = 0.03
"""Per-bone length jitter around the pattern (MCPP profile SDs ~ 0.5-1 z, Garn 1972)."""

CARPAL_HEIGHT_RATIO = 0.54
"""Carpal height / MC3 length (Youm, McMurtry, Flatt & Gillespie, J Bone Joint Surg Am 1978;60:423: 0.54 +- 0.03)."""

# 3rd metacarpal length (mm, whole bone incl. epiphysis) by age, Garn et al. 1972 / Poznanski
# 1984 tables, rounded and smoothed; girls equal to boys to 10 y, then ~7 % shorter at maturity.
MC3_MM_MALE = ((1, 25.0), (2, 29.0), (3, 32.0), (4, 35.0), (5, 38.0), (6, 40.0), (7, 43.0), (8, 45.0), (9, 47.0),
               (10, 49.0), (11, 51.0), (12, 54.0), (13, 57.0), (14, 60.0), (15, 62.0), (16, 64.0), (18, 65.0))
MC3_MM_FEMALE = ((1, 25.0), (2, 29.0), (3, 32.0), (4, 35.0), (5, 37.5), (6, 40.0), (7, 42.5), (8, 44.5), (9, 46.5),
                 (10, 48.5), (11, 51.0), (12, 54.0), (13, 56.0), (14, 57.5), (15, 58.5), (16, 59.0), (18, 59.5))
MC3_CV = 0.08
"""SD of MC3 length at an age (Garn 1972 SDs ~ 2.5-4 mm, 7-9 %)."""
MC3_Z = 3.0
UNOSSIFIED_END = 0.80
"""Radiographic length before the epiphysis has ossified: the diaphysis alone (the cartilaginous
head is invisible), about 80-85 % of the whole bone; the lower limit is scaled by this."""


def interp(table, x: float) -> float:
    xs = [p[0] for p in table]
    ys = [p[1] for p in table]
    if x <= xs[0]:
        return ys[0] * max(x, 0.25) / xs[0] if x < xs[0] else ys[0]
    for (x0, y0), (x1, y1) in zip(table, table[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1]


def mc3_length_mm(age_y: float, sex: str) -> float:
    return interp(MC3_MM_MALE if sex_key(sex) == "male" else MC3_MM_FEMALE, age_y)


def mc3_limits_mm(age_y: float, sex: str, head_ossified: bool = True) -> tuple[float, float]:
    mean = mc3_length_mm(age_y, sex)
    low, high = mean * (1 - MC3_Z * MC3_CV), mean * (1 + MC3_Z * MC3_CV)
    return (low if head_ossified else low * UNOSSIFIED_END), high


# ---------------------------------------------------------------------------------------------
# maturation: one tempo z per subject (bone age ahead of or behind chronological age)

MATURITY_Z_LIMIT = 2.5
"""The tempo z is truncated at +-2.5 (bone-age SDs ~0.5-1.1 y, Greulich & Pyle 1959)."""

# Carpal ossification onset (years; mean age at which the centre is first seen), Greulich &
# Pyle 1959 and Gilsanz & Ratib, Hand Bone Age (2005), matching shared PHYSICS.md "Radiography,
# more" (capitate and hamate in the first months, triquetrum 2-3 y, lunate 3-4 y, trapezium 4-5,
# trapezoid 4-6, scaphoid 5-6, pisiform 8-12; girls 1-2 y earlier).
CARPALS = ("capitate", "hamate", "triquetrum", "lunate", "trapezium", "trapezoid", "scaphoid", "pisiform")
CARPAL_ONSET_Y = {
    "male":   {"capitate": 0.25, "hamate": 0.35, "triquetrum": 2.8, "lunate": 3.8, "trapezium": 5.5,
               "trapezoid": 5.8, "scaphoid": 6.0, "pisiform": 11.0},
    "female": {"capitate": 0.2, "hamate": 0.3, "triquetrum": 2.0, "lunate": 2.8, "trapezium": 4.2,
               "trapezoid": 4.5, "scaphoid": 4.6, "pisiform": 9.0},
}
ONSET_CV = 0.18
"""Onset age = mean x (1 - ONSET_CV z) x exp(ONSET_JITTER e): the tempo z shared by every centre,
a small per-centre e (both truncated); the onset SDs of Greulich-Pyle are ~15-25 % of the mean."""
ONSET_JITTER = 0.06
ONSET_JITTER_LIMIT = 2.0

# Epiphyseal ossification onset (years), Greulich & Pyle 1959; Gilsanz & Ratib 2005 (phalangeal
# and metacarpal epiphyses 10-24 months in girls, 15-36 months in boys; distal radius ~1 y;
# distal ulna 5-7 y, PHYSICS.md).
EPIPHYSIS_ONSET_Y = {
    "male":   {"radius": 1.1, "ulna": 6.5, "metacarpal": 1.8, "metacarpal_1": 2.5, "proximal_phalanx": 1.5,
               "middle_phalanx": 2.3, "distal_phalanx": 2.3},
    "female": {"radius": 0.8, "ulna": 5.5, "metacarpal": 1.2, "metacarpal_1": 1.6, "proximal_phalanx": 1.0,
               "middle_phalanx": 1.5, "distal_phalanx": 1.5},
}
OSSIFY_GROWTH_Y = 5.0
"""Years from onset until an ossification centre fills its cartilage anlage (carpal centres reach
adult shape around puberty; Greulich-Pyle stage descriptions)."""
NUCLEUS_START_MM = 1.5
"""Radius of a centre when it first shows (2-3 mm across on a radiograph)."""

# Physeal closure (complete fusion) age ranges, years: anatomy_hand.synth `closes_female` /
# `closes_male`, Greulich & Pyle 1959 (hand physes fuse before the distal radius and ulna).
CLOSURE_Y = {
    "female": {"radius": (14.0, 16.0), "ulna": (14.0, 16.0), "hand": (13.0, 15.0)},
    "male":   {"radius": (16.0, 18.0), "ulna": (16.0, 18.0), "hand": (15.0, 17.0)},
}
"""A subject's closure age in its range is lo + (hi - lo) Phi(-z + small jitter): every physis is
open below lo and fused at or above hi, as the stdlib states."""

PHYSIS_MM = {"radius": 1.8, "ulna": 1.5, "hand": 1.0}
"""Radiographic physeal lucency (mm): anatomy_hand.synth `size` (2 mm wrist, 1 mm hand), the
radius a little under 2 mm in school-age children (Thacher 2000 grades widening against it)."""

# ---------------------------------------------------------------------------------------------
# cortex

def mc2_cortical_ratio(age_y: float) -> float:
    """2nd metacarpal combined cortical thickness / midshaft width (the metacarpal index).

    From the age tables of Garn (The Earlier Gain and the Later Loss of Cortical Bone, 1970)
    and the paediatric radiogrammetry of Bonnick-type / BoneXpert studies (van Rijn et al.,
    Pediatr Radiol 2009 metacarpal index 0.42-0.45 at 5-8 y rising to ~0.55-0.6 by 16-18 y)."""
    return min(0.42 + 0.010 * max(age_y - 3.0, 0.0), 0.60)


CORTICAL_CV = 0.08
"""Between-subject CV of the cortical ratio at an age (Garn 1970 SDs ~ 0.03-0.05 of ~0.5)."""

SHAFT_WIDTH_PER_LENGTH = 0.145
"""MC2 midshaft width / MC2 length (~9 mm / 68 mm in adults, ~6 mm / 40 mm at 5 y: Garn 1970, Poznanski 1984)."""

SOFT_TISSUE_MM = 4.5
"""Finger soft tissue beyond the phalanx at reference size (adult proximal finger ~18-20 mm across
around a 9 mm phalanx), scaled by (MC3 / 65 mm)^0.6: infants' fingers are relatively plump
(~9-10 mm across a ~3.5 mm phalanx at 1 y, Snyder 1977 finger breadths)."""
FAT_MM = {"infant": 3.5, "child": 2.5}
"""Subcutaneous fat of the hand (mm): order-of-magnitude values (dorsal subcutaneous tissue
2-4 mm in children by ultrasound, thicker in infants); drawn +-30 %."""


def sex_key(sex) -> str:
    key = str(sex).strip().lower()
    key = {"m": "male", "f": "female"}.get(key, key)
    if key not in ("male", "female"):
        raise ValueError(f"sex must be 'female' or 'male' for the hand references, got {sex!r}")
    return key


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def carpal_onset_range(sex: str, bone: str) -> tuple[float, float]:
    """(earliest, latest) onset age the builder can draw for a carpal."""
    mean = CARPAL_ONSET_Y[sex_key(sex)][bone]
    lo = mean * (1 - ONSET_CV * MATURITY_Z_LIMIT) * math.exp(-ONSET_JITTER * ONSET_JITTER_LIMIT)
    hi = mean * (1 + ONSET_CV * MATURITY_Z_LIMIT) * math.exp(ONSET_JITTER * ONSET_JITTER_LIMIT)
    return lo, hi


def carpal_count_range(age_y: float, sex: str) -> tuple[int, int]:
    """(fewest, most) ossified carpals a subject of this age and sex can show."""
    lo = sum(1 for b in CARPALS if carpal_onset_range(sex, b)[1] <= age_y)
    hi = sum(1 for b in CARPALS if carpal_onset_range(sex, b)[0] <= age_y)
    return lo, hi


def expected_carpal_count(age_y: float, sex: str) -> int:
    """Ossified carpals at the mean onset ages."""
    return sum(1 for b in CARPALS if CARPAL_ONSET_Y[sex_key(sex)][b] <= age_y)
