"""Imaging modalities (ct/ ...): each renders a tissue scene and simulates its acquisition."""
