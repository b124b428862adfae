"""The lowest Kohn-Sham solution along a bond scan: RKS against broken-symmetry UKS, with a stability check.

One implementation for ``lsip validate``'s dissociation curves and the app's DFT scans
(:func:`lsip.scan.curves.add_dft`); docs/reference.md, section "DFT along scans", explains every choice.

* :func:`fragment_references`: the two fragments of a scan computed alone through the driver (a single atom in
  its ground-state spin, :func:`ground_state_spin`; a molecular fragment in the lowest spin of its electron
  parity), cached like any reference result. Their summed energy is the scan's energy zero, and their density
  matrices give the broken-symmetry guess.
* :func:`lowest_solution`: at one geometry, RKS (closed shells) and UKS from broken-symmetry guesses (the
  fragments' densities with opposite spins, converged by DIIS or, where DIIS leaves the guess's occupation, by
  a second-order SCF from the guess's natural orbitals; then the RKS HOMO/LUMO rotated by +-45 degrees), PySCF's
  stability analysis on the reported solution (RKS: internal and RKS -> UKS; UKS: internal), an unstable
  solution followed downhill along its unstable mode; the reported energy is the lowest converged solution,
  with <S^2> recorded. Cached under its own key.
* :func:`flag_points`: which points of a curve are failed or unphysical (then drawn as gaps, not data).

Hartree atomic units inside (energies hartree); distances in angstrom.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.linalg

from lsip import __version__
from lsip.model.library import LatentLibrary, default_library
from lsip.reference.cache import ReferenceCache, cache_key, library_fingerprint
from lsip.reference.charges import analyse_density
from lsip.reference.driver import CancelToken, ProgressCallback, ReferenceDFT, ReferenceSettings, SCFMonitor
from lsip.reference.grids import build_mole, default_spin, make_scf, omp_threads, retry_scf
from lsip.structure import ATOMIC_NUMBERS, Structure
from lsip.units import HARTREE_TO_EV

#: Macro-iteration cap of the second-order retry of a scan SCF: second-order iterations converge quadratically
#: when they converge at all, and a stretched ionic bond (NaCl at 8-10 A) otherwise spends minutes in 100 of them.
NEWTON_MAX_CYCLE = 25
#: Cycle cap of the first (DIIS) attempt of a scan SCF: a DIIS still oscillating after 50 cycles (stretched RKS)
#: is handed to the second-order retry sooner; converging points need 10-40 cycles.
DIIS_MAX_CYCLE = 50
#: A UKS solution with <S^2> above this is spin-broken (and ends the search over guesses).
BROKEN_S2 = 0.05
#: A UKS solution within this of the RKS energy (hartree) and with <S^2> below ``CLOSED_S2`` *is* the RKS one.
SAME_STATE_EH = 1e-6
#: <S^2> below this counts as closed shell.
CLOSED_S2 = 0.01
#: How often an unstable solution is followed along its unstable mode.
STABILITY_FOLLOW = 2
#: Smallest energy above the separated fragments, eV, that flags a point on the dissociating side of a curve
#: (the threshold is ``max(UNPHYSICAL_MIN_EV, I_D - A_A)``, see :func:`unphysical_threshold`).
UNPHYSICAL_MIN_EV = 2.0
#: Cache-key kind of :func:`lowest_solution` (change it whenever the procedure changes its results).
SOLUTION_KIND = "lowest-ks-v1"
#: Charge sets kept per solution.
CHARGE_KEYS = ("hirshfeld", "hirshfeld_i", "mulliken")

# Madelung (aufbau) order of the subshells (n, l) up to 5p, and the neutral atoms that break it.
_SUBSHELLS = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (4, 0), (3, 2), (4, 1), (5, 0), (4, 2), (5, 1))
_NEUTRAL_EXCEPTIONS = {24: 6, 29: 1, 41: 5, 42: 6, 44: 4, 45: 3, 46: 0, 47: 1}


def ground_state_spin(n_electrons: int, z: int | None = None) -> int:
    """2S of a free atom or atomic ion with ``n_electrons`` electrons: aufbau filling and Hund's first rule.

    Parameters
    ----------
    n_electrons : electron count (0-54).  z : nuclear charge; for a neutral atom (``z == n_electrons``) the
        known exceptions to aufbau filling (Cr 6, Cu 1, Nb 5, Mo 6, Ru 4, Rh 3, Pd 0, Ag 1) are used.
    """
    if z is not None and z == n_electrons and z in _NEUTRAL_EXCEPTIONS:
        return _NEUTRAL_EXCEPTIONS[z]
    left, unpaired = int(n_electrons), 0
    for _, ang in _SUBSHELLS:
        if left <= 0:
            break
        orbitals = 2 * ang + 1
        k = min(left, 2 * orbitals)
        left -= k
        unpaired += k if k <= orbitals else 2 * orbitals - k
    return unpaired


def free_atom(symbol: str, charge: int = 0) -> Structure:
    """A free atom (or atomic ion) in its ground-state spin (:func:`ground_state_spin`), at the origin."""
    z = ATOMIC_NUMBERS[symbol]
    return Structure((symbol,), np.zeros((1, 3)), int(charge), ground_state_spin(z - int(charge), z),
                     name=f"atom {symbol}")


def fragment_structure(structure: Structure, atoms: Sequence[int], charge: int = 0) -> Structure:
    """Atoms ``atoms`` of ``structure`` alone, centred on their mean position, with ``charge``.

    A single atom gets its ground-state spin (:func:`ground_state_spin`), a molecular fragment the lowest spin
    of its electron parity (2S = 0 or 1). Centring makes the fragments of every scan of one molecule share
    their cache entries (the energy does not depend on the position).
    """
    atoms = [int(a) for a in atoms]
    symbols = tuple(structure.symbols[a] for a in atoms)
    pos = np.asarray(structure.positions, dtype=np.float64)[atoms]
    pos = pos - pos.mean(axis=0)
    n_el = sum(ATOMIC_NUMBERS[s] for s in symbols) - int(charge)
    if n_el < 0:
        raise ValueError(f"a fragment {symbols} with charge {charge} has no electrons to give")
    spin = ground_state_spin(n_el, ATOMIC_NUMBERS[symbols[0]]) if len(symbols) == 1 else n_el % 2
    sub = Structure(symbols, pos, int(charge), spin)
    return replace(sub, name=f"fragment {sub.formula}")


@dataclass(frozen=True)
class FragmentReference:
    """One separated fragment of a scan, computed alone by the reference driver.

    Attributes
    ----------
    atoms : its atom indices in the scanned structure.  structure : the fragment (centred, charge, 2S).
    energy : total energy, hartree (NaN when the SCF failed).  converged : SCF outcome.
    method : "RKS", "UKS" or "none" (a fragment without electrons: energy 0).  spin_square : <S^2> (UKS).
    n_basis : basis functions.  compute_time_s : time of the original calculation.  cached : from the cache.
    density_matrix : AO density matrix (RKS (n, n) or UKS (2, n, n)), for the broken-symmetry guess.
    message : why it failed.
    """

    atoms: tuple[int, ...]
    structure: Structure
    energy: float
    converged: bool
    method: str
    spin_square: float | None
    n_basis: int
    compute_time_s: float
    cached: bool
    density_matrix: np.ndarray | None = field(default=None, repr=False, compare=False)
    message: str = ""

    @property
    def label(self) -> str:
        """E.g. ``Li (q=+0, 2S=1)``."""
        st = self.structure
        return f"{st.formula} (q={st.charge:+d}, 2S={st.spin})"


def fragment_settings(settings: ReferenceSettings, fragment: Structure) -> ReferenceSettings:
    """The settings a fragment runs with: UKS for a single atom (as ``lsip validate``'s free atoms, so both share
    cache entries), else RKS for a closed shell and UKS for an open one."""
    return replace(settings, unrestricted=True if fragment.n_atoms == 1 else None)


def _fragment(structure: Structure, atoms: tuple[int, ...], settings: ReferenceSettings,
              library: LatentLibrary | None, cache: ReferenceCache | None, progress: ProgressCallback | None,
              cancel: CancelToken) -> FragmentReference:
    if structure.n_electrons == 0:  # a bare nucleus (H+): no electrons, energy exactly 0
        return FragmentReference(atoms, structure, 0.0, True, "none", None, 0, 0.0, False, None)
    driver = ReferenceDFT(structure, fragment_settings(settings, structure), library=library,
                          cache=cache if cache is not None else False, progress=progress, cancel=cancel)
    res = driver.kernel(raise_on_failure=False)
    return FragmentReference(atoms, structure, float(res.energy) if res.converged else float("nan"),
                             bool(res.converged), "UKS" if res.unrestricted else "RKS", res.spin_square,
                             int(res.n_basis), float(res.compute_time_s), bool(res.cached),
                             np.asarray(res.density_matrix) if res.converged else None,
                             "" if res.converged else (res.warnings[-1] if res.warnings else "SCF failed"))


def fragment_charge_options(total_charge: int) -> list[tuple[int, int]]:
    """Charge splits tried for two fragments: (0, 0) for a neutral system, else (Q, 0) and (0, Q)."""
    q = int(total_charge)
    return [(0, 0)] if q == 0 else [(q, 0), (0, q)]


def fragment_structures(structure: Structure, fragments: Sequence[Sequence[int]]) -> list[list[Structure]]:
    """The fragment structures of every charge split of :func:`fragment_charge_options` (one list per split)."""
    return [[fragment_structure(structure, atoms, q) for atoms, q in zip(fragments, split)]
            for split in fragment_charge_options(structure.charge)]


def fragment_references(structure: Structure, fragments: Sequence[Sequence[int]],
                        settings: ReferenceSettings | None = None, *, library: LatentLibrary | None = None,
                        cache: ReferenceCache | None = None, progress: ProgressCallback | None = None,
                        cancel: CancelToken = None) -> list[FragmentReference]:
    """The separated fragments of a scan, each computed alone: the split with the lowest summed energy.

    Parameters
    ----------
    structure : any geometry of the scan (the fragments are rigid along it).
    fragments : two lists of atom indices (fixed atoms, moving atoms).
    settings : level of theory (``unrestricted`` is replaced: :func:`fragment_settings`).
    library, cache, progress, cancel : as for :class:`~lsip.reference.driver.ReferenceDFT` (cache None: none).

    Returns
    -------
    One :class:`FragmentReference` per fragment. A neutral system separates into neutral fragments; a charged
    one puts its charge Q on the fragment where that costs least (both splits are computed).
    """
    settings = settings or ReferenceSettings()
    best: list[FragmentReference] | None = None
    for split in fragment_structures(structure, fragments):
        refs = [_fragment(fs, tuple(int(a) for a in atoms), settings, library, cache, progress, cancel)
                for fs, atoms in zip(split, fragments)]
        total, current = sum(r.energy for r in refs), np.inf if best is None else sum(r.energy for r in best)
        if best is None or (np.isfinite(total) and not total >= current):
            best = refs
    assert best is not None
    return best


def fragment_guess(mol: object, fragments: Sequence[FragmentReference], spin: int) -> np.ndarray:
    """(2, nao, nao) UKS guess: the fragments' density matrices on their atoms, spins oriented towards 2S.

    Each open-shell fragment is placed with its spin up or down, whichever brings the running 2S closer to
    ``spin`` (so Li + H of LiH get opposite spins: the broken-symmetry singlet).
    """
    slices = mol.aoslice_by_atom()
    nao = int(mol.nao)
    dm = np.zeros((2, nao, nao))
    running = 0
    for frag in fragments:
        if frag.density_matrix is None:
            continue
        idx = np.concatenate([np.arange(slices[a][2], slices[a][3]) for a in frag.atoms])
        d = np.asarray(frag.density_matrix)
        da, db = (d / 2, d / 2) if d.ndim == 2 else (d[0], d[1])
        s = int(frag.structure.spin or 0)
        if abs(running - s - spin) < abs(running + s - spin):
            da, db, running = db, da, running - s
        else:
            running += s
        dm[0][np.ix_(idx, idx)] = da
        dm[1][np.ix_(idx, idx)] = db
    return dm


def _mix_homo_lumo(mo_coeff: np.ndarray, mo_occ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and beta orbitals with HOMO/LUMO rotated by +45 and -45 degrees (a broken-symmetry guess)."""
    ca, cb = np.array(mo_coeff[0]), np.array(mo_coeff[1])
    h = int(np.count_nonzero(mo_occ[0] > 0)) - 1
    lumo = h + 1
    if h < 0 or lumo >= ca.shape[1]:
        return ca, cb
    for c, sign in ((ca, 1.0), (cb, -1.0)):
        homo_v, lumo_v = c[:, h].copy(), c[:, lumo].copy()
        c[:, h] = (homo_v + sign * lumo_v) / np.sqrt(2.0)
        c[:, lumo] = (-sign * homo_v + lumo_v) / np.sqrt(2.0)
    return ca, cb


