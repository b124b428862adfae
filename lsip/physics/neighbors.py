"""Neighbour lists (vesin) and differentiable pair geometry.

vesin computes the index pairs and periodic shifts (numpy, no gradient); distances and vectors are then
recomputed in torch from the positions so that forces flow through autograd.
"""

from __future__ import annotations

import numpy as np
import torch
import vesin
from torch import Tensor


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
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=False)
    i, j, s = nl.compute(points=np.ascontiguousarray(positions, dtype=np.float64), box=box,
                         periodic=list(pbc) if periodic else False, quantities="ijS")
    return i.astype(np.int64), j.astype(np.int64), s.astype(np.int64)


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
    """Euclidean norm over the last axis with a finite gradient at zero (FIELD_NOTES: sqrt'(0) is NaN)."""
    sq = (vectors * vectors).sum(-1)
    return torch.sqrt(torch.clamp(sq, min=1e-30))
