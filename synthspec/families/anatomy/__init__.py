"""Anatomy families (thorax/ ...) and what they share (texture.py: correlated fields, tissue quantiles)."""
