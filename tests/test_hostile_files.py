"""Files a pull request can plant: links to secrets, special files, links out of the repository.

Every case runs the real `synth` in a fresh process with a secret in its environment, the way a CI
job would; nothing of a refused file may reach stdout or stderr, and nothing may hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "s3cr3t-token-that-must-never-print"
SPEC = "synth 1\n\ncohort tiny {\n  subjects: 2\n}\n"


def synth(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SYNTH_CI_SECRET=SECRET)
    return subprocess.run([sys.executable, "-m", "synthspec.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "specs").mkdir()
    return root


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("argv", [
    ["check", "specs/"], ["check", "--format", "json", "specs/"], ["check", "--format", "sarif", "specs/"],
    ["check", "--format", "github", "specs/"], ["fmt", "--check", "specs/"], ["fmt", "--diff", "specs/"],
    ["fmt", "specs/"],
], ids=" ".join)
def test_a_link_to_the_environment_is_refused_and_never_printed(repo, argv):
    (repo / "specs" / "x.synth").symlink_to("/proc/self/environ")
    done = synth(*argv, cwd=repo)
    assert SECRET not in done.stdout + done.stderr
    assert done.returncode == 1, done.stderr
    if argv[0] == "check" and "--format" not in argv:
        assert "SYN014" in done.stdout and "/proc/" in done.stdout


def test_a_link_out_of_the_repository_is_refused(repo, tmp_path):
    outside = tmp_path / "elsewhere.synth"
    outside.write_text(SPEC.replace("tiny", f"tiny # {SECRET}"), encoding="utf-8")
    (repo / "specs" / "x.synth").symlink_to(outside)
    for argv in (["check", "specs/x.synth"], ["fmt", "--diff", "specs/x.synth"]):
        done = synth(*argv, cwd=repo)
        assert done.returncode == 1 and SECRET not in done.stdout + done.stderr
        assert "outside the allowed roots" in done.stdout + done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_refused_without_hanging(repo):
    os.mkfifo(repo / "specs" / "pipe.synth")
    (repo / "specs" / "zero.synth").symlink_to("/dev/zero")
    for name in ("pipe.synth", "zero.synth"):
        for argv in (["check", f"specs/{name}"], ["fmt", "--check", f"specs/{name}"]):
            done = synth(*argv, cwd=repo)   # the 60 s timeout would raise if it hung
            assert done.returncode == 1, (argv, done.stderr)
            assert "Traceback" not in done.stderr


def test_imports_stay_in_the_repository_whatever_the_working_folder(repo, tmp_path):
    (tmp_path / "outside.synth").write_text("synth 1\n", encoding="utf-8")
    spec = repo / "specs" / "a.synth"
    spec.write_text('synth 1\nimport "../../outside.synth"\n\ncohort tiny {\n  subjects: 2\n}\n', encoding="utf-8")
    done = synth("check", str(spec), cwd=Path("/"))
    assert done.returncode == 1 and "SYN007" in done.stdout, done.stdout + done.stderr
