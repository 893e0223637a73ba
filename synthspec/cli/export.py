"""`synth export`: a cohort in the layout another tool reads: nnU-Net v2, or a DICOMDIR file-set.

Only the standard library and `synthspec.cli.common` / `synthspec.errors` are imported here; the
work is in `synthspec.cohort.export_nnunet` and `synthspec.cohort.export_dicomdir`, imported when
the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthspec.errors import EXIT_OK

FORMATS = ("nnunet", "dicomdir")
NNUNET_ONLY = ("dataset_id", "name", "labels")
LABELS = ("semantic", "findings")


def dataset_id(text: str) -> int:
    """An argparse `type=` for nnU-Net's dataset id: a whole number 1..999 (three digits in DatasetXXX)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 999:
        raise argparse.ArgumentTypeError(f"must be a whole number 1..999 (nnU-Net's DatasetXXX), not {text!r}")
    return value


def args_export(p) -> None:
    p.description = ("Export a cohort for another tool. `synth export nnunet COHORT --out DIR` writes "
                     "DIR/DatasetXXX_NAME/ (imagesTr/{case}_0000.nii.gz, labelsTr/{case}.nii.gz with consecutive "
                     "labels, dataset.json) for nnU-Net v2; `synth export dicomdir COHORT --out DIR` makes DIR a "
                     "DICOM file-set (DICOMDIR and PS3.10 file names) of every series and SEG, for PACS import. "
                     "Files are hard-linked on the same filesystem, else copied. Exit 2 on a damaged cohort or an "
                     "existing, non-empty target.")
    p.add_argument("format", choices=FORMATS,
                   help="the target layout: nnunet (nnU-Net v2 raw dataset) or dicomdir (DICOM file-set)")
    p.add_argument("cohort", metavar="COHORT", help="the cohort folder (the --out of `synth run`)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the folder that receives DatasetXXX_NAME (e.g. your nnUNet_raw)")
    p.add_argument("--dataset-id", type=dataset_id,
                   metavar="N", help="nnunet: nnU-Net's dataset id, 1..999 (default: 501)")
    p.add_argument("--name", metavar="NAME",
                   help="nnunet: dataset name after DatasetXXX_ (default: the cohort's name); letters, digits, _ and -")
    p.add_argument("--labels", choices=LABELS,
                   help="nnunet: semantic: anatomy and findings (default); findings: the finding classes only")
    p.add_argument("--copy", action="store_true", help="copy the files even where a hard link would do")


def cmd_export(args) -> int:
    if args.format == "dicomdir":
        return _dicomdir(args)
    from synthspec.cohort.export_nnunet import export_nnunet

    summary = export_nnunet(Path(args.cohort), Path(args.out), dataset_id=args.dataset_id or 501, name=args.name,
                            labels=args.labels or "semantic", copy=args.copy)
    how = f"{summary.linked} image(s) hard-linked, {summary.copied} copied"
    print(f"nnU-Net dataset: {summary.folder}  ({summary.cases} cases, {len(summary.labels)} labels, "
          f"{summary.bytes / 2**20:.1f} MiB, {how}, {summary.seconds:.1f} s)")
    return EXIT_OK


def _dicomdir(args) -> int:
    from synthspec.cohort.export_dicomdir import export_dicomdir
    from synthspec.errors import InputError

    given = [f"--{o.replace('_', '-')}" for o in NNUNET_ONLY if getattr(args, o) is not None]
    if given:
        raise InputError(f"{', '.join(given)} shape an nnU-Net export only; drop it for `synth export dicomdir`")
    summary = export_dicomdir(Path(args.cohort), Path(args.out), copy=args.copy)
    print(f"DICOM file-set: {summary.folder / 'DICOMDIR'}  ({summary.subjects} subjects, {summary.instances} "
          f"instances, {summary.bytes / 2**20:.1f} MiB, {summary.linked} hard-linked, {summary.copied} copied, "
          f"{summary.seconds:.1f} s)")
    return EXIT_OK
