"""The paediatric hand's shape: every random proportion and the placement of each bone (step 1 of the build).

Role: turn (sex, age, height) and the anatomy stream into a `HandShape`: a list of tubular
bones (solids of revolution along an axis, with a radius profile, a cortical thickness, an
epiphysis, a physis and their maturation state), eight carpal ellipsoids (cartilage anlage and
ossified centre) and the soft-tissue capsules.  It classifies no voxel (build.py does).

Frame (the grid's, centred at 0, mm, points as (z, y, x)): a LEFT hand, palm down on the detector.
z is the hand's long axis with the fingertips toward +z and the distal forearm toward -z; x runs
ulnar (-x, the little finger) to radial (+x, the thumb); y is depth, the dorsum at -y (toward the
tube) and the palm at +y (on the detector): the PA beam travels +y.  Seen from the tube (the
dorsum, fingers up) the thumb is on the right with +x to the right, as in the Greulich-Pyle
atlas.  (The bones are drawn as a right hand, thumb at -x, then mirrored across x.)

Sizes: hand length = ratio(age) x stature (references.hand_length_ratio), MC3 length = hand
length / 2.85, every other bone from the Garn metacarpophalangeal pattern (references), the
carpus from the carpal height ratio (Youm 1978).  Per-subject variation: hand-length and
per-bone jitter, maturity tempo (ossification and closure), finger spread (abduction), a slight
flexion, wrist deviation, cortical ratio, soft-tissue and fat thickness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synthspec.families.anatomy.hand import references as R
from synthspec.families.base import Demographics, FamilyError
from synthspec.families.grid import Grid

N_PROFILE = 48


@dataclass
class LongBone:
    """A tubular bone: axis from `a` (proximal end, zyx mm) along unit `u` for `length` mm.

    The radius at axial position t (0..length) is the profile (tk, rk); the cortex is `ck`
    thick there.  The epiphysis lies at the `epi_side` end (+1 distal, -1 proximal, 0 none),
    `epi_mm` long, separated from the metaphysis by a physis `physis_mm` thick while `open`.
    `nucleus` (0..1) is how far its ossification centre fills the cartilaginous epiphysis."""

    name: str
    kind: str
    label: str
    physis: str | None
    a: np.ndarray
    u: np.ndarray
    length: float
    tk: np.ndarray
    rk: np.ndarray
    ck: np.ndarray
    epi_side: int
    epi_mm: float
    physis_mm: float
    open: bool
    nucleus: float
    onset_y: float = 0.0
    closure_y: float = 99.0

    def point(self, t: float) -> np.ndarray:
        return self.a + self.u * t

    def radius_at(self, t: float) -> float:
        return float(np.interp(t, self.tk, self.rk))

    @property
    def physis_t(self) -> tuple[float, float]:
        """(t0, t1) of the physis slab along the axis."""
        if self.epi_side > 0:
            t1 = self.length - self.epi_mm
            return t1 - self.physis_mm, t1
        t0 = self.epi_mm
        return t0, t0 + self.physis_mm


@dataclass
class Carpal:
    name: str
    centre: np.ndarray        # zyx mm
    semi: np.ndarray          # (z, y, x) semi-axes of the cartilage anlage, mm
    angle: float              # in-plane rotation (radians, z toward x)
    nucleus: float            # ossified share of the semi-axes (0 = unossified)
    onset_y: float


@dataclass
class HandShape:
    m3: float                 # MC3 length, mm
    hand_length: float
    maturity_z: float
    bones: list[LongBone]
    carpals: list[Carpal]
    skin: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]   # soft-tissue capsules a, b, ra, rb
    skin_fat_mm: np.ndarray   # subcutaneous fat thickness per capsule
    fat_mm: float
    cortical_ratio: float
    spread: float
    wrist_deviation_deg: float
    extent: tuple[np.ndarray, np.ndarray] = field(default=None)    # (lo, hi) zyx mm of the whole hand


def _tnorm(rng: np.random.Generator, limit: float) -> float:
    return float(np.clip(rng.standard_normal(), -limit, limit))


def _rot_inplane(v: np.ndarray, deg: float) -> np.ndarray:
    """Rotate a zyx direction in the z-x plane by `deg` (positive turns +z toward +x, ulnar)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([c * v[0] - s * v[2], v[1], s * v[0] + c * v[2]])


