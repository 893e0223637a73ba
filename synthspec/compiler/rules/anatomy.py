"""Anatomy rules: locations exist, fit the organ, sit in the field of view and the right territory."""

from __future__ import annotations

import math

from synthspec.compiler.rules.registry import check, rule

FAMILY = "anatomy"

LOCATION_NOT_IN_FAMILY = rule(
    "ANA001", "location-not-in-family", "error", "`{location}` is not part of the `{family}` anatomy",
    why="A finding can only be placed in a structure that the chosen anatomy family builds.",
    bad="anatomy: thorax_adult\npathology bleed {\n  location: basal_ganglia\n}",
    good="anatomy: head_adult\npathology bleed {\n  location: basal_ganglia\n}",
    fix="choose a structure of {family}: {choices}", family=FAMILY)

OUTSIDE_FOV = rule(
    "ANA002", "outside-field-of-view", "error", "{what}",
    why="Anatomy cut off by the field of view produces truncation artifacts and lesions that are partly or wholly missing.",
    bad="ct {\n  field_of_view: 250 mm\n}   # adult chest up to BMI 40", good="ct {\n  field_of_view: 450 mm\n}",
    fix="{fix}", family=FAMILY)

LESION_TOO_LARGE = rule(
    "ANA003", "lesion-too-large", "error",
    "`{pathology}` can reach {size:g} mm, larger than `{organ}` ({organ_size:.0f} mm) in the smallest subjects",
    why="A lesion larger than its host organ cannot be placed without crossing impossible boundaries.",
    bad="location: right_middle_lobe\ndiameter: 20 mm .. 60 mm", good="location: right_middle_lobe\ndiameter: 4 mm .. 20 mm",
    fix="keep the largest size under {organ_size:.0f} mm or choose a larger location", family=FAMILY)

OUTSIDE_TERRITORY = rule(
    "ANA004", "infarct-outside-territory", "error",
    "`{location}` is not supplied by the {territories} territory",
    why="Ischaemic infarcts follow arterial territories; a lesion outside its territory is anatomically impossible and teaches a wrong pattern.",
    bad="territory: MCA\nlocation: occipital_lobe", good="territory: PCA\nlocation: occipital_lobe",
    fix="for {location} use territory {right}", family=FAMILY)

AGE_ANATOMY_MISMATCH = rule(
    "ANA005", "age-anatomy-mismatch", "error",
    "ages {ages} fall outside `{family}` ({family_ages})",
    why="Paediatric anatomy (open physes, proportions) is wrong for adults and adult anatomy is wrong for children.",
    bad="anatomy: hand_pediatric\nage: 20 y .. 60 y", good="anatomy: hand_pediatric\nage: 4 y .. 14 y",
    fix="clip the age distribution to {family_ages} or choose another anatomy family", family=FAMILY)

LOCATION_NOT_ALLOWED = rule(
    "ANA006", "location-not-allowed", "error", "`{kind}` does not occur in `{location}`",
    why="Each pathology has typical locations; placing it elsewhere (a lung nodule in the heart) creates impossible cases.",
    bad="kind: lung_nodule\nlocation: heart", good="kind: lung_nodule\nlocation: right_upper_lobe",
    fix="allowed locations for {kind}: {allowed}", family=FAMILY)

KIND_NOT_FOR_FAMILY = rule(
    "ANA007", "pathology-not-for-family", "error", "`{kind}` is not defined for `{family}` anatomy",
    why="The pathology library only knows how to insert a finding into the anatomy families it lists.",
    bad="anatomy: hand_pediatric\npathology p { kind: lung_nodule }", good="anatomy: thorax_adult\npathology p { kind: lung_nodule }",
    fix="use anatomy {families}", family=FAMILY)

SIZE_OUTSIDE_KIND = rule(
    "ANA008", "size-outside-kind", "warning", "`{pathology}` {what} {given} is outside the usual {usual} for {kind}",
    why="Sizes far outside what the finding shows in patients make a cohort that no real distribution matches.",
    bad="kind: lung_nodule\ndiameter: 1 mm .. 50 mm", good="kind: lung_nodule\ndiameter: 4 mm .. 30 mm",
    fix="keep {what} within {usual}", family=FAMILY)

PATHOLOGY_AGE_MISMATCH = rule(
    "ANA009", "pathology-age-mismatch", "warning", "`{kind}` occurs at ages {kind_ages}, but the population spans {ages}",
    why="Findings have age ranges (rickets in infants and young children, glioblastoma in adults).",
    bad="kind: rickets\nage: 10 y .. 17 y", good="kind: rickets\nage: 1 y .. 8 y",
    fix="narrow the population ages to {kind_ages}", family=FAMILY)

