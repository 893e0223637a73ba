"""Sample the population: one `SubjectParams` per subject index, from the plan alone.

Stratified balance is by index (subject k belongs to stratum k mod S), so the
cohort is balanced at any size and subject k never depends on the total.
Prevalence is balanced the same way: whether subject k carries pathology j is
read off a low-discrepancy sequence in k's position within its stratum (see
`carries`), so every prefix of every stratum, and so of the cohort, holds close
to the asked share of positives instead of a coin-flip count (16 subjects at
60 % give 9 or 10, never 14).
Clipped distributions are sampled by rejection with a budget; running out of
budget is an error that names the distribution.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from pydantic import BaseModel

from synthspec.compiler.values import Dist, Mix
from synthspec.seeds import numpy_stream, stream_seed
from synthspec.errors import Failure
from synthspec.families.base import LesionParams
from synthspec.plan.model import Plan

DEFAULT_HEIGHT = {"female": (1620.0, 70.0), "male": (1760.0, 75.0)}  # mm; adult means, WHO/NCD-RisC order of magnitude
DEFAULT_BMI = (26.0, 4.0, 18.0, 40.0)
CHILD_HEIGHT_MM = {
    # age (y): (girls, boys) median height in mm; WHO Child Growth Standards (2006) to 5 y, CDC 2000 growth
    # charts beyond (50th percentile, rounded to 5 mm).  SD about 4.5 % of the median at every age.
    0.0: (490.0, 500.0), 0.5: (655.0, 675.0), 1.0: (740.0, 755.0), 2.0: (860.0, 875.0), 3.0: (950.0, 960.0),
    4.0: (1025.0, 1030.0), 5.0: (1095.0, 1100.0), 6.0: (1155.0, 1160.0), 8.0: (1275.0, 1280.0),
    10.0: (1385.0, 1385.0), 12.0: (1510.0, 1490.0), 14.0: (1600.0, 1635.0), 16.0: (1625.0, 1735.0),
    18.0: (1635.0, 1760.0),
}
CHILD_HEIGHT_CV = 0.045


def child_height_mm(sex: str, age_y: float) -> float:
    """Median height (mm) of a child of this sex and age, interpolated in CHILD_HEIGHT_MM."""
    ages = sorted(CHILD_HEIGHT_MM)
    column = 0 if sex == "female" else 1
    values = [CHILD_HEIGHT_MM[a][column] for a in ages]
    return float(np.interp(float(age_y), ages, values))


class SamplingError(Failure):
    """A distribution whose clip range rejects nearly every draw."""


class SubjectParams(BaseModel):
    index: int
    subject_id: str
    stratum: dict[str, str] = {}
    sex: str
    age_y: float
    height_mm: float
    bmi: float
    scanner: str
    acquisition: dict[str, float | str]
    """The modality's per-subject acquisition (CT: kv, mas, kernel, slice_thickness_mm)."""
    positive: bool
    lesions: list[LesionParams] = []


def draw(dist: Dist, rng: np.random.Generator, budget: int = 10_000, what: str = "value") -> float:
    if dist.kind == "fixed":
        return float(dist.value)
    if dist.kind == "uniform":
        return float(rng.uniform(dist.low, dist.high))
    if dist.kind == "mix":
        k = int(rng.choice(len(dist.options), p=np.asarray(dist.weights) / sum(dist.weights)))
        return draw(dist.options[k], rng, budget, what)
    low = -math.inf if dist.low is None else dist.low
    high = math.inf if dist.high is None else dist.high
    for _ in range(budget):
        if dist.kind == "normal":
            v = rng.normal(dist.mean, dist.sd)
        else:  # lognormal parameterised by the quantity's own mean and sd
            s2 = math.log(1 + (dist.sd / dist.mean) ** 2)
            v = rng.lognormal(math.log(dist.mean) - s2 / 2, math.sqrt(s2))
        if low <= v <= high:
            return float(v)
    raise SamplingError(f"{what}: no draw of {dist.kind}({dist.mean:g}, {dist.sd:g}) fell in {low:g} .. {high:g} "
                        f"within the sampling budget of {budget}; widen the clip range or raise `sampling_budget`")


