"""The on-disk contract of a cohort folder: one package every writer and reader goes through.

    layout.py    file and folder names (the only place they are spelled)
    atomic.py    atomic writes, staged folders, SHA-256 of files
    record.py    the subject record (subject.json) and the cohort's content hash
    labels.py    the label table carried in the plan: which id is which structure and tissue
    nifti.py     NIfTI volumes (SimpleITK) in DICOM LPS with identity direction
    manifest.py  manifest.csv / manifest.json, provenance.json, package versions
    writer.py    write one subject, then the cohort's closing files (manifest, labels.json, cohort.json)
    interop.py   what other tools read: label tables and colours, the semantic map, MONAI datalist,
                 LUNA16-style annotations, SHA256SUMS
    read.py      read a cohort folder back, checking every volume against its recorded hash
    export_nnunet.py  `synth export nnunet`: the cohort as an nnU-Net v2 raw dataset (through read.py)

It imports nothing of the engine: validation, reports and the reader pack read cohorts here.
"""