def _uks_dm(ca: np.ndarray, cb: np.ndarray, occ: np.ndarray) -> np.ndarray:
    """UKS density matrices of alpha/beta orbitals ``ca``/``cb`` with the occupied mask ``occ`` (both spins)."""
    return np.array([ca[:, occ] @ ca[:, occ].T, cb[:, occ] @ cb[:, occ].T])


def _homo_lumo_guess(rks: object) -> np.ndarray:
    """UKS guess from (possibly unconverged) RKS orbitals with HOMO and LUMO mixed oppositely per spin."""
    mo = np.asarray(rks.mo_coeff)
    occ = np.asarray(rks.mo_occ) > 0
    ca, cb = _mix_homo_lumo(np.array([mo, mo]), np.array([occ, occ]).astype(float))
    return _uks_dm(ca, cb, occ)


def natural_orbitals(mol: object, dm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(2, nao, nao) orbitals and (2, nao) integer occupations of a UKS guess density (spin natural orbitals).

    The fragment guess is (nearly) idempotent per spin, so its natural orbitals with the ``mol.nelec`` largest
    occupations set to 1 reproduce it: a start for the second-order solver that keeps the guess's occupation.
    """
    s1e = mol.intor_symmetric("int1e_ovlp")
    coeffs, occs = [], []
    for d, n_el in zip(dm, mol.nelec):
        occ_nat, c = scipy.linalg.eigh(s1e @ d @ s1e, s1e)
        order = np.argsort(-occ_nat)
        occ = np.zeros(len(occ_nat))
        occ[:n_el] = 1.0
        coeffs.append(c[:, order])
        occs.append(occ)
    return np.array(coeffs), np.array(occs)


_STABILITY_ERRORS = (ValueError, NotImplementedError, RuntimeError, KeyError, TypeError, AttributeError,
                     np.linalg.LinAlgError)
#: (stable, (orbitals, occupations) along the unstable mode or None, note)
Stability = tuple[bool | None, tuple[np.ndarray, np.ndarray] | None, str]


def rks_stability(mf: object) -> Stability:
    """Stability of a converged RKS: internal and RKS -> UKS (PySCF ``stability(external=True)``).

    Returns (stable, UKS orbitals and occupations along the unstable mode or None, note); stable is None with a
    note when PySCF cannot analyse this functional or system.
    """
    try:
        mo_i, mo_e, stable_i, stable_e = mf.stability(internal=True, external=True, return_status=True)
    except _STABILITY_ERRORS as exc:
        return None, None, f"RKS stability analysis unavailable: {exc}"
    occ = (np.asarray(mf.mo_occ) > 0).astype(float)
    if not stable_e:
        return False, (np.array([mo_e[0], mo_e[1]]), np.array([occ, occ])), ""
    if not stable_i:
        return False, (np.array([mo_i, mo_i]), np.array([occ, occ])), ""
    return True, None, ""


def uks_stability(mf: object) -> Stability:
    """Stability of a converged UKS: internal (PySCF ``stability()``); as :func:`rks_stability`."""
    try:
        mo_i, _, stable_i, _ = mf.stability(internal=True, external=False, return_status=True)
    except _STABILITY_ERRORS as exc:
        return None, None, f"UKS stability analysis unavailable: {exc}"
    if stable_i:
        return True, None, ""
    return False, (np.asarray(mo_i), np.asarray(mf.mo_occ)), ""


@dataclass(frozen=True)
class KSSolution:
    """RKS and broken-symmetry UKS of one geometry, and which one is reported.

    Attributes
    ----------
    energy : the reported energy, hartree: the lowest converged solution (NaN when none converged).
    method : "RKS", "BS-UKS" (2S = 0, unrestricted), "UKS" (2S > 0) or "" (none converged).
    spin_square : <S^2> of the reported solution (0 for RKS; NaN when none).
    converged : some solution converged.  stable : PySCF's stability analysis of the reported solution
        (None: not available for this functional / system).
    rks_energy, rks_converged, rks_stable, rks_charges : the RKS solution (2S = 0 only; charges {name: (n,)}).
    uks_energy, uks_converged, uks_spin_square, uks_stable, uks_charges : the lowest UKS solution found.
        A stability is checked only where it decides something (the reported solution, a UKS that collapsed
        onto the closed shell); else it is None.
    guess : the UKS guess that gave it ("fragments", "homo-lumo", "default", "rks-instability", ...).
    n_basis : basis functions.  rks_time_s, uks_time_s : wall times of the two parts (SCF, stability,
        analysis), s.  cached : read from the cache.  notes : messages (failed parts, unavailable checks).
    """

    energy: float
    method: str
    spin_square: float
    converged: bool
    stable: bool | None
    rks_energy: float
    rks_converged: bool
    rks_stable: bool | None
    rks_charges: dict[str, np.ndarray]
    uks_energy: float
    uks_converged: bool
    uks_spin_square: float
    uks_stable: bool | None
    uks_charges: dict[str, np.ndarray]
    guess: str
    n_basis: int
    rks_time_s: float
    uks_time_s: float
    cached: bool = False
    notes: tuple[str, ...] = ()

    @property
    def charges(self) -> dict[str, np.ndarray]:
        """Charges of the reported solution."""
        return self.rks_charges if self.method == "RKS" else self.uks_charges if self.method else {}

    @property
    def compute_time_s(self) -> float:
        """Wall time of the original calculation, s."""
        return self.rks_time_s + self.uks_time_s

    def to_record(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(scalars, arrays) for the cache."""
        scalars = {k: getattr(self, k) for k in (
            "energy", "method", "spin_square", "converged", "stable", "rks_energy", "rks_converged", "rks_stable",
            "uks_energy", "uks_converged", "uks_spin_square", "uks_stable", "guess", "n_basis", "rks_time_s",
            "uks_time_s")}
        scalars["notes"] = list(self.notes)
        arrays = {f"rks/{k}": np.asarray(v) for k, v in self.rks_charges.items()}
        arrays.update({f"uks/{k}": np.asarray(v) for k, v in self.uks_charges.items()})
        return scalars, arrays

    @classmethod
    def from_record(cls, scalars: dict, arrays: dict[str, np.ndarray]) -> KSSolution:
        """Inverse of :meth:`to_record` (``cached`` set)."""
        rks = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("rks/")}
        uks = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("uks/")}
        kw = {k: v for k, v in scalars.items() if k != "notes"}
        return cls(**kw, rks_charges=rks, uks_charges=uks, cached=True, notes=tuple(scalars.get("notes", ())))