def choose(mix: Mix, rng: np.random.Generator) -> str:
    w = np.asarray(mix.weights, dtype=float)
    return mix.names[int(rng.choice(len(mix.names), p=w / w.sum()))]


def strata(plan: Plan) -> list[dict[str, str]]:
    """All strata as dicts (cartesian product of the stratification variables), in a fixed order."""
    sampling = plan.sampling
    pop = sampling.population
    axes = []
    for by in pop.stratify:
        if by == "sex":
            axes.append([("sex", s) for s in (pop.sex.names if pop.sex else ["female", "male"])])
        elif by == "age_band":
            cuts = pop.age_bands
            edges = [-math.inf, *cuts, math.inf]
            axes.append([("age_band", f"{edges[i]:g}..{edges[i + 1]:g}") for i in range(len(edges) - 1)])
        elif by == "scanner":
            axes.append([("scanner", s) for s in sampling.scanners.names])
        elif by == "bmi_band":
            axes.append([("bmi_band", b) for b in ("18.5..25", "25..30", "30..inf")])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def _r_sequence_steps(d: int) -> list[float]:
    """Steps of Roberts' R_d sequence: 1/g^(j+1) with g the root of x^(d+1) = x + 1 (g = golden ratio for d = 1).

    Frac(u + k * step_j) over k is equidistributed in [0, 1)^d jointly, so the pathologies'
    positives are balanced together as well as one by one."""
    g = 2.0
    for _ in range(60):  # Newton on x^(d+1) - x - 1
        g -= (g ** (d + 1) - g - 1) / ((d + 1) * g ** d - 1)
    return [(1.0 / g) ** (j + 1) % 1.0 for j in range(d)]


def carries(plan: Plan, index: int) -> list[bool]:
    """Which of the plan's pathologies subject `index` carries (a pure function of the plan and index).

    Subject k is the j-th member (j = k // S) of stratum s = k mod S.  Pathology j is carried when
    frac(u + j * step) < prevalence, with the offset u a hash of (seed, pathology, stratum): each
    stratum runs its own R_d sequence, so any first n members of a stratum hold n * prevalence
    positives up to a discrepancy of O(log n), and so does the whole cohort.  With many
    pathologies the marginal balance loosens (the R_d steps of high d lie near 0 or 1)."""
    pathologies = plan.sampling.pathologies
    if not pathologies:
        return []
    n_strata = len(strata(plan))
    stratum, member = index % n_strata, index // n_strata
    out = []
    for p, step in zip(pathologies, _r_sequence_steps(len(pathologies))):
        salt = f"prevalence:{p.name}:stratum{stratum}"
        offset = stream_seed(plan.seed_key, plan.cohort_seed, 0, "population", 0, salt=salt) / 2.0 ** 128
        out.append(((offset + member * step) % 1.0) < (p.prevalence or 0.0))
    return out


def _band(text: str) -> tuple[float, float]:
    low, high = text.split("..")
    return float(low), float(high)


