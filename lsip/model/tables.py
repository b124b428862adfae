"""Library -> tensors: per-element constants and per-element-pair interpolation tables.

Everything the decoder needs from the latent library is turned once into tensors on the model's device:

* per element e: Z, I, A, excitation eps, decay exponent zeta (all hartree / bohr^-1);
* per element and state: electron count N_ek; the radial density as a ln(rho) vs ln(r) cubic table; the
  embedding function as a cubic table of F(rho_bar) / rho_bar against ln(rho_bar) (so F -> 0 linearly as
  rho_bar -> 0, the exact limit);
* per *ordered* element pair (e, f) present in a structure, built lazily: the 16 penetration potentials
  V^{kl}(R) (:func:`lsip.physics.coulomb.penetration_potential`) tabulated on a uniform R grid, and the
  channel range (:meth:`ModelTables.channel_cutoff`: the overlap criterion or the ionic-covalent crossing).

Thread safety (docs/model.md, "Shared state and threads"): one model serves every session of the app. The lazily
built pair tables are the only mutable state; they are built under a per-instance lock and published as one
immutable snapshot (:class:`PairTables`) by a single attribute assignment, so a reader sees either the old
snapshot or the new one, never a table whose slot index runs past its rows. Slots only ever grow, so a slot
handed out earlier stays valid in every later snapshot.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import erf
from torch import Tensor

from lsip.data.valence import lone_pairs, pairing_fraction, period, valence_for_electrons
from lsip.model.library import STATE_LABELS, LatentLibrary
from lsip.model.params import ModelParameters
from lsip.physics.coulomb import penetration_potential
from lsip.physics.interpolate import (
    cubic_blocks,
    cubic_eval_blocks,
    cubic_eval_extended,
    cubic_table,
    eval_saving_slope,
    log_radial_eval_blocks,
    log_radial_table,
)
from lsip.physics.overlap import sto_1s_overlap
from lsip.units import ANGSTROM_TO_BOHR

N_STATES = len(STATE_LABELS)
#: Net charge q_k = Z - N_k of each state (cation, neutral, anion, excited).
STATE_CHARGES = (1.0, 0.0, -1.0, 0.0)
_R_MIN = 0.2  # bohr: start of the penetration-potential grid
_R_STEP = 0.01  # bohr
#: rows of the overlap tables: 16 closed-shell state pairs (section 10.6) + 4 + 4 core-state pairs (section 10.10)
OVERLAP_ROWS = 24


def gaussian_overlap(ca: np.ndarray, xa: np.ndarray, cb: np.ndarray, xb: np.ndarray, r: np.ndarray) -> np.ndarray:
    """int rho_a(x) rho_b(x - R) d^3x of two normalised s-Gaussian expansions sum_g c_g (a_g/pi)^(3/2)
    exp(-a_g x^2) at the distances ``r``: sum_gh c_g d_h (gamma/pi)^(3/2) exp(-gamma R^2), gamma = a b / (a + b)
    (bohr^-3; zero when either side is empty)."""
    if not len(ca) or not len(cb):
        return np.zeros(len(r))
    g = np.outer(xa, xb) / (xa[:, None] + xb[None, :])
    w = (np.outer(ca, cb) * (g / math.pi) ** 1.5).reshape(-1)
    return w @ np.exp(-g.reshape(-1)[:, None] * np.asarray(r)[None, :] ** 2)


def _core_gaussians(entry: object) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, exponents) of an element's core density; empty without one (H, or no cores in the library)."""
    core = getattr(entry, "core", None)
    if core is None:
        return np.zeros(0), np.zeros(0)
    return np.asarray(core.gauss_coefficients), np.asarray(core.gauss_exponents)