def _flex(v: np.ndarray, deg: float) -> np.ndarray:
    """Bend a direction toward the palm (+y) by `deg`."""
    y = np.array([0.0, 1.0, 0.0])
    p = y - np.dot(y, v) * v
    n = np.linalg.norm(p)
    if n < 1e-9:
        return v
    p /= n
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    w = c * v + s * p
    return w / np.linalg.norm(w)


def _profile(length: float, keys, r_shaft: float, cap_mm: float, cap_start: bool = True):
    """(tk, rk): the keypoint profile (t/length, r/r_shaft), with rounded ends `cap_mm` long."""
    s = np.linspace(0.0, 1.0, N_PROFILE)
    tk = length * (0.5 - 0.5 * np.cos(np.pi * s))
    kt = np.array([k[0] for k in keys]) * length
    kr = np.array([k[1] for k in keys]) * r_shaft
    rk = np.interp(tk, kt, kr)
    cap = max(cap_mm, 1e-3)
    for end in ((0,) if cap_start else ()) + (1,):
        d = tk if end == 0 else length - tk
        near = d < cap
        rk[near] *= np.sqrt(np.clip(1.0 - ((cap - d[near]) / cap) ** 2, 0.0, 1.0))
    return tk, np.maximum(rk, 0.0)


# profiles (t / length, r / shaft radius), proximal -> distal
PROFILE = {
    "metacarpal": ((0.0, 1.05), (0.08, 1.1), (0.2, 1.0), (0.5, 0.92), (0.78, 1.0), (0.9, 1.22), (1.0, 1.22)),
    "metacarpal_1": ((0.0, 1.2), (0.1, 1.15), (0.25, 0.95), (0.6, 0.95), (0.85, 1.1), (1.0, 1.12)),
    "proximal_phalanx": ((0.0, 1.35), (0.12, 1.25), (0.35, 0.95), (0.7, 0.92), (0.88, 1.05), (1.0, 1.0)),
    "middle_phalanx": ((0.0, 1.35), (0.15, 1.2), (0.4, 0.95), (0.75, 0.95), (0.9, 1.05), (1.0, 1.0)),
    "distal_phalanx": ((0.0, 1.35), (0.2, 1.05), (0.55, 0.75), (0.85, 0.8), (1.0, 0.9)),
    # forearm bones: (distance from the distal end / distal width, r / shaft radius), distal first
    "radius": ((0.0, 1.65), (0.3, 1.65), (0.8, 1.25), (1.5, 1.0), (3.0, 1.0)),
    "ulna": ((0.0, 1.2), (0.6, 1.15), (1.2, 1.0), (3.0, 1.0)),
}
MC_BASE_X = (-0.28, -0.093, 0.093, 0.28)        # MC2..5 base centres, x / MC3 (radial -)
MC_BASE_Z = (0.01, 0.0, 0.02, 0.05)             # above the carpal height, / MC3
MC_ANGLE = (-7.0, 0.0, 6.0, 12.0)               # MC2..5 direction, degrees toward ulnar
SHAFT_REL = {"metacarpal": (0.95, 1.0, 0.95, 0.82, 0.85), "proximal_phalanx": (0.95, 0.9, 0.95, 0.85, 0.75),
             "middle_phalanx": (None, 0.75, 0.8, 0.75, 0.65), "distal_phalanx": (0.8, 0.55, 0.6, 0.55, 0.5)}
