"""Hostile and broken inputs: every one becomes diagnostics, never an exception, a hang or a side effect.

`compile_file` is the whole front half of the compiler for one file, so every
test goes through it (and, where output could execute something, through the
CLI and every output format as well).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from synthspec.cli import main
from synthspec.compiler import config as cfg
from synthspec.compiler.check import FileResult, compile_file
from synthspec.compiler.config import Config
from synthspec.compiler.parse import MAX_NESTING
from synthspec.compiler.resolve import MAX_FILE_BYTES, MAX_IMPORT_DEPTH

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lung_nodules_ldct.synth"


def check(path: Path, **kw) -> FileResult:
    result = compile_file(path, **kw)
    assert isinstance(result, FileResult)
    for d in result.diagnostics:
        assert "internal error" not in d.message, d.message
    return result


def codes(result: FileResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def find(result: FileResult, code: str):
    found = [d for d in result.diagnostics if d.code == code]
    assert found, f"no {code} in {[(d.code, d.message) for d in result.diagnostics]}"
    return found[0]


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


COHORT = 'cohort c { title: "t" }\n'


# -- file guards ------------------------------------------------------------------------

def test_file_over_the_size_limit(tmp_path):
    big = write(tmp_path, "big.synth", "synth 1\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    result = check(big)
    assert codes(result) == ["SYN004"]
    assert str(MAX_FILE_BYTES) in find(result, "SYN004").message


def test_size_limit_comes_from_the_configuration(tmp_path):
    spec = write(tmp_path, "s.synth", "synth 1\n" + COHORT)
    assert "SYN004" in codes(check(spec, config=Config(max_file_bytes=10)))
    assert "SYN004" not in codes(check(spec, config=Config(max_file_bytes=10_000)))


def test_imported_file_over_the_size_limit(tmp_path):
    write(tmp_path, "lib.synth", "synth 1\n" + "#" * 200 + "\n")
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "lib.synth"\n' + COHORT)
    result = check(spec, config=Config(max_file_bytes=100))
    assert find(result, "SYN004").span.file.endswith("lib.synth")


def test_undecodable_bytes_name_the_line(tmp_path):
    spec = write(tmp_path, "latin1.synth", "synth 1\n# ok\n# é 37 ".encode() + b"\xb0C in a Latin-1 comment\ncohort c {}\n")
    result = check(spec)
    assert codes(result) == ["SYN005"]
    d = find(result, "SYN005")
    assert (d.span.line, d.span.column) == (3, 8)  # counted in characters: `é` is one
    assert "0xb0" in d.message


def test_binary_file(tmp_path):
    spec = write(tmp_path, "blob.synth", bytes(range(256)) * 10)
    assert codes(check(spec)) == ["SYN005"]


def test_nul_and_control_characters_are_syntax_errors(tmp_path):
    spec = write(tmp_path, "nul.synth", "synth 1\x00\ncohort c {}\n")
    d = find(check(spec), "SYN001")
    assert (d.span.line, d.span.column) == (1, 8)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.synth")
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "pipe.synth"\n' + COHORT)
    started = time.monotonic()
    d = find(check(spec), "SYN008")  # would block forever if the pipe were opened
    assert "not a regular file" in d.message
    assert time.monotonic() - started < 10
    assert codes(check(tmp_path / "pipe.synth")) == ["SYN008"]


# -- imports ----------------------------------------------------------------------------

def test_import_cycle(tmp_path):
    a = write(tmp_path, "a.synth", 'synth 1\nimport "b.synth"\n' + COHORT)
    write(tmp_path, "b.synth", 'synth 1\nimport "a.synth"\n')
    d = find(check(a), "SYN006")
    assert d.message.endswith("a.synth -> b.synth -> a.synth")
    assert d.span.file.endswith("b.synth") and d.span.line == 2


def test_self_import_is_a_cycle(tmp_path):
    a = write(tmp_path, "a.synth", 'synth 1\nimport "a.synth"\n' + COHORT)
    assert "a.synth -> a.synth" in find(check(a), "SYN006").message


def test_diamond_imports_are_not_a_cycle(tmp_path):
    write(tmp_path, "base.synth", "synth 1\n")
    write(tmp_path, "left.synth", 'synth 1\nimport "base.synth"\n')
    write(tmp_path, "right.synth", 'synth 1\nimport "base.synth"\n')
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "left.synth"\nimport "right.synth"\n' + COHORT)
    assert "SYN006" not in codes(check(spec))


def test_import_leaving_the_root_with_dotdot(tmp_path):
    write(tmp_path, "outside.synth", "synth 1\n")
    spec = write(tmp_path, "repo/specs/s.synth", 'synth 1\nimport "../../outside.synth"\n' + COHORT)
    d = find(check(spec, roots=[tmp_path / "repo"]), "SYN007")
    assert "../../outside.synth" in d.message
    assert (d.span.line, d.span.column) == (2, 1)


def test_dotdot_inside_the_root_is_allowed(tmp_path):
    write(tmp_path, "repo/shared/lib.synth", "synth 1\n")
    spec = write(tmp_path, "repo/specs/s.synth", 'synth 1\nimport "../shared/lib.synth"\n' + COHORT)
    result = check(spec, roots=[tmp_path / "repo"])
    assert not {"SYN007", "SYN008"} & set(codes(result))


def test_absolute_import(tmp_path):
    target = write(tmp_path, "abs.synth", "synth 1\n")
    spec = write(tmp_path, "s.synth", f'synth 1\nimport "{target.as_posix()}"\n' + COHORT)
    assert find(check(spec, roots=[tmp_path]), "SYN007")
    spec = write(tmp_path, "t.synth", 'synth 1\nimport "/etc/passwd"\n' + COHORT)
    assert find(check(spec), "SYN007")


def test_symlink_out_of_the_root(tmp_path):
    outside = write(tmp_path, "outside/secret.synth", "synth 1\n")
    link = tmp_path / "repo" / "link.synth"
    link.parent.mkdir()
    try:
        link.symlink_to(outside)
    except (OSError, NotImplementedError):
        pytest.skip("cannot make symlinks here")
    spec = write(tmp_path, "repo/s.synth", 'synth 1\nimport "link.synth"\n' + COHORT)
    assert find(check(spec, roots=[tmp_path / "repo"]), "SYN007")


def test_symlink_loop(tmp_path):
    loop = tmp_path / "loop.synth"
    try:
        loop.symlink_to(loop)
    except (OSError, NotImplementedError):
        pytest.skip("cannot make symlinks here")
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "loop.synth"\n' + COHORT)
    assert find(check(spec), "SYN008")
    assert codes(check(loop)) == ["SYN008"]


def test_missing_import(tmp_path):
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "nowhere/lib.synth"\n' + COHORT)
    d = find(check(spec), "SYN008")
    assert "no such file" in d.message
    assert d.span.line == 2


def test_unknown_stdlib_module_suggests_the_right_one(tmp_path):
    spec = write(tmp_path, "s.synth", "synth 1\nimport stdlib.scaners\n" + COHORT)
    d = find(check(spec), "SYN008")
    assert "stdlib.scaners" in d.message
    assert "did you mean `stdlib.scanners`" in d.hint


def test_known_stdlib_module_is_fine(tmp_path):
    spec = write(tmp_path, "s.synth", "synth 1\nimport stdlib.scanners\n" + COHORT)
    assert "SYN008" not in codes(check(spec))


def test_a_directory_passed_as_an_import(tmp_path):
    (tmp_path / "folder.synth").mkdir()
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "folder.synth"\n' + COHORT)
    assert "folder" in find(check(spec), "SYN008").message
    spec = write(tmp_path, "t.synth", 'synth 1\nimport "."\n' + COHORT)
    assert find(check(spec), "SYN008")


def test_a_directory_passed_as_the_spec(tmp_path):
    folder = tmp_path / "d.synth"
    folder.mkdir()
    assert codes(check(folder)) == ["SYN008"]


@pytest.mark.parametrize("target", ["a\\u0000b.synth", "a\x00b.synth", "~/x.synth", "x" * 5000 + ".synth",
                                    "a/" * 3000 + "x.synth", "\\ud800.synth", "", "..", "lib.txt"])
def test_strange_import_paths(tmp_path, target):
    spec = write(tmp_path, "s.synth", f'synth 1\nimport "{target}"\n' + COHORT)
    result = check(spec)
    assert {"SYN007", "SYN008"} & set(codes(result)) or "SYN001" in codes(result)


def test_a_long_import_chain_is_cut_off(tmp_path):
    count = MAX_IMPORT_DEPTH + 20
    for i in range(count):
        write(tmp_path, f"m{i}.synth", f'synth 1\nimport "m{i + 1}.synth"\n')
    write(tmp_path, f"m{count}.synth", "synth 1\n")
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "m0.synth"\n' + COHORT)
    d = find(check(spec), "SYN008")
    assert "chained" in d.message
    assert "SYN001" not in codes(check(spec))


def test_extends_names_an_unknown_cohort(tmp_path):
    spec = write(tmp_path, "s.synth", "synth 1\ncohort c extends lung_nodules_ldtc { subjects: 10 }\n")
    d = find(check(spec), "NAM003")
    assert "lung_nodules_ldtc" in d.message


def test_extends_cycle(tmp_path):
    write(tmp_path, "lib.synth", "synth 1\ncohort a extends b { seed: 1 }\ncohort b extends a { seed: 2 }\n")
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "lib.synth"\ncohort c extends a { subjects: 1 }\n')
    assert "c -> a -> b -> a" in find(check(spec), "SYN006").message


def test_a_long_extends_chain_does_not_exhaust_the_stack(tmp_path):
    n = 3000
    lib = "synth 1\n" + "".join(f"cohort c{i} extends c{i + 1} {{ seed: {i} }}\n" for i in range(n)) + f"cohort c{n} {{}}\n"
    write(tmp_path, "lib.synth", lib)
    spec = write(tmp_path, "s.synth", 'synth 1\nimport "lib.synth"\ncohort top extends c0 { title: "t" }\n')
    result = check(spec)
    assert result.cohort is not None


def test_extending_the_example_merges(tmp_path):
    write(tmp_path, "base.synth", EXAMPLE.read_text(encoding="utf-8"))
    spec = write(tmp_path, "thin.synth", 'synth 1\nimport "base.synth"\n'
                 'cohort thin extends lung_nodules_ldct {\n  ct { kv: 120 kV; mas: 40 mAs; slice_thickness: 1.5 mm }\n}\n')
    result = check(spec)
    assert result.cohort is not None
    assert not [d for d in result.visible if d.severity.value == "error"], [d.message for d in result.visible]


# -- pathological shapes ----------------------------------------------------------------

def test_five_thousand_nested_blocks(tmp_path):
    depth = 5000
    spec = write(tmp_path, "deep.synth", "synth 1\ncohort c {\n" + "task {\n" * depth + "}\n" * (depth + 1))
    result = check(spec)
    assert codes(result) == ["SYN001"]
    d = result.diagnostics[0]
    assert "nested" in d.message and str(MAX_NESTING) in d.message
    assert d.span.line == MAX_NESTING + 2


def test_five_thousand_nested_blocks_on_one_line(tmp_path):
    spec = write(tmp_path, "deep.synth", "synth 1\ncohort c {" + "task {" * 5000 + "}" * 5001)
    assert codes(check(spec)) == ["SYN001"]


def test_deeply_nested_calls(tmp_path):
    spec = write(tmp_path, "calls.synth", "synth 1\ncohort c { subjects: " + "f(" * 5000 + ")" * 5000 + " }\n")
    assert codes(check(spec)) == ["SYN001"]


def test_nesting_just_under_the_limit_is_checked_normally(tmp_path):
    calls = "normal(" * (MAX_NESTING - 2) + "1 y, 2 y" + ")" * (MAX_NESTING - 2)
    spec = write(tmp_path, "calls.synth", "synth 1\ncohort c {\n  population { age: " + calls + " }\n}\n")
    result = check(spec)
    assert "SYN001" not in codes(result)
    assert result.diagnostics


def test_a_one_megabyte_single_line(tmp_path):
    spec = write(tmp_path, "line.synth", 'synth 1\ncohort c { title: "' + "x" * (MAX_FILE_BYTES + 10) + '" }\n')
    assert codes(check(spec)) == ["SYN004"]
    just_under = MAX_FILE_BYTES - 100
    spec = write(tmp_path, "line2.synth", 'synth 1\ncohort c { title: "' + "x" * just_under + '" }\n')
    started = time.monotonic()
    result = check(spec)
    assert time.monotonic() - started < 10
    assert "SYN004" not in codes(result) and "SYN001" not in codes(result)
    spec = write(tmp_path, "line3.synth", "synth 1\ncohort c { title: " + "x " * (just_under // 2) + "}\n")
    assert find(check(spec), "SYN001")


def test_a_long_list_on_one_line(tmp_path):
    spec = write(tmp_path, "list.synth", "synth 1\ncohort c { formats: " + ", ".join(["nifti"] * 20_000) + " }\n")
    result = check(spec)
    assert "SYN001" not in codes(result)
    assert result.diagnostics  # the duplicate is reported, not a crash


def test_huge_numbers(tmp_path):
    spec = write(tmp_path, "n.synth", "synth 1\ncohort c {\n  subjects: 1" + "0" * 5000 + "\n  seed: 1e999999\n"
                 "  population { age: normal(1e308 y, 1e308 y) }\n}\n")
    result = check(spec)
    assert "RNG004" in codes(result)
    spec = write(tmp_path, "h.synth", "synth " + "9" * 5000 + "\n")
    assert codes(check(spec)) == ["SYN001"]


def test_empty_and_blank_files(tmp_path):
    for name, text in {"empty.synth": "", "blank.synth": "\n\n   \n", "comment.synth": "# only a comment"}.items():
        result = check(write(tmp_path, name, text))
        assert result.diagnostics
        assert "SYN001" not in codes(result)


def test_form_feeds_do_not_shift_suppressions(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace("  subjects: 200", "  subjects: 200\f")
    text = text.replace("kv: 120 kV", "kv: 160 kV  # synth: ignore[PHY001] phantom study approved by physics")
    spec = write(tmp_path, "ff.synth", text)
    result = check(spec)
    phy001 = [d for d in result.diagnostics if d.code == "PHY001"]
    assert phy001 and all(d.suppressed for d in phy001)
    assert "SYN011" not in codes(result)


# -- nothing in a spec is executed ------------------------------------------------------

PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    "{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}",
    "{{{{7*7}}}} {{{{91919*10007}}}}",
    "${{{{91919*10007}}}}",
    "$(touch {marker})",
    "`touch {marker}`",
    "{{0.__class__.__mro__}}",
    "%(x)s %s {{}} {{0}}",
]


def hostile_spec(marker: Path) -> str:
    strings = [p.format(marker=marker.as_posix()) for p in PAYLOADS]
    quoted = [s.replace("\\", "\\\\").replace('"', '\\"') for s in strings]
    lines = ["synth 1", f"# {strings[0]}", f'import "$(touch {marker.as_posix()}).synth"',
             "cohort lung_nodules_ldct {", f'  title: "{quoted[0]}"', f'  description: "{quoted[1]}"',
             "  subjects: 200", "  seed: 42", f'  anatomy: "{quoted[2]}"', "  scanners: ct.midrange_64",
             "  task { finding: lung_nodule; modality: ct; job: detect }",
             "  population { age: 40 y .. 80 y }",
             f'  output {{ dir: "{quoted[4]}"; formats: nifti }}',
             f'  governance {{ purpose: education; approved_by: "{quoted[5]}"; approval: "{quoted[3]}"; expires: 2099-01-01 }}',
             f'  transfer {{ data: "{quoted[6]}" }}',
             f"  x_unknown: {strings[7]!r}".replace("'", '"'),
             f"  bogus {{ note: \"{quoted[1]}\" }}  # {strings[1]}",
             "}"]
    return "\n".join(lines) + "\n"


def test_strings_that_look_like_code_stay_inert(tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    spec = write(tmp_path, "hostile.synth", hostile_spec(marker))
    monkeypatch.chdir(tmp_path)
    result = check(spec)
    assert result.diagnostics
    assert result.cohort is not None
    assert result.cohort.title == PAYLOADS[0].format(marker=marker.as_posix())  # kept as text, byte for byte
    everything = []
    for argv in (["check", str(spec)], ["check", "--format", "json", str(spec)],
                 ["check", "--format", "sarif", str(spec)], ["check", "--format", "github", str(spec)],
                 ["fmt", "--check", str(spec)], ["fmt", "--diff", str(spec)]):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
        assert code in (0, 1), (argv, err.getvalue())
        everything.append(out.getvalue() + err.getvalue())
        if "json" in argv or "sarif" in argv:
            json.loads(out.getvalue())
    assert not marker.exists()
    assert not list(tmp_path.glob("*PWNED*"))
    text = "\n".join(everything)
    assert str(91919 * 10007) not in text  # `{{91919*10007}}` was never rendered as a template
    assert "{{7*7}} {{91919*10007}}" in text  # it is quoted back verbatim


def test_check_never_writes_files(tmp_path, monkeypatch):
    spec = write(tmp_path, "s.synth", EXAMPLE.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    check(spec)
    with redirect_stdout(io.StringIO()):
        main(["check", str(spec)])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# -- configuration ----------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "[tool]\nsynth = 5\n",
    "[tool.synth]\nselect = 5\n",
    "[tool.synth]\nroots = 5\n",
    "[tool.synth]\nseverity = 5\n",
    "[tool.synth.severity]\nANA008 = \"loud\"\n",
    "[tool.synth]\nfail-on = \"never\"\n",
    "[tool.synth]\nmax-file-bytes = \"big\"\n",
    "[tool.synth]\nmax-file-bytes = -1\n",
    "[tool.synth]\nroots = [\"a\\u0000b\"]\n",
    "[tool.synth]\nunknown-setting = 1\n",
    "[tool.synth\n",
    "tool = 5\n",
])
def test_bad_configuration_is_a_config_error_not_a_crash(tmp_path, body):
    path = write(tmp_path, "pyproject.toml", body)
    (tmp_path / ".git").mkdir()
    try:
        found = cfg.find(tmp_path)
        if found is not None:
            cfg.load(found)
        cfg.load(path)
    except cfg.ConfigError as error:
        assert str(path) in str(error)


def test_a_single_string_select_is_one_prefix(tmp_path):
    path = write(tmp_path, "synth.toml", 'select = "ANA"\n')
    config = cfg.load(path)
    assert config.select == ["ANA"]
    assert config.enabled("ANA001") and not config.enabled("NAM001")


def test_bad_configuration_exits_2_from_the_cli(tmp_path, monkeypatch):
    write(tmp_path, "pyproject.toml", "[tool.synth]\nroots = 5\n")
    (tmp_path / ".git").mkdir()
    spec = write(tmp_path, "s.synth", "synth 1\n" + COHORT)
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["check", str(spec)]) == 2
    assert "roots" in err.getvalue()


def test_recursion_limit_is_not_touched():
    assert sys.getrecursionlimit() >= 1000
