"""Physics rules: acquisition settings are plausible and the chosen scanners can deliver them."""

from __future__ import annotations

import math

from synthspec.compiler.rules.registry import check, rule
from synthspec.compiler.schema import INVERSION_TYPES, SEQUENCE_FAMILY

FAMILY = "physics"

IMPLAUSIBLE_KV = rule(
    "PHY001", "implausible-tube-voltage", "error", "{modality} tube voltage {value:g} kV is outside {low:g}-{high:g} kV",
    why="Clinical tubes run in a narrow band; outside it the spectrum model and every HU value are meaningless.",
    bad="ct {\n  kv: 300 kV\n}", good="ct {\n  kv: 120 kV\n}",
    fix="use {low:g}-{high:g} kV (chest CT 100-120 kV, hand radiograph 50-60 kV)", family=FAMILY)

IMPLAUSIBLE_MAS = rule(
    "PHY002", "implausible-tube-load", "error", "{modality} tube load {value} is outside {low:g}-{high:g} mAs",
    why="Quantum noise scales with 1/sqrt(mAs); a load outside the clinical band gives noise no scanner produces.",
    bad="ct {\n  mas: 5000 mAs\n}", good="ct {\n  mas: 30 mAs   # low-dose chest\n}",
    fix="use {low:g}-{high:g} mAs", family=FAMILY)

IMPLAUSIBLE_SLICE = rule(
    "PHY003", "implausible-slice-thickness", "error", "slice thickness {value:g} mm is outside {low:g}-{high:g} mm",
    why="Reconstructed slices thinner than the detector or thicker than 10 mm do not exist clinically and blur or miss small findings.",
    bad="slice_thickness: 0.1 mm", good="slice_thickness: 1.25 mm",
    fix="use {low:g}-{high:g} mm", family=FAMILY)

IMPLAUSIBLE_TIMING = rule(
    "PHY004", "implausible-mr-timing", "error", "sequence `{sequence}`: {problem}",
    why="TR, TE and TI set the contrast; impossible timings (TE longer than TR, TI beyond TR) have no signal equation.",
    bad="sequence flair {\n  type: flair\n  tr: 9000 ms\n  te: 12000 ms\n}", good="sequence flair {\n  type: flair\n  tr: 9000 ms\n  te: 120 ms\n  ti: 2500 ms\n}",
    fix="{fix}", family=FAMILY)

IMPLAUSIBLE_FLIP = rule(
    "PHY005", "implausible-flip-angle", "error", "sequence `{sequence}`: flip angle {value:g} deg is outside {low:g}-{high:g} deg",
    why="Excitation flip angles run from a few degrees (gradient echo) to 180 deg (refocusing).",
    bad="flip: 400 deg", good="flip: 15 deg",
    fix="use {low:g}-{high:g} deg", family=FAMILY)

IMPLAUSIBLE_FIELD = rule(
    "PHY006", "implausible-field-strength", "error", "field strength {value:g} T is outside the 0.2-7 T of clinical MR",
    why="Relaxation tables exist for 1.5 T and 3 T (and are extrapolated to 0.2-7 T); beyond that the contrast model does not hold.",
    bad="field_strength: 15 T", good="field_strength: 3 T",
    fix="use 1.5 T or 3 T", family=FAMILY)

SCANNER_MODALITY = rule(
    "PHY007", "scanner-modality-mismatch", "error", "scanner `{scanner}` is for {has}, but this cohort is {wants}",
    why="A scanner profile only models its own modality.",
    bad="task { modality: ct }\nscanners: mr.research_3t", good="task { modality: ct }\nscanners: ct.midrange_64",
    fix="choose a scanner for {wants}: {choices}", family=FAMILY)

SCANNER_UNSUPPORTED = rule(
    "PHY008", "scanner-setting-unsupported", "error", "scanner `{scanner}` cannot do {setting}",
    why="Mixing scanners that cannot run the protocol makes subjects that no site could acquire.",
    bad="kv: 100 kV\nscanners: ct.budget_16   # only 80/120/140 kV", good="kv: 120 kV\nscanners: ct.budget_16",
    fix="{fix}", family=FAMILY)

ENHANCEMENT_WITHOUT_CONTRAST = rule(
    "PHY009", "enhancement-without-contrast", "error", "`{pathology}` needs contrast enhancement, but {missing}",
    why="Enhancement exists only after a contrast agent is given and a post-contrast image is acquired; otherwise the enhancing rim cannot appear.",
    bad="mri {\n  sequence t1 { type: spin_echo }\n}",
    good="mri {\n  contrast { agent: gadobutrol; dose: 0.1 mmol/kg }\n  sequence t1_post { type: spin_echo; post_contrast: true }\n}",
    fix="{fix}", family=FAMILY)

