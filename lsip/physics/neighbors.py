"""Neighbour lists (vesin) and differentiable pair geometry.

vesin computes the index pairs and periodic shifts (numpy, no gradient); distances and vectors are then
recomputed in torch from the positions so that forces flow through autograd.

vesin is native code: :func:`half_neighbor_list` refuses input it cannot handle (non-finite numbers, an extent of
more than :data:`MAX_SPAN_IN_CUTOFFS` cut-offs, a singular periodic cell) with a ``StructureError`` instead of
letting the process die (vesin 0.6 raises SIGFPE near 1.5e5 cut-offs along one axis). Structures never get here
unchecked (``lsip.structure.validate_geometry``, docs/limits.md); this guard is for direct callers.
"""

from __future__ import annotations

import numpy as np
import torch
import vesin
from torch import Tensor

from lsip.errors import StructureError

#: Largest extent of the points along one axis, in units of the cut-off, handed to vesin.
MAX_SPAN_IN_CUTOFFS: float = 5.0e4


def half_neighbor_list(
    positions: np.ndarray, cutoff: float, cell: np.ndarray | None = None, pbc: tuple[bool, bool, bool] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique pairs i < j (or image pairs) within ``cutoff``.

    Parameters
    ----------
    positions : (n, 3) coordinates, bohr.
    cutoff : bohr.
    cell : (3, 3) lattice vectors (rows), bohr, or None for a finite system.
    pbc : periodic directions.

    Returns
    -------
    i, j : (P,) int64 atom indices; shifts : (P, 3) integer cell shifts (vector R_j - R_i + shift @ cell).
    """
    n = len(positions)
    if n < 2 and (cell is None or not any(pbc or ())):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64)
    periodic = bool(cell is not None and pbc is not None and any(pbc))
    box = cell if periodic else np.zeros((3, 3))
    _check_vesin_input(positions, cutoff, box if periodic else None)
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=False)
    i, j, s = nl.compute(points=np.ascontiguousarray(positions, dtype=np.float64), box=box,
                         periodic=list(pbc) if periodic else False, quantities="ijS")
    return i.astype(np.int64), j.astype(np.int64), s.astype(np.int64)


def _check_vesin_input(positions: np.ndarray, cutoff: float, box: np.ndarray | None) -> None:
    """Raise StructureError for input the native neighbour search must never see (module docstring)."""
    if not (np.isfinite(cutoff) and cutoff > 0):
        raise StructureError(f"neighbour-list cut-off must be a positive number, got {cutoff}")
    if len(positions):
        if not np.isfinite(positions).all():
            raise StructureError("positions contain NaN or infinite values")
        span = float(np.ptp(positions, axis=0).max())
        if span > MAX_SPAN_IN_CUTOFFS * cutoff:
            raise StructureError(f"the points span {span:.3g} bohr, more than {MAX_SPAN_IN_CUTOFFS:.0e} cut-offs of "
                                 f"{cutoff:g} bohr (docs/limits.md)")
    if box is not None and not (np.isfinite(box).all() and abs(np.linalg.det(box)) > 0):
        raise StructureError("the periodic cell is singular or not finite")


def pair_vectors(positions: Tensor, i: Tensor, j: Tensor, shift_vectors: Tensor | None = None) -> Tensor:
    """Vectors R_j - R_i (+ periodic shift), differentiable in ``positions``.

    Parameters
    ----------
    positions : (n, 3) bohr.
    i, j : (P,) indices.
    shift_vectors : (P, 3) cartesian shifts in bohr, or None.

    Returns
    -------
    (P, 3) bohr.
    """
    d = positions[j] - positions[i]
    if shift_vectors is not None:
        d = d + shift_vectors
    return d


def safe_norm(vectors: Tensor) -> Tensor:
    """Euclidean norm over the last axis with a finite gradient at zero (sqrt'(0) is NaN)."""
    sq = (vectors * vectors).sum(-1)
    return torch.sqrt(torch.clamp(sq, min=1e-30))
