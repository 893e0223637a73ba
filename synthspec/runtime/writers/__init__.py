"""Writers: every file of a cohort, written atomically.

    atomic.py    write_bytes_atomic / write_text_atomic / staged_dir / sha256_file
    identity.py  synthetic patient identities and deterministic DICOM UIDs
    nifti.py     NIfTI volumes (SimpleITK) in DICOM LPS with identity direction
    dicom_ct.py  CT Image Storage series (pydicom), marked synthetic, validated by dciodvfy
    manifest.py  manifest.csv / manifest.json, provenance.json, package versions

Nothing here writes a timestamp or a random value into a file: the same inputs
give byte-identical files, which is what `synth verify` and `--resume` rely on.
"""
