"""Electron densities built from the latent library's spherical basis densities (torch, differentiable).

The basis density of state k of atom A at point r is the library's spherically averaged radial density
rho_{A,k}(|r - R_A|), interpolated in (ln r, ln rho) with :func:`lsip.physics.interpolate.log_radial_eval`
(relative accuracy ~1e-9 on the library's log grid; zero beyond the grid's last radius). The latent density is

    rho_latent(r) = sum_A sum_k w_A^k rho_{A,k}(|r - R_A|),

with the state axis k in the order of :data:`lsip.model.library.STATE_LABELS` (cation, neutral, anion,
excited). The promolecule is the special case w_A^0 = 1. Everything is torch, so the decoder can
differentiate through positions and weights, and runs on the device of the tables.

Memory: evaluating all basis densities costs ~16 doubles per (point, atom, state) during the table lookup;
points are processed in chunks of about ``chunk_elements / n_atoms`` points.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lsip.model.library import STATE_LABELS, LatentLibrary
from lsip.physics.interpolate import log_radial_eval, log_radial_table

#: Default number of (point, atom) pairs evaluated at once.
CHUNK_ELEMENTS = 1_000_000


class BasisDensities:
    """Interpolation tables of the basis densities of a list of atoms.

    Parameters
    ----------
    library : the latent library.
    symbols : element symbol of each atom, length n.
    device, dtype : where and in which precision the tables live (default CPU float64).

    Attributes
    ----------
    n_electrons : (n, 4) electron counts N_{A,k}.
    numbers : (n,) atomic numbers Z_A.
    """

    def __init__(self, library: LatentLibrary, symbols: tuple[str, ...] | list[str],
                 device: str | torch.device | None = None, dtype: torch.dtype = torch.float64) -> None:
        library.check_symbols(list(symbols))
        self.symbols = tuple(symbols)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.dtype = dtype
        elements = sorted(set(self.symbols), key=lambda s: library.elements[s].Z)
        rows, n_el = [], {}
        for s in elements:
            for lab in STATE_LABELS:
                st = library.elements[s].states[lab]
                rows.append(np.asarray(st.radial_density, dtype=np.float64))
                n_el[(s, lab)] = st.n_electrons
        r_grid = torch.as_tensor(np.asarray(library.r_grid, dtype=np.float64))
        table, self._ln_r0, self._h, self._ln_rmax = log_radial_table(r_grid, torch.as_tensor(np.stack(rows)))
        self._table = table.to(device=self.device, dtype=dtype)
        base = {s: 4 * i for i, s in enumerate(elements)}
        func = [[base[s] + k for k in range(4)] for s in self.symbols]
        self._func = torch.tensor(func, dtype=torch.long, device=self.device).reshape(-1, 4)
        counts = [[n_el[(s, lab)] for lab in STATE_LABELS] for s in self.symbols]
        self.n_electrons = torch.tensor(counts, dtype=dtype, device=self.device).reshape(-1, 4)
        self._mask = (self.n_electrons > 0).to(dtype)  # states without electrons (H+) have zero density
        self.numbers = torch.tensor([library.elements[s].Z for s in self.symbols], dtype=torch.long,
                                    device=self.device)

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.symbols)

    def _as(self, x: Tensor | np.ndarray) -> Tensor:
        return torch.as_tensor(x, dtype=self.dtype, device=self.device) if not torch.is_tensor(x) else \
            x.to(device=self.device, dtype=self.dtype)

    def evaluate(self, points: Tensor | np.ndarray, positions: Tensor | np.ndarray) -> Tensor:
        """All basis densities at ``points`` (one chunk; see :meth:`chunks` for large point sets).

        Parameters
        ----------
        points : (M, 3) bohr.
        positions : (n, 3) atomic positions, bohr.

        Returns
        -------
        (M, n, 4) rho_{A,k}(|r - R_A|), bohr^-3.
        """
        pts, pos = self._as(points), self._as(positions)
        d = pts[:, None, :] - pos[None, :, :]
        r = torch.sqrt((d * d).sum(-1) + 1e-24)  # finite gradient at a nucleus
        r4 = r[:, :, None].expand(-1, -1, 4)
        func = self._func[None].expand(r.shape[0], -1, -1)
        val = log_radial_eval(self._table, self._ln_r0, self._h, self._ln_rmax, func, r4)
        return val * self._mask

    def evaluate_chunked(self, points: Tensor | np.ndarray, positions: Tensor | np.ndarray,
                         chunk_elements: int = CHUNK_ELEMENTS) -> Tensor:
        """:meth:`evaluate` over any number of points in chunks (bounded temporary memory).

        Returns
        -------
        (M, n, 4) basis densities, bohr^-3.
        """
        pts = self._as(points)
        step = self.chunk_size(chunk_elements)
        parts = [self.evaluate(pts[s:s + step], positions) for s in range(0, pts.shape[0], step)]
        return torch.cat(parts) if parts else pts.new_zeros(0, self.n_atoms, 4)

    def chunk_size(self, chunk_elements: int = CHUNK_ELEMENTS) -> int:
        """Number of points per chunk so that points x atoms stays near ``chunk_elements``."""
        return max(1, chunk_elements // max(1, self.n_atoms))

    def density(self, points: Tensor | np.ndarray, positions: Tensor | np.ndarray,
                weights: Tensor | np.ndarray, chunk_elements: int = CHUNK_ELEMENTS) -> Tensor:
        """The latent density sum_A sum_k w_A^k rho_{A,k} at ``points``.

        Parameters
        ----------
        points : (M, 3) bohr.
        positions : (n, 3) bohr.
        weights : (n, 4) ensemble weights (or any coefficients) in STATE_LABELS order.
        chunk_elements : memory bound, see :meth:`chunk_size`.

        Returns
        -------
        (M,) density, bohr^-3 (differentiable in points, positions and weights).
        """
        pts, w = self._as(points), self._as(weights)
        step = self.chunk_size(chunk_elements)
        out = [torch.einsum("mak,ak->m", self.evaluate(pts[s:s + step], positions), w)
               for s in range(0, pts.shape[0], step)]
        return torch.cat(out) if out else pts.new_zeros(0)


def dipole_density(points: Tensor | np.ndarray, positions: Tensor | np.ndarray, dipoles: Tensor | np.ndarray,
                   shapes: list[tuple[np.ndarray, np.ndarray]]) -> Tensor:
    """(M,) electron density of the atomic dipoles at ``points`` (bohr^-3; docs/model.md section 11).

    An atomic dipole p_A (e bohr) carries the charge density -p_A . grad s_A(r - R_A), i.e. the electron density
    p_A . grad s_A = sum_g c_g (a_g/pi)^(3/2) exp(-a_g d^2) (-2 a_g) p_A . d with d = r - R_A: a dipolar lobe that
    integrates to zero electrons and has the moment p_A. ``shapes`` holds each atom's (coefficients, exponents).
    """
    pts = torch.as_tensor(np.asarray(points, dtype=np.float64)) if not torch.is_tensor(points) else points.double()
    pos = torch.as_tensor(np.asarray(positions, dtype=np.float64)) if not torch.is_tensor(positions) \
        else positions.double()
    p = torch.as_tensor(np.asarray(dipoles, dtype=np.float64)) if not torch.is_tensor(dipoles) else dipoles.double()
    out = torch.zeros(pts.shape[0], dtype=torch.float64)
    for a, (c, x) in enumerate(shapes):
        if not len(c) or not bool(p[a].abs().sum() > 0):
            continue
        d = pts - pos[a]
        r2 = (d * d).sum(-1)
        cx = torch.as_tensor(np.asarray(c, dtype=np.float64))
        ax = torch.as_tensor(np.asarray(x, dtype=np.float64))
        radial = (cx * (ax / np.pi) ** 1.5 * (-2.0 * ax) * torch.exp(-r2[:, None] * ax)).sum(-1)
        out += radial * (d @ p[a])
    return out


def promolecule_weights(n_atoms: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """(n, 4) weights of the neutral-atom promolecule (w^0 = 1)."""
    w = torch.zeros(n_atoms, 4, dtype=dtype)
    w[:, STATE_LABELS.index("neutral")] = 1.0
    return w


def latent_density(library: LatentLibrary, symbols: tuple[str, ...] | list[str], positions: Tensor | np.ndarray,
                   weights: Tensor | np.ndarray, points: Tensor | np.ndarray) -> Tensor:
    """Convenience: rho_latent at ``points`` (bohr^-3) for atoms at ``positions`` (bohr) with ``weights`` (n, 4)."""
    return BasisDensities(library, symbols).density(points, positions, weights)