ATTACHMENT_CONFLICT = rule(
    "ANA010", "attachment-against-constraint", "error",
    "`{pathology}` asks for {attachment} nodules but also `{constraint}`",
    why="A juxta-pleural nodule touches the pleura by definition; a required gap from the pleura leaves it nowhere "
        "to go, so every such draw would be rejected.",
    bad="attachment: isolated 80%, juxta_pleural 20%\nrequire gap: distance_to(pleura) >= 2 mm",
    good="attachment: isolated 80%, juxta_vascular 20%\nrequire gap: distance_to(pleura) >= 2 mm",
    fix="drop juxta_pleural from `attachment` or the `require` line", family=FAMILY)


def _fmt_range(low, high, unit):
    return f"{low:g} {unit} .. {high:g} {unit}" if math.isfinite(high) else f"{low:g} {unit} and over"


@check
def locations(ctx) -> None:
    c = ctx.cohort
    family = ctx.family
    if family is None:
        return
    for p in c.pathologies:
        kind = ctx.kind(p.kind)
        if kind is None:
            continue
        families = kind.get("families") or []
        if c.anatomy not in families:
            ctx.sink.report(KIND_NOT_FOR_FAMILY, p.at("kind"), kind=p.kind, family=c.anatomy, families=", ".join(families))
            continue
        allowed = {o for loc in kind.get("locations", []) for o in ctx.expand(loc)}
        for loc in (p.location.names if p.location else []):
            organs = ctx.expand(loc)
            if not organs:
                ctx.sink.report(LOCATION_NOT_IN_FAMILY, p.at("location"), location=loc, family=c.anatomy,
                                choices=", ".join(list(ctx.groups)[:6]))
                continue
            outside = [o for o in organs if o not in allowed]
            if outside:
                ctx.sink.report(LOCATION_NOT_ALLOWED, p.at("location"), kind=p.kind, location=loc,
                                allowed=", ".join(kind.get("locations", [])))


def _smallest_scale(ctx) -> float:
    """Linear body scale of the smallest subject relative to the family's reference height.

    Trunk and limbs scale about linearly with height; the adult head and brain barely do
    (exponent 0.3, as in the field-of-view check), so a short adult does not have a
    brain 12 % smaller in every direction.
    """
    ref = ctx.family.get("reference_height") or 1700.0
    exponent = 0.3 if "head" in (ctx.family.get("regions") or []) else 1.0
    pop = ctx.cohort.population
    if pop and pop.height:
        low = pop.height.typical()[0]
        if math.isfinite(low):
            return min(1.0, low / ref) ** exponent
    return 0.88 ** exponent  # 5th-percentile adult height over the reference


@check
def lesion_fits(ctx) -> None:
    if ctx.family is None:
        return
    scale = _smallest_scale(ctx)
    for p in ctx.cohort.pathologies:
        kind = ctx.kind(p.kind)
        if kind is None:
            continue
        if p.diameter is not None:
            largest = p.diameter.support()[1]
            if not math.isfinite(largest):
                largest = p.diameter.typical()[1]
            # space-occupying collections (`displaces: true`) push the host aside; only ANA008 bounds them
            host_locations = [] if kind.get("displaces") else (p.location.names if p.location else kind.get("locations", []))
            for loc in host_locations:
                sizes = [(o, ctx.organs[o].get("size")) for o in ctx.expand(loc) if ctx.organs[o].get("size")]
                if not sizes:
                    continue
                organ, size = max(sizes, key=lambda s: s[1])
                if largest > size * scale:
                    ctx.sink.report(LESION_TOO_LARGE, p.at("diameter"), pathology=p.name, size=largest,
                                    organ=loc, organ_size=size * scale)
                    break
            usual = kind.get("diameter")
            low, high = p.diameter.typical()
            if usual and (low < usual[0] or high > usual[1]):
                ctx.sink.report(SIZE_OUTSIDE_KIND, p.at("diameter"), pathology=p.name, what="diameter",
                                given=_fmt_range(low, high, "mm"), usual=_fmt_range(*usual, "mm"), kind=p.kind)
        if p.volume is not None and kind.get("volume"):
            usual = kind.get("volume")
            low, high = p.volume.typical()
            if low < usual[0] or high > usual[1]:
                ctx.sink.report(SIZE_OUTSIDE_KIND, p.at("volume"), pathology=p.name, what="volume",
                                given=_fmt_range(low, high, "mL"), usual=_fmt_range(*usual, "mL"), kind=p.kind)


