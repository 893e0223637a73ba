"""The standard library: it elaborates cleanly, cross-references resolve, and its numbers match the physics.

Reference values are those collected in the project's physics notes (Bushberg et al., The Essential
Physics of Medical Imaging, for CT numbers; Stanisz et al., MRM 54:507, 2005, for relaxation times;
the Greulich-Pyle atlas for physeal closure; Tatu et al., Neurology 50:1699, 1998, for territories).
"""

from __future__ import annotations

from importlib.resources import files

import pytest

from synthspec.compiler.diagnostics import Sink
from synthspec.compiler.resolve import STDLIB_MODULES, stdlib
from synthspec.compiler.rules.names import check_definitions
from synthspec.compiler.schema import DEFINITION_KINDS


@pytest.fixture(scope="module")
def registry():
    reg, diagnostics = stdlib()
    assert diagnostics == (), "\n".join(f"{d.span} {d.code} {d.message}" for d in diagnostics)
    return reg


def _tissue(registry, name):
    t = registry.get("tissue", name)
    assert t is not None, f"tissue {name} is missing"
    return t


# ---- the stdlib as a program --------------------------------------------------------------------

def test_stdlib_elaborates_without_diagnostics():
    _, diagnostics = stdlib()
    assert diagnostics == ()


@pytest.mark.parametrize("module", STDLIB_MODULES)
def test_stdlib_modules_have_version_header(module):
    text = files("synthspec").joinpath("stdlib", f"{module}.synth").read_text(encoding="utf-8")
    assert text.startswith("synth 1\n")


def test_definitions_cross_reference_cleanly(registry):
    sink = Sink()
    check_definitions(registry, sink)
    assert sink.items == [], "\n".join(f"{d.span} {d.code} {d.message}" for d in sink.items)


def test_only_definition_kinds_in_stdlib(registry):
    assert set(registry.items) <= set(DEFINITION_KINDS)


# ---- what it defines -------------------------------------------------------------------------------

def test_anatomy_families(registry):
    assert {"thorax_adult", "head_adult", "hand_pediatric"} <= set(registry.names("anatomy"))
    assert len(registry.names("anatomy")) >= 3
    assert registry.get("anatomy", "hand_pediatric").get("pediatric") is True
    for name in ("thorax_adult", "head_adult"):
        family = registry.get("anatomy", name)
        assert family.get("pediatric") is False
        assert family.get("ages")[0] >= 18


def test_scanner_classes_per_modality(registry):
    by_modality: dict[str, list[str]] = {}
    for name, scanner in registry.items["scanner"].items():
        by_modality.setdefault(scanner.get("modality"), []).append(name)
    assert len(by_modality.get("ct", [])) >= 3
    assert len(by_modality.get("mri", [])) >= 2
    assert len(by_modality.get("xray", [])) >= 2
    for name, scanner in registry.items["scanner"].items():
        assert name.split(".")[0] in {"ct", "mr", "xr"}, name


def test_scanners_say_they_are_approximations(registry):
    for name, scanner in registry.items["scanner"].items():
        note = scanner.get("note") or ""
        assert "approximation" in note.lower(), f"{name}: {note!r}"
        assert "vendor" in note.lower(), f"{name} must say it is not a vendor model"


PATHOLOGY_KINDS = {
    "lung_nodule", "intraparenchymal_haemorrhage", "subdural_haemorrhage", "epidural_haemorrhage",
    "subarachnoid_haemorrhage", "ischaemic_infarct", "glioblastoma", "fracture", "rickets",
}


def test_pathology_kinds(registry):
    assert PATHOLOGY_KINDS <= set(registry.names("pathology_kind"))
    for name in PATHOLOGY_KINDS:
        kind = registry.get("pathology_kind", name)
        assert kind.get("source"), f"{name} has no source"
        assert kind.get("visible_in"), name


def test_agents(registry):
    gad = [a for a in registry.items["agent"].values() if a.get("kind") == "gadolinium"]
    assert len(gad) >= 2
    for agent in gad:
        assert agent.get("standard_dose") == pytest.approx(0.1)  # mmol/kg
        for key in ("r1_1p5t", "r1_3t"):
            assert 3.0 <= agent.get(key) <= 6.0, (agent.name, key)  # L/mmol/s, about 4-5 for most agents
    assert registry.get("agent", "gadobutrol") is not None


def test_governance_vocabulary(registry):
    vocab = registry.vocabulary()
    assert vocab is not None
    assert set(vocab.get("safety_critical")) <= set(vocab.get("claims"))
    assert set(vocab.get("claims_need_real_confirmation")) <= set(vocab.get("claims"))
    assert not set(vocab.get("purposes")) & set(vocab.get("prohibited"))


# ---- tissue physics ----------------------------------------------------------------------------------

def test_every_tissue_has_a_source(registry):
    assert registry.items["tissue"]
    for name, tissue in registry.items["tissue"].items():
        assert (tissue.get("source") or "").strip(), f"tissue {name} has no source"


