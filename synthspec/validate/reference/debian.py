"""Real scans and templates that ship inside Debian packages, downloaded on demand and cached.

`fetch_deb_files` runs `apt-get download PACKAGE=VERSION` (the package is never installed), reads
the `.deb` with the standard library (an `ar` archive whose `data.tar.*` holds the files), copies
only the named members into a temporary folder that is renamed into place (a cache folder is
complete or absent), and records their SHA-256 in `manifest.json`; `verify_files` (fetch.py)
checks every later load against it.  A machine without apt-get (or without network) can use a
`.deb` it already has: put it in the folder named by `$SYNTH_DEBS`.

The cache is `$SYNTH_CACHE/reference/<package>-<version>/`.  What the files mean is the caller's
business (the head priors, the held-out head CT), not this module's.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from synthspec.validate.reference.fetch import run_download, seal_extraction
from synthspec.validate.reference.model import ReferenceError


def deb_name(package: str, version: str) -> str:
    """The file name Debian gives a package's `.deb` (an epoch's colon is written `%3a`)."""
    return f"{package}_{version.replace(':', '%3a')}_all.deb"


def apt_download(package: str, version: str, dest: Path, timeout: float = 600.0) -> Path:
    """The `.deb` of `package` at `version` in `dest`: taken from `$SYNTH_DEBS` when it holds it, else downloaded
    with `apt-get download` (nothing is installed)."""
    local = os.environ.get("SYNTH_DEBS")
    if local:
        found = sorted(Path(local).expanduser().glob(f"{package}_*.deb"))
        exact = [p for p in found if p.name == deb_name(package, version)]
        if exact or found:
            return (exact or found)[-1]
    if shutil.which("apt-get") is None:
        raise ReferenceError(f"apt-get is not on this machine, so Debian's {package} {version} cannot be downloaded; "
                             f"get {deb_name(package, version)} from a Debian mirror and set SYNTH_DEBS to its folder")
    held = f"set SYNTH_DEBS to a folder holding {deb_name(package, version)}"
    return run_download(["apt-get", "download", "-q", f"{package}={version}"],
                        lambda: sorted(Path(dest).glob(f"{package}_*.deb")), program="apt-get", cwd=dest,
                        what=f"Debian's {package}", fix=f"check access to the Debian mirror or {held}",
                        failed_what=f"Debian's {package} {version}", failed_fix=f"run `apt-get update` once, or {held}",
                        timeout=timeout)


def _data_tar(deb: Path) -> tarfile.TarFile:
    """The `data.tar.*` member of a `.deb` (an `ar` archive), opened for reading."""
    with open(deb, "rb") as handle:
        if handle.read(8) != b"!<arch>\n":
            raise ReferenceError(f"{deb} is not a Debian package (no ar header); download it again")
        while True:
            header = handle.read(60)
            if len(header) < 60:
                break
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip() or 0)
            body = handle.read(size)
            if size % 2:
                handle.read(1)
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    raise ReferenceError(f"{deb} compresses its data with zstd, which Python cannot read; extract "
                                         "it with dpkg-deb and give the file itself")
                return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
    raise ReferenceError(f"{deb} has no data.tar member; download it again")


def extract_deb_members(deb: Path, target: Path, members: dict[str, str], package: str, version: str,
                        known: dict[str, str] | None) -> None:
    """Copy `members` (file name -> path inside the package, without the leading `./`) of `deb` into `target`
    atomically, check them against `known` SHA-256s, and write manifest.json."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        try:
            with _data_tar(deb) as archive:
                index = {m.name.lstrip("./"): m for m in archive.getmembers() if m.isfile()}
                for name, member in members.items():
                    entry = index.get(member.lstrip("/"))
                    if entry is None:
                        raise ReferenceError(f"{deb.name} has no {member}; use {package} {version}")
                    with archive.extractfile(entry) as src, open(tmp / name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ReferenceError(f"{deb} is not a readable Debian package ({type(error).__name__}: {error}); "
                                 "download it again") from None
        seal_extraction(tmp, target, members, known, deb.name, f"{package} {version}", "Debian",
                        {"source": f"Debian {package} {version}", "deb": deb.name})
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def fetch_deb_files(package: str, version: str, target: Path, members: dict[str, str], known: dict[str, str] | None,
                    thing: str, download: Callable[[str, str, Path], Path] | None = None) -> Path:
    """`target`, the cache folder of `members` taken from Debian's `package`: downloaded and extracted only when
    `target` holds no manifest yet."""
    if (target / "manifest.json").is_file():
        return target
    if target.exists():
        raise ReferenceError(f"{target} is incomplete (no manifest.json); delete that folder and run again to "
                             f"download {thing} afresh")
    download = download or apt_download
    with tempfile.TemporaryDirectory(prefix=f"synthspec-{package}-") as tmp:
        extract_deb_members(Path(download(package, version, Path(tmp))), target, members, package, version, known)
    return target
