"""The cohort card as Markdown: `card_markdown(card)` turns the dict of `card.cohort_card` into `cohort_card.md`.

Every piece of text that came from the spec is made inert (`md`: no HTML, links,
emphasis or table breaks; `code`: identifiers and hashes).  It only formats: the
numbers and verdicts are decided in `card.py` and `validation_summary.py`.
"""

from __future__ import annotations

from typing import Any


def md(text: Any) -> str:
    """Text from the spec made inert in Markdown: no HTML, no table breaks, no links or emphasis."""
    if text is None:
        return "—"
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]|#!":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def code(text: Any) -> str:
    """A Markdown code span for identifiers and hashes (backticks and line breaks removed)."""
    return "`" + " ".join(str(text).replace("`", "'").replace("|", "/").split()) + "`" if text is not None else "—"


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _summary_md(s: dict) -> str:
    if not s.get("n"):
        return "—"
    return f"mean {_fmt(s['mean'])} (SD {_fmt(s['sd'])}), median {_fmt(s['median'])}, range {_fmt(s['min'])}–{_fmt(s['max'])}"


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def card_markdown(card: dict) -> str:
    c, comp, prov = card, card["composition"], card["provenance"]
    les = comp["lesions"]
    out = [f"# Cohort card: {md(c['title'] or c['cohort'])} (SYNTHETIC)", "",
           f"> **{md(c['notice'])}**", "",
           f"- Cohort: {code(c['cohort'])}",
           f"- Task: {md(c['task']['job'])} {md(c['task']['finding'])} on {md(c['task']['modality'])}",
           f"- Anatomy: {md(c['anatomy'])}; grid {' × '.join(map(str, c['grid']['shape_zyx']))} voxels (z, y, x) "
           f"at {' × '.join(_fmt(s) for s in c['grid']['spacing_mm_zyx'])} mm",
           f"- Subjects: {comp['subjects']} (all synthetic)",
           f"- {md(c['validation']['headline'])}", ""]
    if c.get("description"):
        out += [md(c["description"]), ""]
    out += ["## Intended uses", ""]
    out += [f"- **{md(p['purpose'])}**: {md(p['meaning'])}" for p in c["intended_uses"]] or ["- none declared"]
    out += ["", "## Prohibited uses", ""]
    out += [f"- **{md(p['use'])}**: {md(p['meaning'])} ({md(p['source'])})" for p in c["prohibited_uses"]]
    out += ["", "## Claims and real-data confirmation", ""]
    if c["claims"]:
        out += _table(("claim", "meaning", "needs real confirmation", "safety-critical", "status"),
                      [(md(x["claim"]), md(x["meaning"]), "yes" if x["needs_real_confirmation"] else "no",
                        "yes" if x["safety_critical"] else "no", md(x["status"])) for x in c["claims"]])
    else:
        out += ["No claims are made from this cohort.", ""]
    rc = c["real_confirmation"]
    out += [f"Real confirmation declared: {md(rc['declared'])}; required: {'yes' if rc['required'] else 'no'}; "
            f"done: {'yes' if rc['done'] else 'no'}; transfer test on real data: "
            f"{'yes' if rc['transfer_test']['data'] else 'no'}"
            + (f" (held out: {md(', '.join(rc['transfer_test']['held_out_sites']))})"
               if rc["transfer_test"]["held_out_sites"] else ""), ""]
    tt = rc["transfer_test"]
    gate_line = f"Transfer gate (`synth transfer`): {md(tt.get('gate', 'not run'))}"
    if tt.get("gate_rule"):
        gate_line += f" — {md(tt['gate_rule'])}: {md(tt.get('gate_reason'))}"
    if tt.get("sites_tested"):
        gate_line += f" (held-out real sites tested: {md(', '.join(map(str, tt['sites_tested'])))})"
    out += [gate_line + ". Claims that need real confirmation stay refused until it passes.", ""]
    a = c["approval"]
    state = "—" if a["expired"] is None else ("EXPIRED" if a["expired"] else f"valid, {a['days_left']} days left")
    out += ["## Approval", "",
            f"- Approved by: {md(a['approved_by'])}", f"- Reference: {md(a['reference'])}",
            f"- Expires: {md(a['expires'])} ({state} on {a['checked_on']})", ""]
    out += ["## Composition", "", f"Counted from the manifest: {comp['subjects']} subjects, "
            f"{comp['positives']} with at least one lesion, {comp['negatives']} without.", ""]
    out += _table(("quantity", "value"), [
        ("sex", ", ".join(f"{md(k)} {v}" for k, v in comp["sex"].items())),
        ("age (y)", _summary_md(comp["age_y"])),
        ("age bands", ", ".join(f"{k}: {v}" for k, v in comp["age_bands"].items())),
        ("height (mm)", _summary_md(comp["height_mm"])),
        ("BMI (kg/m²)", _summary_md(comp["bmi"])),
        ("BMI classes", ", ".join(f"{k}: {v}" for k, v in comp["bmi_classes"].items())),
        ("tube current-time (mAs)", _summary_md(comp["mas"])),
        ("kV", ", ".join(f"{k}: {v}" for k, v in comp["kv"].items())),
        ("strata", ", ".join(f"{md(k)}: {v}" for k, v in comp["strata"].items())),
    ])
    out += ["### Scanners", ""]
    out += _table(("scanner", "subjects", "fraction", "planned"),
                  [(md(k), v["count"], f"{v['fraction']:.0%}",
                    "—" if v["planned_fraction"] is None else f"{v['planned_fraction']:.0%}")
                   for k, v in comp["scanners"].items()])
    out += ["### Lesions", "",
            f"{les['total']} lesions ({les['per_positive_subject']} per positive subject); diameter (mm): "
            f"{_summary_md(les['diameter_mm'])}; requested but not placed: {les['requested_not_placed']}.", ""]
    out += _table(("by subtype", "count"), [(md(k), v) for k, v in les["by_subtype"].items()])
    if les.get("by_size_class"):
        out += _table(("by size class (Fleischner)", "count"), [(k, v) for k, v in les["by_size_class"].items()])
    out += _table(("by location", "count"), [(md(k), v) for k, v in les["by_location"].items()])
    v = c["validation"]
    out += ["## Validation", "", f"**{md(v['headline'])}**", ""]
    if not v.get("matches_cohort", True):
        out += ["WARNING: the validation report is for different cohort content; rerun `synth validate`.", ""]
    out += _table(("family", "status", "asked for by the spec", "passed", "failed", "skipped"),
                  [(f, x["status"].upper() if x["status"] == "fail" else x["status"], "yes" if x["requested"] else "no",
                    x["passed"], x["failed"], x["skipped"]) for f, x in v["families"].items()])
    failed = [(f, ch) for f, x in v["families"].items() for ch in x["checks"] if ch["result"] == "fail"]
    if failed:
        out += ["Failed checks:", ""] + [f"- {f} / {md(ch['name'])}: {md(ch['reason'])}" for f, ch in failed] + [""]
    if card.get("priors"):
        out += ["## Real data the anatomy and lesions were built from", ""]
        out += _table(("prior", "from", "licence", "cite"),
                      [(md(p.get("name")), md(p.get("package")), md(p.get("licence")), md(p.get("cite")))
                       for p in card["priors"]]) + [""]
    scans = card.get("real_scans")
    if scans:
        out += ["## Real chest CTs: development and held out", ""]
        out += _table(("part", "scan", "role"), [(md(r["part"].replace("_", " ")), md(r["scan"]), md(r["role"]))
                                                 for r in scans["roles"]])
        measured = scans.get("realism_measured_against")
        if measured:
            kind = "held-out scans" if measured["held_out"] else "scans that are not the held-out pair"
            out += [f"Realism was measured against {md(', '.join(measured['references']))} ({kind}).", ""]
        else:
            out += ["Realism has not been measured yet: `synth validate COHORT --only realism`.", ""]
    out += ["## Hashes and provenance", ""]
    out += _table(("item", "value"), [
        ("spec file", md(prov["spec_file"])), ("spec hash (sha256)", code(prov['spec_hash'])),
        ("plan hash (sha256)", code(prov['plan_hash'])), ("content hash (sha256)", code(prov['content_hash'])),
        ("seed key", code(prov['seed_key'])), ("cohort seed", prov["cohort_seed"]),
        ("seeding", md(prov["seeding"])), ("streams", md(", ".join(prov["streams"]))),
        ("synthspec", md(prov["synthspec_version"])),
        ("packages", md(", ".join(f"{k} {v}" for k, v in sorted(prov["versions"].items())))),
    ])
    out += ["---", "", "*Generated by synthspec. SYNTHETIC: not for diagnostic use; confirm every claim on real scans.*", ""]
    return "\n".join(out)