HU = {  # tissue: (low, high) HU, non-contrast, 100-120 kVp
    "air": (-1000, -1000),
    "water": (0, 0),
    "fat": (-120, -70),
    "cortical_bone": (700, 2000),
    "lung": (-900, -700),
}


@pytest.mark.parametrize("name", sorted(HU))
def test_tissue_ct_numbers_match_reference(registry, name):
    assert _tissue(registry, name).get("hu") == pytest.approx(HU[name])


def test_soft_tissue_ct_numbers_are_ordered(registry):
    def hu(name):
        return _tissue(registry, name).get("hu")

    assert hu("csf")[0] >= 0 and hu("csf")[1] <= 15
    assert hu("white_matter")[1] < hu("grey_matter")[0]  # grey matter is denser on CT
    assert hu("acute_blood") == pytest.approx((50, 90))
    assert hu("acute_blood")[0] > hu("grey_matter")[1]  # why acute haemorrhage is bright
    assert hu("cancellous_bone")[1] < hu("cortical_bone")[0]


def test_t1_ordering_at_1p5t(registry):
    t1 = {name: _tissue(registry, name).get("t1_1p5t") for name in ("fat", "white_matter", "grey_matter", "csf")}
    assert t1["fat"][1] < t1["white_matter"][0] < t1["white_matter"][1] < t1["grey_matter"][0]
    assert t1["grey_matter"][1] < t1["csf"][0]


def test_t1_is_longer_at_3t(registry):
    for name, tissue in registry.items["tissue"].items():
        if tissue.get("t1_1p5t") and tissue.get("t1_3t"):
            assert tissue.get("t1_3t")[1] >= tissue.get("t1_1p5t")[0], name


def test_flair_ti_nulls_csf(registry):
    """CSF is nulled near TI = T1_CSF * ln 2, about 2500-2800 ms at 1.5 T."""
    import math

    low, high = _tissue(registry, "csf").get("t1_1p5t")
    assert 2400 <= low * math.log(2) <= 2800
    assert low * math.log(2) <= 3200 and high * math.log(2) <= 3200


def test_diffusion_restriction_in_infarct(registry):
    infarct = _tissue(registry, "infarct").get("adc")
    grey = _tissue(registry, "grey_matter").get("adc")
    csf = _tissue(registry, "csf").get("adc")
    assert infarct[1] < grey[0] < csf[0]
    assert csf[0] >= 2.5  # 10^-3 mm2/s


# ---- anatomy -------------------------------------------------------------------------------------------

def test_organ_labels_are_unique_per_family(registry):
    for family in registry.items["anatomy"].values():
        labels = [o.get("label") for o in family.all("organ")]
        assert len(labels) == len(set(labels)), family.name


def test_head_territories_cover_only_existing_organs(registry):
    head = registry.get("anatomy", "head_adult")
    organs = {o.name for o in head.all("organ")}
    territories = {t.name: set(t.get("covers")) for t in head.all("territory")}
    assert set(territories) == {"MCA", "ACA", "PCA"}
    for name, covers in territories.items():
        assert covers and covers <= organs, (name, covers - organs)
    # no structure belongs to two territories
    names = list(territories)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not territories[a] & territories[b], (a, b)
    # the textbook pattern
    assert {"basal_ganglia", "insula", "lateral_frontal"} <= territories["MCA"]
    assert {"medial_frontal", "medial_parietal"} <= territories["ACA"]
    assert {"occipital_lobe", "thalamus"} <= territories["PCA"]


def test_infarct_kind_uses_head_territories(registry):
    kind = registry.get("pathology_kind", "ischaemic_infarct")
    head = registry.get("anatomy", "head_adult")
    assert set(kind.get("territories")) == {t.name for t in head.all("territory")}


def test_hand_physes_close_earlier_in_girls(registry):
    hand = registry.get("anatomy", "hand_pediatric")
    physes = [o for o in hand.all("organ") if o.get("group") == "physes"]
    assert len(physes) >= 2
    ages = hand.get("ages")
    for organ in physes:
        girls, boys = organ.get("closes_female"), organ.get("closes_male")
        assert girls and boys, f"{organ.name} has no closure ages"
        assert girls[0] < boys[0] and girls[1] < boys[1], organ.name
        assert ages[0] < girls[0] and boys[1] <= ages[1], organ.name
        assert 12 <= girls[0] and boys[1] <= 19, organ.name  # about 14-16 y girls, 16-18 y boys


def test_rickets_occurs_while_physes_are_open(registry):
    rickets = registry.get("pathology_kind", "rickets")
    hand = registry.get("anatomy", "hand_pediatric")
    earliest_closure = min(o.get("closes_female")[0] for o in hand.all("organ") if o.get("closes_female"))
    assert rickets.get("ages")[1] < earliest_closure
    assert rickets.get("families") == ["hand_pediatric"]


def test_glioblastoma_needs_contrast(registry):
    assert registry.get("pathology_kind", "glioblastoma").get("needs_contrast") is True


def test_extra_axial_collections_displace(registry):
    for name in ("subdural_haemorrhage", "epidural_haemorrhage"):
        assert registry.get("pathology_kind", name).get("displaces") is True, name
