"""Procedural anatomy: the voxel grid, the adult thorax and tissue texture.

    grid.py      Grid (shape, spacing, LPS frame centred on the isocentre) and the tube rasteriser
    thorax.py    the adult thorax phantom: labels, regions, vessels, HU
    texture.py   correlated noise and per-subject tissue HU
"""