def solution_key(structure: Structure, settings: ReferenceSettings, library: LatentLibrary,
                 fragments: Sequence[Sequence[int]] | None) -> str:
    """Cache key of :func:`lowest_solution` (structure, settings, fragments of the guess, versions, library)."""
    return cache_key({
        "kind": SOLUTION_KIND, "symbols": list(structure.symbols),
        "positions_A": np.round(structure.positions, 6).tolist(), "charge": int(structure.charge),
        "spin": default_spin(structure), "settings": settings.key_fields(),
        "fragments": None if fragments is None else [sorted(int(a) for a in f) for f in fragments],
        "retry": settings.retry, "lsip": __version__, "library": library_fingerprint(library, structure.symbols)})


class _Run:
    """The SCF runs of one :func:`lowest_solution` call (shared monitor, settings and molecule)."""

    def __init__(self, structure: Structure, settings: ReferenceSettings, n_basis: int, monitor: SCFMonitor) -> None:
        self.settings = settings
        self.spin = default_spin(structure)
        self.mol = build_mole(structure, settings.basis, self.spin)
        fit = settings.density_fit
        self.density_fit = fit if fit is not None else n_basis >= settings.density_fit_min_basis
        self.monitor = monitor

    def scf(self, unrestricted: bool, dm0: np.ndarray | None, stage: str, retry: bool = True) -> object:
        """One SCF from ``dm0`` with the settings' retry (second-order macro-iterations capped) if ``retry``."""
        s = self.settings
        mf = make_scf(self.mol, s.xc, s.grid_level, s.conv_tol, min(s.max_cycle, DIIS_MAX_CYCLE), unrestricted,
                      self.density_fit)
        mf.callback = self.monitor.callback(stage)
        mf.kernel(dm0=dm0)
        if retry and not mf.converged and s.retry != "none":
            dm_last = mf.make_rdm1()
            mf = retry_scf(mf, s.retry, min(s.max_cycle, NEWTON_MAX_CYCLE))
            mf.callback = self.monitor.callback(f"{stage} retry")
            mf.kernel(dm0=dm_last)
        return mf

    def newton(self, unrestricted: bool, orbitals: tuple[np.ndarray, np.ndarray], stage: str) -> object:
        """Second-order SCF from given orbitals and occupations (no aufbau reordering of the start)."""
        s = self.settings
        mf = make_scf(self.mol, s.xc, s.grid_level, s.conv_tol, s.max_cycle, unrestricted, self.density_fit)
        nm = mf.newton()
        nm.max_cycle = min(s.max_cycle, NEWTON_MAX_CYCLE)
        nm.verbose = 0
        nm.callback = self.monitor.callback(stage)
        nm.kernel(*orbitals)
        return nm

    def guess_energy(self, dm: np.ndarray) -> float:
        """UKS energy of a guess density (one Fock build), hartree."""
        s = self.settings
        return float(make_scf(self.mol, s.xc, s.grid_level, s.conv_tol, 1, True, self.density_fit).energy_tot(dm=dm))

    def analyse(self, mf: object, library: LatentLibrary) -> dict[str, np.ndarray]:
        """Hirshfeld, Hirshfeld-I and Mulliken charges of a converged solution."""
        self.monitor.report("analysis", 0, float(mf.e_tot), 0.0)
        ana = analyse_density(self.mol, np.asarray(mf.make_rdm1()), np.asarray(mf.grids.coords),
                              np.asarray(mf.grids.weights), library, self.settings.weighting)
        return {k: np.asarray(ana["charges"][k]) for k in CHARGE_KEYS if k in ana["charges"]}


