"""Reference DFT with PySCF: settings + ``.kernel()`` returning a frozen :class:`ReferenceResult`.

What :meth:`ReferenceDFT.kernel` does, in order:

1. refuses systems above :attr:`ReferenceSettings.max_atoms` atoms or :attr:`~ReferenceSettings.max_basis`
   basis functions (:class:`~lsip.errors.SystemTooLargeError` naming the limit and an estimated time);
2. returns the cached result when the cache holds one for the same structure, charge, spin, settings, lsip
   version and latent library (milliseconds);
3. runs RKS (closed shell) or UKS (2S > 0, or ``unrestricted=True``) with the functional and basis of the
   settings (default PBE0/def2-SVP); RKS asked for an open shell (``unrestricted=False`` with 2S > 0) is refused
   before anything runs (:func:`method_refusal`); PySCF does not raise on non-convergence, so ``mf.converged`` is
   checked and one retry is made with a second-order solver (``retry="newton"``, default) or a level shift of
   0.5 Eh (``retry="level_shift"``), starting from the last density; still unconverged ->
   :class:`~lsip.errors.ConvergenceError` carrying the partial result. For UKS the spin contamination
   <S^2> - S(S+1) is checked and a warning recorded above ``spin_contamination_tol``;
4. reports every SCF cycle to a progress callback (:class:`SCFProgress`) and checks the cancel token and the
   time limit there (:class:`CalculationCancelled`);
5. analyses the converged density on the SCF's molecular grid (:func:`lsip.reference.charges.analyse_density`:
   Hirshfeld, Hirshfeld-I, Mulliken, meta-Lowdin, dipole, density encoder) and caches the result, molecular
   orbitals included (for the Molden export, :mod:`lsip.reference.molden`).

PySCF's threads follow ``OMP_NUM_THREADS`` from the environment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Protocol

import numpy as np

from lsip import __version__
from lsip.errors import ConvergenceError, ReferenceCalculationError, SystemTooLargeError
from lsip.model.library import STATE_LABELS, LatentLibrary, default_library
from lsip.reference.cache import ReferenceCache, cache_key, library_fingerprint
from lsip.reference.charges import analyse_density, model_density_error
from lsip.reference.grids import (
    basis_function_count,
    build_mole,
    default_spin,
    estimate_scf_time_s,
    format_duration,
    make_scf,
    molecular_grid,
    omp_threads,
    retry_scf,
    scf_summary,
    spin_warnings,
)
from lsip.structure import Structure
from lsip.units import BOHR_TO_ANGSTROM, E_BOHR_TO_DEBYE, HARTREE_TO_EV

CancelToken = threading.Event | Callable[[], bool] | None


class CalculationCancelled(ReferenceCalculationError):
    """The user cancelled the calculation or it ran past its time limit."""


@dataclass(frozen=True)
class SCFProgress:
    """One progress report.

    Attributes
    ----------
    stage : ``"scf"``, ``"retry"`` (second attempt) or ``"analysis"``.
    cycle : SCF cycle within the attempt (1-based; 0 before the first cycle and for the analysis stage).
    energy : total energy, hartree (NaN before the first cycle).
    delta_e : energy change of the cycle, hartree.
    elapsed_s : wall time since ``kernel()`` started, s.
    estimate_s : the a-priori time estimate of the SCF, s.
    """

    stage: str
    cycle: int
    energy: float
    delta_e: float
    elapsed_s: float
    estimate_s: float


class ProgressCallback(Protocol):
    """Anything callable with one :class:`SCFProgress` (e.g. a Streamlit status updater)."""

    def __call__(self, progress: SCFProgress) -> None:  # pragma: no cover - protocol
        """Receive one report."""


class SCFMonitor:
    """Progress reports, cancellation and the wall-time limit of SCF runs (the driver's and the scans').

    Parameters
    ----------
    label : what is computed (a formula), for the cancellation message.
    progress : optional :class:`ProgressCallback`.  cancel : a ``threading.Event`` or a callable returning True.
    time_limit_s : wall-time limit counted from construction (or :meth:`restart`), s; None: none.
    estimate_s : the a-priori time estimate put into every :class:`SCFProgress`.

    :meth:`callback` gives a PySCF ``mf.callback`` that reports every cycle; after every report the cancel token
    and the time limit are checked, and either stops the SCF with :class:`CalculationCancelled`
    (docs/reference.md, "The driver", step 4).
    """

    def __init__(self, label: str, progress: ProgressCallback | None = None, cancel: CancelToken = None,
                 time_limit_s: float | None = None, estimate_s: float = float("nan")) -> None:
        self.label = label
        self.progress = progress
        self.cancel = cancel
        self.time_limit_s = time_limit_s
        self.estimate_s = estimate_s
        self.last_delta = float("nan")
        self.t0 = time.perf_counter()

    def restart(self) -> None:
        """Start the clock of the time limit (and of ``elapsed_s``) again."""
        self.t0 = time.perf_counter()

    def report(self, stage: str, cycle: int, energy: float, delta: float) -> None:
        """Send one :class:`SCFProgress`, then stop when cancelled or past the time limit."""
        elapsed = time.perf_counter() - self.t0
        if self.progress is not None:
            self.progress(SCFProgress(stage, cycle, energy, delta, elapsed, self.estimate_s))
        cancel = self.cancel
        if cancel is not None and (cancel.is_set() if isinstance(cancel, threading.Event) else cancel()):
            raise CalculationCancelled(f"reference calculation of {self.label} cancelled")
        limit = self.time_limit_s
        if limit is not None and elapsed > limit:
            raise CalculationCancelled(
                f"reference calculation of {self.label} stopped at its time limit of {limit:g} s")

    def callback(self, stage: str) -> Callable[[dict], None]:
        """A PySCF SCF callback reporting each cycle of ``stage``."""
        count = [0]

        def cb(envs: dict) -> None:
            count[0] += 1
            e, last = float(envs.get("e_tot", np.nan)), float(envs.get("last_hf_e", np.nan))
            self.last_delta = e - last
            self.report(stage, count[0], e, e - last)

        return cb


@dataclass(frozen=True)
class ReferenceSettings:
    """Settings of a reference calculation.

    Attributes
    ----------
    xc, basis : functional and basis set (PySCF names); default PBE0/def2-SVP (the library's functional).
    grid_level : PySCF ``grids.level`` of the XC and analysis grid (0-9).
    conv_tol : SCF energy convergence threshold, hartree.
    max_cycle : SCF cycles per attempt.
    retry : ``"newton"`` (second-order), ``"level_shift"`` or ``"none"``.
    unrestricted : force UKS (True) or RKS (False; refused for 2S > 0, :func:`method_refusal`); None (automatic):
        RKS for 2S = 0, UKS otherwise.
    density_fit : density fitting (def2-universal-jkfit); None: from ``density_fit_min_basis`` functions on.
    max_atoms, max_basis : size limits (refused above, see docs/reference.md).
    time_limit_s : wall-time limit of the SCF, s (None: none).
    spin_contamination_tol : warn when <S^2> - S(S+1) exceeds this (UKS).
    weighting : density-encoder weighting (:data:`lsip.reference.density_encoder.WEIGHTINGS`).
    """

    xc: str = "PBE0"
    basis: str = "def2-SVP"
    grid_level: int = 3
    conv_tol: float = 1e-9
    max_cycle: int = 100
    retry: str = "newton"
    unrestricted: bool | None = None
    density_fit: bool | None = None
    density_fit_min_basis: int = 150
    max_atoms: int = 40
    max_basis: int = 500
    time_limit_s: float | None = None
    spin_contamination_tol: float = 0.1
    weighting: str = "l1"  # the density encoder's data term (docs/reference.md); "inverse_density": the old fit

    def __post_init__(self) -> None:
        if self.retry not in ("newton", "level_shift", "none"):
            raise ReferenceCalculationError(f"retry must be 'newton', 'level_shift' or 'none', not {self.retry!r}")
        if not 0 <= self.grid_level <= 9:
            raise ReferenceCalculationError(f"grid_level must be 0-9, not {self.grid_level}")

    def key_fields(self) -> dict:
        """The settings that change the result (the cache key uses these)."""
        return {"xc": self.xc.lower(), "basis": self.basis.lower(), "grid_level": self.grid_level,
                "conv_tol": self.conv_tol, "unrestricted": self.unrestricted, "density_fit": self.density_fit,
                "density_fit_min_basis": self.density_fit_min_basis, "weighting": self.weighting}


_ARRAY_FIELDS = ("positions", "dipole", "latent_weights", "density_matrix", "mo_coeff", "mo_occ", "mo_energy")
#: The reference methods a user can pick: label -> ``ReferenceSettings.unrestricted``.
METHODS: dict[str, bool | None] = {"automatic": None, "RKS": False, "UKS": True}
METHOD_LABELS: dict[str, str] = {"automatic": "automatic (RKS for closed shells, UKS for open shells)",
                                 "RKS": "RKS (restricted, closed shells only)",
                                 "UKS": "UKS (unrestricted)"}


def method_name(unrestricted: bool | None) -> str:
    """The :data:`METHODS` label of an ``unrestricted`` setting."""
    return next(k for k, v in METHODS.items() if v is unrestricted)


def canonical_unrestricted(structure: Structure, unrestricted: bool | None) -> bool | None:
    """None (automatic) when an explicit RKS/UKS choice is what automatic picks for ``structure`` (RKS for 2S = 0,
    UKS for 2S > 0), else the choice: the app's settings then share the automatic cache entry (which the Charge
    transfer page reads). :meth:`ReferenceDFT.key` itself keeps the three values apart, so entries cached with an
    explicit ``unrestricted=True`` (free atoms of the calibration and validation) keep their keys."""
    if unrestricted is None or unrestricted != (default_spin(structure) > 0):
        return unrestricted
    return None


def method_refusal(structure: Structure, settings: ReferenceSettings) -> str | None:
    """Why ``settings`` cannot be used for ``structure`` (RKS for an open shell), or None.

    RKS pairs every electron in doubly occupied orbitals, so it exists only for 2S = 0 (an even electron count in
    a singlet). PySCF's ``dft.RKS`` would silently switch to ROKS for 2S > 0; the driver refuses instead.
    """
    if settings.unrestricted is not False:
        return None
    spin, n = default_spin(structure), structure.n_electrons
    if spin == 0:
        return None
    why = (f"an odd number of electrons ({n})" if n % 2 else f"{n} electrons in a spin state with 2S = {spin}")
    return (f"RKS (restricted Kohn-Sham) puts every electron in a doubly occupied orbital, but {structure.formula} "
            f"(charge {structure.charge:+d}) has {why}: choose UKS or automatic")


@dataclass(frozen=True)
class ReferenceResult:
    """A finished reference calculation (atomic units unless a name says otherwise).

    Attributes
    ----------
    symbols, positions : the structure; positions (n, 3) in angstrom.  charge, spin : Q (e) and 2S.
    xc, basis, grid_level, unrestricted, density_fit : the level of theory used.  n_basis : basis functions.
    energy : total energy, hartree.  converged, attempts, cycles, last_delta_e : SCF outcome (hartree).
    homo_lumo_gap : hartree.  spin_square : <S^2> (UKS only).  dipole : (3,) e bohr about the centre of mass.
    charges : {"hirshfeld", "hirshfeld_i", "mulliken", "meta_lowdin", "density_encoder"} -> (n,) e.
    latent_weights : (n, 4) density-encoder weights (STATE_LABELS order).
    density_error : {"latent", "promolecule", "model"} -> integral |rho - rho_DFT| (e) or None.
    electrons_grid : integral of rho_DFT on the molecular grid.  hirshfeld_i_iterations : its iteration count.
    density_matrix : (nao, nao) RKS or (2, nao, nao) UKS, AO basis.
    mo_coeff, mo_occ, mo_energy : Kohn-Sham orbitals (nao, nmo), occupations and energies (hartree), with a
        leading spin axis of 2 for UKS; None in cache entries written before they were stored (recompute them).
    compute_time_s : time of the original calculation.  time_s : time of this call (cache hits: ms).
    cached : returned from the cache.  key : cache key.  warnings : messages to show the user.
    """

    symbols: tuple[str, ...]
    positions: np.ndarray
    charge: int
    spin: int
    xc: str
    basis: str
    grid_level: int
    unrestricted: bool
    density_fit: bool
    n_basis: int
    energy: float
    converged: bool
    attempts: int
    cycles: int
    last_delta_e: float
    homo_lumo_gap: float | None
    spin_square: float | None
    dipole: np.ndarray | None
    charges: dict[str, np.ndarray]
    latent_weights: np.ndarray | None
    density_error: dict[str, float | None]
    electrons_grid: float | None
    hirshfeld_i_iterations: int
    density_matrix: np.ndarray
    compute_time_s: float
    time_s: float
    cached: bool = False
    key: str = ""
    warnings: tuple[str, ...] = ()
    lsip_version: str = __version__
    mo_coeff: np.ndarray | None = None
    mo_occ: np.ndarray | None = None
    mo_energy: np.ndarray | None = None

    @classmethod
    def from_scf(cls, structure: Structure, spin: int, settings: ReferenceSettings, scf: dict, analysis: dict,
                 key: str, elapsed: float) -> ReferenceResult:
        """Assemble a result from :func:`~lsip.reference.grids.scf_summary` and ``analyse_density``."""
        return cls(
            symbols=structure.symbols, positions=structure.positions, charge=int(structure.charge), spin=spin,
            xc=settings.xc, basis=settings.basis, grid_level=settings.grid_level, **scf,
            dipole=analysis.get("dipole"), charges=analysis.get("charges", {}),
            latent_weights=analysis.get("latent_weights"),
            density_error=analysis.get("density_error", {"latent": None, "promolecule": None, "model": None}),
            electrons_grid=analysis.get("electrons_grid"),
            hirshfeld_i_iterations=analysis.get("hirshfeld_i_iterations", 0), compute_time_s=elapsed,
            time_s=elapsed, key=key, warnings=tuple(analysis.get("warnings", ())),
        )

    def to_record(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(scalars, arrays) for :class:`~lsip.reference.cache.ReferenceCache` (no pickle)."""
        scalars, arrays = {}, {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ARRAY_FIELDS:
                if value is not None:
                    arrays[f.name] = np.asarray(value)
            elif f.name == "charges":
                arrays.update({f"charges/{k}": np.asarray(v) for k, v in value.items()})
            elif f.name not in ("cached", "time_s"):
                scalars[f.name] = list(value) if isinstance(value, tuple) else value
        return scalars, arrays

    @classmethod
    def from_record(cls, scalars: dict, arrays: dict[str, np.ndarray]) -> ReferenceResult:
        """Inverse of :meth:`to_record`."""
        kw = {f.name: scalars[f.name] for f in fields(cls) if f.name in scalars}
        kw.update({k: arrays.get(k) for k in _ARRAY_FIELDS})
        kw["charges"] = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("charges/")}
        kw["symbols"], kw["warnings"] = tuple(kw["symbols"]), tuple(kw.get("warnings", ()))
        return cls(**kw, time_s=0.0)

    def structure(self) -> Structure:
        """The structure of this result."""
        return Structure(self.symbols, self.positions, self.charge, self.spin)

    def mole(self) -> object:
        """The PySCF ``Mole`` (basis) of :attr:`density_matrix`."""
        return build_mole(self.structure(), self.basis, self.spin)

    def with_model_error(self, model_weights: np.ndarray, library: LatentLibrary, dipoles: np.ndarray | None = None,
                         dipole_shapes: list | None = None) -> ReferenceResult:
        """A copy with ``density_error["model"]`` for physical-encoder weights (n, 4), on the same grid (with the
        atomic dipoles' lobes when ``dipoles`` (n, 3) e bohr and their shapes are given)."""
        mol = self.mole()
        coords, weights = molecular_grid(mol, self.grid_level)
        err = model_density_error(mol, self.density_matrix, coords, weights, library, model_weights, dipoles,
                                  dipole_shapes)
        return replace(self, density_error={**self.density_error, "model": err})

    def to_dict(self) -> dict:
        """JSON-ready summary in user units (the ``lsip reference --json`` schema, docs/reference.md)."""
        dip, lw = self.dipole, self.latent_weights
        gap = self.homo_lumo_gap
        return {
            "formula": self.structure().formula, "symbols": list(self.symbols), "total_charge": self.charge,
            "spin": self.spin, "xc": self.xc, "basis": self.basis, "n_basis": self.n_basis,
            "grid_level": self.grid_level, "unrestricted": self.unrestricted,
            "energy_eV": self.energy * HARTREE_TO_EV, "converged": self.converged, "scf_attempts": self.attempts,
            "scf_cycles": self.cycles, "homo_lumo_gap_eV": None if gap is None else gap * HARTREE_TO_EV,
            "spin_square": self.spin_square,
            "dipole_D": None if dip is None else float(np.linalg.norm(dip) * E_BOHR_TO_DEBYE),
            "dipole_eA": None if dip is None else (np.asarray(dip) * BOHR_TO_ANGSTROM).tolist(),
            "charges_e": {k: np.asarray(v).tolist() for k, v in self.charges.items()},
            "latent_weights": None if lw is None else {lab: lw[:, k].tolist() for k, lab in enumerate(STATE_LABELS)},
            "density_error_e": dict(self.density_error), "electrons_grid": self.electrons_grid,
            "time_s": self.time_s, "compute_time_s": self.compute_time_s, "cached": self.cached,
            "warnings": list(self.warnings), "key": self.key,
        }