"""Midshaft width relative to MC2 (Poznanski 1984 width tables, rounded)."""
ABDUCTION = (-6.0, -6.0, 0.0, 5.0, 10.0)        # finger spread at the MCP joints (deg, x spread factor)
# carpals: (name, z above the radius / MC3, x / MC3, y / MC3, semi z, y, x / MC3, angle deg)
CARPAL_LAYOUT = (
    ("scaphoid", 0.15, -0.33, 0.0, 0.12, 0.10, 0.085, -35.0),
    ("lunate", 0.13, -0.10, 0.0, 0.10, 0.10, 0.085, 0.0),
    ("triquetrum", 0.15, 0.10, 0.0, 0.085, 0.08, 0.075, 0.0),
    ("pisiform", 0.13, 0.21, 0.14, 0.06, 0.055, 0.055, 0.0),
    ("trapezium", 0.38, -0.47, 0.02, 0.10, 0.10, 0.085, -25.0),
    ("trapezoid", 0.41, -0.28, 0.0, 0.085, 0.085, 0.07, 0.0),
    ("capitate", 0.38, -0.10, 0.0, 0.13, 0.10, 0.085, 0.0),
    ("hamate", 0.38, 0.12, 0.0, 0.12, 0.09, 0.095, 0.0),
)
FOREARM_CORTEX = 0.7
"""The distal radial and ulnar shafts' cortical ratio relative to MC2's (thinner-walled near the
metaphysis; pQCT of the distal radius in children, e.g. Schoenau et al., Bone 2002)."""
FOREARM_MM = 45.0
"""Distal forearm kept below the radial physis (mm); the shafts run on to the -z face."""
MARGIN_MM = 3.0


def _nucleus(age: float, onset: float, full_mm: float) -> float:
    """Share of the anlage an ossification centre fills at `age` (0 before onset)."""
    if age < onset:
        return 0.0
    f0 = min(1.0, R.NUCLEUS_START_MM / max(full_mm, 1e-6))
    return float(min(1.0, f0 + (1.0 - f0) * ((age - onset) / R.OSSIFY_GROWTH_Y) ** 0.8))


