"""Hostile inputs and faults against the `synth` command line: does every one end cleanly?

    .venv/bin/python benchmarks/hostile_probe.py [--quick] [--keep] [--only FAMILY ...]

Every case runs the `synth` console script of the venv this runs in (the `synth` next to
sys.executable) as a fresh process in its own session, with stdin closed, a 60 s timeout and a
secret in its environment (SYNTH_PROBE_SECRET, so /proc/self/environ holds it). Everything the
probe makes lives in one tempfile.mkdtemp() folder, removed at the end (--keep leaves it): a
fake repository root (a folder with `.git`), files "outside" it, and small cohorts generated from
tests/data/reference_cohort.synth (2 subjects on a 64 x 64 grid, a few seconds on CPU).

Families (about 200 cases; --quick skips the kill trials, the concurrency case and `synth verify`):

  secrets   links to an env-like secret file outside the repository root, to a spec holding the
            secret, to /proc/self/environ, a link to a link, a linked folder, a planted synth.toml
            that widens `roots` or selects an unknown code, --config pointing at the secret; through
            `check` (text, json, sarif, github), `fmt --check`, `fmt --diff`, `plan`.
  special   a FIFO, a socket, links to /dev/zero and /dev/stdin, a folder named x.synth, through
            check, fmt, fmt --check, plan; a finished cohort whose image or label volume was
            replaced by a link to /dev/zero, a FIFO or a truncated copy, through verify, validate
            --only anatomy and report --out.
  text      bidi controls (U+202E, U+2066) in strings and comments, an ANSI escape, zero-width and
            homoglyph names, non-ASCII digits, a BOM, U+2028, a lone CR, CR-only and CRLF files, NUL
            bytes, invalid UTF-8, 5,000-deep nesting, a 50 MB file, a file of 20,000 unknown fields
            (timed), through check and fmt --check.
  output    `run --out` into /proc, /sys, /dev/null, links into /proc and /sys, an existing file (must
            stay unchanged), a path under a file; `plan --save` and `report --out` into system trees;
            a second `run --resume` while the first writes (must be refused: "another synth run is
            writing"); four runs killed with SIGKILL (process group) and then resumed must end with
            the content hash of an uninterrupted run: one before plan.json exists, one the moment it
            appears, two while subjects are written (seeded fractions of the baseline run's timing).
  cohorts   a finished cohort with both manifests deleted, a subject copied from a cohort of another
            seed, a truncated labels.json, an edited provenance.json, and more (cohort.json deleted,
            subject.json edited, plan.json truncated), through validate --only anatomy, report,
            review-pack and verify --sample 1.
  sizes     `plan/run --subjects` 0, -3, 1.5, abc, 10^12, 10^29, 10,000,000 (over the time budget),
            --max-hours / --max-storage nonsense; a refused run must write nothing into --out.

Outcomes:
  ok-clean    the expected exit code; stderr holds at most two lines (tqdm progress lines aside;
              `check`/`fmt` may give one line per file named plus a summary, each diagnostic's
              source excerpt and hint not counted), a failure prints at least one line, and the
              output says what the case requires
  wrong-exit  any other exit code (the case's `why` says which code is right and why)
  traceback   "Traceback" in stdout or stderr
  hang        still running at the timeout (the process group is then killed)
  leak        something that must never reach the output did: the secret, or a raw terminal control
              character planted in the input (U+202E/U+2066 bidi controls, ESC, NUL, a lone CR) that a
              terminal or CI log would act on instead of showing it escaped
  lost        a file that existed before was changed or removed (an --out file, a refused link,
              a cohort being read), or a refused command created its --out
  unclear     the right exit code, but the message is missing, longer than two stderr lines, or
              lacks (or contradicts) what the case requires
  mismatch    a killed-and-resumed (or raced) cohort whose content hash differs from an
              uninterrupted run's

Before the first case and after every case the probe asserts that /dev/null is still a character
device (this may run as root) and aborts loudly if not; /dev, /proc and /sys paths are only handed
to commands that must refuse them. Exit status: 0 when every case is ok-clean, 1 otherwise, 2 on a
usage error of the probe itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
SYNTH = Path(sys.executable).parent / "synth"
REFERENCE = ROOT / "tests" / "data" / "reference_cohort.synth"
TIMEOUT = 60.0
RUN_TIMEOUT = 180.0        # a whole small run (import + 2 subjects) on a slow 2-core machine
SECRET_VALUE = "probe-5e3c7a1d-9b24-must-never-print"
SECRET_ENV = {"SYNTH_PROBE_SECRET": SECRET_VALUE}
KILL_SEED = 20240611
FAMILIES = ("secrets", "special", "text", "output", "cohorts", "sizes")
OUTCOMES = ("ok-clean", "wrong-exit", "traceback", "hang", "leak", "lost", "unclear", "mismatch")
# Files the read-only commands may add to or rewrite in a cohort they were asked to look at.
COHORT_OUTPUTS = {"validation.json", "cohort_card.md", "cohort_card.json", "report.html"}

# Markers that must never reach stdout/stderr: (label, pattern over the raw bytes).
SECRET_MARK = ("secret", re.compile(re.escape(SECRET_VALUE.encode())))
RAW_RLO = ("raw U+202E", re.compile("\u202e".encode()))
RAW_LRI = ("raw U+2066", re.compile("\u2066".encode()))
RAW_ESC = ("raw ESC", re.compile(b"\x1b"))
RAW_NUL = ("raw NUL", re.compile(b"\x00"))
RAW_CR = ("raw lone CR", re.compile(b"\r(?!\n)"))


# --------------------------------------------------------------------------- safety

def assert_dev_null(when: str) -> None:
    try:
        mode = os.stat("/dev/null").st_mode
    except OSError as error:
        mode = None
        reason = str(error)
    else:
        reason = f"mode {stat.filemode(mode)}"
    if mode is None or not stat.S_ISCHR(mode):
        bar = "!" * 78
        sys.stderr.write(f"\n{bar}\nABORT ({when}): /dev/null is no longer a character device ({reason}).\n"
                         "Something this probe ran replaced it. Restore it as root with:\n"
                         "    rm -f /dev/null && mknod -m 666 /dev/null c 1 3\n"
                         f"{bar}\n")
        sys.stderr.flush()
        os._exit(3)


# --------------------------------------------------------------------------- snapshots

def fingerprint(path: Path):
    """What is at `path`, never following a link or opening anything but a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return ("file", digest.hexdigest())
    if stat.S_ISDIR(st.st_mode):
        return ("dir",)
    return ("special", stat.S_IFMT(st.st_mode))


