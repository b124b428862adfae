"""Water clusters of a given size: a cubic grid of randomly oriented waters (O-O 3.1 angstrom).

Deterministic (seeded) so benchmark runs are comparable; not a relaxed structure.
"""

from __future__ import annotations

import numpy as np

from lsip.structure import Structure

_WATER = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


def water_cluster(n_molecules: int, spacing: float = 3.1, seed: int = 0) -> Structure:
    """A roughly cubic cluster of ``n_molecules`` waters (3 n atoms), angstrom."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(n_molecules ** (1 / 3)))
    pos = []
    for k in range(n_molecules):
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        rot = q * np.sign(np.diag(r))
        centre = spacing * np.array([k % side, (k // side) % side, k // side**2])
        pos.append(_WATER @ rot.T + centre)
    return Structure(("O", "H", "H") * n_molecules, np.concatenate(pos), name=f"water{n_molecules}")