def sample_shape(d: Demographics, rng: np.random.Generator) -> HandShape:
    """Every random proportion of one hand, drawn from `rng` in a fixed order."""
    sex = R.sex_key(d.sex)
    age = float(d.age_y)
    # 1. size
    hl = R.hand_length_ratio(age) * float(d.height_mm) * math.exp(R.HAND_LENGTH_CV * _tnorm(rng, 2.5))
    m3 = hl * R.MC3_PER_HAND_LENGTH
    # 2. maturity tempo and per-centre jitter
    mz = _tnorm(rng, R.MATURITY_Z_LIMIT)
    carpal_e = [_tnorm(rng, R.ONSET_JITTER_LIMIT) for _ in R.CARPALS]
    epi_e = {k: _tnorm(rng, R.ONSET_JITTER_LIMIT) for k in sorted(R.EPIPHYSIS_ONSET_Y["male"])}
    close_e = {k: _tnorm(rng, 1.0) for k in ("radius", "ulna", "hand")}
    # 3. posture and proportions
    spread = float(rng.uniform(0.3, 1.4))
    abd = [ABDUCTION[i] * spread + 2.0 * _tnorm(rng, 2.0) for i in range(5)]
    flex = rng.uniform(0.0, 1.0, size=(5, 3)) * np.array([6.0, 6.0, 4.0])
    thumb_deg = -32.0 + 4.0 * _tnorm(rng, 2.0)
    deviation = float(rng.uniform(-6.0, 10.0))        # + = ulnar deviation of the hand at the wrist
    length_j = np.exp(R.BONE_LENGTH_CV * np.clip(rng.standard_normal(19), -2.5, 2.5))
    cort = R.mc2_cortical_ratio(age) * math.exp(R.CORTICAL_CV * _tnorm(rng, 2.5))
    fat = (R.FAT_MM["infant"] if age < 2 else R.FAT_MM["child"]) * float(rng.uniform(0.7, 1.3))
    soft = R.SOFT_TISSUE_MM * (m3 / 65.0) ** 0.6 * float(rng.uniform(0.85, 1.15))

    def onset_of(kind: str) -> float:
        return R.EPIPHYSIS_ONSET_Y[sex][kind] * (1 - R.ONSET_CV * mz) * math.exp(R.ONSET_JITTER * epi_e[kind])

    def closure_of(group: str) -> float:
        lo, hi = R.CLOSURE_Y[sex][group]
        return lo + (hi - lo) * R.phi(-mz + 0.5 * close_e[group])

    w_mc2 = R.SHAFT_WIDTH_PER_LENGTH * R.MC_RATIO[1] * m3
    bones: list[LongBone] = []
    skin_a, skin_b, skin_r = [], [], []
    jit = iter(length_j)

    def tube(name, kind, label, physis, a, u, length, r_shaft, epi_side, epi_rel, group, onset_kind):
        forearm = kind in ("radius", "ulna")
        epi_mm = epi_rel if forearm else epi_rel * length
        c_mid = cort * r_shaft * (FOREARM_CORTEX if forearm else 1.0)   # each wall: ratio x half the width
        if forearm:   # keys are distances from the distal end in widths; the shaft runs on proximally
            width = 2.0 * r_shaft * PROFILE[kind][0][1]
            dk = width * (np.linspace(0.0, 1.0, N_PROFILE) ** 2) * 3.0
            tk = np.concatenate([[0.0], length - dk[::-1]])
            kd = np.array([k[0] for k in PROFILE[kind]]) * width
            kr = np.array([k[1] for k in PROFILE[kind]]) * r_shaft
            d = length - tk
            rk = np.interp(d, kd, kr)
            cap = 0.6 * r_shaft
            near = d < cap
            rk[near] *= np.sqrt(np.clip(1.0 - ((cap - d[near]) / cap) ** 2, 0.0, 1.0))
            bump = np.clip((d - 0.3 * width) / width, 0.0, 1.0)
        else:
            cap = min(0.6 * r_shaft, 0.12 * length)
            tk, rk = _profile(length, PROFILE[kind], r_shaft, cap)
            c_mid = cort * float(np.interp(0.5 * length, tk, rk))    # the ratio is taken at midshaft
            bump = np.exp(-((tk - 0.5 * length) / (0.28 * length)) ** 2)
        ck = 0.35 + (c_mid - 0.35) * bump
        ck = np.minimum(ck, 0.8 * rk)
        closure = closure_of(group)
        onset = onset_of(onset_kind)
        is_open = age < closure
        full = 0.5 * epi_mm if epi_side else 1.0
        nuc = 1.0 if not is_open else _nucleus(age, onset, full)
        pw = R.PHYSIS_MM[group] * (1.15 if age < 4 else 1.0)
        b = LongBone(name, kind, label, physis if epi_side else None, np.asarray(a, float), u / np.linalg.norm(u),
                     float(length), tk, rk, ck, epi_side, float(epi_mm), float(pw), bool(is_open), float(nuc),
                     onset_y=float(onset), closure_y=float(closure))
        bones.append(b)
        return b

    skin_f = []

    def skin(a, b, r, fat_mm=None):
        skin_a.append(np.asarray(a, float))
        skin_b.append(np.asarray(b, float))
        skin_r.append(float(r))
        skin_f.append(fat if fat_mm is None else float(fat_mm))

    hc = R.CARPAL_HEIGHT_RATIO * m3
    gap = float(np.clip(0.025 * m3, 1.0, 1.8))
    # the hand's own frame: the radius' articular surface at z = 0, x = 0 in the middle of the carpus;
    # y = 0 the bones' mid-plane (the palm's soft tissue lies mostly palmar, +y)
    up = np.array([1.0, 0.0, 0.0])
    rays_mc = []
    for i in range(4):   # MC2..5
        ray = i + 1
        base = np.array([hc + MC_BASE_Z[i] * m3, 0.0, MC_BASE_X[i] * m3])
        u = _rot_inplane(up, MC_ANGLE[i])
        L = R.MC_RATIO[ray] * m3 * next(jit)
        r = 0.5 * w_mc2 * SHAFT_REL["metacarpal"][ray]
        b = tube(f"metacarpal_{ray + 1}", "metacarpal", "metacarpals", "metacarpal_physes", base, u, L, r, +1, 0.17,
                 "hand", "metacarpal")
        rays_mc.append((ray, b))
    # thumb: MC1 from the trapezium, radially abducted and turned palmar
    t_base = np.array([0.52 * m3, 0.05 * m3, -0.50 * m3])
    u1 = _rot_inplane(up, thumb_deg)   # the thumb also turns a little palmar (+y)
    u1 = np.array([u1[0], 0.18, u1[2]])
    u1 /= np.linalg.norm(u1)
    L1 = R.MC_RATIO[0] * m3 * next(jit)
    b1 = tube("metacarpal_1", "metacarpal_1", "metacarpals", "metacarpal_physes", t_base, u1, L1,
              0.5 * w_mc2 * SHAFT_REL["metacarpal"][0], -1, 0.16, "hand", "metacarpal_1")
    rays_mc.insert(0, (0, b1))
    # phalanges
    for ray, mc in rays_mc:
        p = mc.point(mc.length)
        u = mc.u
        kinds = ("proximal_phalanx", "distal_phalanx") if ray == 0 else \
            ("proximal_phalanx", "middle_phalanx", "distal_phalanx")
        ratios = {"proximal_phalanx": R.PP_RATIO, "middle_phalanx": R.MP_RATIO, "distal_phalanx": R.DP_RATIO}
        labels = {"proximal_phalanx": "proximal_phalanges", "middle_phalanx": "middle_phalanges",
                  "distal_phalanx": "distal_phalanges"}
        for seg, kind in enumerate(kinds):
            turn = (abd[ray] if seg == 0 else 0.0) + (6.0 if ray == 0 and seg == 0 else 0.0)
            u = _flex(_rot_inplane(u, turn), float(flex[ray, seg]))
            L = ratios[kind][ray] * m3 * next(jit)
            r = 0.5 * w_mc2 * SHAFT_REL[kind][ray]
            a = p + u * gap
            b = tube(f"{kind}_{ray + 1}", kind, labels[kind], "phalangeal_physes", a, u, L, r, -1,
                     0.14 if kind != "distal_phalanx" else 0.18, "hand", kind)
            p = b.point(L)
            rmax = float(b.rk.max())
            tip = p - u * (rmax + 0.3 * soft) if kind == "distal_phalanx" else p   # pulp ~soft beyond the tuft
            skin(a - u * 0.5 * gap, tip, rmax + soft, min(fat, 0.5 * soft))   # fingers: fat <= half the pulp
    # palm, thenar, carpus (soft tissue)
    palm_r = 0.18 * m3
    pal = np.array([0.0, 0.06 * m3, 0.0])
    heads = []
    for ray, mc in rays_mc:
        if ray == 0:
            skin(mc.point(0.0) + np.array([0, 0.04 * m3, 0]), mc.point(mc.length) + np.array([0, 0.03 * m3, 0]),
                 0.15 * m3)
            skin(mc.point(0.3 * mc.length) + pal, rays_mc[1][1].point(0.15 * rays_mc[1][1].length) + pal, 0.15 * m3)
            continue
        skin(mc.point(0.0) + pal, mc.point(mc.length) + pal, palm_r)
        heads.append(mc.point(mc.length) + pal)
    for h0, h1 in zip(heads, heads[1:]):
        skin(h0, h1, 0.15 * m3)
    skin(np.array([0.33 * m3, 0.04 * m3, -0.45 * m3]), np.array([0.33 * m3, 0.04 * m3, 0.20 * m3]), 0.2 * m3)
    skin(np.array([0.12 * m3, 0.03 * m3, -0.35 * m3]), np.array([0.12 * m3, 0.03 * m3, 0.22 * m3]), 0.2 * m3)
    # carpals
    carpals = []
    onsets = R.CARPAL_ONSET_Y[sex]
    for (name, cz, cx, cy, sz, sy, sx, ang), e in zip(CARPAL_LAYOUT, carpal_e):
        onset = onsets[name] * (1 - R.ONSET_CV * mz) * math.exp(R.ONSET_JITTER * e)
        semi = np.array([sz, sy, sx]) * m3
        nuc = _nucleus(age, onset, float(semi.min()))
        if nuc > 0:
            nuc = min(nuc, max(0.0, 1.0 - 0.5 / float(semi.min())))   # a thin articular cartilage stays
        carpals.append(Carpal(name, np.array([cz, cy, cx]) * m3, semi, math.radians(ang), nuc, float(onset)))

    # rotate the hand (everything above the wrist) by the wrist deviation about the wrist centre
    pivot = np.array([0.2 * m3, 0.0, -0.05 * m3])

    def dev(p):
        return pivot + _rot_inplane(np.asarray(p, float) - pivot, deviation)

    for b in bones:
        b.a = dev(b.a)
        b.u = _rot_inplane(b.u, deviation)
    for c in carpals:
        c.centre = dev(c.centre)
        c.angle += math.radians(deviation)
    skin_a = [dev(p) for p in skin_a]
    skin_b = [dev(p) for p in skin_b]

    # forearm: radius and ulna end at the wrist; shafts run proximally past the -z face
    w_r = 0.48 * m3
    w_u = 0.25 * m3
    far = 4.0 * m3 + 200.0
    for name, x, width, zend, epi in (("radius", -0.22 * m3, w_r, -gap, 0.28 * w_r), ("ulna", 0.24 * m3, w_u,
                                                                                        -gap - 0.04 * m3, 0.40 * w_u)):
        r_shaft = 0.5 * width / PROFILE[name][0][1]
        a = np.array([zend - far, 0.0, x])
        tube(name, name, name, f"distal_{name}_physis", a, up.copy(), far, r_shaft, +1, epi, name, name)
    skin(np.array([-gap, 0.04 * m3, -0.22 * m3]), np.array([-far, 0.04 * m3, -0.22 * m3]), 0.27 * m3)
    skin(np.array([-gap, 0.04 * m3, 0.22 * m3]), np.array([-far, 0.04 * m3, 0.22 * m3]), 0.22 * m3)
    skin(np.array([0.1 * m3, 0.04 * m3, -0.25 * m3]), np.array([0.1 * m3, 0.04 * m3, 0.25 * m3]), 0.24 * m3)

    skin_arr = (np.array(skin_a), np.array(skin_b), np.array(skin_r), np.array(skin_r))
    shape = HandShape(m3=m3, hand_length=hl, maturity_z=mz, bones=bones, carpals=carpals, skin=skin_arr,
                      skin_fat_mm=np.array(skin_f),
                      fat_mm=fat, cortical_ratio=cort, spread=spread, wrist_deviation_deg=deviation)
    _to_grid_frame(shape)
    _centre(shape)
    return shape


