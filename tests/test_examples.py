"""The example specs: the clean set checks with zero findings, the broken corpus raises exactly what it says.

Every file in `examples/broken/` starts with comment lines

    # expect: CODE            (one or more; the codes it must raise, and nothing else)
    # expect-not: CODE        (optional; codes it must not raise, stated for the reader)

Files marked `# helper` are library modules that other cases import; they are not checked alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synthspec.compiler import config as synth_config
from synthspec.compiler.check import compile_file
from synthspec.compiler.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BROKEN = EXAMPLES / "broken"
TODAY = "2026-11-25"  # pins governance expiry (GOV004/GOV005) so results do not drift with the calendar

CLEAN = sorted(EXAMPLES.glob("*.synth"))
BROKEN_FILES = sorted(BROKEN.rglob("*.synth"))

_EXPECT = re.compile(r"^#\s*expect:\s*(.*)$", re.M)
_EXPECT_NOT = re.compile(r"^#\s*expect-not:\s*(.*)$", re.M)
_HELPER = re.compile(r"^#\s*helper\b", re.M)

# Rule codes no single committed file can raise, with the reason and where they are tested instead.
UNCOVERED = {
    "SYN004": "needs a file over the 1,000,000-byte limit; test_file_too_large writes one to a temporary folder",
    "SYN014": "needs a link out of the repository or to /proc; tests/test_hostile_files.py plants them in a temporary repo",
}


def _text(path: Path) -> str:
    # broken cases may hold invalid UTF-8 on purpose (SYN005); the comment header is ASCII
    return path.read_bytes().decode("utf-8", errors="replace")


def _codes(pattern: re.Pattern, text: str) -> set[str]:
    return {code.upper() for line in pattern.findall(text) for code in re.split(r"[\s,]+", line.strip()) if code}


def _is_helper(path: Path) -> bool:
    return bool(_HELPER.search(_text(path)))


CASES = [p for p in BROKEN_FILES if not _is_helper(p)]


def _check(path: Path):
    config = synth_config.load(synth_config.find(path))
    return compile_file(path, config)


def _show(result) -> str:
    return "\n".join(f"  {d.span} {d.code} {d.message}" for d in result.visible) or "  (nothing)"


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch):
    monkeypatch.setenv("SYNTH_TODAY", TODAY)


def test_there_are_examples():
    assert len(CLEAN) >= 5
    assert len(CASES) >= len(all_rules())


def test_config_sets_repository_root():
    config = synth_config.load(synth_config.find(CLEAN[0]))
    assert config.roots == [ROOT]


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_example_has_no_findings(path: Path):
    result = _check(path)
    assert result.cohort is not None
    assert result.visible == [], f"{path.name} should check clean:\n{_show(result)}"


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_example_is_documented(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("synth 1\n")
    after_header = [line for line in text.splitlines()[1:] if line.strip()]
    assert after_header[0].startswith("# "), "a header comment explains the clinical job"
    result = _check(path)
    g = result.cohort.governance
    assert g is not None and g.purpose and g.approved_by
    assert g.expires is not None and g.expires.year >= 2027


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(BROKEN)))
def test_broken_case_raises_exactly_what_it_expects(path: Path):
    text = _text(path)
    expected = _codes(_EXPECT, text)
    assert expected, f"{path.name} has no `# expect: CODE` line"
    result = _check(path)
    got = {d.code for d in result.visible}
    assert got == expected, (f"{path.name}: expected {sorted(expected)}, got {sorted(got)}\n{_show(result)}")
    assert not (got & _codes(_EXPECT_NOT, text))


def test_expected_codes_are_registered():
    known = {r.code for r in all_rules()}
    for path in CASES:
        text = _text(path)
        unknown = (_codes(_EXPECT, text) | _codes(_EXPECT_NOT, text)) - known
        assert not unknown, f"{path.name} names unknown codes {sorted(unknown)}"


def test_every_rule_is_covered_by_a_broken_case():
    covered = set()
    for path in CASES:
        covered |= _codes(_EXPECT, _text(path))
    known = {r.code for r in all_rules()}
    missing = known - covered - set(UNCOVERED)
    assert not missing, f"no broken case raises {sorted(missing)}"
    stale = set(UNCOVERED) & covered
    assert not stale, f"{sorted(stale)} are covered now; drop them from UNCOVERED"


def test_file_too_large(tmp_path: Path):
    big = tmp_path / "huge.synth"
    body = (EXAMPLES / "lung_nodules_ldct.synth").read_text(encoding="utf-8")
    padding = "# " + "x" * 98 + "\n"
    big.write_text(body + padding * 10_001, encoding="utf-8")
    assert big.stat().st_size > 1_000_000
    result = compile_file(big, synth_config.Config(), roots=[tmp_path])
    assert {d.code for d in result.visible} == {"SYN004"}
    small = compile_file(big, synth_config.Config(max_file_bytes=2_000_000), roots=[tmp_path])
    assert small.visible == []


def test_suppressed_finding_is_kept_but_hidden():
    result = _check(BROKEN / "suppressed_phy001_keeps_phy008.synth")
    suppressed = [d for d in result.diagnostics if d.suppressed]
    assert [d.code for d in suppressed] == ["PHY001"]
    assert "phantom study" in suppressed[0].suppression_reason