def lowest_solution(structure: Structure, settings: ReferenceSettings | None = None, *,
                    library: LatentLibrary | None = None, cache: ReferenceCache | None = None,
                    fragments: Sequence[FragmentReference] | None = None, progress: ProgressCallback | None = None,
                    cancel: CancelToken = None, use_cache: bool = True) -> KSSolution:
    """The lowest converged Kohn-Sham solution of ``structure`` among RKS and broken-symmetry UKS.

    Parameters
    ----------
    structure : the geometry (its 2S by :func:`~lsip.reference.grids.default_spin`; 2S > 0: UKS only).
    settings : level of theory (``unrestricted`` is ignored; ``max_cycle``, ``retry`` and ``time_limit_s``
        apply; the time limit counts from the start of this call).
    library : latent library for the charges (default: the shipped one).
    cache : a :class:`ReferenceCache` (None: no caching).  Computed solutions also record their wall times
        (methods ``scan-rks`` and ``scan-bs-uks``) for the scan-time estimate.
    fragments : the scan's separated fragments (:func:`fragment_references`); their densities with opposite
        spins are the first UKS guess.
    progress : called with every :class:`~lsip.reference.driver.SCFProgress` (stages ``scf``, ``bs-uks``, their
        ``retry``, ``stability``, ``analysis``).  cancel : cancel token.  use_cache : read the cache.

    Returns
    -------
    KSSolution

    Raises
    ------
    SystemTooLargeError
        above the driver's size limits.  CalculationCancelled : cancelled or past the time limit.
    """
    settings = settings or ReferenceSettings()
    sizer = ReferenceDFT(structure, settings, library=library, cache=False)
    n_basis, estimate = sizer.check_size()
    lib = sizer.library
    frag_ok = fragments is not None and all(f.converged for f in fragments)
    key = solution_key(structure, settings, lib, [f.atoms for f in fragments] if fragments else None)
    if use_cache and cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return KSSolution.from_record(*hit)
    monitor = SCFMonitor(structure.formula, progress, cancel, settings.time_limit_s, estimate)
    run = _Run(structure, settings, n_basis, monitor)
    notes: list[str] = []
    monitor.report("scf", 0, np.nan, np.nan)

    t0 = time.perf_counter()
    rks = run.scf(False, None, "scf") if run.spin == 0 else None
    rks_ok = rks is not None and bool(rks.converged)
    rks_stab: Stability | None = None

    t_rks = [time.perf_counter() - t0]  # RKS SCF, its stability analysis and its charges

    def rks_checked() -> Stability:
        nonlocal rks_stab
        if rks_stab is None:
            t = time.perf_counter()
            monitor.report("stability", 0, float(rks.e_tot), 0.0)
            rks_stab = rks_stability(rks)
            t_rks.append(time.perf_counter() - t)
        return rks_stab

    guesses: list[tuple[str, np.ndarray | None]] = []
    if frag_ok:
        guesses.append(("fragments", fragment_guess(run.mol, fragments, run.spin)))
    elif fragments is not None:
        notes.append("a fragment SCF failed: no fragment guess")
    if rks is not None:
        guesses.append(("homo-lumo", _homo_lumo_guess(rks)))
    if not guesses:
        guesses.append(("default", None))

    def collapsed(mf: object) -> bool:
        return rks_ok and abs(mf.e_tot - rks.e_tot) < SAME_STATE_EH and float(mf.spin_square()[0]) < CLOSED_S2

    best, best_guess = None, ""
    for name, dm0 in guesses:
        if name == "fragments":
            # DIIS re-occupies the first Fock matrix's orbitals by aufbau: between a donor and an acceptor atom
            # (Li + F) that moves an electron across and the SCF wanders to states hundreds of eV up. A converged
            # DIIS result is kept when it lies below the guess; else the second-order solver starts from the
            # guess's own orbitals and stays on its occupation.
            mf = run.scf(True, dm0, "bs-uks", retry=False)
            if not mf.converged or mf.e_tot > run.guess_energy(dm0) + SAME_STATE_EH:
                nm = run.newton(True, natural_orbitals(run.mol, dm0), "bs-uks newton")
                mf = nm if nm.converged and (not mf.converged or nm.e_tot < mf.e_tot) else mf
        else:
            mf = run.scf(True, dm0, "bs-uks")
        if mf.converged and (best is None or mf.e_tot < best.e_tot - 1e-8):
            best, best_guess = mf, name
        below_rks = best is not None and (not rks_ok or best.e_tot < rks.e_tot - SAME_STATE_EH)
        if best is not None and ((below_rks and float(best.spin_square()[0]) > BROKEN_S2)
                                 or (collapsed(best) and rks_checked()[0] is True)):
            break  # spin-broken below RKS, or the closed shell with a stable RKS: the next guess is not needed

    def check(mf: object, unrestricted: bool) -> Stability:
        if not unrestricted or collapsed(mf):  # a spin-symmetric UKS hides its triplet instability from
            return rks_checked()              # PySCF's UKS Davidson start: check the RKS -> UKS one instead
        monitor.report("stability", 0, float(mf.e_tot), 0.0)
        return uks_stability(mf)

    # the reported solution: the lowest; follow an instability downhill along its unstable mode
    uks_stable: bool | None = None
    for _ in range(STABILITY_FOLLOW + 1):
        use_uks = best is not None and (not rks_ok or best.e_tot < rks.e_tot - SAME_STATE_EH)
        current = best if use_uks else rks if rks_ok else None
        if current is None:
            break
        stable, downhill, note = check(current, use_uks)
        if note and note not in notes:
            notes.append(note)
        if use_uks:
            uks_stable = stable
        if stable is not False or downhill is None:
            break
        mf = run.newton(True, downhill, "bs-uks newton")
        if mf.converged and mf.e_tot > current.e_tot - SAME_STATE_EH:
            # the unstable mode leads back to the same energy: a marginal eigenvalue, not a lower state
            notes.append("the stability analysis found a marginal instability; following it returned to the "
                         "same energy")
            if use_uks:
                uks_stable = None
            else:
                rks_stab = (None, None, "")
            break
        if not mf.converged:
            break
        best, best_guess = mf, ("rks-instability" if not use_uks else f"{best_guess}+instability")
    rks_stable = rks_stab[0] if rks_stab is not None else None  # checked only where it decides something
    t = time.perf_counter()
    rks_charges = run.analyse(rks, lib) if rks_ok else {}
    t_rks.append(time.perf_counter() - t)
    uks_ok = best is not None
    if uks_ok and collapsed(best):
        uks_charges, uks_stable = rks_charges, rks_stable
    else:
        uks_charges = run.analyse(best, lib) if uks_ok else {}
    t_total = time.perf_counter() - t0
    t_rks_s = float(sum(t_rks)) if run.spin == 0 else 0.0
    t_uks = t_total - t_rks_s

    e_rks = float(rks.e_tot) if rks_ok else float("nan")
    e_uks = float(best.e_tot) if uks_ok else float("nan")
    s2_uks = float(best.spin_square()[0]) if uks_ok else float("nan")
    if uks_ok and (not rks_ok or e_uks < e_rks - SAME_STATE_EH):
        method, energy, s2, stable = ("BS-UKS" if run.spin == 0 else "UKS"), e_uks, s2_uks, uks_stable
    elif rks_ok:
        method, energy, s2, stable = "RKS", e_rks, 0.0, rks_stable
    else:
        method, energy, s2, stable = "", float("nan"), float("nan"), None
        notes.append("no SCF converged (RKS and broken-symmetry UKS)" if run.spin == 0 else "UKS did not converge")
    sol = KSSolution(energy=energy, method=method, spin_square=s2, converged=bool(method), stable=stable,
                     rks_energy=e_rks, rks_converged=rks_ok, rks_stable=rks_stable, rks_charges=rks_charges,
                     uks_energy=e_uks, uks_converged=uks_ok, uks_spin_square=s2_uks, uks_stable=uks_stable,
                     uks_charges=uks_charges, guess=best_guess, n_basis=n_basis, rks_time_s=t_rks_s,
                     uks_time_s=t_uks, notes=tuple(notes))
    if cache is not None:
        threads, xc = omp_threads(), settings.xc
        if run.spin == 0:
            cache.record_timing("scan-rks", n_basis, t_rks_s, xc=xc, threads=threads)
        cache.record_timing("scan-bs-uks", n_basis, t_uks, xc=xc, threads=threads)
        if sol.converged:  # failed points are recomputed next time (e.g. with more cycles)
            cache.put(key, *sol.to_record())
    return sol