def sample_subject(plan: Plan, index: int) -> SubjectParams:
    """Subject `index`'s demographics, scanner, acquisition and lesions, from the plan alone."""
    from synthspec.families import registry

    sampling = plan.sampling
    rng = numpy_stream(plan.seed_key, plan.cohort_seed, index, "population")
    budget = sampling.sampling_budget
    pop = sampling.population
    all_strata = strata(plan)
    stratum = all_strata[index % len(all_strata)]

    sex = stratum.get("sex") or (choose(pop.sex, rng) if pop.sex else str(rng.choice(["female", "male"])))
    age_low, age_high = _band(stratum["age_band"]) if "age_band" in stratum else (-math.inf, math.inf)
    for _ in range(budget):
        age = draw(pop.age, rng, budget, "population.age")
        if age_low <= age < age_high:
            break
    else:
        raise SamplingError(f"population.age never fell in the age band {stratum['age_band']} within the sampling budget")
    if pop.height:
        height = draw(pop.height, rng, budget, "population.height")
    elif getattr(registry.anatomy(plan.anatomy), "pediatric", False):   # a child's height follows its age
        mean = child_height_mm(sex, age)
        sd = CHILD_HEIGHT_CV * mean
        height = float(np.clip(rng.normal(mean, sd), mean - 2.5 * sd, mean + 2.5 * sd))
    else:
        mean, sd = DEFAULT_HEIGHT[sex]
        height = float(np.clip(rng.normal(mean, sd), mean - 2.5 * sd, mean + 2.5 * sd))
    bmi_low, bmi_high = _band(stratum["bmi_band"]) if "bmi_band" in stratum else (-math.inf, math.inf)
    for _ in range(budget):
        if pop.bmi:
            bmi = draw(pop.bmi, rng, budget, "population.bmi")
        else:
            m, s, lo, hi = DEFAULT_BMI
            bmi = float(np.clip(rng.normal(m, s), lo, hi))
        if bmi_low <= bmi < bmi_high:
            break
    else:
        raise SamplingError(f"population.bmi never fell in the band {stratum['bmi_band']} within the sampling budget")
    scanner = stratum.get("scanner") or choose(sampling.scanners, rng)
    acquire = plan.stage("acquire").params
    acquisition = registry.modality(acquire.family).sample(acquire.settings, rng, draw, budget)

    lesions: list[LesionParams] = []
    positive = False
    for p, carried in zip(sampling.pathologies, carries(plan, index)):
        if not carried:
            continue
        positive = True
        family = registry.pathology(p.kind)
        limits = family.placement_limits(p.constraints)
        low, high = p.count
        count = int(rng.integers(low, high + 1))
        for _ in range(count):
            subtype = choose(p.subtype, rng) if p.subtype else getattr(family, "default_subtype", "solid")
            if p.diameter:
                diameter = draw(p.diameter, rng, budget, f"pathology {p.name}.diameter")
            elif getattr(family, "default_diameter_range_mm", None):   # the family's own spread of sizes
                diameter = float(rng.uniform(*family.default_diameter_range_mm))
            else:
                diameter = family.default_diameter_mm
            location = [choose(p.location, rng)] if p.location else [family.default_location]
            default_lob, default_spic = family.shape_defaults(subtype)
            lob = draw(p.lobulation, rng, budget) if p.lobulation else default_lob
            spic = draw(p.spiculation, rng, budget) if p.spiculation else default_spic
            sizes = {}
            if p.volume:   # drawn after the shape draws, so specs without a volume keep their streams
                sizes["volume_ml"] = draw(p.volume, rng, budget, f"pathology {p.name}.volume")
            if p.onset:
                sizes["onset_h"] = draw(p.onset, rng, budget, f"pathology {p.name}.onset") / 3.6e6
            if p.territory:   # last, so specs without a territory keep their streams
                sizes["territory"] = choose(p.territory, rng)
                supplied = set((p.territory_covers or {}).get(sizes["territory"], ()))
                inside = [(n, w) for n, w in zip(p.location.names, p.location.weights) if n in supplied] \
                    if p.location else []
                if inside and location[0] not in supplied:   # the location again, among those the territory supplies
                    location = [choose(Mix(names=[n for n, _ in inside], weights=[w for _, w in inside]), rng)]
            if p.attachment:   # after the territory, so specs without an attachment keep their streams
                sizes["attachment"] = choose(p.attachment, rng)
            lesions.append(LesionParams(pathology=p.name, kind=p.kind, subtype=subtype, diameter_mm=diameter,
                                        locations=location, lobulation=lob, spiculation=spic, **limits, **sizes))
    return SubjectParams(
        index=index, subject_id=f"S{index:06d}", stratum=stratum, sex=sex, age_y=round(age, 2), height_mm=round(height, 1),
        bmi=round(bmi, 2), scanner=scanner, acquisition=acquisition, positive=positive, lesions=lesions)
