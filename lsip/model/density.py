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

The electrostatic potential of the decoded density (nuclei minus electrons, hartree/e) is
:func:`model_electrostatic_potential` with :class:`BasisPotentials` (the potential of each tabulated state density,
by radial integration) and :func:`dipole_potential` (the dipolar lobes, analytic erf sums); derivation in
docs/model.md section 6.1.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.integrate import cumulative_simpson
from scipy.special import erf
from torch import Tensor

from lsip.model.library import STATE_LABELS, LatentLibrary
from lsip.physics.interpolate import log_radial_eval, log_radial_table

#: Default number of (point, atom) pairs evaluated at once.
CHUNK_ELEMENTS = 1_000_000
#: Distances below this (bohr) are raised to it in the nuclear potential Z/|r - R| (a grid point on a nucleus
#: would otherwise be infinite); the same floor as :func:`lsip.reference.density.dft_electrostatic_potential`.
NUCLEUS_FLOOR_BOHR = 1e-4


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


def radial_potential(r_grid: np.ndarray, radial_density: np.ndarray) -> np.ndarray:
    """Electrostatic potential of a spherical electron density, int rho(r') / |r - r'| d^3r', on its grid.

    V(r) = Q(r) / r + int_r^inf 4 pi r' rho(r') dr' with Q(r) = int_0^r 4 pi r'^2 rho dr' (Gauss's theorem for a
    spherical shell), both integrals by cumulative Simpson in ln r on the logarithmic grid (docs/model.md section
    6.1; relative error ~2e-6 for Gaussians of any width). Positive (hartree per unit positive charge, i.e. the
    potential energy of a proton in the electron cloud is -V).

    Parameters
    ----------
    r_grid : (n,) radial grid, bohr, uniform in ln r.
    radial_density : (n,) density, bohr^-3.

    Returns
    -------
    (n,) V(r), hartree/e.
    """
    r = np.asarray(r_grid, dtype=np.float64)
    rho = np.asarray(radial_density, dtype=np.float64)
    ln_r = np.log(r)
    inner = 4.0 / 3.0 * np.pi * r[0] ** 3 * rho[0]  # the sphere below the first grid point (rho flat there)
    q = inner + cumulative_simpson(4.0 * np.pi * r**3 * rho, x=ln_r, initial=0.0)
    outer = cumulative_simpson(4.0 * np.pi * r**2 * rho, x=ln_r, initial=0.0)
    return q / r + (outer[-1] - outer)