def _gordon_kim_rows(sa: object, sb: object, r_grid: np.ndarray, r: np.ndarray, cache: dict) -> np.ndarray:
    """(4, 4, len(r)) Gordon-Kim energies of every state pair of two elements at the distances ``r`` (hartree;
    docs/model.md section 10.6): quadrature every 0.05 bohr, a cubic spline in between (the pair energy is smooth;
    the spline moves it by < 1e-4 relative where it matters). E^{kl}(a, b) = E^{lk}(b, a): ``cache`` (the library's
    table cache, under its lock) keeps each unordered element pair once."""
    from scipy.interpolate import CubicSpline

    from lsip.physics.gordon_kim import gordon_kim_energy

    key = ("gordon-kim", sb.symbol, sa.symbol, len(r))
    if key in cache:
        return cache[key].transpose(1, 0, 2)
    dens = [np.stack([np.asarray(e.states[k].radial_density, dtype=np.float64) for k in STATE_LABELS])
            for e in (sa, sb)]
    coarse = np.arange(float(r[0]), float(r[-1]) + 0.05, 0.05)
    e = CubicSpline(coarse, gordon_kim_energy(r_grid, dens[0], dens[1], coarse), axis=-1)(r)
    cache[("gordon-kim", sa.symbol, sb.symbol, len(r))] = e
    return e


#: the dipole shapes are widened until alpha * (-W''(0)) <= 1 / DIPOLE_MARGIN (docs/model.md section 11)
DIPOLE_MARGIN = 1.05


def _self_curvature(c: np.ndarray, x: np.ndarray) -> float:
    """-W''(0) of a normalised Gaussian shape's Coulomb self-energy W(R) = sum c_g c_h erf(y R) / R, with
    y = sqrt(a_g a_h / (a_g + a_h)): erf(y R) / R = 2 y / sqrt(pi) (1 - y^2 R^2 / 3 + ...), hartree / bohr^2."""
    y = np.sqrt(np.outer(x, x) / (x[:, None] + x[None, :]))
    return float((np.outer(c, c) * 4.0 * y**3 / (3.0 * math.sqrt(math.pi))).sum())


def _erf_over_r(ca: np.ndarray, xa: np.ndarray, cb: np.ndarray, xb: np.ndarray, r: np.ndarray,
                order: int) -> np.ndarray:
    """d^order/dR^order of sum_gh ca_g cb_h erf(y_gh R) / R, y = sqrt(xa xb / (xa + xb)) (xb = inf: a point
    charge, y = sqrt(xa)); order 1 or 2."""
    point = np.isinf(xb)
    xb_f = np.where(point, 1.0, xb)
    y = np.where(point[None, :], np.sqrt(xa)[:, None] * np.ones((1, len(xb))),
                 np.sqrt(np.outer(xa, xb_f) / (xa[:, None] + xb_f[None, :])))
    w = np.outer(ca, cb).reshape(-1)
    y = y.reshape(-1)[:, None]
    yr = y * r[None, :]
    gauss = 2.0 * y / math.sqrt(math.pi) * np.exp(-yr * yr)
    erf_r = erf(yr)
    if order == 1:
        return w @ (gauss / r - erf_r / r**2)
    return w @ (2.0 * erf_r / r**3 - 2.0 * gauss * (1.0 / r**2 + y * y))


_LIBRARY_LOCK = threading.Lock()  # guards the per-library penetration-table cache (shared by models)


@dataclass(frozen=True)
class PairTables:
    """An immutable snapshot of the per-element-pair tables: slot -> rows ``16 slot .. 16 slot + 15``."""

    slots: dict[tuple[int, int], int]
    v_table: Tensor  # (16 n_slots, n_r - 1, 4) cubic coefficients
    v_blocks: Tensor  # (n_slots, n_r - 1, 4, 16)
    channel_cut: Tensor  # (n_slots,) bohr
    d_blocks: Tensor  # (n_slots, n_r - 1, 4, 10) atomic-dipole kernels (docs/model.md section 11)
    o_blocks: Tensor  # (n_slots, n_r - 1, 4, 24) closed-shell and core density overlaps (docs/model.md 10.6, 10.10)