CONTRAST_DOSE = rule(
    "PHY010", "implausible-contrast", "error", "{problem}",
    why="Gadolinium is dosed around 0.1 mmol/kg (0.05-0.3); iodinated agents are for CT and gadolinium for MR.",
    bad="contrast { agent: gadobutrol; dose: 2 mmol/kg }", good="contrast { agent: gadobutrol; dose: 0.1 mmol/kg }",
    fix="{fix}", family=FAMILY)

DIFFUSION_B = rule(
    "PHY011", "diffusion-without-b-values", "error", "diffusion sequence `{sequence}` {problem}",
    why="ADC is computed from at least two b-values, one of them high (about 1000 s/mm2).",
    bad="sequence dwi { type: diffusion }", good="sequence dwi { type: diffusion; b_values: 0 s/mm2, 1000 s/mm2 }",
    fix="give b_values such as `0 s/mm2, 1000 s/mm2`", family=FAMILY)

PROTOCOL_MISMATCH = rule(
    "PHY012", "protocol-mismatch", "error", "{problem}",
    why="The task's modality decides which physics runs; exactly one matching acquisition block must describe it.",
    bad="task { modality: mri }\nct { kv: 120 kV }", good="task { modality: mri }\nmri { field_strength: 3 T }",
    fix="{fix}", family=FAMILY)

UNDERSAMPLED_VIEWS = rule(
    "PHY013", "angular-undersampling", "error",
    "{views} views sample a {n}-pixel matrix below the {full} (pi/2 x {n}) that full angular sampling needs",
    why="With fewer views than pi/2 times the matrix, every edge (the body outline, ribs, the skull) throws aliasing "
        "streaks across the image: a fixed pattern of 5-20 HU that no real scanner (about 1000-2000 views per turn) "
        "shows, larger than low-dose quantum noise, and the easiest tell of a synthetic CT.",
    bad="ct {\n  matrix: 512\n  views: 256\n}",
    good="ct {\n  matrix: 512   # the planner takes ceil(pi/2 x 512) = 805 views\n}",
    fix="remove `views` (the planner takes {full}), or keep {views} with a reason: "
        "`views: {views}  # synth: ignore[PHY013] <why under-sampling is wanted>`", family=FAMILY)

CT_DEFAULT_MATRIX, CT_DEFAULT_FOV_MM = 256, 400.0
"""The matrix and field of view a CT block without them gets (the ct modality's DEFAULT_MATRIX and DEFAULT_FOV_MM;
a test keeps them equal: the linter does not import the modality)."""

LIMITS = {  # plausible clinical bands (see shared PHYSICS.md)
    "ct": {"kv": (70, 150), "mas": (5, 800), "slice": (0.5, 10)},
    "xray": {"kv": (40, 150), "mas": (0.1, 200), "slice": (0, 1e9)},
    "mri": {"slice": (0.5, 10)},
}


@check
def protocol_present(ctx) -> None:
    c = ctx.cohort
    if c.task is None or c.task.modality is None:
        return
    if c.protocol is None:
        ctx.sink.report(PROTOCOL_MISMATCH, c.span, problem=f"the task is {c.task.modality} but the cohort has no `{c.task.modality}` block",
                        fix=f"add a `{c.task.modality} {{ ... }}` block with the acquisition physics")
    elif c.protocol.modality != c.task.modality:
        ctx.sink.report(PROTOCOL_MISMATCH, c.protocol.span,
                        problem=f"the task is {c.task.modality} but the acquisition block is `{c.protocol.modality}`",
                        fix=f"rename the block to `{c.task.modality}` or change `task.modality`")


@check
def settings(ctx) -> None:
    proto = ctx.cohort.protocol
    if proto is None:
        return
    limits = LIMITS[proto.modality]
    label = {"ct": "CT", "xray": "radiography", "mri": "MR"}[proto.modality]
    if proto.kv is not None and "kv" in limits:
        low, high = limits["kv"]
        if not low <= proto.kv <= high:
            ctx.sink.report(IMPLAUSIBLE_KV, proto.at("kv"), modality=label, value=proto.kv, low=low, high=high)
    if proto.mas is not None and "mas" in limits:
        low, high = limits["mas"]
        lo, hi = proto.mas.typical()
        if lo < low or hi > high:
            shown = f"{lo:g} mAs" if lo == hi else f"{lo:g}-{hi:g} mAs"
            ctx.sink.report(IMPLAUSIBLE_MAS, proto.at("mas"), modality=label, value=shown, low=low, high=high)
    if proto.slice_thickness is not None:
        low, high = limits["slice"]
        if not low <= proto.slice_thickness <= high:
            ctx.sink.report(IMPLAUSIBLE_SLICE, proto.at("slice_thickness"), value=proto.slice_thickness, low=low, high=high)
    if proto.modality == "ct" and proto.views is not None:
        _views(ctx, proto)
    if proto.modality == "mri":
        if proto.field_strength is not None and not 0.2 <= proto.field_strength <= 7:
            ctx.sink.report(IMPLAUSIBLE_FIELD, proto.at("field_strength"), value=proto.field_strength)
        for s in proto.sequences:
            _sequence(ctx, s)


