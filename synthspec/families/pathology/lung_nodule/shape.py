"""One nodule's shape: a real reader outline from LIDC-IDRI, chosen by its ratings, scaled and turned.

Choice: among the outlines of the subtype's texture ratings (solid: 4-5, part-solid: 3, ground glass:
1-2; LIDC texture 1 = non-solid .. 5 = solid), weighted by how close the reader's spiculation and
lobulation ratings lie to the request's (rating = 1 + 4 x fraction, Gaussian weight of SD 0.75
rating) and how close the outline's own size is to the requested one (log-normal weight of SD 0.5),
so a small request takes a small nodule's detail rather than a magnified large one.

Scaling keeps the requested equivalent diameter; a uniformly random rotation turns the outline; the
surface is the zero level of the outline's 3-D signed distance, interpolated, with a partial-volume
ramp one output voxel wide along its normal, so small nodules are not binary blocks.  Readers outline
a nodule's body and rarely its spicules, so spiculation adds thin tapering spicules a few mm long
from the outline's surface (as many as 14 x the requested fraction).  A part-solid nodule's solid
core is the outline shrunk inward to 30-60 % of its depth (its deepest point's distance to the
surface).  A request smaller than about one voxel is a sphere (the outline's detail would be sub-voxel).
A nodule lying on a surface (placement.py: perifissural, juxta-pleural) can be flattened against it:
squashed along the surface normal and widened across it at the same volume (`flatten`).

This module draws from the rng it is given and knows nothing of lungs or placement (placement.py).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt, map_coordinates

from synthspec.families.base import FamilyError, LesionParams
from synthspec.families.grid import Grid, raster_capsules
from synthspec.families.pathology.lung_nodule.outlines import OutlineLibrary

SUBTYPES = ("solid", "part_solid", "ground_glass")
TEXTURE_RATINGS = {"solid": (4, 5), "part_solid": (3,), "ground_glass": (1, 2)}
RATING_SD = 0.75
SIZE_SD = 0.5
FAR = 1.0e3
"""Signed distance (mm) taken outside the outline's padded grid: far from any surface."""


def rating_of(fraction: float) -> float:
    """The LIDC 1-5 rating a spec fraction 0..1 stands for."""
    return 1.0 + 4.0 * float(np.clip(fraction, 0.0, 1.0))


