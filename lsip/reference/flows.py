"""Channel flows from a set of atomic charges: the minimum-norm flow on the neighbour graph.

The model carries charge transfer in channel occupations c_AB (one electron moved from A to B), with
q_A = sum_B c_AB - sum_B c_BA. To draw a DFT charge distribution the same way, find edge flows f_e on the
bonds e = (i -> j) of a neighbour graph (f_e > 0: electrons flow from i to j) with

    D f = q - r,   D[i, e] = +1, D[j, e] = -1   (incidence matrix, n x E),

of minimum Euclidean norm |f|. Its solution is f = D^T L^+ (q - r) with the graph Laplacian L = D D^T: the
flow of an electrical network in which the charges are the injected currents (each channel a unit resistor).
A flow can only move charge inside a connected fragment, so the part r of q that a fragment holds in net
(its total charge) cannot be carried by channels: it is reported as the **reservoir** charge, spread evenly
over the fragment's atoms (the model's reservoir occupations play this role for a charged system).
Channels are returned in the model's form: donor, acceptor, occupation = |f| >= 0.

The default graph joins atoms closer than ``scale`` x (covalent radius A + covalent radius B) (radii from
``ase.data.covalent_radii``, Cordero et al. 2008); any pair list can be passed instead (e.g. the model's own
channel pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsip.errors import LSIPError
from lsip.structure import ATOMIC_NUMBERS

#: Bond criterion: distance < BOND_SCALE x (r_cov,A + r_cov,B).
BOND_SCALE = 1.25


@dataclass(frozen=True)
class ChargeFlow:
    """Minimum-norm channel flow reproducing a set of charges.

    Attributes
    ----------
    donor, acceptor : (E,) atom indices of each channel (electrons flow donor -> acceptor).
    occupation : (E,) electrons moved, >= 0.
    reservoir : (n,) the part of each charge no channel can carry (net charge of its fragment, spread evenly).
    charges : (n,) the input charges, e.
    """

    donor: np.ndarray
    acceptor: np.ndarray
    occupation: np.ndarray
    reservoir: np.ndarray
    charges: np.ndarray

    def net_outflow(self) -> np.ndarray:
        """(n,) sum of outgoing minus incoming occupations (= charges - reservoir)."""
        n = len(self.charges)
        return (np.bincount(self.donor, self.occupation, minlength=n)
                - np.bincount(self.acceptor, self.occupation, minlength=n))


def bond_pairs(symbols: tuple[str, ...] | list[str], positions: np.ndarray,
               scale: float = BOND_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j closer than ``scale`` x (r_cov,i + r_cov,j).

    Parameters
    ----------
    symbols : element symbols.  positions : (n, 3) angstrom.  scale : bond tolerance.

    Returns
    -------
    i, j : (E,) int64 indices with i < j.
    """
    from ase.data import covalent_radii

    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    radii = np.array([covalent_radii[ATOMIC_NUMBERS[s]] for s in symbols])
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    i, j = np.nonzero(np.triu(dist < scale * (radii[:, None] + radii[None, :]), k=1))
    return i.astype(np.int64), j.astype(np.int64)


def minimum_norm_flow(charges: np.ndarray, pairs: tuple[np.ndarray, np.ndarray],
                      threshold: float = 1e-10) -> ChargeFlow:
    """The minimum-norm channel flow of ``charges`` on the graph ``pairs`` (see the module docstring).

    Parameters
    ----------
    charges : (n,) atomic charges, e.
    pairs : (i, j) arrays of undirected edges (each pair once).
    threshold : channels with |f| below this are dropped, e.

    Returns
    -------
    ChargeFlow
    """
    q = np.asarray(charges, dtype=np.float64).reshape(-1)
    i, j = (np.asarray(p, dtype=np.int64).reshape(-1) for p in pairs)
    n = len(q)
    if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n or np.any(i == j)):
        raise LSIPError("flow graph pairs must be distinct atom indices within range")
    inc = np.zeros((n, len(i)))
    inc[i, np.arange(len(i))] = 1.0
    inc[j, np.arange(len(i))] = -1.0
    # minimum-norm least-squares solution (exact inside each fragment)
    f = np.linalg.lstsq(inc, q, rcond=None)[0] if len(i) else np.zeros(0)
    reservoir = q - inc @ f
    keep = np.abs(f) > threshold
    fwd = f[keep] >= 0
    donor = np.where(fwd, i[keep], j[keep])
    acceptor = np.where(fwd, j[keep], i[keep])
    return ChargeFlow(donor, acceptor, np.abs(f[keep]), reservoir, q)


def charge_flow(symbols: tuple[str, ...] | list[str], positions: np.ndarray, charges: np.ndarray,
                scale: float = BOND_SCALE) -> ChargeFlow:
    """Minimum-norm flow of ``charges`` on the covalent-radius bond graph (positions in angstrom)."""
    return minimum_norm_flow(charges, bond_pairs(symbols, positions, scale))