def _views(ctx, proto) -> None:
    # the in-plane matrix as the ct modality's grid takes it (slice_grid.slice_stack)
    voxel = ctx.cohort.voxel_size
    n = int(math.ceil((proto.field_of_view or CT_DEFAULT_FOV_MM) / voxel)) if voxel \
        else int(proto.matrix or CT_DEFAULT_MATRIX)
    full = math.ceil(math.pi / 2 * n)
    if proto.views < full:
        ctx.sink.report(UNDERSAMPLED_VIEWS, proto.at("views"), views=proto.views, n=n, full=full)


def _sequence(ctx, s) -> None:
    def bad(problem, fix):
        ctx.sink.report(IMPLAUSIBLE_TIMING, s.span, sequence=s.name, problem=problem, fix=fix)

    if s.tr is not None and not 2 <= s.tr <= 20000:
        bad(f"TR {s.tr:g} ms is outside 2-20000 ms", "use a TR between 2 ms (fast gradient echo) and 20000 ms")
    if s.te is not None and not 0.5 <= s.te <= 500:
        bad(f"TE {s.te:g} ms is outside 0.5-500 ms", "use a TE between 0.5 ms and 500 ms")
    if s.tr is not None and s.te is not None and s.te >= s.tr:
        bad(f"TE {s.te:g} ms is not shorter than TR {s.tr:g} ms", "make TE shorter than TR")
    if s.ti is not None:
        if s.type is not None and s.type not in INVERSION_TYPES:
            bad(f"TI is set but a {s.type} sequence has no inversion",
                "remove `ti` or use type inversion_recovery / flair / inversion_prepared_gradient_echo")
        elif s.tr is not None and s.ti >= s.tr:
            bad(f"TI {s.ti:g} ms is not shorter than TR {s.tr:g} ms", "make TI shorter than TR")
    elif s.type in INVERSION_TYPES:
        bad("an inversion-recovery sequence needs `ti`", "add `ti: 2500 ms` (FLAIR) or a T1-weighting TI "
            "(about 900 ms for an MPRAGE at 3 T)")
    if s.flip is not None:
        low, high = (1, 90) if s.type in ("gradient_echo", "inversion_prepared_gradient_echo") else (1, 180)
        if not low <= s.flip <= high:
            ctx.sink.report(IMPLAUSIBLE_FLIP, s.at("flip"), sequence=s.name, value=s.flip, low=low, high=high)
    if s.type == "diffusion":
        if len(s.b_values) < 2:
            ctx.sink.report(DIFFUSION_B, s.span, sequence=s.name, problem="needs at least two b-values")
        elif max(s.b_values) < 500:
            ctx.sink.report(DIFFUSION_B, s.at("b_values"), sequence=s.name, problem="has no b-value of 500 s/mm2 or more")


_LABEL = {"ct": "CT", "xray": "radiography", "mri": "MRI"}


def _article(word) -> str:
    word = str(word)
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _in(value, choices, tol=1e-6):
    return any(abs(value - c) <= tol for c in choices)


