"""Bond stretching / fragment separation scans, warm-started along the path.

``scan_structures`` moves atom J - together with everything bonded to J once the I-J bond is cut, when that
splits the molecule in two - along the I->J axis so that R_IJ takes each requested value. Bonds are found
from covalent radii (``ase.data.covalent_radii`` x 1.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase.data import covalent_radii

from lsip.errors import LSIPError
from lsip.structure import Structure


def bond_graph(structure: Structure, scale: float = 1.2) -> list[set[int]]:
    """Adjacency sets from covalent radii (distance < scale * (r_i + r_j))."""
    rad = covalent_radii[structure.numbers]
    d = np.linalg.norm(structure.positions[:, None] - structure.positions[None], axis=-1)
    adj = (d < scale * (rad[:, None] + rad[None, :])) & ~np.eye(structure.n_atoms, dtype=bool)
    return [set(np.nonzero(row)[0].tolist()) for row in adj]


def moving_fragment(structure: Structure, i: int, j: int) -> list[int]:
    """Atoms that move with J when the I-J bond is stretched (J alone if I and J stay connected)."""
    graph = bond_graph(structure)
    graph[i].discard(j)
    graph[j].discard(i)
    seen, stack = {j}, [j]
    while stack:
        for nb in graph[stack.pop()]:
            if nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return [j] if i in seen else sorted(seen)


def scan_structures(structure: Structure, i: int, j: int, distances: np.ndarray) -> tuple[list[Structure], list[int]]:
    """Structures with R_IJ = each of ``distances`` (angstrom) and the list of moved atoms."""
    n = structure.n_atoms
    if not (0 <= i < n and 0 <= j < n) or i == j:
        raise LSIPError(f"scan atoms must be two different indices in 0..{n - 1}, got {i} and {j}")
    if np.any(np.asarray(distances) <= 0.3):
        raise LSIPError("scan distances must be larger than 0.3 angstrom")
    axis = structure.positions[j] - structure.positions[i]
    r0 = float(np.linalg.norm(axis))
    axis = axis / r0
    moved = moving_fragment(structure, i, j)
    out = []
    for r in np.asarray(distances, dtype=float):
        pos = structure.positions.copy()
        pos[moved] += (r - r0) * axis
        out.append(structure.with_positions(pos))
    return out, moved


def predict_along(model: Any, structures: list[Structure], **kwargs: Any) -> list:
    """``model.predict`` at every structure of a path, each warm-started from the previous point's latent.

    The one scan loop of the package (app, CLI, validation). ``kwargs`` go to ``predict`` (``forces``,
    ``raise_on_failure``); the default here is ``raise_on_failure=False`` so one bad point does not lose the
    others (its ``converged`` flag says so).
    """
    kwargs.setdefault("raise_on_failure", False)
    out, guess = [], None
    for st in structures:
        pred = model.predict(st, guess=guess, **kwargs)
        out.append(pred)
        guess = pred.latent
    return out