class BasisPotentials:
    """Electrostatic potentials of the basis densities of a list of atoms (the companion of
    :class:`BasisDensities`; numpy, not differentiable).

    V_{A,k}(d) = int rho_{A,k}(|r' - R_A|) / |r - r'| d^3r' with d = |r - R_A|: :func:`radial_potential` of each
    library state density, interpolated in (ln r, ln V) like the densities, N_{A,k} / d beyond the grid's last
    radius (the density is zero there) and V(r0) below its first.

    Parameters
    ----------
    library : the latent library.
    symbols : element symbol of each atom, length n.
    """

    def __init__(self, library: LatentLibrary, symbols: tuple[str, ...] | list[str]) -> None:
        library.check_symbols(list(symbols))
        self.symbols = tuple(symbols)
        elements = sorted(set(self.symbols), key=lambda s: library.elements[s].Z)
        r_grid = np.asarray(library.r_grid, dtype=np.float64)
        rows, n_el = [], []
        for s in elements:
            for lab in STATE_LABELS:
                st = library.elements[s].states[lab]
                rows.append(radial_potential(r_grid, st.radial_density) if st.n_electrons > 0
                            else np.zeros_like(r_grid))
                n_el.append(float(st.n_electrons))
        self._table, self._ln_r0, self._h, self._ln_rmax = log_radial_table(torch.as_tensor(r_grid),
                                                                            torch.as_tensor(np.stack(rows)))
        base = {s: 4 * i for i, s in enumerate(elements)}
        self._func = torch.tensor([[base[s] + k for k in range(4)] for s in self.symbols],
                                  dtype=torch.long).reshape(-1, 4)
        self.n_electrons = np.asarray(n_el, dtype=np.float64)[self._func.numpy()]  # (n, 4)
        self.numbers = np.array([library.elements[s].Z for s in self.symbols], dtype=np.float64)

    def evaluate(self, points: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """(M, n, 4) potentials V_{A,k}(|r - R_A|) of the state densities, hartree/e (positive)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        d = np.sqrt(((pts[:, None, :] - pos[None, :, :]) ** 2).sum(-1))  # (M, n)
        r4 = torch.as_tensor(np.repeat(d[:, :, None], 4, axis=2))
        func = self._func[None].expand(r4.shape[0], -1, -1)
        val = log_radial_eval(self._table, self._ln_r0, self._h, self._ln_rmax, func, r4).numpy()
        far = d[:, :, None] > np.exp(self._ln_rmax)
        tail = self.n_electrons[None] / np.maximum(d[:, :, None], 1e-300)
        val = np.where(far, tail, val)
        return np.where(self.n_electrons[None] > 0, val, 0.0)


def gaussian_potential(d: np.ndarray, coefficients: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """Potential of sum_g c_g (a_g/pi)^(3/2) exp(-a_g r^2) (normalised s-Gaussians, c_g electrons) at distances d.

    phi(d) = sum_g c_g erf(sqrt(a_g) d) / d, with the limit sum_g c_g 2 sqrt(a_g / pi) at d = 0 (hartree/e, positive
    for positive c). Used for the dipolar lobes (:func:`dipole_potential`) and as the analytic check of
    :func:`radial_potential`.
    """
    d = np.asarray(d, dtype=np.float64)[..., None]
    c = np.asarray(coefficients, dtype=np.float64)
    sa = np.sqrt(np.asarray(exponents, dtype=np.float64))
    x = sa * d
    small = x < 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(small, 2.0 * sa / np.sqrt(np.pi) * (1.0 - x * x / 3.0), erf(x) / d)
    return (c * val).sum(-1)


def _dipole_kernel(d: np.ndarray, coefficients: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """g(d) = -phi_s'(d) / d = sum_g c_g [erf(x)/d^3 - 2 sqrt(a/pi) exp(-x^2)/d^2], x = sqrt(a) d (bohr^-3);
    small x: sum_g c_g (2/sqrt(pi)) a^(3/2) (2/3 - 2 x^2 / 5)."""
    d = np.asarray(d, dtype=np.float64)[..., None]
    c = np.asarray(coefficients, dtype=np.float64)
    a = np.asarray(exponents, dtype=np.float64)
    x = np.sqrt(a) * d
    small = x < 1e-2
    ds = np.where(small, 1.0, d)
    direct = erf(x) / ds**3 - 2.0 * np.sqrt(a / np.pi) * np.exp(-x * x) / ds**2
    series = 2.0 / np.sqrt(np.pi) * a**1.5 * (2.0 / 3.0 - 0.4 * x * x)
    return (c * np.where(small, series, direct)).sum(-1)


def dipole_potential(points: np.ndarray, positions: np.ndarray, dipoles: np.ndarray,
                     shapes: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(M,) electrostatic potential of the atomic dipoles' charge densities -p_A . grad s_A(r - R_A), hartree/e.

    With phi_s(d) = sum_g c_g erf(sqrt(a_g) d) / d the potential of the shape s_A, the charge density
    -p . grad s has the potential -p . grad phi_s(r - R_A) = (p . d) g(d), g = -phi_s'(d) / d
    (:func:`_dipole_kernel`): exact for the Gaussian shape (no approximation), the point-dipole potential
    p . d / d^3 far from the atom, finite at the nucleus (docs/model.md section 6.1).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    p = np.asarray(dipoles, dtype=np.float64).reshape(-1, 3)
    out = np.zeros(len(pts))
    for a, (c, x) in enumerate(shapes):
        if not len(c) or not np.any(p[a] != 0.0):
            continue
        d = pts - pos[a]
        out += (d @ p[a]) * _dipole_kernel(np.sqrt((d * d).sum(-1)), c, x)
    return out


def nuclear_potential(points: np.ndarray, positions: np.ndarray, numbers: np.ndarray,
                      floor_bohr: float = NUCLEUS_FLOOR_BOHR) -> np.ndarray:
    """(M,) sum_A Z_A / max(|r - R_A|, floor), hartree/e."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    z = np.asarray(numbers, dtype=np.float64).reshape(-1)
    out = np.zeros(len(pts))
    for a in range(len(pos)):
        out += z[a] / np.maximum(np.sqrt(((pts - pos[a]) ** 2).sum(-1)), floor_bohr)
    return out


def model_electrostatic_potential(points: np.ndarray, positions: np.ndarray, potentials: BasisPotentials,
                                  weights: np.ndarray, dipoles: np.ndarray | None = None,
                                  shapes: list[tuple[np.ndarray, np.ndarray]] | None = None,
                                  chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """Electrostatic potential of the decoded density at ``points`` (hartree/e; docs/model.md section 6.1).

    ESP(r) = sum_A Z_A / |r - R_A| - sum_A sum_k w_A^k V_{A,k}(|r - R_A|) + sum_A (p_A . d_A) g_A(d_A):
    nuclei, the spherical state densities (:class:`BasisPotentials`) and the dipolar lobes
    (:func:`dipole_potential`). Positive near nuclei, negative where electrons dominate.

    Parameters
    ----------
    points : (M, 3) bohr.  positions : (n, 3) bohr.  potentials : the atoms' :class:`BasisPotentials`.
    weights : (n, 4) ensemble weights (STATE_LABELS order).
    dipoles, shapes : optional atomic dipoles (n, 3) e bohr and their shapes (coefficients, exponents).
    chunk_elements : points x atoms per chunk (memory bound).

    Returns
    -------
    (M,) ESP, hartree/e (1 hartree/e = :data:`lsip.units.HARTREE_TO_EV` V).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    w = np.asarray(weights, dtype=np.float64)
    out = nuclear_potential(pts, pos, potentials.numbers)
    step = max(1, chunk_elements // max(1, len(pos)))
    for s in range(0, len(pts), step):
        out[s:s + step] -= np.einsum("mak,ak->m", potentials.evaluate(pts[s:s + step], pos), w)
    if dipoles is not None and shapes is not None:
        out += dipole_potential(pts, pos, dipoles, shapes)
    return out
