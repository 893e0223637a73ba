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
from synthspec.plan.model import Plan
from synthspec.engine.seeds import numpy_stream, stream_seed

DEFAULT_HEIGHT = {"female": (1620.0, 70.0), "male": (1760.0, 75.0)}  # mm; adult means, WHO/NCD-RisC order of magnitude
DEFAULT_BMI = (26.0, 4.0, 18.0, 40.0)
DEFAULT_LOBULATION = {"solid": 0.3, "part_solid": 0.25, "ground_glass": 0.15}
DEFAULT_SPICULATION = {"solid": 0.15, "part_solid": 0.1, "ground_glass": 0.0}


class SamplingError(Exception):
    """A distribution whose clip range rejects nearly every draw."""


class LesionParams(BaseModel):
    pathology: str
    kind: str
    subtype: str
    diameter_mm: float
    locations: list[str]
    lobulation: float
    spiculation: float
    min_pleura_mm: float | None = None
    max_vessel_overlap: float | None = None


class SubjectParams(BaseModel):
    index: int
    subject_id: str
    stratum: dict[str, str] = {}
    sex: str
    age_y: float
    height_mm: float
    bmi: float
    scanner: str
    kv: float
    mas: float
    kernel: str
    slice_thickness_mm: float
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


def _dist(value) -> Dist | None:
    return Dist.model_validate(value) if value else None


def _mix(value) -> Mix | None:
    return Mix.model_validate(value) if value else None


def strata(plan: Plan) -> list[dict[str, str]]:
    """All strata as dicts (cartesian product of the stratification variables), in a fixed order."""
    c = plan.cohort
    pop = c.get("population") or {}
    axes = []
    for by in pop.get("stratify") or []:
        if by == "sex":
            sex = _mix(pop.get("sex"))
            axes.append([("sex", s) for s in (sex.names if sex else ["female", "male"])])
        elif by == "age_band":
            cuts = pop.get("age_bands") or []
            edges = [-math.inf, *cuts, math.inf]
            axes.append([("age_band", f"{edges[i]:g}..{edges[i + 1]:g}") for i in range(len(edges) - 1)])
        elif by == "scanner":
            axes.append([("scanner", s) for s in _mix(c["scanners"]).names])
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
    pathologies = plan.cohort.get("pathologies") or []
    if not pathologies:
        return []
    n_strata = len(strata(plan))
    stratum, member = index % n_strata, index // n_strata
    out = []
    for p, step in zip(pathologies, _r_sequence_steps(len(pathologies))):
        salt = f"prevalence:{p['name']}:stratum{stratum}"
        offset = stream_seed(plan.seed_key, plan.cohort_seed, 0, "population", 0, salt=salt) / 2.0 ** 128
        out.append(((offset + member * step) % 1.0) < (p.get("prevalence") or 0.0))
    return out


def _band(text: str) -> tuple[float, float]:
    low, high = text.split("..")
    return float(low), float(high)


def sample_subject(plan: Plan, index: int) -> SubjectParams:
    c = plan.cohort
    rng = numpy_stream(plan.seed_key, plan.cohort_seed, index, "population")
    budget = c.get("sampling_budget") or 10_000
    pop = c.get("population") or {}
    all_strata = strata(plan)
    stratum = all_strata[index % len(all_strata)]

    sex = stratum.get("sex") or (choose(_mix(pop["sex"]), rng) if pop.get("sex") else str(rng.choice(["female", "male"])))
    age_dist = _dist(pop.get("age"))
    age_low, age_high = _band(stratum["age_band"]) if "age_band" in stratum else (-math.inf, math.inf)
    for _ in range(budget):
        age = draw(age_dist, rng, budget, "population.age")
        if age_low <= age < age_high:
            break
    else:
        raise SamplingError(f"population.age never fell in the age band {stratum['age_band']} within the sampling budget")
    if pop.get("height"):
        height = draw(_dist(pop["height"]), rng, budget, "population.height")
    else:
        mean, sd = DEFAULT_HEIGHT[sex]
        height = float(np.clip(rng.normal(mean, sd), mean - 2.5 * sd, mean + 2.5 * sd))
    bmi_low, bmi_high = _band(stratum["bmi_band"]) if "bmi_band" in stratum else (-math.inf, math.inf)
    for _ in range(budget):
        if pop.get("bmi"):
            bmi = draw(_dist(pop["bmi"]), rng, budget, "population.bmi")
        else:
            m, s, lo, hi = DEFAULT_BMI
            bmi = float(np.clip(rng.normal(m, s), lo, hi))
        if bmi_low <= bmi < bmi_high:
            break
    else:
        raise SamplingError(f"population.bmi never fell in the band {stratum['bmi_band']} within the sampling budget")
    scanner = stratum.get("scanner") or choose(_mix(c["scanners"]), rng)
    proto = c["protocol"]
    mas = draw(_dist(proto["mas"]), rng, budget, "ct.mas")

    lesions: list[LesionParams] = []
    positive = False
    for p, carried in zip(c.get("pathologies") or [], carries(plan, index)):
        if not carried:
            continue
        positive = True
        low, high = p.get("count") or (1, 1)
        count = int(rng.integers(low, high + 1))
        for _ in range(count):
            subtype = choose(_mix(p["subtype"]), rng) if p.get("subtype") else "solid"
            diameter = draw(_dist(p["diameter"]), rng, budget, f"pathology {p['name']}.diameter") if p.get("diameter") else 6.0
            location = [choose(_mix(p["location"]), rng)] if p.get("location") else ["lung"]
            lob = draw(_dist(p["lobulation"]), rng, budget) if p.get("lobulation") else DEFAULT_LOBULATION.get(subtype, 0.2)
            spic = draw(_dist(p["spiculation"]), rng, budget) if p.get("spiculation") else DEFAULT_SPICULATION.get(subtype, 0.1)
            min_pleura = max_overlap = None
            for con in p.get("constraints") or []:
                if con.get("function") == "distance_to" and con.get("op") in (">=", ">") and con.get("right_dimension") == "length":
                    min_pleura = con["right_value"]
                if con.get("function") == "overlap_with" and con.get("op") in ("<=", "<") and con.get("right_dimension") in ("fraction", "count"):
                    max_overlap = con["right_value"]
            lesions.append(LesionParams(pathology=p["name"], kind=p["kind"], subtype=subtype, diameter_mm=diameter,
                                        locations=location, lobulation=lob, spiculation=spic,
                                        min_pleura_mm=min_pleura, max_vessel_overlap=max_overlap))
    return SubjectParams(
        index=index, subject_id=f"S{index:06d}", stratum=stratum, sex=sex, age_y=round(age, 2), height_mm=round(height, 1),
        bmi=round(bmi, 2), scanner=scanner, kv=proto["kv"], mas=round(mas, 2), kernel=proto.get("kernel") or "standard",
        slice_thickness_mm=plan.grid.spacing[0], positive=positive, lesions=lesions)
