"""Governance rules: purposes from the allowed set, prohibited uses refused, real confirmation, expiry."""

from __future__ import annotations

from synthspec.compiler.rules.registry import check, rule

FAMILY = "governance"

UNKNOWN_PURPOSE = rule(
    "GOV001", "unknown-purpose", "error", "`{purpose}` is not an allowed purpose for synthetic data",
    why="Synthetic cohorts are approved for a short list of purposes; anything else needs a governance decision first.",
    bad="purpose: make_model_better", good="purpose: rare_case_gap_filling",
    fix="{suggestion}", family=FAMILY)

PROHIBITED_USE = rule(
    "GOV002", "prohibited-use", "error", "`{use}` is a prohibited use of synthetic data",
    why="Some uses are refused outright: final performance claims without real-data confirmation, safety-critical edge cases not validated on real scans, replacing real data.",
    bad="purpose: final_performance_claim_without_real_confirmation", good="purpose: brittleness_testing",
    fix="remove it; list it under `prohibit` to record that it is excluded", family=FAMILY)

REAL_CONFIRMATION_MISSING = rule(
    "GOV003", "real-confirmation-missing", "error", "claim `{claim}` needs confirmation on real scans, but {missing}",
    why="Only held-out real scans from other sites validate a model; a claim resting on synthetic data alone is not evidence.",
    bad="governance {\n  claims: performance_claim\n}",
    good="transfer {\n  data: \"real/datalist.json\"\n  held_out: site_c\n}\ngovernance {\n  claims: performance_claim\n  real_confirmation: required\n}",
    fix="add a `transfer` block with held-out real sites and set `real_confirmation: required`", family=FAMILY)

APPROVAL_EXPIRED = rule(
    "GOV004", "approval-expired", "error", "the governance approval expired on {expires}",
    why="An expired approval means nobody currently vouches for this use of synthetic data.",
    bad="expires: 2020-01-31", good="expires: 2027-12-31",
    fix="renew the approval and update `expires`", family=FAMILY)

APPROVAL_EXPIRING = rule(
    "GOV005", "approval-expiring", "warning", "the governance approval expires in {days} days ({expires})",
    why="Runs after the expiry date will fail the governance gate.",
    bad="expires: (in two weeks)", good="expires: (renewed for a year)",
    fix="renew the approval before {expires}", family=FAMILY)

MISSING_GOVERNANCE = rule(
    "GOV006", "missing-governance", "error", "{problem}",
    why="Every synthetic cohort must say what it may be used for and who approved it, so its card can travel with it.",
    bad="cohort c {\n  ...\n}   # no governance block", good="governance {\n  purpose: rare_case_gap_filling\n  approved_by: \"Imaging AI board\"\n  expires: 2027-12-31\n}",
    fix="{fix}", family=FAMILY)

SAFETY_CRITICAL = rule(
    "GOV007", "safety-critical-unvalidated", "error", "claim `{claim}` is safety-critical and must be validated on real scans first",
    why="Safety-critical uses may rely on synthetic data only after validation on real scans is done and recorded.",
    bad="claims: clinical_deployment\nreal_confirmation: required", good="claims: clinical_deployment\nreal_confirmation: done",
    fix="complete the real-scan validation and set `real_confirmation: done`", family=FAMILY)

PLANTED_SHORTCUT = rule(
    "GOV008", "debug-shortcut-in-release", "error", "`debug.planted_shortcut` is on, but the purpose is {purposes}",
    why="A planted shortcut is a deliberate flaw for testing the shortcut detector; it must never reach a training set.",
    bad="debug { planted_shortcut: true }\ngovernance { purpose: rare_case_gap_filling }",
    good="debug { planted_shortcut: true }\ngovernance { purpose: method_development }",
    fix="turn it off, or set the only purpose to method_development", family=FAMILY)


@check
def purposes(ctx) -> None:
    from synthspec.compiler.elaborate import suggest

    g = ctx.cohort.governance
    if g is None:
        ctx.sink.report(MISSING_GOVERNANCE, ctx.cohort.span, problem="the cohort has no `governance` block",
                        fix="add `governance { purpose: ...; approved_by: \"...\"; expires: YYYY-MM-DD }`")
        return
    allowed, prohibited = ctx.vocabulary("purposes"), ctx.vocabulary("prohibited")
    for purpose in g.purpose:
        if purpose in prohibited:
            ctx.sink.report(PROHIBITED_USE, g.at("purpose"), use=purpose)
        elif purpose not in allowed:
            ctx.sink.report(UNKNOWN_PURPOSE, g.at("purpose"), purpose=purpose, suggestion=suggest(purpose, allowed))
    if not g.approved_by and not g.approval and not {"approved_by", "approval"} & set(g.invalid):
        ctx.sink.report(MISSING_GOVERNANCE, g.span, problem="the governance block names no approval",
                        fix="add `approved_by: \"board or person\"` (and `approval: \"reference\"`)")
    if g.expires is None:
        if "expires" not in g.invalid:  # a date written but unreadable is already reported (RNG004/NAM007)
            ctx.sink.report(MISSING_GOVERNANCE, g.span, problem="the governance block has no expiry date",
                            fix="add `expires: YYYY-MM-DD`")
    else:
        days = (g.expires - ctx.today).days
        if days < 0:
            ctx.sink.report(APPROVAL_EXPIRED, g.at("expires"), expires=g.expires.isoformat())
        elif days <= 30:
            ctx.sink.report(APPROVAL_EXPIRING, g.at("expires"), days=days, expires=g.expires.isoformat())
    debug = ctx.cohort.debug
    if debug and debug.planted_shortcut and set(g.purpose) - {"method_development"}:
        ctx.sink.report(PLANTED_SHORTCUT, debug.at("planted_shortcut"), purposes=", ".join(g.purpose))


@check
def claims(ctx) -> None:
    c, g = ctx.cohort, ctx.cohort.governance
    if g is None:
        return
    needs = ctx.vocabulary("claims_need_real_confirmation")
    critical = ctx.vocabulary("safety_critical")
    for claim in g.claims:
        if claim in needs:
            missing = []
            if c.transfer is None or not c.transfer.data:
                missing.append("there is no `transfer` test on real data")
            elif not c.transfer.held_out:
                missing.append("the transfer test holds out no real site")
            if g.real_confirmation not in ("required", "done"):
                missing.append("`real_confirmation` is not `required`")
            if missing:
                ctx.sink.report(REAL_CONFIRMATION_MISSING, g.at("claims"), claim=claim, missing=" and ".join(missing))
        if claim in critical and g.real_confirmation != "done":
            ctx.sink.report(SAFETY_CRITICAL, g.at("claims"), claim=claim)