def snapshot(path: Path, skip: frozenset[str] = frozenset()) -> dict[str, object]:
    """Relative path -> fingerprint for `path` and, when it is a real folder, everything under it."""
    top = fingerprint(path)
    tree: dict[str, object] = {".": top}
    if top == ("dir",):
        for folder, dirs, files in os.walk(path, followlinks=False):
            for name in dirs + files:
                if name in skip:
                    continue
                child = Path(folder) / name
                tree[str(child.relative_to(path))] = fingerprint(child)
    return tree


def lost_entries(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [name for name, print_ in before.items() if after.get(name) != print_]


# --------------------------------------------------------------------------- cases

@dataclass
class Case:
    family: str
    name: str
    argv: list[str]
    expect: tuple[int, ...]
    cwd: Path
    why: str = ""
    forbid: list[tuple[str, re.Pattern]] = field(default_factory=list)
    keep: list[Path] = field(default_factory=list)          # must be unchanged afterwards
    absent: list[Path] = field(default_factory=list)        # must not exist afterwards
    must_say: list[str] = field(default_factory=list)       # regexes the output must match
    must_not_say: list[str] = field(default_factory=list)   # regexes the output must not match
    timeout: float = TIMEOUT
    timed: bool = False
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    case: Case
    outcome: str
    rc: int | None
    out: bytes
    err: bytes
    seconds: float
    detail: str = ""


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SECRET_ENV)
    env["SYNTH_TODAY"] = "2026-01-15"      # governance expiry judged on a fixed date
    env.pop("PYTHONSTARTUP", None)
    env.update(extra or {})
    return env