@check
def scanners(ctx) -> None:
    c, proto = ctx.cohort, ctx.cohort.protocol
    wants = c.task.modality if c.task and c.task.modality else (proto.modality if proto else None)
    if wants is None:
        return
    choices = None
    for name, scanner in ctx.scanners():
        span = c.at("scanners")
        has = scanner.get("modality")
        if has != wants:
            if choices is None:  # once per cohort, and at most eight names however many scanners are defined
                fitting = [n for n, d in ctx.registry.items["scanner"].items() if d.get("modality") == wants]
                choices = ", ".join(fitting[:8]) + (", …" if len(fitting) > 8 else "")
            ctx.sink.report(SCANNER_MODALITY, span, scanner=name, has=_LABEL.get(has, has), wants=_LABEL.get(wants, wants),
                            choices=choices)
            continue
        if proto is None or proto.modality != wants:
            continue

        def unsupported(setting, fix):
            ctx.sink.report(SCANNER_UNSUPPORTED, span, scanner=name, setting=setting, fix=fix)

        if proto.kv is not None:
            if scanner.get("kv") and not _in(proto.kv, scanner.get("kv")):
                unsupported(f"{proto.kv:g} kV", "use one of " + ", ".join(f"{k:g} kV" for k in scanner.get("kv")) + f" or drop {name}")
            if scanner.get("kv_range"):
                lo, hi = scanner.get("kv_range")
                if not lo <= proto.kv <= hi:
                    unsupported(f"{proto.kv:g} kV", f"use {lo:g}-{hi:g} kV")
        if proto.mas is not None and scanner.get("mas"):
            lo, hi = scanner.get("mas")
            m_lo, m_hi = proto.mas.typical()
            if m_lo < lo or m_hi > hi:
                shown = f"{m_lo:g} mAs" if m_lo == m_hi else f"{m_lo:g}-{m_hi:g} mAs"
                unsupported(shown, f"keep the tube load within {lo:g}-{hi:g} mAs")
        if proto.slice_thickness is not None and scanner.get("slice_thickness"):
            lo, hi = scanner.get("slice_thickness")
            if not lo - 1e-9 <= proto.slice_thickness <= hi + 1e-9:
                unsupported(f"{proto.slice_thickness:g} mm slices", f"use {lo:g}-{hi:g} mm")
        if proto.kernel and scanner.get("kernels") and proto.kernel not in scanner.get("kernels"):
            unsupported(f"the {proto.kernel} kernel", "use " + ", ".join(scanner.get("kernels")))
        if proto.field_of_view and scanner.get("field_of_view") and proto.field_of_view > scanner.get("field_of_view"):
            unsupported(f"a {proto.field_of_view:g} mm field of view", f"use at most {scanner.get('field_of_view'):g} mm")
        if proto.modality == "mri":
            fs = scanner.get("field_strength")
            if fs and proto.field_strength and abs(fs - proto.field_strength) > 1e-6:
                unsupported(f"{proto.field_strength:g} T (it is a {fs:g} T system)", f"set field_strength to {fs:g} T or choose another scanner")
            for s in proto.sequences:
                family = SEQUENCE_FAMILY.get(s.type or "")
                if family and scanner.get("sequences") and family not in scanner.get("sequences"):
                    unsupported(f"{s.type} sequences", "drop the sequence or the scanner")
                if s.b_values and scanner.get("max_b") and max(s.b_values) > scanner.get("max_b"):
                    unsupported(f"b = {max(s.b_values):g} s/mm2", f"keep b-values at or below {scanner.get('max_b'):g} s/mm2")
        if proto.modality == "xray" and proto.grid_ratio is not None and scanner.get("grid_ratios"):
            if not _in(proto.grid_ratio, scanner.get("grid_ratios")):
                unsupported(f"a {proto.grid_ratio:g}:1 grid", "use a grid ratio of " + ", ".join(f"{g:g}" for g in scanner.get("grid_ratios")))


@check
def contrast(ctx) -> None:
    c, proto = ctx.cohort, ctx.cohort.protocol
    if proto is None:
        return
    agent = proto.contrast_agent
    if agent and agent.agent:
        a = ctx.registry.get("agent", agent.agent)
        if a is not None:
            expected = "gadolinium" if proto.modality == "mri" else "iodinated"
            if a.get("kind") != expected:
                ctx.sink.report(CONTRAST_DOSE, agent.at("agent"), problem=f"`{agent.agent}` is {_article(a.get('kind'))} agent, not for {_LABEL[proto.modality]}",
                                fix=f"use a {expected} agent")
            if agent.dose is not None and a.get("kind") == "gadolinium" and not 0.025 <= agent.dose <= 0.3:
                ctx.sink.report(CONTRAST_DOSE, agent.at("dose"), problem=f"gadolinium dose {agent.dose:g} mmol/kg is outside 0.025-0.3 mmol/kg",
                                fix="use the standard 0.1 mmol/kg")
    for p in c.pathologies:
        kind = ctx.kind(p.kind)
        needs = p.enhancement if p.enhancement is not None else bool(kind and kind.get("needs_contrast"))
        if not needs:
            continue
        if proto.modality == "mri":
            missing = []
            if agent is None:
                missing.append("no contrast agent is given")
            if not any(s.post_contrast for s in proto.sequences):
                missing.append("no sequence is post-contrast")
            if missing:
                ctx.sink.report(ENHANCEMENT_WITHOUT_CONTRAST, p.span, pathology=p.name, missing=" and ".join(missing),
                                fix="add `contrast { agent: gadobutrol; dose: 0.1 mmol/kg }` and a sequence with `post_contrast: true`")
        elif proto.modality == "ct" and (proto.contrast in (None, "none")):
            ctx.sink.report(ENHANCEMENT_WITHOUT_CONTRAST, p.span, pathology=p.name, missing="the CT protocol is non-contrast",
                            fix="set `contrast: iodinated` and a `phase`, or drop the enhancement")
        elif proto.modality == "xray":
            ctx.sink.report(ENHANCEMENT_WITHOUT_CONTRAST, p.span, pathology=p.name, missing="radiographs show no enhancement",
                            fix="use CT or MRI for enhancing findings")