class ModelTables:
    """Tensors derived from a :class:`LatentLibrary` for one parameter set, device and dtype."""

    def __init__(self, library: LatentLibrary, params: ModelParameters, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float64) -> None:
        self.library = library
        self.params = params
        self.device = torch.device(device)
        self.dtype = dtype
        self.symbols = library.symbols
        self.index = {s: k for k, s in enumerate(self.symbols)}
        ent = [library.elements[s] for s in self.symbols]
        kw = {"device": self.device, "dtype": dtype}
        self.Z = torch.tensor([e.Z for e in ent], **kw)
        self.I = torch.tensor([e.ionization_energy for e in ent], **kw)
        self.A = torch.tensor([e.electron_affinity for e in ent], **kw)
        self.eps = torch.tensor([e.excitation_energy for e in ent], **kw)
        self.zeta = torch.tensor([e.decay_exponent for e in ent], **kw)
        self.n_electrons = torch.tensor([[e.states[k].n_electrons for k in STATE_LABELS] for e in ent], **kw)
        self.state_charge = torch.tensor(STATE_CHARGES, **kw)
        counts = self.n_electrons.long().tolist()
        #: (n_e, 4) share of each state's valence electrons that can pair, f_k (docs/model.md section 10)
        self.pairing_fraction = torch.tensor([[pairing_fraction(n) for n in row] for row in counts], **kw)
        #: (n_e, 4) share of each state's density that is closed-shell, 1 - f_k (0 for a state without electrons)
        self.closed_fraction = torch.where(self.n_electrons > 0, 1.0 - self.pairing_fraction, 0.0)
        #: (n_e,) covalent bonds each element's neutral atom can form, nu (docs/model.md section 10)
        self.valence = torch.tensor([float(valence_for_electrons(int(z))) for z in self.Z.tolist()], **kw)
        #: (n_e,) lone pairs of the neutral atom, (n_v - nu) / 2, and its period (docs/model.md section 10.8)
        self.lone_pairs = torch.tensor([lone_pairs(int(z)) for z in self.Z.tolist()], **kw)
        self.period = torch.tensor([period(int(z)) for z in self.Z.tolist()], **kw)
        #: (n_e,) valence s-p dipole mu_sp of the neutral atom, bohr (0 where the library has none), and (n_e, 4) the
        #: states that carry lone-pair dipoles: an element with lone pairs, a state that bonds (f_k > 0) and keeps
        #: a lone pair (docs/model.md section 11.1)
        self.sp_dipole = torch.tensor([e.sp_dipole or 0.0 for e in ent], **kw)
        self.lone_pair_gate = torch.tensor(
            [[float(lone_pairs(int(z)) > 0 and pairing_fraction(n) > 0 and lone_pairs(n) > 0) for n in row]
             for z, row in zip(self.Z.tolist(), counts)], **kw)
        #: (n_e, 4) embedding factor per element and state: the set's scale times 1 - gamma f_k ("Pairing relief")
        scale = torch.tensor([params.embedding_factor(s) for s in self.symbols], **kw)
        self.embedding_factor = scale[:, None] * (1.0 - params.embedding_pairing * self.pairing_fraction)
        rho = torch.tensor(np.array([[e.states[k].radial_density for k in STATE_LABELS] for e in ent]), **kw)
        r_grid = torch.tensor(library.r_grid, **kw)
        self.rho_table = log_radial_table(r_grid, rho.reshape(-1, rho.shape[-1]))
        self.rho_blocks = cubic_blocks(self.rho_table[0], N_STATES)  # (n_e, n - 1, 4, 4 states)
        self._build_embedding(ent, kw)
        self._build_polarizability(ent, kw)
        self._lock = threading.Lock()
        self._cut_cache: dict[tuple[int, int], float] = {}
        self._v_tables: list[Tensor] = []  # only touched under self._lock
        self._d_tables: list[Tensor] = []
        self._o_tables: list[Tensor] = []
        self._channel_cut: list[float] = []
        self._pairs = PairTables({}, torch.zeros((0, 1, 4), **kw), torch.zeros((0, 1, 4, 16), **kw),
                                 torch.zeros(0, **kw), torch.zeros((0, 1, 4, 10), **kw),
                                 torch.zeros((0, 1, 4, OVERLAP_ROWS), **kw))
        n_r = math.ceil((params.short_range_cutoff - _R_MIN) / _R_STEP) + 1
        self.r_axis = _R_MIN + _R_STEP * np.arange(n_r)

    def _build_embedding(self, ent: list, kw: dict) -> None:
        grid = np.asarray(self.library.rhobar_grid, dtype=np.float64)
        ln_b = np.log(grid)
        h = (ln_b[-1] - ln_b[0]) / (len(grid) - 1)
        if not np.allclose(np.diff(ln_b), h, rtol=1e-6):
            raise ValueError("rhobar_grid must be uniform in ln(rho_bar)")
        f = np.array([[e.states[k].embedding for k in STATE_LABELS] for e in ent])  # (n_e, 4, n_b)
        ratio = torch.tensor(f / grid, **kw).reshape(-1, len(grid))
        self.emb_table = cubic_table(ratio, float(h))
        self.emb_ln0, self.emb_h, self.emb_max = float(ln_b[0]), float(h), float(grid[-1])
        # below the grid's first host density (1e-7 bohr^-3, reached ~5 A from an atom) the ratio continues
        # smoothly (value + slope tanh(ln - ln0)): a clamp left a kink in dF/drho_bar there, and a LiF scan found an
        # equalization minimum sitting on it (5.07 A, stalled at a residual of 1e-5)
        self.emb_low_value = self.emb_table[:, 0, 0].clone()
        self.emb_low_slope = self.emb_table[:, 0, 1] / float(h)

    def _build_polarizability(self, ent: list, kw: dict) -> None:
        """Atomic polarizabilities and dipole shapes (docs/model.md section 11).

        alpha_e = ``polarizability_scale`` x the library's two-state sum-over-states value. The shape s_e of the
        dipole density is the library's transition shape, widened where needed so that alpha_e stays below the
        bound 1 / (-W_ee''(0)) set by the shape's own Coulomb self-energy: then the dipoles' quadratic form
        sum |p|^2 / (2 alpha) + E_dd is positive definite for any geometry (no polarization catastrophe).
        """
        scale = self.params.polarizability_scale
        alpha = np.array([scale * e.polarizability for e in ent])
        self.dipole_shapes: list[tuple[np.ndarray, np.ndarray]] = []
        widen = []
        lone = self.params.lone_pair_dipole > 0  # the lone-pair dipoles need the shapes, induced dipoles or not
        for e, a in zip(ent, alpha):
            tr = e.transition
            if tr is None or (a <= 0 and not lone):
                self.dipole_shapes.append((np.zeros(0), np.zeros(0)))
                widen.append(1.0)
                continue
            c, x = np.asarray(tr.shape_coefficients), np.asarray(tr.shape_exponents)
            lam = 1.0 if a <= 0 else min(1.0, (1.0 / (DIPOLE_MARGIN * a * _self_curvature(c, x))) ** (2.0 / 3.0))
            self.dipole_shapes.append((c, x * lam))
            widen.append(lam)
        #: (n_e,) atomic polarizabilities alpha_e, bohr^3 (0: the element carries no atomic dipole)
        self.polarizability = torch.tensor(alpha, **kw)
        #: (n_e,) factor on the shape exponents applied by the positivity bound (1: the library's shape)
        self.shape_widening = torch.tensor(widen, **kw)
        #: whether atomic dipoles are latent coordinates with these parameters
        self.has_dipoles = bool((alpha > 0).any())
        #: whether the dipole shapes and their pair kernels exist (induced or lone-pair dipoles, docs/model.md 11.1)
        self.has_dipole_shapes = any(len(c) for c, _ in self.dipole_shapes)

    # ----------------------------------------------------------------------------------------------
    def element_indices(self, symbols: tuple[str, ...] | list[str]) -> Tensor:
        """(n,) element indices of ``symbols`` (raises UnsupportedElementError for missing elements)."""
        self.library.check_symbols(list(symbols))
        return torch.tensor([self.index[s] for s in symbols], device=self.device, dtype=torch.long)

    @property
    def v_table(self) -> Tensor:
        """(16 n_slots, n_r - 1, 4) penetration-potential cubic coefficients of the current snapshot."""
        return self._pairs.v_table

    @property
    def v_blocks(self) -> Tensor:
        """(n_slots, n_r - 1, 4, 16) the same coefficients, one contiguous block per element pair."""
        return self._pairs.v_blocks

    @property
    def channel_cut(self) -> Tensor:
        """(n_slots,) channel cut-off distance per element-pair slot, bohr."""
        return self._pairs.channel_cut

    @property
    def d_blocks(self) -> Tensor:
        """(n_slots, n_r - 1, 4, 10) atomic-dipole kernel coefficients of the current snapshot."""
        return self._pairs.d_blocks

    def pair_slots(self, ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
        """Slot of each ordered element pair, building missing tables; returns (P,) int64.

        Safe to call from several threads at once: missing pairs are built under the instance lock and the new
        snapshot is published before the lock is released (see the module docstring).
        """
        n_e = len(self.symbols)
        keys = np.asarray(ea, dtype=np.int64) * n_e + np.asarray(eb, dtype=np.int64)  # 1-D: a fast unique
        if not len(keys):
            return np.zeros(0, np.int64)
        uniq, inverse = np.unique(keys, return_inverse=True)
        pairs = [(int(k) // n_e, int(k) % n_e) for k in uniq]
        known = self._pairs.slots
        if any(p not in known for p in pairs):
            with self._lock:
                self._add_pairs([p for p in pairs if p not in self._pairs.slots])
        known = self._pairs.slots
        slots = np.array([known[p] for p in pairs], dtype=np.int64)
        return slots[np.asarray(inverse).reshape(-1)]

    def _add_pairs(self, pairs: list[tuple[int, int]]) -> None:
        """Build the tables of ``pairs`` and publish a new snapshot (caller holds ``self._lock``)."""
        if not pairs:
            return
        slots = dict(self._pairs.slots)
        for ea, eb in pairs:
            slots[(ea, eb)] = len(self._v_tables)
            self._v_tables.append(self._penetration_table(ea, eb))
            self._d_tables.append(self._dipole_table(ea, eb))
            self._o_tables.append(self._overlap_table(ea, eb))
            self._channel_cut.append(self._channel_cutoff(ea, eb))
        v_table = torch.cat(self._v_tables, dim=0)
        d_table = torch.cat(self._d_tables, dim=0)
        o_table = torch.cat(self._o_tables, dim=0)
        self._pairs = PairTables(slots, v_table, cubic_blocks(v_table, 16),
                                 torch.tensor(self._channel_cut, device=self.device, dtype=self.dtype),
                                 cubic_blocks(d_table, 10), cubic_blocks(o_table, OVERLAP_ROWS))

    def _penetration_table(self, ea: int, eb: int) -> Tensor:
        """Cubic table of V^{kl}(R) for one ordered element pair on :attr:`r_axis`.

        The table depends only on the library and the grid (not on the other parameters), so it is computed
        once per library in float64 on the CPU and kept on the library object: a new parameter set (e.g. a
        slider in the app) reuses it instead of paying the erfc sums again (~100 ms per element pair).
        """
        key = (self.symbols[ea], self.symbols[eb], len(self.r_axis))
        with _LIBRARY_LOCK:
            cache = self.library.__dict__.setdefault("_penetration_tables", {})
            if key not in cache:
                cache[key] = self._compute_penetration_table(ea, eb)
            table = cache[key]
        return table.to(device=self.device, dtype=self.dtype)

    def _compute_penetration_table(self, ea: int, eb: int) -> Tensor:
        lib, dt = self.library, torch.float64
        r = torch.tensor(self.r_axis, dtype=dt)
        sa, sb = lib.elements[self.symbols[ea]], lib.elements[self.symbols[eb]]
        rows = []
        for ka in STATE_LABELS:
            st_a = sa.states[ka]
            ca, aa = torch.tensor(st_a.gauss_coefficients, dtype=dt), torch.tensor(st_a.gauss_exponents, dtype=dt)
            for kb in STATE_LABELS:
                st_b = sb.states[kb]
                cb = torch.tensor(st_b.gauss_coefficients, dtype=dt)
                ab = torch.tensor(st_b.gauss_exponents, dtype=dt)
                rows.append(penetration_potential(float(sa.Z), ca, aa, float(sb.Z), cb, ab, r))
        return cubic_table(torch.stack(rows), _R_STEP)

    def _dipole_table(self, ea: int, eb: int) -> Tensor:
        """Cubic table of the 10 atomic-dipole kernels of one ordered element pair (i of ea, j of eb) on
        :attr:`r_axis` (docs/model.md section 11):

        rows 0-3: U'_{i,jk}(R) - U'_{i,j0}(R), the radial slope of the interaction of i's dipole shape with j's
        state k (nucleus minus state density) relative to j's neutral state; rows 4-7: the same for j's dipole;
        rows 8, 9: W'(R), W''(R) of the shapes' mutual Coulomb
        energy W_ij(R). All are erf sums of the Gaussian expansions, zero when an end carries no dipole.
        """
        shapes = [self.dipole_shapes[ea], self.dipole_shapes[eb]]
        # with the library's own shapes (not widened by the positivity bound) a pure function of the library and
        # the grid: kept on the library like the penetration tables, so a new parameter set (a fit's every
        # evaluation) reuses it; widened shapes depend on the polarizability and are not kept (no growing cache)
        if float(self.shape_widening[ea]) != 1.0 or float(self.shape_widening[eb]) != 1.0:
            return self._compute_dipole_table(ea, eb, shapes).to(device=self.device, dtype=self.dtype)
        key = ("dipole", self.symbols[ea], self.symbols[eb], len(self.r_axis), len(shapes[0][0]) > 0,
               len(shapes[1][0]) > 0)
        with _LIBRARY_LOCK:
            cache = self.library.__dict__.setdefault("_penetration_tables", {})
            if key not in cache:
                cache[key] = self._compute_dipole_table(ea, eb, shapes)
            table = cache[key]
        return table.to(device=self.device, dtype=self.dtype)

    def _compute_dipole_table(self, ea: int, eb: int, shapes: list[tuple[np.ndarray, np.ndarray]]) -> Tensor:
        r = np.asarray(self.r_axis, dtype=np.float64)
        lib = self.library
        ent = [lib.elements[self.symbols[e]] for e in (ea, eb)]
        rows = np.zeros((10, len(r)))
        for side, (me, other) in enumerate(((0, 1), (1, 0))):
            c, x = shapes[me]
            if not len(c):
                continue
            z = float(ent[other].Z)
            for k, label in enumerate(STATE_LABELS):
                st = ent[other].states[label]
                slope = z * _erf_over_r(c, x, np.full(1, 1.0), np.full(1, np.inf), r, 1)
                if len(st.gauss_coefficients):
                    slope = slope - _erf_over_r(c, x, np.asarray(st.gauss_coefficients),
                                                np.asarray(st.gauss_exponents), r, 1)
                rows[4 * side + k] = slope
            # the dipole responds to the change of B's charge distribution from its neutral atom: the field of the
            # charge-transfer densities (with their penetration), not the static field inside a neutral neighbour
            rows[4 * side : 4 * side + 4] -= rows[4 * side + 1].copy()
        if len(shapes[0][0]) and len(shapes[1][0]):
            rows[8] = _erf_over_r(*shapes[0], *shapes[1], r, 1)
            rows[9] = _erf_over_r(*shapes[0], *shapes[1], r, 2)
        return cubic_table(torch.tensor(rows, dtype=torch.float64), _R_STEP)

    def _overlap_table(self, ea: int, eb: int) -> Tensor:
        """Cubic table of the 16 closed-shell overlaps share_kl int rho_{ea,k} rho_{eb,l}(R) of one ordered element
        pair on :attr:`r_axis` (bohr^-3; docs/model.md section 10.6; with ``overlap_repulsion_gordon_kim`` the
        Gordon-Kim pair energies share_kl E_GK^{kl}(R) instead, hartree), with share_kl = (c_{ea,k} + c_{eb,l}) / 2, or
        c_{ea,k} c_{eb,l} when ``overlap_repulsion_product`` (both sides closed), c the closed-shell share; then the
        8 core overlaps of section 10.10, int rho^core_ea rho_{eb,l} (l = 0..3) and int rho_{ea,k} rho^core_eb
        (k = 0..3), zero for an element without a core (H) or a library without cores."""
        product = bool(self.params.overlap_repulsion_product)
        gk = bool(self.params.overlap_repulsion_gordon_kim)
        key = ("overlap", self.symbols[ea], self.symbols[eb], len(self.r_axis), product, gk)
        with _LIBRARY_LOCK:
            cache = self.library.__dict__.setdefault("_penetration_tables", {})
            if key not in cache:
                lib, r = self.library, np.asarray(self.r_axis, dtype=np.float64)
                sa, sb = lib.elements[self.symbols[ea]], lib.elements[self.symbols[eb]]
                closed = self.closed_fraction.double().cpu().numpy()
                rows = np.zeros((OVERLAP_ROWS, len(r)))
                dens_a = [(np.asarray(sa.states[k].gauss_coefficients), np.asarray(sa.states[k].gauss_exponents))
                          for k in STATE_LABELS]
                dens_b = [(np.asarray(sb.states[k].gauss_coefficients), np.asarray(sb.states[k].gauss_exponents))
                          for k in STATE_LABELS]
                pair_energy = _gordon_kim_rows(sa, sb, lib.r_grid, r, cache) if gk else None
                for k in range(N_STATES):
                    for l_ in range(N_STATES):
                        share = (closed[ea, k] * closed[eb, l_] if product
                                 else 0.5 * (closed[ea, k] + closed[eb, l_]))
                        if share != 0.0:
                            rows[4 * k + l_] = share * (pair_energy[k, l_] if pair_energy is not None
                                                        else gaussian_overlap(*dens_a[k], *dens_b[l_], r))
                core_a, core_b = _core_gaussians(sa), _core_gaussians(sb)
                for k in range(N_STATES):
                    rows[16 + k] = gaussian_overlap(*core_a, *dens_b[k], r)
                    rows[20 + k] = gaussian_overlap(*dens_a[k], *core_b, r)
                cache[key] = cubic_table(torch.tensor(rows, dtype=torch.float64), _R_STEP)
            table = cache[key]
        return table.to(device=self.device, dtype=self.dtype)

    def closed_overlap(self, slot: Tensor, r: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The overlaps of :meth:`_overlap_table` for pairs of slot ``slot`` at distances ``r`` (bohr): (P, 4, 4) the
        closed-shell shares, (P, 4) the core of the first atom against the second's states, (P, 4) the first's
        states against the second's core."""
        rows = cubic_eval_blocks(self.o_blocks, slot, r, _R_MIN, _R_STEP)
        return rows[:, :16].reshape(-1, 4, 4), rows[:, 16:20], rows[:, 20:24]

    @property
    def has_sp_dipoles(self) -> bool:
        """Whether every element with lone pairs has its valence s-p dipole (docs/model.md section 11.1)."""
        return all(e.sp_dipole is not None for e in self.library.elements.values() if lone_pairs(e.Z) > 0)

    @property
    def has_cores(self) -> bool:
        """Whether every element of the library has its frozen-core density (docs/model.md section 10.10)."""
        return all(e.core is not None for e in self.library.elements.values())

    @property
    def o_blocks(self) -> Tensor:
        """(n_slots, n_r - 1, 4, 24) closed-shell and core overlap coefficients of the current snapshot."""
        return self._pairs.o_blocks

    def dipole_kernels(self, slot: Tensor, r: Tensor) -> Tensor:
        """(P, 10) the kernels of :meth:`_dipole_table` for pairs of slot ``slot`` at distances ``r`` (bohr)."""
        return cubic_eval_blocks(self.d_blocks, slot, r, _R_MIN, _R_STEP)

    def channel_cutoff(self, symbol_a: str, symbol_b: str) -> float:
        """Distance (bohr) beyond which atoms of these elements have no charge-transfer channel."""
        return self._channel_cutoff(self.index[symbol_a], self.index[symbol_b])

    def max_channel_cutoff(self, elements: np.ndarray) -> float:
        """Largest channel range (bohr) between any two of ``elements`` (element indices)."""
        uniq = np.unique(np.asarray(elements, dtype=np.int64))
        return max((self._channel_cutoff(int(a), int(b)) for a in uniq for b in uniq), default=0.0)

    def _channel_cutoff(self, ea: int, eb: int) -> float:
        """Channel range of an element pair, bohr (symmetric in the pair; docs/model.md, "Channel range").

        The larger of (a) the distance where the 1s Slater overlap falls below ``channel_overlap_min`` and
        (b) ``channel_ionic_range`` x R_x with R_x = 1 / (I_D - A_A), the crossing of the ionic configuration
        D+ A- (state energy I_D - A_A, point-charge attraction -1/R) with the neutral one, for the more
        favourable direction; capped at ``channel_cutoff_max``. Up to (b) the ionic configuration of the pair may
        be the ground state, so removing the channel there would make the energy jump (issue 11).
        """
        key = (min(ea, eb), max(ea, eb))
        cached = self._cut_cache.get(key)
        if cached is not None:
            return cached
        p = self.params
        za, zb = self.zeta[ea].double().cpu(), self.zeta[eb].double().cpu()
        r = torch.linspace(0.5, p.channel_cutoff_max, 4000, dtype=torch.float64)
        s = sto_1s_overlap(za, zb, r)
        above = torch.nonzero(s > p.channel_overlap_min)
        overlap_cut = 0.0
        if len(above):  # the exact crossing S(R) = channel_overlap_min past the last grid point above it
            k = int(above[-1, 0])
            overlap_cut = float(r[k]) if k == len(r) - 1 else float(brentq(
                lambda x: float(sto_1s_overlap(za, zb, torch.tensor(x, dtype=torch.float64))) - p.channel_overlap_min,
                float(r[k]), float(r[k + 1]), xtol=1e-12))
        gap = min(float(self.I[ea] - self.A[eb]), float(self.I[eb] - self.A[ea]))
        ionic_cut = p.channel_ionic_range / gap if gap > 0 else math.inf
        cut = min(max(overlap_cut, ionic_cut), p.channel_cutoff_max)
        self._cut_cache[key] = cut  # a pure function of the pair: a race at worst computes it twice
        return cut

    # ----------------------------------------------------------------------------------------------
    @functools.cached_property
    def en_pair_saturation(self) -> Tensor:
        """(n_e, n_e) sigma_ab = f rho_{b,neutral}(r_a + r_b): where a b-neighbour's share of an a atom's host
        density saturates (bohr^-3; r the covalent radii of Cordero et al. 2008 as tabulated by ASE; f the set's
        ``electronegativity_pair_saturation``; docs/model.md section 10.4)."""
        from ase.data import covalent_radii

        n = len(self.symbols)
        radii = torch.tensor([covalent_radii[int(z)] * ANGSTROM_TO_BOHR for z in self.Z.tolist()],
                             device=self.device, dtype=self.dtype)
        a, b = torch.meshgrid(torch.arange(n, device=self.device), torch.arange(n, device=self.device),
                              indexing="ij")
        rho = self.state_density(b.reshape(-1), (radii[a] + radii[b]).reshape(-1))[:, STATE_LABELS.index("neutral")]
        return self.params.electronegativity_pair_saturation * rho.reshape(n, n)

    def penetration(self, slot: Tensor, r: Tensor) -> Tensor:
        """(P, 4, 4) V^{kl}(R) for pairs of slot ``slot`` at distances ``r`` (bohr); hartree."""
        return cubic_eval_blocks(self.v_blocks, slot, r, _R_MIN, _R_STEP).reshape(-1, 4, 4)

    def state_density(self, elem: Tensor, r: Tensor) -> Tensor:
        """(P, 4) basis densities rho_{e,k}(r) of element ``elem`` at distances ``r``; bohr^-3."""
        _, ln_r0, h, ln_rmax = self.rho_table
        return log_radial_eval_blocks(self.rho_blocks, ln_r0, h, ln_rmax, elem, r)

    def embedding(self, elem: Tensor, rho_bar: Tensor) -> Tensor:
        """(n, 4) F_{e,k}(rho_bar) for each atom's element and host density (bohr^-3); hartree."""
        func = elem[:, None] * N_STATES + torch.arange(N_STATES, device=self.device)[None, :]
        rb = torch.clamp(rho_bar, min=1e-300)
        ln = torch.log(rb)[:, None].expand(-1, N_STATES)
        ratio = eval_saving_slope(ln, lambda u: self._embedding_ratio(func, u))
        return ratio * rho_bar[:, None] * self.embedding_factor[elem]

    def _embedding_ratio(self, func: Tensor, ln: Tensor, slope: bool = True) -> tuple[Tensor, Tensor | None]:
        """g(ln rho_bar) = F / rho_bar of functions ``func`` and its slope in ln rho_bar, continued smoothly below
        the grid (:func:`cubic_eval_extended`) and clamped above it."""
        return cubic_eval_extended(self.emb_table, func, ln, self.emb_ln0, self.emb_h, self.emb_low_value,
                                   self.emb_low_slope, slope)

    def embedding_with_slope(self, elem: Tensor, rho_bar: Tensor) -> tuple[Tensor, Tensor]:
        """F_{e,k}(rho_bar) and dF/drho_bar, both (n, 4) (hartree, hartree bohr^3), without an autograd graph.

        With F = rho_bar g(ln rho_bar) (g the tabulated ratio), dF/drho_bar = g + g'(ln rho_bar).
        """
        func = elem[:, None] * N_STATES + torch.arange(N_STATES, device=self.device)[None, :]
        rb = torch.clamp(rho_bar, min=1e-300)
        ln = torch.log(rb)[:, None].expand(-1, N_STATES)
        ratio, slope = self._embedding_ratio(func, ln)
        fac = self.embedding_factor[elem]
        return ratio * rho_bar[:, None] * fac, (ratio + slope) * fac