@check
def territories(ctx) -> None:
    if ctx.family is None:
        return
    covers = {t.name: set(t.get("covers", [])) for t in ctx.family.all("territory")}
    fitting: dict[tuple, list[str]] = {}
    for p in ctx.cohort.pathologies:
        if not p.territory or not p.location:
            continue
        chosen = [t for t in p.territory.names if t in covers]
        if not chosen:
            continue
        supplied = set().union(*(covers[t] for t in chosen))
        for loc in p.location.names:
            organs = ctx.expand(loc)
            if organs and not any(o in supplied for o in organs):
                key = tuple(organs)
                if key not in fitting:  # once per location, however many pathologies name it
                    fitting[key] = [t for t, cov in covers.items() if any(o in cov for o in organs)]
                right = fitting[key]
                shown = " or ".join(right[:8]) + (" or …" if len(right) > 8 else "")
                ctx.sink.report(OUTSIDE_TERRITORY, p.at("location"), location=loc, territories="/".join(chosen),
                                right=shown or "no territory (choose another location)")


@check
def ages(ctx) -> None:
    c, family = ctx.cohort, ctx.family
    if family is None or c.population is None or c.population.age is None:
        return
    low, high = c.population.age.typical()
    f_low, f_high = family.get("ages", (0, 130))
    if low < f_low - 1e-9 or high > f_high + 1e-9:
        ctx.sink.report(AGE_ANATOMY_MISMATCH, c.population.at("age"), ages=_fmt_range(low, high, "y"),
                        family=c.anatomy, family_ages=_fmt_range(f_low, f_high, "y"))
    for p in c.pathologies:
        kind = ctx.kind(p.kind)
        if kind is None or not kind.get("ages"):
            continue
        k_low, k_high = kind.get("ages")
        if low < k_low - 1e-9 or high > k_high + 1e-9:
            ctx.sink.report(PATHOLOGY_AGE_MISMATCH, p.at("kind"), kind=p.kind, kind_ages=_fmt_range(k_low, k_high, "y"),
                            ages=_fmt_range(low, high, "y"))


def _largest(dist) -> float:
    """The largest value a subject can have: the clip limit when there is one, else mean + 2 sd."""
    high = dist.support()[1]
    return high if math.isfinite(high) else dist.typical()[1]


@check
def field_of_view(ctx) -> None:
    c, family = ctx.cohort, ctx.family
    proto = c.protocol
    if family is None or proto is None:
        return
    if proto.coverage:
        for p in c.pathologies:
            for loc in (p.location.names if p.location else []):
                for organ in ctx.expand(loc):
                    region = ctx.organs[organ].get("region")
                    if region and region not in proto.coverage:
                        ctx.sink.report(OUTSIDE_FOV, p.at("location"),
                                        what=f"`{loc}` lies in the {region}, outside the protocol's coverage ({', '.join(proto.coverage)})",
                                        fix=f"add {region} to `coverage` or choose a location inside it")
                        break
    if proto.field_of_view and family.get("body_width") and proto.modality != "xray":
        bmi_high = _largest(c.population.bmi) if (c.population and c.population.bmi) else 30.0
        height_high = _largest(c.population.height) if (c.population and c.population.height) else family.get("reference_height")
        scale = math.sqrt(max(bmi_high, 1.0) / 24.0) * (height_high / family.get("reference_height")) ** 0.5
        if not family.get("pediatric") and family.name != "head_adult":
            width = family.get("body_width") * scale
        else:
            width = family.get("body_width") * (height_high / family.get("reference_height")) ** 0.3
        if width > proto.field_of_view:
            ctx.sink.report(OUTSIDE_FOV, proto.at("field_of_view"),
                            what=f"the largest subjects are about {width:.0f} mm wide, more than the {proto.field_of_view:g} mm field of view",
                            fix=f"set `field_of_view` to at least {math.ceil(width / 10) * 10:.0f} mm or narrow the BMI/height range")


@check
def attachments(ctx) -> None:
    """A juxta-pleural share beside a required gap from the pleura (the gap would reject every such nodule)."""
    for p in ctx.cohort.pathologies:
        if not p.attachment or "juxta_pleural" not in p.attachment.names:
            continue
        share = dict(zip(p.attachment.names, p.attachment.weights)).get("juxta_pleural", 0.0)
        for con in p.constraints:
            if (con.function == "distance_to" and (con.argument or "").split(".")[-1] == "pleura"
                    and con.op in (">=", ">") and (con.right_value or 0.0) > 0.0 and share > 0.0):
                ctx.sink.report(ATTACHMENT_CONFLICT, con.span, pathology=p.name, attachment="juxta_pleural",
                                constraint=f"distance_to(pleura) {con.op} {con.right}")