def unphysical_threshold(fragments: Sequence[Structure], library: LatentLibrary | None = None) -> float:
    """Energy above the separated fragments (hartree) past which a point on the dissociating side is unphysical.

    ``max(UNPHYSICAL_MIN_EV, min over donor/acceptor of I_D - A_A)``: between the energy minimum and the
    separated limit a state of the fragments lies below the neutral pair plus the cheapest ion pair
    (I_D - A_A - 1/R < I_D - A_A), so anything above both is not a state of these fragments. I and A are the
    latent library's (the reference functional's) values for neutral single-atom fragments (``library`` None: the
    shipped one); for molecular or charged fragments only the floor applies.
    """
    floor = UNPHYSICAL_MIN_EV / HARTREE_TO_EV
    if len(fragments) != 2 or any(f.n_atoms != 1 or f.charge != 0 for f in fragments):
        return floor
    library = library if library is not None else default_library()
    try:
        a, b = (library.element(f.symbols[0]) for f in fragments)
    except (KeyError, ValueError):
        return floor
    gap = min(a.ionization_energy - b.electron_affinity, b.ionization_energy - a.electron_affinity)
    return max(floor, float(gap))


#: Flag texts of :func:`flag_points` (each is followed by details).
FLAG_FAILED = "SCF did not converge"
FLAG_UNSTABLE = "unstable SCF solution"
FLAG_ABOVE = "above the separated fragments"


