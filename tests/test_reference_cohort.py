"""What a cohort's hash promises: the bytes of a small reference cohort are pinned, and they depend
on the checked model, seed and version only (not the spec's formatting, name, path or the machine).

If `test_the_reference_cohort_hash_is_pinned` fails, generation changed the bytes it writes:
bump synthspec's version (`synthspec/__init__.py`, `pyproject.toml`), say what changed in
CHANGELOG.md, and pin the new hash here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthspec import __version__, api
from synthspec.engine.executor import run

SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"
PINNED = {"0.14.0": "c35a806f64ba9557a214ded403f0385cfcf06f0585f972ec6ab423f3515000ff"}
"""synthspec version -> the reference cohort's content hash (SHA-256 over every subject file)."""


def _subject_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "subjects").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "cohort"
    plan = api.plan(SPEC, device="cpu")
    return plan, out, run(plan, out)


def test_the_reference_cohort_hash_is_pinned(reference):
    _, _, summary = reference
    assert __version__ in PINNED, f"no reference hash is pinned for synthspec {__version__}; pin {summary.content_hash}"
    assert summary.content_hash == PINNED[__version__], (
        f"the reference cohort's bytes changed under synthspec {__version__} (content hash {summary.content_hash}, "
        f"pinned {PINNED[__version__]}): bump the version, note the change in CHANGELOG.md and pin the new hash")


def test_formatting_renaming_and_line_endings_keep_the_cohort(reference, tmp_path):
    plan, out, summary = reference
    text = SPEC.read_text(encoding="utf-8")
    edited = text.replace("synth 1\n", "synth 1\n# an edited comment, as `synth fmt` or a review might leave\n", 1)
    other = tmp_path / "elsewhere" / "renamed.synth"
    other.parent.mkdir()
    other.write_bytes(edited.replace("\n", "\r\n").encode("utf-8"))
    again = api.plan(other, device="cpu")
    assert again.spec_hash != plan.spec_hash          # provenance still tells the texts apart
    assert again.hash() == plan.hash()                # the plan, and so every subject, does not
    second = tmp_path / "second"
    with pytest.raises(KeyboardInterrupt):
        run(again, second, stop_after=1)
    # resume through another spelling of the same file's path
    spelled = api.plan(tmp_path / "elsewhere" / ".." / "elsewhere" / "renamed.synth", device="cpu")
    finished = run(spelled, second, resume=True)
    assert finished.content_hash == summary.content_hash
    assert _subject_files(second) == _subject_files(out)
    provenance = json.loads((second / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["plan"] == json.loads((second / "plan.json").read_text(encoding="utf-8"))
    assert provenance["spec_text"] == edited.replace("\n", "\r\n")   # the exact text that was run


def test_two_identical_runs_write_identical_files(reference, tmp_path, monkeypatch):
    plan, out, _ = reference
    from synthspec.plan import estimate

    # the free memory changes from moment to moment; nothing the cohort holds may depend on it
    monkeypatch.setattr(estimate, "available_memory", lambda device: 3 * 2**30 + 12345, raising=False)
    again = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        run(api.plan(SPEC, device="cpu"), again, stop_after=1)
    run(api.plan(SPEC, device="cpu"), again, resume=True)
    for name in ("plan.json", "provenance.json", "cohort.json", "manifest.csv", "manifest.json", "labels.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    assert _subject_files(again) == _subject_files(out)


def test_an_edited_spec_is_a_different_cohort(reference, tmp_path):
    plan, _, _ = reference
    changed = tmp_path / "changed.synth"
    changed.write_text(SPEC.read_text(encoding="utf-8").replace("seed: 42", "seed: 43"), encoding="utf-8")
    assert api.plan(changed, device="cpu").hash() != plan.hash()


def test_the_pin_is_per_version():
    # a bump must come with its own pin, so stale pins cannot silently pass
    assert list(PINNED) == [__version__]