def spawn(argv: list[str], cwd: Path, env: dict[str, str], out, err) -> subprocess.Popen:
    return subprocess.Popen([str(SYNTH), *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=err, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)      # the group of the process this probe started
    except ProcessLookupError:
        pass


def execute(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, bytes, bytes, float]:
    start = time.monotonic()
    proc = spawn(argv, cwd, env, subprocess.PIPE, subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        rc = None
    return rc, out, err, time.monotonic() - start


EXCERPT = re.compile(r"^\s*(\d+\s*)?\|( |$)|^\s*= (hint|note|help):")


def message_lines(err: bytes, lint: bool) -> list[str]:
    """stderr lines that are messages: not tqdm progress (tqdm redraws a line with carriage returns)
    and, for the lint commands, not the source excerpt and hint under a diagnostic's first line."""
    text = err.decode("utf-8", "replace")
    lines = [line for line in text.split("\n") if line.strip() and "\r" not in line]
    return [line for line in lines if not (lint and EXCERPT.match(line))]


def allowed_lines(case: Case) -> int:
    """Two lines; `check` and `fmt` may give one line per file they were named plus their summary."""
    if case.argv[0] not in ("check", "fmt"):
        return 2
    operands = [word for word in case.argv[1:] if not word.startswith("-")]
    if "--config" in case.argv or "--format" in case.argv:
        operands = operands[1:]
    return max(2, len(operands) + 1)


def classify(case: Case, rc: int | None, out: bytes, err: bytes, lost: list[str]) -> tuple[str, str]:
    both = out + b"\n" + err
    text = both.decode("utf-8", "replace")
    if rc is None:
        return "hang", f"still running after {case.timeout:.0f} s"
    for label, pattern in [SECRET_MARK, *case.forbid]:
        if pattern.search(both):
            return "leak", f"{label} appears in the output"
    if lost:
        return "lost", "changed or removed: " + ", ".join(lost[:6]) + (" ..." if len(lost) > 6 else "")
    created = [str(p) for p in case.absent if os.path.lexists(p)]
    if created:
        return "lost", "created although the command was refused: " + ", ".join(created)
    if "Traceback" in text:
        return "traceback", "a Python traceback"
    if rc not in case.expect:
        want = " or ".join(str(code) for code in case.expect)
        return "wrong-exit", f"exit {rc}, expected {want}" + (f" ({case.why})" if case.why else "")
    lines = message_lines(err, case.argv[0] in ("check", "fmt"))
    if len(lines) > allowed_lines(case):
        return "unclear", f"{len(lines)} message lines on stderr (at most {allowed_lines(case)} expected)"
    if rc != 0 and not text.strip():
        return "unclear", "failed without a word"
    for pattern in case.must_say:
        if not re.search(pattern, text):
            return "unclear", f"the output does not say /{pattern}/"
    for pattern in case.must_not_say:
        if re.search(pattern, text):
            return "unclear", f"the output says /{pattern}/, which contradicts the case"
    return "ok-clean", ""


class Probe:
    def __init__(self, tmp: Path, quick: bool, only: set[str]) -> None:
        self.tmp = tmp
        self.quick = quick
        self.only = only
        self.results: list[Result] = []
        self.repo = tmp / "repo"              # the repository root the lint cases run in
        self.outside = tmp / "outside"        # beside the repository, never inside an allowed root
        self.work = tmp / "work"              # cohorts and outputs
        for folder in (self.repo / ".git", self.outside, self.work):
            folder.mkdir(parents=True)
        self.spec = self.work / "reference_cohort.synth"
        shutil.copyfile(REFERENCE, self.spec)
        self.baseline_hash: str | None = None
        self.baseline_seconds = 0.0
        self.plan_seconds = 0.0

    # ------------------------------------------------------------------ running

    def wants(self, family: str) -> bool:
        return not self.only or family in self.only

    def run(self, case: Case, *, rc_out: tuple[int | None, bytes, bytes, float] | None = None,
            extra_check: Callable[[Result], None] | None = None) -> Result:
        before = {str(p): snapshot(p, frozenset(COHORT_OUTPUTS)) for p in case.keep}
        if rc_out is None:
            rc, out, err, seconds = execute(case.argv, case.cwd, base_env(case.env), case.timeout)
        else:
            rc, out, err, seconds = rc_out
        assert_dev_null(f"after {case.family}/{case.name}")
        lost: list[str] = []
        for path, old in before.items():
            new = snapshot(Path(path), frozenset(COHORT_OUTPUTS))
            lost += [os.path.normpath(os.path.join(path, name)) for name in lost_entries(old, new)]
        outcome, detail = classify(case, rc, out, err, lost)
        result = Result(case, outcome, rc, out, err, seconds, detail)
        if extra_check is not None and outcome == "ok-clean":
            extra_check(result)
        self.results.append(result)
        mark = "" if result.outcome == "ok-clean" else f"  <-- {result.detail}"
        print(f"  [{case.family:7}] {case.name:58.58} {result.outcome:10} rc={rc!s:4} {seconds:6.1f} s{mark}",
              flush=True)
        return result

    def synth_quiet(self, argv: list[str], cwd: Path, timeout: float = RUN_TIMEOUT) -> tuple[int | None, bytes, bytes]:
        rc, out, err, _ = execute(argv, cwd, base_env(), timeout)
        return rc, out, err

    # ------------------------------------------------------------------ fixtures

    def make_cohort(self, name: str, spec: Path) -> Path:
        out = self.work / name
        rc, _, err = self.synth_quiet(["run", str(spec), "--out", str(out), "--no-validate", "--device", "cpu"],
                                      self.work)
        if rc != 0 or not (out / "cohort.json").is_file():
            last = (err.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
            raise SystemExit(f"hostile_probe: could not generate the fixture cohort {name} (exit {rc}): {last}")
        return out

    def baseline(self) -> Path:
        """The uninterrupted run every kill trial is compared with; it is a case of its own."""
        out = self.work / "baseline"
        start = time.monotonic()
        case = Case("output", "uninterrupted run (baseline of the kill trials)",
                    ["run", str(self.spec), "--out", str(out), "--no-validate", "--device", "cpu"], (0,), self.work,
                    timeout=RUN_TIMEOUT)
        log = self.work / "baseline-run"
        with open(log.with_suffix(".out"), "wb") as out_log, open(log.with_suffix(".err"), "wb") as err_log:
            proc = spawn(case.argv, case.cwd, base_env(), out_log, err_log)
            # time to plan.json and to the end, to aim the kill trials
            plan_at = None
            while proc.poll() is None and time.monotonic() - start < RUN_TIMEOUT:
                if plan_at is None and (out / "plan.json").exists():
                    plan_at = time.monotonic() - start
                time.sleep(0.02)
            hung = proc.poll() is None
            if hung:
                kill_group(proc)
            proc.wait()
        seconds = time.monotonic() - start
        rc = None if hung else proc.returncode
        outb, errb = log.with_suffix(".out").read_bytes(), log.with_suffix(".err").read_bytes()
        self.plan_seconds = plan_at or seconds / 2
        self.baseline_seconds = seconds
        self.run(case, rc_out=(rc, outb, errb, seconds))
        self.baseline_hash = content_hash(out)
        if self.baseline_hash is None:
            raise SystemExit("hostile_probe: the baseline run left no cohort.json; nothing to compare with")
        return out

    # ------------------------------------------------------------------ family 1

    def family_secrets(self) -> None:
        print("secrets: links to secrets, nothing of them may be printed", flush=True)
        repo, outside = self.repo, self.outside
        env_file = outside / "secret.env"
        env_file.write_text(f"SYNTH_PROBE_SECRET={SECRET_VALUE}\nAWS_SECRET_ACCESS_KEY={SECRET_VALUE}\n",
                            encoding="utf-8")
        spec_file = outside / "secret_spec.synth"
        spec_file.write_text(self.canonical.replace('title: "', f'title: "{SECRET_VALUE} ', 1)
                             + f"# SYNTH_PROBE_SECRET={SECRET_VALUE}\n", encoding="utf-8")
        folder = outside / "secret_specs"
        folder.mkdir()
        (folder / "a.synth").write_text(f"synth 1\ncohort x {{ title: \"{SECRET_VALUE}\"\n  subjects: 2 oops }}\n",
                                        encoding="utf-8")
        specs = repo / "specs"
        specs.mkdir()
        (specs / "env_link.synth").symlink_to(os.path.relpath(env_file, specs))
        (specs / "spec_link.synth").symlink_to(os.path.relpath(spec_file, specs))
        (specs / "environ.synth").symlink_to("/proc/self/environ")
        (specs / "inner").symlink_to(os.path.relpath(env_file, specs))
        (specs / "chain.synth").symlink_to("inner")
        (repo / "linked_specs").symlink_to(os.path.relpath(folder, repo))
        keep = [repo, env_file, spec_file, folder]
        targets = {
            "link to an env file outside the root": "specs/env_link.synth",
            "link to a spec holding the secret": "specs/spec_link.synth",
            "link to /proc/self/environ": "specs/environ.synth",
            "link to a link to the env file": "specs/chain.synth",
            "linked folder outside the root": "linked_specs/",
            "/proc/self/environ named directly": "/proc/self/environ",
        }
        commands = {
            "check": (["check"], (1,),
                      "a refused file is finding SYN014 (exit 1), as tests/test_hostile_files.py pins"),
            "check json": (["check", "--format", "json"], (1,), "SYN014 finding"),
            "check sarif": (["check", "--format", "sarif"], (1,), "SYN014 finding"),
            "check github": (["check", "--format", "github"], (1,), "SYN014 finding"),
            "fmt --check": (["fmt", "--check"], (1,), "a file fmt cannot read is reported, exit 1"),
            "fmt --diff": (["fmt", "--diff"], (1,), "a file fmt cannot read is reported, exit 1"),
            "plan": (["plan"], (1, 2), "a spec with errors (1) or an unreadable spec (2); never 0"),
        }
        for tname, target in targets.items():
            for cname, (argv, expect, why) in commands.items():
                if cname == "plan" and target.endswith("/"):
                    argv, expect, why = ["plan"], (2,), "plan takes one spec file, not a folder"
                self.run(Case("secrets", f"{cname}: {tname}", [*argv, target], expect, repo, why, keep=keep))
        # --config pointing at the secret: a parse error must not quote the file
        for cname, config in (("env file", str(env_file)), ("/proc/self/environ", "/proc/self/environ")):
            self.run(Case("secrets", f"check --config {cname}", ["check", "--config", config, "specs/"], (2,), repo,
                          "an unreadable configuration is an input error", keep=keep))
        # a planted synth.toml that widens the roots to outside the repository, or selects no rule at all
        for label, toml in (("roots widened to .. and /", '[tool.synth]\nroots = ["..", "/"]\n'),
                            ("select an unknown code", '[tool.synth]\nselect = ["XYZ999"]\n')):
            planted = self.tmp / f"planted_{len(self.results)}"
            (planted / ".git").mkdir(parents=True)
            (planted / "synth.toml").write_text(toml, encoding="utf-8")
            (planted / "env_link.synth").symlink_to(os.path.relpath(env_file, planted))
            (planted / "environ.synth").symlink_to("/proc/self/environ")
            why = ("a link out of the repository must stay refused whatever synth.toml says (1), or the "
                   "configuration refused as an input error (2); 0 lets the planted file through")
            for cname, argv in (("check", ["check", "env_link.synth", "environ.synth"]),
                                ("fmt --diff", ["fmt", "--diff", "env_link.synth", "environ.synth"])):
                self.run(Case("secrets", f"{cname}: planted synth.toml, {label}", argv, (1, 2), planted, why,
                              keep=[planted, env_file]))
            if "unknown" in label:
                (planted / "broken.synth").write_text(self.canonical.replace("  subjects: 2\n", "  subjects: 2 oops\n"),
                                                      encoding="utf-8")
                self.run(Case("secrets", "check a spec that does not parse: planted synth.toml, select an unknown code",
                              ["check", "broken.synth"], (1, 2), planted,
                              "an unknown code in `select` must be refused (2) or the syntax error still reported "
                              "(1): a planted synth.toml must not turn every check green", keep=[planted]))
        outside_toml = outside / "select_unknown.toml"
        outside_toml.write_text('[tool.synth]\nselect = ["XYZ999"]\n', encoding="utf-8")
        self.run(Case("secrets", "check --config (select an unknown code): link to the env file",
                      ["check", "--config", str(outside_toml), "specs/env_link.synth"], (1, 2), repo,
                      "the refused link must still fail the check (1), or the configuration be refused (2)",
                      keep=keep))

    # ------------------------------------------------------------------ family 2

    def family_special(self) -> None:
        print("special: FIFOs, devices and folders where a spec or a volume should be", flush=True)
        sp = self.repo / "special"
        sp.mkdir()
        os.mkfifo(sp / "pipe.synth")
        (sp / "zero.synth").symlink_to("/dev/zero")
        (sp / "stdin.synth").symlink_to("/dev/stdin")
        (sp / "folder.synth").mkdir()
        sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(sp / "sock.synth"))       # AF_UNIX paths are short; a long tmp path skips this case
        except OSError:
            sock.close()
            sock = None
        files = {"FIFO": "pipe.synth", "link to /dev/zero": "zero.synth", "link to /dev/stdin": "stdin.synth",
                 "folder named x.synth": "folder.synth"}
        if sock is not None:
            files["UNIX socket"] = "sock.synth"
        for label, name in files.items():
            is_dir = name == "folder.synth"
            for cname, argv in (("check", ["check"]), ("fmt", ["fmt"]), ("fmt --check", ["fmt", "--check"]),
                                ("plan", ["plan"])):
                if cname == "plan" or is_dir:
                    expect, why = (2,), "not a spec file: an input error"
                else:
                    expect, why = (1,), "a file that is not a regular file is refused as a finding (test_hostile_files)"
                self.run(Case("special", f"{cname}: {label}", [*argv, f"special/{name}"], expect, self.repo, why,
                              keep=[sp]))
        if sock is not None:
            sock.close()
        # damaged volumes in a finished cohort
        for volume in ("image", "labels"):
            for damage in ("link to /dev/zero", "FIFO", "truncated"):
                tag = f"{volume}-{damage.split()[0].lower()}"
                folder = self.work / f"damaged-{tag}"
                shutil.copytree(self.cohort, folder, symlinks=True)
                target = folder / "subjects" / "S000000" / f"{volume}.nii.gz"
                original = target.read_bytes()
                target.unlink()
                if damage == "FIFO":
                    os.mkfifo(target)
                elif damage == "truncated":
                    target.write_bytes(original[: len(original) // 3])
                else:
                    target.symlink_to("/dev/zero")
                label = f"{volume}.nii.gz {damage}"
                keep = [folder]
                why_refuse = "a volume that is not the file synthspec wrote: refused, naming it (exit 2)"
                if not self.quick and volume == "image":
                    self.run(Case("special", f"verify --sample 1: {label}", ["verify", str(folder), "--sample", "1",
                                                                             "--device", "cpu"],
                                  (1,), self.work, "verify hashes every file on disk: a failed check (exit 1)",
                                  keep=keep, timeout=RUN_TIMEOUT, must_say=["S000000"]))
                self.run(Case("special", f"validate --only anatomy: {label}",
                              ["validate", str(folder), "--only", "anatomy"], (1, 2), self.work,
                              "a cohort with a damaged volume must not PASS: report refuses the same folder (2); "
                              "README: validate/report/review-pack refuse a folder that no longer matches",
                              keep=keep, timeout=RUN_TIMEOUT))
                self.run(Case("special", f"report --out: {label}",
                              ["report", str(folder), "--out", str(self.work / f"report-{tag}.html")], (2,),
                              self.work, why_refuse, keep=keep, timeout=RUN_TIMEOUT))

    # ------------------------------------------------------------------ family 3

    def family_text(self) -> None:
        print("text: control characters, odd digits and line ends, huge files", flush=True)
        folder = self.repo / "text"
        folder.mkdir()
        base = self.canonical
        assert "  subjects: 2\n" in base and "  kv: 120 kV\n" in base and 'title: "' in base

        def once(old: str, new: str) -> str:
            assert old in base, old
            return base.replace(old, new, 1)

        finding = "a finding (exit 1)"
        hidden = ("text a reviewer cannot see as the compiler reads it (Trojan Source, CVE-2021-42574) "
                  "should be a finding (exit 1), as rustc and gcc -Wbidi-chars do")
        digits = ("`\\d` in the grammar takes any Unicode digit, so this silently means a number a reviewer may "
                  "not read (e.g. Arabic-Indic \u0665 is 5 but looks like 0): should be a finding (exit 1)")
        variants: list[tuple[str, bytes, tuple[int, ...], str, list, tuple[int, ...]]] = [
            # name, content, check expect, why, forbid, fmt --check expect
            ("canonical base (sanity)", base.encode(), (0,), "the reference spec is clean", [], (0,)),
            ("U+202E in a string", once('title: "', 'title: "\u202e').encode(), (1,), hidden, [RAW_RLO], (0, 1)),
            ("U+202E in a comment", once("  kv: 120 kV\n", "  kv: 120 kV  # dose \u202e} ecnatsni\n").encode(),
             (1,), hidden, [RAW_RLO], (0, 1)),
            ("U+2066 in a comment", once("  kv: 120 kV\n", "  kv: 120 kV  # \u2066 dose\u2069\n").encode(),
             (1,), hidden, [RAW_LRI], (0, 1)),
            ("U+202E on a line with a finding", once("  kv: 120 kV\n", "  kv: 120  # \u202e Vk\n").encode(), (1,),
             "UNI001 bare number (exit 1); the echoed source line must escape the bidi control", [RAW_RLO], (0, 1)),
            ("ESC sequence on a line with a finding",
             once("  kv: 120 kV\n", "  kv: 120  # \x1b[2J\x1b[31mok\n").encode(), (1,),
             "UNI001 bare number; the echoed line must escape ESC", [RAW_ESC], (0, 1)),
            ("ESC sequence in a string", once('title: "', 'title: "\x1b]0;pwned\x07').encode(), (1,),
             "a terminal escape in a string is hidden text: should be a finding", [RAW_ESC], (0, 1)),
            ("Arabic-Indic digits  subjects: \u0661\u0666",
             once("  subjects: 2\n", "  subjects: \u0661\u0666\n").encode(), (1,), digits, [], (0, 1)),
            ("fullwidth digits  kv: \uff11\uff12\uff10 kV",
             once("  kv: 120 kV\n", "  kv: \uff11\uff12\uff10 kV\n").encode(), (1,), digits, [], (0, 1)),
            ("zero-width space in a name", once("anatomy: thorax_adult", "anatomy: thorax\u200b_adult").encode(),
             (1,), finding, [], (0, 1)),
            ("Cyrillic homoglyph field name",
             once("  subjects: 2\n", "  subjects: 2\n  \u0430natomy: thorax_adult\n").encode(), (1,),
             finding, [], (0, 1)),
            ("U+2028 inside a line", once("  kv: 120 kV\n", "  kv: 120 kV\u2028  seed: 1\n").encode(), (1,),
             finding, [], (0, 1)),
            ("UTF-8 BOM", b"\xef\xbb\xbf" + base.encode(), (0, 1), "a BOM is accepted or reported", [], (0, 1)),
            ("a lone CR", once("  seed: 42\n", "  seed: 42\r").encode(), (0, 1),
             "a CR taken as a line end (0) or reported (1); never echoed raw", [RAW_CR], (0, 1)),
            ("CR-only line ends", base.replace("\n", "\r").encode(), (0, 1), "accepted as line ends or reported",
             [RAW_CR], (0, 1)),
            ("CRLF line ends", base.replace("\n", "\r\n").encode(), (0,),
             "README: a CRLF checkout is the same spec", [], (0, 1)),
            ("NUL byte in a number", once("  seed: 42\n", "  seed: 4\x002\n").encode(), (1,), finding, [RAW_NUL], (1,)),
            ("NUL bytes at the end", base.encode() + b"\x00" * 64, (1,), finding, [RAW_NUL], (1,)),
            ("invalid UTF-8 in a string", once('title: "', 'title: "Sm').encode().replace(b'"Sm', b'"Sm\xff\xfe', 1),
             (1,), "SYN005 not-utf8 (a documented rule with a code: a finding)", [], (1,)),
            ("invalid UTF-8: UTF-16 file", base.encode("utf-16"), (1,), "SYN005 not-utf8", [RAW_NUL], (1,)),
            ("5,000-deep nesting",
             once("  kv: 120 kV\n", "  kv: " + "(" * 5000 + "120 kV" + ")" * 5000 + "\n").encode(), (1,),
             "too deep: a finding, never a RecursionError", [], (1,)),
        ]
        for name, content, check_expect, why, forbid, fmt_expect in variants:
            path = folder / (re.sub(r"[^a-z0-9]+", "_", name.lower().encode("ascii", "ignore").decode()).strip("_")[:40]
                             + ".synth")
            path.write_bytes(content)
            rel = str(path.relative_to(self.repo))
            self.run(Case("text", f"check: {name}", ["check", rel], check_expect, self.repo, why, forbid=forbid,
                          keep=[path]))
            self.run(Case("text", f"fmt --check: {name}", ["fmt", "--check", rel], fmt_expect, self.repo,
                          "fmt --check: 0 unchanged, 1 would change or cannot read", forbid=forbid, keep=[path]))
            if name.startswith("U+202E on a line"):
                self.run(Case("text", f"check github: {name}", ["check", "--format", "github", rel], (1,), self.repo,
                              "annotations must not carry a raw bidi control", forbid=forbid, keep=[path]))
        # a 50 MB file: refused quickly, without reading it all
        big = folder / "fifty_mb.synth"
        with open(big, "wb") as handle:
            handle.write(base.encode())
            line = b"# " + b"x" * 1021 + b"\n"
            block = line * 1024
            for _ in range(50):
                handle.write(block)
        why_big = ("SYN004 file-too-large is a documented rule (configurable max-file-bytes), reported like any "
                   "finding: exit 1 (README's exit 2 is for usage errors and files that cannot be opened)")
        for cname, argv, expect in (("check", ["check"], (1,)), ("fmt --check", ["fmt", "--check"], (1,)),
                                    ("plan", ["plan"], (1, 2))):
            self.run(Case("text", f"{cname}: a 50 MB file", [*argv, "text/fifty_mb.synth"], expect, self.repo, why_big,
                          keep=[big], timed=True, must_say=[r"byte|too large|limit|MB"]))
        big.unlink()
        # 20,000 unknown fields: every one reported, in reasonable time
        many = folder / "many_fields.synth"
        fields = "".join(f"  probe_field_{i}: 1\n" for i in range(20000))
        many.write_text(once("  subjects: 2\n", "  subjects: 2\n" + fields), encoding="utf-8")
        self.run(Case("text", "check: 20,000 one-line unknown fields", ["check", "text/many_fields.synth"], (1,),
                      self.repo, "20,000 unknown-field findings", keep=[many], timed=True,
                      must_say=[r"20000 error|20,000 error"]))
        self.run(Case("text", "fmt --check: 20,000 one-line unknown fields",
                      ["fmt", "--check", "text/many_fields.synth"], (0, 1),
                      self.repo, "fmt --check", keep=[many], timed=True))

    # ------------------------------------------------------------------ family 4

    def family_output(self) -> None:
        print("output: where a run may write, races and kills", flush=True)
        work, spec = self.work, str(self.spec)
        run = ["run", spec, "--no-validate", "--device", "cpu"]
        existing = work / "existing.txt"
        existing.write_text("this file must survive\n", encoding="utf-8")
        (work / "link_to_proc").symlink_to("/proc/self")
        (work / "link_to_sys").symlink_to("/sys")
        dev_null = Path("/dev/null")
        refuse = ("README: --out in /proc, /sys or /dev, an existing file or an unwritable folder: exit 2 "
                  "before anything is created")
        outs = {
            "/proc/x": "/proc/x", "/sys/x": "/sys/x", "/dev/null": "/dev/null",
            "a link into /proc": "link_to_proc/probe_cohort", "a link to /sys": "link_to_sys/probe_cohort",
            "an existing regular file": str(existing), "a folder under an existing file": str(existing / "sub" / "x"),
        }
        for label, out in outs.items():
            self.run(Case("output", f"run --out {label}", [*run, "--out", out], (2,), work, refuse,
                          keep=[existing, work / "link_to_proc", work / "link_to_sys", dev_null], timeout=RUN_TIMEOUT))
        for label, target in (("/dev/null", "/dev/null"), ("/proc/x/plan.json", "/proc/x/plan.json"),
                              ("/sys/plan.json", "/sys/plan.json"), ("an existing folder", str(work))):
            self.run(Case("output", f"plan --save {label}", ["plan", spec, "--save", target], (2,), work,
                          "a plan is saved to a file on a disk only", keep=[dev_null, existing]))
        # (no `report --out /dev/null`: a regression that wrote it atomically would replace the device)
        for label, target in (("/proc/x/r.html", "/proc/x/r.html"), ("/sys/r.html", "/sys/r.html"),
                              ("under an existing file", str(existing / "r.html"))):
            self.run(Case("output", f"report --out {label}", ["report", str(self.cohort), "--out", target], (2,), work,
                          "a report is written to a file on a disk only", keep=[dev_null, existing, self.cohort],
                          timeout=RUN_TIMEOUT))
        self.run(Case("output", "review-pack --out /proc/x",
                      ["review-pack", str(self.cohort), "--cases", "1", "--reference", str(self.reference_image),
                       "--out", "/proc/x"], (2,), work, "a pack is written on a disk only",
                      keep=[dev_null, self.cohort], timeout=RUN_TIMEOUT))
        if self.quick:
            return
        self.concurrent(run)
        self.kill_trials(run)

    def concurrent(self, run: list[str]) -> None:
        out = self.work / "concurrent"
        first_argv = [*run, "--out", str(out)]
        logs = self.work / "concurrent-first.log"
        start = time.monotonic()
        with open(logs.with_suffix(".out"), "wb") as out_log, open(logs.with_suffix(".err"), "wb") as err_log:
            first = spawn(first_argv, self.work, base_env(), out_log, err_log)
            while first.poll() is None and not (out / "plan.json").exists() and time.monotonic() - start < RUN_TIMEOUT:
                time.sleep(0.02)
            second = Case("output", "a second run --resume while the first writes",
                          [*run, "--out", str(out), "--resume"], (1,),
                          self.work, "README: a second run or --resume on a folder being written is refused (1)",
                          must_say=[r"another synth run is writing"], timeout=RUN_TIMEOUT)
            running = first.poll() is None
            result = self.run(second)
            if not running and result.outcome == "ok-clean":
                result.detail = "(the first run had already finished; the race was not exercised)"
            try:
                first.wait(timeout=max(1.0, RUN_TIMEOUT - (time.monotonic() - start)))
                rc: int | None = first.returncode
            except subprocess.TimeoutExpired:
                kill_group(first)
                first.wait()
                rc = None
        seconds = time.monotonic() - start
        case = Case("output", "the first run of the race finishes", first_argv, (0,), self.work,
                    "the refused second run must not disturb the first", timeout=RUN_TIMEOUT)

        def same_hash(res: Result) -> None:
            got = content_hash(out)
            if got != self.baseline_hash:
                res.outcome, res.detail = "mismatch", f"content hash {got} != baseline {self.baseline_hash}"

        self.run(case, rc_out=(rc, logs.with_suffix(".out").read_bytes(), logs.with_suffix(".err").read_bytes(),
                               seconds), extra_check=same_hash)

    def kill_trials(self, run: list[str]) -> None:
        rng = random.Random(KILL_SEED)
        gen = max(0.5, self.baseline_seconds - self.plan_seconds)
        # before plan.json exists, the moment it appears, and two points while subjects are written
        moments = [("after start", rng.uniform(0.3, max(0.4, self.plan_seconds * 0.9))),
                   ("after plan.json", 0.0),
                   ("after plan.json", rng.uniform(0.05, gen * 0.5)),
                   ("after plan.json", rng.uniform(gen * 0.5, gen * 0.98))]
        for index, (anchor, delay) in enumerate(moments):
            out = self.work / f"killed-{index}"
            argv = [*run, "--out", str(out)]
            start = time.monotonic()
            proc = spawn(argv, self.work, base_env(), subprocess.DEVNULL, subprocess.DEVNULL)
            if anchor == "after plan.json":
                while (proc.poll() is None and not (out / "plan.json").exists()
                       and time.monotonic() - start < RUN_TIMEOUT):
                    time.sleep(0.005)
            aim = time.monotonic() + delay
            while proc.poll() is None and time.monotonic() < aim:
                time.sleep(0.005)
            finished_first = proc.poll() is not None
            kill_group(proc)
            proc.wait()
            at = time.monotonic() - start
            state = "finished before the kill" if finished_first else f"killed at {at:.2f} s"
            case = Case("output", f"SIGKILL {delay:.2f} s {anchor} ({state}), then --resume",
                        [*run, "--out", str(out), "--resume"], (0,), self.work,
                        "README: a run killed at any moment can be resumed", timeout=RUN_TIMEOUT)

            def same_hash(res: Result, out: Path = out) -> None:
                got = content_hash(out)
                if got != self.baseline_hash:
                    res.outcome, res.detail = "mismatch", f"content hash {got} != baseline {self.baseline_hash}"

            self.run(case, extra_check=same_hash)

    # ------------------------------------------------------------------ family 5

    def family_cohorts(self) -> None:
        print("cohorts: finished cohorts that no longer match their cohort.json", flush=True)
        other = self.work / "other_seed.synth"
        other.write_text(self.spec.read_text(encoding="utf-8").replace("seed: 42", "seed: 7", 1), encoding="utf-8")
        second = self.make_cohort("other-seed", other)

        def manifests(folder: Path) -> None:
            (folder / "manifest.csv").unlink()
            (folder / "manifest.json").unlink()

        def foreign_subject(folder: Path) -> None:
            shutil.rmtree(folder / "subjects" / "S000001")
            shutil.copytree(second / "subjects" / "S000001", folder / "subjects" / "S000001", symlinks=True)

        def truncate_labels(folder: Path) -> None:
            path = folder / "labels.json"
            path.write_bytes(path.read_bytes()[:100])

        def edit_provenance(folder: Path) -> None:
            path = folder / "provenance.json"
            data = json.loads(path.read_text(encoding="utf-8"))
            data["cohort_seed"] = 43
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")

        def drop_cohort_json(folder: Path) -> None:
            (folder / "cohort.json").unlink()

        def edit_subject_json(folder: Path) -> None:
            path = folder / "subjects" / "S000001" / "subject.json"
            data = json.loads(path.read_text(encoding="utf-8"))
            data["probe_edit"] = True
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")

        def truncate_plan(folder: Path) -> None:
            path = folder / "plan.json"
            path.write_bytes(path.read_bytes()[:200])

        damages = [("both manifests deleted", manifests, True, [r"manifest"]),
                   ("a subject copied from a cohort of another seed", foreign_subject, True, [r"S000001"]),
                   ("labels.json truncated", truncate_labels, True, [r"labels\.json"]),
                   ("provenance.json edited", edit_provenance, True, [r"provenance\.json"]),
                   ("cohort.json deleted", drop_cohort_json, False, [r"cohort\.json"]),
                   ("a subject.json edited", edit_subject_json, False, [r"S000001|subject\.json"]),
                   ("plan.json truncated", truncate_plan, False, [r"plan\.json"])]
        refuse = "README: validate, report, review-pack and verify refuse a folder that no longer matches (exit 2)"
        for index, (label, damage, with_verify, says) in enumerate(damages):
            folder = self.work / f"bad-{index}"
            shutil.copytree(self.cohort, folder, symlinks=True)
            damage(folder)
            keep = [folder]
            self.run(Case("cohorts", f"validate --only anatomy: {label}",
                          ["validate", str(folder), "--only", "anatomy"], (2,),
                          self.work, refuse, keep=keep, must_say=says, timeout=RUN_TIMEOUT))
            self.run(Case("cohorts", f"report --out: {label}",
                          ["report", str(folder), "--out", str(self.work / f"bad-{index}-report.html")], (2,),
                          self.work, refuse, keep=keep, must_say=says, timeout=RUN_TIMEOUT))
            self.run(Case("cohorts", f"review-pack: {label}",
                          ["review-pack", str(folder), "--cases", "1", "--reference", str(self.reference_image),
                           "--out", str(self.work / f"bad-{index}-pack")], (2,), self.work, refuse, keep=keep,
                          must_say=says, timeout=RUN_TIMEOUT))
            if with_verify and not self.quick:
                contradiction = [r"\b2/2 subjects intact"] if "copied" in label else []
                self.run(Case("cohorts", f"verify --sample 1: {label}",
                              ["verify", str(folder), "--sample", "1", "--device", "cpu"], (1, 2), self.work,
                              "a failed check (1) or a refused folder (2)", keep=keep, must_say=says,
                              must_not_say=contradiction, timeout=RUN_TIMEOUT))

    # ------------------------------------------------------------------ family 6

    def family_sizes(self) -> None:
        print("sizes: subject counts and budgets", flush=True)
        work, spec = self.work, str(self.spec)
        usage = "README: a bad option such as --subjects -3 is a usage error (exit 2)"
        budget = "README: a plan over its time or storage budget is refused with the estimate (exit 1)"
        estimate = r"about [\d,.]+ ?(h|[kMGTP]i?B)"
        for value in ("0", "-3", "1.5", "abc", "", "1000000000000", "1" + "0" * 29):
            self.run(Case("sizes", f"plan --subjects {value or repr(value)}", ["plan", spec, f"--subjects={value}"],
                          (2,), work, usage))
        self.run(Case("sizes", "plan --subjects 10000000 (over the time budget)",
                      ["plan", spec, "--subjects", "10000000"], (1,), work, budget, must_say=[estimate]))
        lung = ROOT / "examples" / "lung_nodules_ldct.synth"
        if lung.is_file():
            self.run(Case("sizes", "plan lung example --subjects 10000000",
                          ["plan", str(lung), "--subjects", "10000000"], (1,), work, budget, must_say=[estimate]))
        self.run(Case("sizes", "plan --max-storage 1kB (over the storage budget)",
                      ["plan", spec, "--max-storage", "1kB"], (1,), work, budget, must_say=[estimate]))
        for option, value in (("--max-hours", "-1"), ("--max-hours", "nan"), ("--max-hours", "inf"),
                              ("--max-hours", "0"), ("--max-storage", "banana"), ("--max-storage", "-5TB"),
                              ("--max-storage", "0B")):
            self.run(Case("sizes", f"plan {option} {value}", ["plan", spec, f"{option}={value}"], (2,), work, usage))
        for value, expect, why in (("1000000000000", (2,), usage), ("0", (2,), usage),
                                   ("10000000", (1,), budget)):
            out = work / f"never-{value}"
            self.run(Case("sizes", f"run --subjects {value} (nothing may be written)",
                          ["run", spec, "--out", str(out), "--subjects", value, "--no-validate", "--device", "cpu"],
                          expect, work, why, absent=[out], timeout=RUN_TIMEOUT))
        out = work / "never-storage"
        self.run(Case("sizes", "run --max-storage 1kB (nothing may be written)",
                      ["run", spec, "--out", str(out), "--max-storage", "1kB", "--no-validate", "--device", "cpu"],
                      (1,), work, budget, absent=[out], must_say=[estimate], timeout=RUN_TIMEOUT))

    # ------------------------------------------------------------------ the whole probe

    def prepare(self) -> None:
        canon = self.work / "canonical.synth"
        shutil.copyfile(self.spec, canon)
        rc, _, _ = self.synth_quiet(["fmt", str(canon)], self.work, TIMEOUT)
        self.canonical = canon.read_text(encoding="utf-8")
        if rc not in (0, 1):
            print(f"note: `synth fmt` of the reference spec exited {rc}; the text cases use it as it is", flush=True)
        needs_cohort = {"special", "output", "cohorts"} & (self.only or set(FAMILIES))
        self.cohort = self.work / "baseline"
        if needs_cohort:
            print("fixture: generating the reference cohort (also the baseline of the kill trials)", flush=True)
            self.baseline()
        self.reference_image = self.cohort / "subjects" / "S000000" / "image.nii.gz"

    def main(self) -> None:
        self.prepare()
        for family in FAMILIES:
            if self.wants(family):
                getattr(self, f"family_{family}")()


def content_hash(folder: Path) -> str | None:
    try:
        return json.loads((folder / "cohort.json").read_text(encoding="utf-8")).get("content_hash")
    except (OSError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- report

def shown(data: bytes, lines: int = 12, width: int = 240) -> list[str]:
    """The tail of an output, with every control character escaped so this report stays plain."""
    text = data.decode("utf-8", "backslashreplace")
    rows = [row for row in re.split(r"\r?\n", text.rstrip()) if row.strip()]
    out = []
    for row in rows[-lines:]:
        row = "".join(ch if ch.isprintable() or ch == "\t" else ch.encode("unicode_escape").decode() for ch in row)
        out.append(row if len(row) <= width else row[:width] + " ...")
    return out


def print_report(results: list[Result], wall: float) -> int:
    counts = {family: Counter() for family in FAMILIES}
    for result in results:
        counts[result.case.family][result.outcome] += 1
    used = [name for name in OUTCOMES if any(c[name] for c in counts.values())] or ["ok-clean"]
    head = f"{'family':10}" + "".join(f"{name:>11}" for name in used) + f"{'total':>8}"
    print("\n" + head)
    print("-" * len(head))
    total = Counter()
    for family in FAMILIES:
        c = counts[family]
        if not c:
            continue
        total.update(c)
        print(f"{family:10}" + "".join(f"{c[name]:>11}" for name in used) + f"{sum(c.values()):>8}")
    print("-" * len(head))
    print(f"{'all':10}" + "".join(f"{total[name]:>11}" for name in used) + f"{sum(total.values()):>8}")
    timed = [r for r in results if r.case.timed]
    if timed:
        print("\ntimed cases:")
        for result in timed:
            print(f"  {result.seconds:7.2f} s  {result.case.name}  (exit {result.rc})")
    bad = [r for r in results if r.outcome != "ok-clean"]
    if bad:
        print(f"\n{len(bad)} case(s) not clean:")
        for result in bad:
            case = result.case
            print(f"\n* [{case.family}] {case.name}: {result.outcome}: {result.detail}")
            print(f"  $ cd {shlex.quote(str(case.cwd))} && synth {shlex.join(case.argv)}")
            for stream, data in (("stdout", result.out), ("stderr", result.err)):
                rows = shown(data)
                if rows:
                    print(f"  {stream} (last {len(rows)} lines):")
                    for row in rows:
                        print(f"    | {row}")
    print(f"\n{len(results)} cases, {len(results) - len(bad)} clean, {len(bad)} not clean; wall time {wall:.0f} s")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="skip the kill trials, the race and `synth verify`")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print where it is")
    parser.add_argument("--only", nargs="+", choices=FAMILIES, help="run only these families")
    args = parser.parse_args(argv)
    assert_dev_null("before the probe")
    if not SYNTH.is_file():
        print(f"hostile_probe: no `synth` console script next to {sys.executable}; install the project into this venv",
              file=sys.stderr)
        return 2
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="synth-hostile-"))
    probe = Probe(tmp, args.quick, set(args.only or ()))
    print(f"hostile probe of {SYNTH} ({'quick' if args.quick else 'full'})", flush=True)
    try:
        probe.main()
    except KeyboardInterrupt:
        print("\ninterrupted; the cases so far:", flush=True)
    finally:
        assert_dev_null("after the probe")
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    status = print_report(probe.results, time.monotonic() - start)
    assert_dev_null("at the end")
    return status


if __name__ == "__main__":
    sys.exit(main())