def flag_points(distances: np.ndarray, energies: np.ndarray, converged: np.ndarray,
                stable: Sequence[bool | None], threshold: float) -> list[str]:
    """Why each point of a DFT curve must not be drawn ('' where it is fine).

    Parameters
    ----------
    distances : (m,) angstrom.  energies : (m,) E - E(fragments), hartree (NaN: unknown zero, no energy check).
    converged : (m,) some solution converged.  stable : (m,) stability of the reported solution (None: not
        checked).  threshold : :func:`unphysical_threshold`, hartree.

    Rules (docs/reference.md, "DFT along scans"): no converged solution; a solution that is still unstable after
    being followed along its unstable mode; on the dissociating side (beyond the lowest acceptable point) an
    energy more than ``threshold`` above the separated fragments.
    """
    r = np.asarray(distances, dtype=float)
    e = np.asarray(energies, dtype=float)
    flags = ["" for _ in r]
    for k in range(len(r)):
        if not converged[k]:
            flags[k] = FLAG_FAILED
        elif stable[k] is False:
            flags[k] = f"{FLAG_UNSTABLE} (a lower state exists that the SCF did not reach)"
    ok = [k for k in range(len(r)) if not flags[k] and np.isfinite(e[k])]
    if ok:
        r_min = r[min(ok, key=lambda k: e[k])]
        for k in ok:
            if r[k] > r_min and e[k] > threshold:
                flags[k] = (f"{e[k] * HARTREE_TO_EV:+.2f} eV {FLAG_ABOVE} (more than {threshold * HARTREE_TO_EV:.2f} "
                            "eV on the dissociating side)")
    return flags
