"""The only place a body part, a modality or a pathology is named.

    registry.py   ordered tables of anatomy families, modalities and pathologies (lint-safe: imports nothing)
    base.py       what they hand each other: Demographics, TissueScene, Layer, LesionParams, Channel, Window
    grid.py       the voxel grid (LPS, centred on the isocentre) and the tube rasteriser
    anatomy/      thorax/ ...: build tissues (labels, partial-volume layers, texture), own their acceptance checks
    modality/     ct/ ...: render contrast from tissue properties, simulate the acquisition, write the series
    pathology/    lung_nodule ...: change tissues (add layers and lesion masks), never pixels

Adding a family is one line in registry.py plus new files here.
"""
