"""Population rules: strata the subject count can fill, enough positives in each."""

from __future__ import annotations

from synthspec.compiler.rules.registry import check, rule

FAMILY = "population"

DEFAULT_MIN_PER_STRATUM = 10
DEFAULT_MIN_POSITIVES = 5

STRATA_UNFILLABLE = rule(
    "POP001", "strata-unfillable", "error",
    "{strata} strata x {per} subjects each need {need} subjects, but the cohort has {subjects}",
    why="Stratified balancing promises a minimum per cell; with too few subjects some cells stay empty or tiny and the balance is a fiction.",
    bad="subjects: 40\npopulation {\n  stratify: sex, age_band, scanner\n  age_bands: 50 y, 65 y\n}",
    good="subjects: 400\npopulation {\n  stratify: sex, age_band, scanner\n  age_bands: 50 y, 65 y\n}",
    fix="raise `subjects` to at least {need}, lower `min_per_stratum`, or stratify on fewer variables", family=FAMILY)

TOO_FEW_POSITIVES = rule(
    "POP002", "too-few-positives", "error",
    "`{pathology}` gives about {expected:.1f} positive subjects per stratum; at least {needed} are needed",
    why="Per-stratum performance and shortcut tests need enough positives in every stratum to mean anything.",
    bad="subjects: 100\nprevalence: 5%\nstratify: sex, scanner", good="subjects: 1000\nprevalence: 20%\nstratify: sex, scanner",
    fix="raise `subjects` to at least {subjects_needed} or `prevalence`, or stratify on fewer variables", family=FAMILY)

EMPTY_STRATUM = rule(
    "POP003", "empty-stratum", "error", "stratifying by {by} but {problem}",
    why="A stratum that the population can never produce cannot be filled however many subjects are generated.",
    bad="sex: female 100%\nstratify: sex", good="sex: female 100%\nstratify: age_band",
    fix="{fix}", family=FAMILY)


def strata_count(ctx) -> int:
    pop, c = ctx.cohort.population, ctx.cohort
    if pop is None:
        return 1
    n = 1
    for by in pop.stratify:
        if by == "sex":
            n *= len(pop.sex.names) if pop.sex else 2
        elif by == "age_band":
            n *= len(pop.age_bands) + 1
        elif by == "bmi_band":
            n *= 3
        elif by == "scanner":
            n *= len(c.scanners.names) if c.scanners else 1
        elif by == "site":
            n *= max(1, len(c.transfer.sites)) if c.transfer else 1
    return n


@check
def strata(ctx) -> None:
    c, pop = ctx.cohort, ctx.cohort.population
    if pop is None or not pop.stratify or c.subjects is None:
        return
    n = strata_count(ctx)
    per = pop.min_per_stratum or DEFAULT_MIN_PER_STRATUM
    if n * per > c.subjects:
        ctx.sink.report(STRATA_UNFILLABLE, pop.at("stratify"), strata=n, per=per, need=n * per, subjects=c.subjects)
    if "sex" in pop.stratify and pop.sex and any(w == 0 for w in pop.sex.weights):
        zero = [s for s, w in zip(pop.sex.names, pop.sex.weights) if w == 0]
        ctx.sink.report(EMPTY_STRATUM, pop.at("stratify"), by="sex", problem=f"{', '.join(zero)} has a 0% share",
                        fix="give every sex a share or stop stratifying by sex")
    if "age_band" in pop.stratify:
        if not pop.age_bands:
            ctx.sink.report(EMPTY_STRATUM, pop.at("stratify"), by="age band", problem="no `age_bands` are given",
                            fix="add `age_bands: 50 y, 65 y` (the cut points)")
        elif pop.age:
            low, high = pop.age.support()
            outside = [b for b in pop.age_bands if not low < b < high]
            if outside:
                ctx.sink.report(EMPTY_STRATUM, pop.at("age_bands"), by="age band",
                                problem=f"cut point {outside[0]:g} y lies outside the ages the population can have",
                                fix="put every cut point strictly inside the age range")
        if pop.age_bands and sorted(pop.age_bands) != pop.age_bands:
            ctx.sink.report(EMPTY_STRATUM, pop.at("age_bands"), by="age band", problem="the cut points are not in increasing order",
                            fix="sort the cut points")


@check
def positives(ctx) -> None:
    c = ctx.cohort
    if c.subjects is None:
        return
    n = strata_count(ctx)
    for p in c.pathologies:
        if p.prevalence is None:
            continue
        needed = p.min_positives or DEFAULT_MIN_POSITIVES
        expected = c.subjects * p.prevalence / n
        if expected < needed:
            subjects_needed = int(-(-needed * n // max(p.prevalence, 1e-9)))
            ctx.sink.report(TOO_FEW_POSITIVES, p.at("prevalence"), pathology=p.name, expected=expected, needed=needed,
                            subjects_needed=subjects_needed)
