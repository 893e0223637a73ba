"""Modality simulators.  CT: `simulate_ct(hu, CTAcquisition, generator)` (ct.py), built on a
parallel-beam projector pair (ct_geometry.py) and reconstruction kernels (ct_filters.py)."""

from .ct import CTAcquisition, simulate_ct

__all__ = ["CTAcquisition", "simulate_ct"]