def choose_outline(library: OutlineLibrary, request: LesionParams, rng: np.random.Generator) -> int:
    """Index of the outline drawn for `request` (module doc), from `rng`."""
    allowed = np.isin(library.ratings["texture"], TEXTURE_RATINGS[request.subtype])
    if not allowed.any():
        raise FamilyError(f"the LIDC-IDRI outline library holds no {request.subtype} nodule; rebuild it by "
                          "deleting the lidc-outlines file in the synthspec cache")
    spic = library.ratings["spiculation"] - rating_of(request.spiculation)
    lob = library.ratings["lobulation"] - rating_of(request.lobulation)
    size = np.log(library.diameter_mm / max(float(request.diameter_mm), 1e-3))
    score = -(spic * spic + lob * lob) / (2 * RATING_SD ** 2) - size * size / (2 * SIZE_SD ** 2)
    weight = np.where(allowed, np.exp(score - score[allowed].max()), 0.0)
    return int(rng.choice(weight.size, p=weight / weight.sum()))


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3 x 3 rotation (a normalised Gaussian quaternion)."""
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def signed_distance(mask: np.ndarray, spacing: float) -> np.ndarray:
    """Signed distance (mm, negative inside) to the surface half way between voxel centres of an isotropic mask."""
    inside = distance_transform_edt(mask) * spacing - 0.5 * spacing
    outside = distance_transform_edt(~mask) * spacing - 0.5 * spacing
    return np.where(mask, -inside, outside).astype(np.float32)


class NoduleShape:
    """Everything random about one nodule except where it sits (mm, z/y/x directions)."""

    def __init__(self, request: LesionParams, rng: np.random.Generator, library: OutlineLibrary):
        if request.subtype not in SUBTYPES:
            raise FamilyError(f"lung_nodule subtype must be one of {', '.join(SUBTYPES)}, got {request.subtype!r}")
        self.subtype = request.subtype
        self.outline = library.outline(choose_outline(library, request, rng))
        self.rotation = random_rotation(rng)
        self.radius = 0.5 * float(request.diameter_mm)
        self.scale = float(request.diameter_mm) / self.outline.diameter_mm
        ps = self.outline.spacing_mm
        pad = 4
        self._mask = np.pad(self.outline.mask, pad)
        self._sdf = signed_distance(self._mask, ps)
        self._grad = np.stack(np.gradient(self._sdf))
        self._centroid = np.argwhere(self._mask).mean(axis=0) * ps   # mm on the outline's grid
        reach = float(np.sqrt(np.max(np.sum((np.argwhere(self._mask) * ps - self._centroid) ** 2, axis=1))))
        self.warp = None   # a flattening against a surface (`flatten`), subject frame
        self.r_max = (reach + 0.5 * ps) * self.scale
        self.r_min = max(0.0, -float(self._native_sdf(self._centroid[None])[0])) * self.scale
        self._round = (self.r_max, self.r_min)
        self.depth = max(0.0, -float(self._sdf.min())) * self.scale   # the deepest point's distance to the surface
        spic = float(np.clip(request.spiculation, 0.0, 1.0))
        n_sp = int(round(spic * 14))
        self.sp_dirs = _unit(rng, n_sp) if n_sp else np.zeros((0, 3))
        self.sp_len = rng.uniform(2.5, 6.0, n_sp) * (0.6 + 0.8 * spic)
        self.sp_r = rng.uniform(0.45, 0.85, n_sp) * min(1.0, max(self.radius, 1.5) / 4.0)
        self.sp_base = np.array([self._surface_along(d) for d in self.sp_dirs])
        self.core = float(rng.uniform(0.3, 0.6))
        # where this nodule's solid and ground-glass parts sit in their tissues' ranges (the modality's
        # table turns them into intensities)
        self.solid_quantile = float(rng.random())
        self.gg_quantile = float(rng.random())
        self.extent = self.r_max + (float(self.sp_len.max()) if n_sp else 0.0) + 1.0

    def describe(self) -> dict:
        """What the lesion record says of the shape: the outline it came from and its reader's ratings."""
        return {"outline": f"LIDC-IDRI annotation {self.outline.annotation}", "outline_patient": self.outline.patient,
                "outline_ratings": dict(self.outline.ratings), "outline_diameter_mm": round(self.outline.diameter_mm, 2)}

    def _native_sdf(self, points_mm: np.ndarray, grid_values: np.ndarray | None = None) -> np.ndarray:
        """The outline's signed distance (native mm) at points (N, 3) of its own grid (mm)."""
        coords = (points_mm / self.outline.spacing_mm).T
        return map_coordinates(self._sdf if grid_values is None else grid_values, coords, order=1, mode="constant",
                               cval=FAR)

    def flatten(self, normal, thickness: float) -> None:
        """Squash the nodule along `normal` (subject frame) to `thickness` of its size and widen it across by
        1 / sqrt(thickness), so its volume stays: a lentiform nodule lying on a fissure or the pleura.  Each call
        replaces the last (a placement attempt has its own surface)."""
        n = np.asarray(normal, dtype=np.float64)
        n = n / max(float(np.linalg.norm(n)), 1e-12)
        t = float(thickness)
        along = np.outer(n, n)
        self.warp = math.sqrt(t) * (np.eye(3) - along) + along / t   # subject offsets -> unflattened offsets
        self.r_max, self.r_min = self._round[0] / math.sqrt(t), self._round[1] * t
        self.sp_base = np.array([self._surface_along(d) for d in self.sp_dirs])
        self.extent = self.r_max + (float(self.sp_len.max()) if len(self.sp_len) else 0.0) + 1.0

    def _to_native(self, offsets_mm: np.ndarray) -> np.ndarray:
        """Points (N, 3) given as subject-frame offsets from the nodule's centre, on the outline's grid (mm)."""
        if self.warp is not None:
            offsets_mm = offsets_mm @ self.warp
        return offsets_mm @ self.rotation / self.scale + self._centroid

    def _surface_along(self, direction: np.ndarray) -> float:
        """Distance (subject mm) from the centre to the outline's surface along `direction` (last exit)."""
        t = np.linspace(0.0, self.r_max, 256)
        inside = self._native_sdf(self._to_native(t[:, None] * direction[None])) < 0.0
        return float(t[np.flatnonzero(inside)[-1]]) if inside.any() else 0.0

    def occupancy(self, centre: np.ndarray, lo: np.ndarray, hi: np.ndarray, grid: Grid):
        """(body+spicules, core) occupancy on the crop [lo, hi) of voxel indices."""
        sp = np.asarray(grid.spacing, dtype=np.float64)
        origin = grid.origin_mm()
        axes = [origin[a] + np.arange(lo[a], hi[a]) * sp[a] - centre[a] for a in range(3)]
        vz, vy, vx = np.meshgrid(*axes, indexing="ij")
        offsets = np.stack([vz.ravel(), vy.ravel(), vx.ravel()], axis=1)
        shape = vz.shape
        if self.radius < 0.75 * float(sp.max()):
            body, core = self._sphere(offsets, sp, shape)
        else:
            native = self._to_native(offsets)
            sdf = self._native_sdf(native).reshape(shape) * self.scale
            normal = np.stack([map_coordinates(g, (native / self.outline.spacing_mm).T, order=1, mode="nearest")
                               for g in self._grad], axis=1) @ self.rotation.T
            if self.warp is not None:   # distances shrink where the nodule is squashed: divide by the stretch
                warped = normal @ self.warp
                stretch = np.linalg.norm(warped, axis=1) / np.maximum(np.linalg.norm(normal, axis=1), 1e-6)
                sdf = sdf / np.maximum(stretch, 1e-6).reshape(shape)
                normal = warped
            norm = np.linalg.norm(normal, axis=1)
            h = np.where(norm > 1e-6, np.abs(normal) @ sp / np.maximum(norm, 1e-6), float(sp.min())).reshape(shape)
            body = np.clip(0.5 - sdf / h, 0.0, 1.0)
            core = (np.clip(0.5 - (sdf + (1.0 - self.core) * self.depth) / h, 0.0, 1.0)
                    if self.subtype == "part_solid" else None)
        if self.sp_dirs.shape[0]:
            a = centre + self.sp_dirs * (0.8 * self.sp_base)[:, None]
            b = centre + self.sp_dirs * (self.sp_base + self.sp_len)[:, None]
            occ = np.zeros(body.shape, np.float32)
            lab = np.zeros(body.shape, np.uint8)
            region = np.zeros(body.shape, np.uint8)
            allowed = np.ones(256, dtype=np.bool_)
            raster_capsules(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(self.sp_r),
                            np.full(len(a), 0.15), np.ones(len(a), np.uint8), occ, lab, region, allowed,
                            origin + lo * sp, sp)
            body = np.maximum(body, occ)
        return body.astype(np.float32), (None if core is None else core.astype(np.float32))

    def _sphere(self, offsets: np.ndarray, sp: np.ndarray, shape):
        """A sub-voxel nodule: a sphere of the requested volume (a thin solid keeps its volume, not its peak)."""
        dist = np.linalg.norm(offsets, axis=1).reshape(shape)
        safe = np.maximum(dist, 1e-9)
        h = (np.abs(offsets) @ sp).reshape(shape) / safe
        h = np.where(dist < 1e-9, sp.min(), h)
        body = sphere_ramp(self.radius, dist, h)
        core = sphere_ramp(self.radius * self.core, dist, h) if self.subtype == "part_solid" else None
        return body, core


def sphere_ramp(radius, dist, h):
    """Occupancy of a voxel by a sphere of the given radius: a ramp one voxel wide, thin-solid corrected."""
    thick = radius >= 0.5 * h
    o_thick = 0.5 + (radius - dist) / h
    s = 2.0 * radius / h
    o_thin = s * s * (1.0 - dist / h)
    return np.clip(np.where(thick, o_thick, o_thin), 0.0, 1.0)