def _to_grid_frame(shape: HandShape) -> None:
    """Mirror the drawing (thumb -x, palm +y, fingers +z: a right hand) across x into a LEFT hand with
    the thumb at +x; the palm stays at +y."""
    flip = np.array([1.0, 1.0, -1.0])
    for b in shape.bones:
        b.a = b.a * flip
        b.u = b.u * flip
    for c in shape.carpals:
        c.centre = c.centre * flip
        c.angle = -c.angle      # the in-plane angle turns z toward x: x changes sign
    a, b, ra, rb = shape.skin
    shape.skin = (a * flip, b * flip, ra, rb)


def _hand_box(shape: HandShape) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) zyx mm of the skin around the hand, down to FOREARM_MM below the radial physis."""
    a, b, ra, _ = shape.skin
    lo = np.minimum(a - ra[:, None], b - ra[:, None]).min(axis=0)
    hi = np.maximum(a + ra[:, None], b + ra[:, None]).max(axis=0)
    radius = next(bn for bn in shape.bones if bn.name == "radius")
    lo[0] = radius.point(radius.physis_t[0])[0] - FOREARM_MM
    return lo, hi


def _centre(shape: HandShape) -> None:
    """Shift the hand so its box (fingertips to the distal forearm) is centred on the grid's centre."""
    lo, hi = _hand_box(shape)
    shift = -0.5 * (lo + hi)
    shape.skin = (shape.skin[0] + shift, shape.skin[1] + shift, shape.skin[2], shape.skin[3])
    for b in shape.bones:
        b.a = b.a + shift
    for c in shape.carpals:
        c.centre = c.centre + shift
    shape.extent = (lo + shift, hi + shift)


def check_fits(shape: HandShape, grid: Grid) -> None:
    """FamilyError naming the setting when the hand does not fit the grid with a margin."""
    lo, hi = shape.extent
    need = hi - lo + 2 * MARGIN_MM
    have = np.asarray(grid.extent_mm())
    short = [f"{ax} {n:.0f} mm > {h:.0f} mm" for ax, n, h in zip(("z", "y", "x"), need, have) if n > h]
    if short:
        raise FamilyError(f"the hand (MC3 {shape.m3:.0f} mm, hand length {shape.hand_length:.0f} mm) does not fit the "
                          f"field of view ({'; '.join(short)}): enlarge the grid's field (hand_pediatric field_mm)")