class ReferenceDFT:
    """A reference calculation of one structure (PySCF-style driver: settings, then ``kernel()``).

    Parameters
    ----------
    structure : the system (positions in angstrom; ``charge`` and ``spin`` = 2S are used).
    settings : :class:`ReferenceSettings`; keyword ``**overrides`` replace single fields.
    library : latent library for the Hirshfeld pro-atoms and the density encoder (default: the shipped one).
    cache : a :class:`ReferenceCache`, None for the default cache file, or False for no cache.
    progress : optional :class:`ProgressCallback`.
    cancel : a ``threading.Event`` or a callable returning True to stop the calculation.

    Examples
    --------
    >>> from lsip.structure import Structure
    >>> h2 = Structure(("H", "H"), [[0, 0, 0], [0, 0, 0.74]])
    >>> res = ReferenceDFT(h2, basis="sto-3g", cache=False).kernel()  # doctest: +SKIP
    """

    def __init__(self, structure: Structure, settings: ReferenceSettings | None = None, *,
                 library: LatentLibrary | None = None, cache: ReferenceCache | bool | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelToken = None, **overrides: object) -> None:
        self.structure = structure
        self.settings = replace(settings or ReferenceSettings(), **overrides)
        self._library = library
        self.cache = ReferenceCache() if cache is None or cache is True else \
            cache if isinstance(cache, ReferenceCache) else None
        self.progress = progress
        self.cancel = cancel
        self._t0 = time.perf_counter()
        self._monitor = SCFMonitor(structure.formula, progress, cancel, self.settings.time_limit_s)

    @property
    def library(self) -> LatentLibrary:
        """The latent library (loaded on first use)."""
        if self._library is None:
            self._library = default_library()
        return self._library

    @property
    def spin(self) -> int:
        """2S used for the calculation."""
        return default_spin(self.structure)

    def key(self) -> str:
        """Cache key: canonical structure (positions rounded to 1e-6 A), charge, spin, settings, versions.

        The RKS/UKS choice is keyed as given (automatic, RKS, UKS): an explicit choice equal to the automatic one
        is computed once more rather than changing the keys of the entries already cached (the calibration's free
        atoms are keyed as explicit UKS). The app passes such a choice as automatic (:func:`canonical_unrestricted`).
        """
        st, settings = self.structure, self.settings
        return cache_key({
            "symbols": list(st.symbols), "positions_A": np.round(st.positions, 6).tolist(),
            "charge": int(st.charge), "spin": self.spin, "settings": settings.key_fields(),
            "lsip": __version__, "library": library_fingerprint(self.library, st.symbols),
        })

    def check_method(self) -> None:
        """Raise :class:`~lsip.errors.ReferenceCalculationError` when the settings' method cannot describe the
        structure (RKS for an open shell, :func:`method_refusal`)."""
        why = method_refusal(self.structure, self.settings)
        if why is not None:
            raise ReferenceCalculationError(why)

    def check_size(self) -> tuple[int, float]:
        """(n_basis, estimated SCF seconds); raise :class:`SystemTooLargeError` above the limits."""
        st, s = self.structure, self.settings
        if st.n_atoms > s.max_atoms:
            # estimate from per-element basis sizes (building a Mole of thousands of atoms would itself be slow)
            n_est = basis_function_count(st.symbols, s.basis)
            raise SystemTooLargeError(
                f"{st.formula} has {st.n_atoms} atoms; reference DFT is limited to {s.max_atoms} atoms "
                f"(ReferenceSettings.max_atoms). Estimated time: ~{format_duration(estimate_scf_time_s(n_est))} "
                f"for its {n_est} basis functions in {s.basis} with {omp_threads()} thread(s)")
        n_basis = build_mole(st, s.basis, self.spin).nao
        est = estimate_scf_time_s(n_basis)
        if n_basis > s.max_basis:
            raise SystemTooLargeError(
                f"{st.formula} has {n_basis} basis functions in {s.basis}; reference DFT is limited to "
                f"{s.max_basis} (ReferenceSettings.max_basis). Estimated time: ~{format_duration(est)} with "
                f"{omp_threads()} thread(s)")
        return n_basis, est

    def kernel(self, model_weights: np.ndarray | None = None, *, use_cache: bool = True,
               raise_on_failure: bool = True, model_dipoles: np.ndarray | None = None,
               dipole_shapes: list | None = None) -> ReferenceResult:
        """Run (or fetch) the calculation; see the module docstring.

        Parameters
        ----------
        model_weights : optional (n, 4) physical-encoder weights; fills ``density_error["model"]``.
        model_dipoles, dipole_shapes : optional atomic dipoles (n, 3) e bohr and each atom's dipole shape: the
            model density of ``density_error["model"]`` then includes their lobes.
        use_cache : read the cache (results are written whenever a cache is configured).
        raise_on_failure : raise :class:`~lsip.errors.ConvergenceError` when the SCF does not converge
            (else return the unconverged result with a warning).
        """
        self._t0 = time.perf_counter()
        self._monitor = SCFMonitor(self.structure.formula, self.progress, self.cancel, self.settings.time_limit_s)
        self.check_method()
        key = self.key()
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                res = replace(ReferenceResult.from_record(*hit), cached=True, time_s=time.perf_counter() - self._t0)
                return (res.with_model_error(model_weights, self.library, model_dipoles, dipole_shapes)
                        if model_weights is not None else res)
        res = self._compute(key)
        if not res.converged:
            msg = (f"SCF of {self.structure.formula} ({self.settings.xc}/{self.settings.basis}) did not converge "
                   f"in {res.cycles} cycles over {res.attempts} attempt(s); last energy change "
                   f"{res.last_delta_e:.2e} Eh. Try a larger max_cycle, another spin state or geometry.")
            res = replace(res, warnings=(*res.warnings, msg))
            if raise_on_failure:
                raise ConvergenceError(msg, result=res)
            return res
        if self.cache is not None:
            self.cache.put(key, *res.to_record())
            self.cache.record_timing("uks" if res.unrestricted else "rks", res.n_basis, res.compute_time_s,
                                     xc=self.settings.xc, threads=omp_threads())
        return (res.with_model_error(model_weights, self.library, model_dipoles, dipole_shapes)
                if model_weights is not None else res)

    def _compute(self, key: str) -> ReferenceResult:
        n_basis, estimate = self.check_size()
        s = self.settings
        mol = build_mole(self.structure, s.basis, self.spin)
        self._monitor.estimate_s = estimate
        self._monitor.report("scf", 0, np.nan, np.nan)
        unrestricted = s.unrestricted if s.unrestricted is not None else self.spin > 0
        density_fit = s.density_fit if s.density_fit is not None else n_basis >= s.density_fit_min_basis
        mf = make_scf(mol, s.xc, s.grid_level, s.conv_tol, s.max_cycle, unrestricted, density_fit)
        mf.callback = self._monitor.callback("scf")
        mf.kernel()
        attempts, cycles = 1, int(getattr(mf, "cycles", s.max_cycle))
        if not mf.converged and s.retry != "none":
            dm0 = mf.make_rdm1()
            mf = retry_scf(mf, s.retry, s.max_cycle)
            mf.callback = self._monitor.callback("retry")
            mf.kernel(dm0=dm0)
            attempts, cycles = 2, cycles + int(getattr(mf, "cycles", s.max_cycle))
        scf = scf_summary(mf, unrestricted, density_fit, attempts, cycles, self._monitor.last_delta)
        scf.update(mo_coeff=np.asarray(mf.mo_coeff), mo_occ=np.asarray(mf.mo_occ), mo_energy=np.asarray(mf.mo_energy))
        elapsed = time.perf_counter() - self._t0
        if not scf["converged"]:
            return ReferenceResult.from_scf(self.structure, self.spin, s, scf, {}, key, elapsed)
        self._monitor.report("analysis", 0, scf["energy"], 0.0)
        grids = mf.grids
        analysis = analyse_density(mol, scf["density_matrix"], np.asarray(grids.coords), np.asarray(grids.weights),
                                   self.library, s.weighting)
        retried = [f"converged only on the second attempt (retry: {s.retry})"] if attempts > 1 else []
        analysis["warnings"] = [*spin_warnings(scf["spin_square"], self.spin, s.spin_contamination_tol),
                                *retried, *analysis["warnings"]]
        return ReferenceResult.from_scf(self.structure, self.spin, s, scf, analysis, key,
                                        time.perf_counter() - self._t0)


def run_reference(structure: Structure, **kwargs: object) -> ReferenceResult:
    """Shorthand for ``ReferenceDFT(structure, **kwargs).kernel()``."""
    return ReferenceDFT(structure, **kwargs).kernel()
