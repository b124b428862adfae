"""The latent library: per element, a few atomic states with energies and spherical basis densities.

This module holds the data containers and the on-disk format; it never runs DFT (that is
``lsip.reference.library_build``). All quantities are in Hartree atomic units.

File format (``assets/library/*.npz``, read with ``allow_pickle=False``)
-----------------------------------------------------------------------
One numpy ``.npz`` archive with plain numeric or fixed-width unicode arrays, no pickled objects:

* ``meta``: 0-d unicode array holding a JSON document
  ``{"format_version": 1, "level": {...}, "elements": {symbol: {...scalars, flags, configurations}}}``;
* ``r_grid`` (n_r,) bohr: logarithmic radial grid shared by all densities;
* ``rhobar_grid`` (n_b,) bohr^-3: logarithmic grid of background densities for the embedding functions;
* per element ``X`` and state ``s`` in :data:`STATE_LABELS`:
  ``X/s/radial_density`` (n_r,) bohr^-3, ``X/s/gauss_coefficients`` (G,) electrons,
  ``X/s/gauss_exponents`` (G,) bohr^-2, ``X/s/embedding`` (n_b,) hartree;
* optionally, per element, its polarization channel (docs/model.md section 11): ``X/transition/radial`` (n_r,)
  bohr^-3, ``X/transition/shape_coefficients`` (G,), ``X/transition/shape_exponents`` (G,) bohr^-2, with the
  label, transition dipole and fit error in ``meta`` (a library without them has no atomic dipoles);
* optionally, per element, its frozen core (docs/model.md section 10.10): ``X/core/radial_density`` (n_r,) bohr^-3,
  ``X/core/gauss_coefficients`` (G,), ``X/core/gauss_exponents`` (G,) bohr^-2, with the electron count, the
  shells and the fit error in ``meta`` (H: no core, zero electrons; a library without them has no core walls);
* optionally, per element, its valence s-p dipole ``sp_dipole`` (bohr) in ``meta`` (docs/model.md section 11.1;
  elements without valence p electrons have none).

The density of a state is ``rho(r) = sum_g c_g (a_g / pi)^(3/2) exp(-a_g r^2)``: each Gaussian is normalised
to one electron, so ``sum_g c_g = N`` electrons.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from lsip.errors import LibraryError, UnsupportedElementError
from lsip.paths import LIBRARY_DIR

#: State labels in the fixed order used by every tensor with a "state" axis.
STATE_LABELS: tuple[str, ...] = ("cation", "neutral", "anion", "excited")
#: Short symbols of the states (docs/library.md).
STATE_SYMBOLS: dict[str, str] = {"cation": "+", "neutral": "0", "anion": "-", "excited": "*"}
#: Electron count of each state relative to the neutral atom.
STATE_ELECTRON_SHIFT: dict[str, int] = {"cation": -1, "neutral": 0, "anion": 1, "excited": 0}
FORMAT_VERSION = 1

DEFAULT_LIBRARY_PATH = LIBRARY_DIR / "lsip-library.npz"


@dataclass(frozen=True)
class AtomicState:
    """One atomic state k of an element.

    Attributes
    ----------
    label : one of :data:`STATE_LABELS`.
    n_electrons : electron count N_k.
    energy : total energy E_k, hartree.
    configuration : human-readable occupation, e.g. ``"1s2 2s1 2p3"``.
    radial_density : (n_r,) spherically averaged density on the library ``r_grid``, bohr^-3,
        normalised to ``n_electrons``.
    gauss_coefficients, gauss_exponents : (G,) non-negative s-Gaussian fit of ``radial_density``
        (electrons, bohr^-2).
    fit_error : integral of |rho_fit - rho| over space, electrons.
    embedding : (n_b,) F_k(rho_bar) on the library ``rhobar_grid``, hartree.
    converged : whether the atomic SCF converged.
    sphericity : max over radii of the relative spread of rho over a Lebedev sphere (0 = exactly spherical).
    """

    label: str
    n_electrons: int
    energy: float
    configuration: str
    radial_density: np.ndarray
    gauss_coefficients: np.ndarray
    gauss_exponents: np.ndarray
    fit_error: float
    embedding: np.ndarray
    converged: bool = True
    sphericity: float = 0.0
    spin: int = 0


@dataclass(frozen=True)
class Transition:
    """The polarization channel of an element: ground -> excited state as a dipolar transition density
    (docs/model.md section 11; computed by :mod:`lsip.reference.transitions`).

    Attributes
    ----------
    label : the promoted shells, e.g. ``"2s->2p"``.
    dipole : one-electron transition dipole mu_t = int R_a R_b r^3 dr / sqrt(3), bohr.
    shape_coefficients, shape_exponents : (G,) the atomic dipole's shape s(r) = sum_g c_g (a_g/pi)^(3/2)
        exp(-a_g r^2) with sum_g c_g = 1: an atomic dipole p has the charge density -p . grad s(r - R_A).
    radial : (n_r,) t(r) = R_a(r) R_b(r) on the library grid, bohr^-3.
    fit_error : relative error of the fitted -s'(r) against t(r) (weighted by r^4).
    """

    label: str
    dipole: float
    shape_coefficients: np.ndarray
    shape_exponents: np.ndarray
    radial: np.ndarray
    fit_error: float


@dataclass(frozen=True)
class Core:
    """The frozen core of an element: the density of its shells below the valence shell (docs/model.md section
    10.10; computed by :mod:`lsip.reference.cores`).

    Attributes
    ----------
    n_electrons : core electrons (H 0, Li-F 2, Na-Cl 10, K and Ca 18).
    shells : the core shells, e.g. ``"1s2 2s2 2p6"`` (empty for H).
    gauss_coefficients, gauss_exponents : (G,) non-negative s-Gaussian fit of ``radial_density`` (electrons,
        bohr^-2), the form of the state densities.
    radial_density : (n_r,) spherically averaged core density on the library grid, bohr^-3.
    fit_error : integral of |rho_fit - rho| over space, electrons.
    """

    n_electrons: int
    shells: str
    gauss_coefficients: np.ndarray
    gauss_exponents: np.ndarray
    radial_density: np.ndarray
    fit_error: float


@dataclass(frozen=True)
class ElementEntry:
    """An element's states and derived scalars (hartree; zeta in bohr^-1)."""

    symbol: str
    Z: int
    states: dict[str, AtomicState]
    flags: tuple[str, ...] = ()
    transition: Transition | None = None
    core: Core | None = None
    #: valence s-p dipole mu_sp = int R_ns R_np r^3 dr / sqrt(3) of the neutral atom, bohr (docs/model.md section
    #: 11.1; None for elements without valence p electrons or for a library built without it)
    sp_dipole: float | None = None

    @property
    def polarizability(self) -> float:
        """Two-state sum-over-states polarizability alpha = 2 mu_t^2 / eps of the polarization channel, bohr^3
        (0 without a transition); docs/model.md section 11."""
        if self.transition is None or self.excitation_energy <= 0:
            return 0.0
        return 2.0 * self.transition.dipole**2 / self.excitation_energy

    @property
    def ionization_energy(self) -> float:
        """I = E(+) - E(0), hartree."""
        return self.states["cation"].energy - self.states["neutral"].energy

    @property
    def electron_affinity(self) -> float:
        """A = E(0) - E(-), hartree (positive when the anion is bound)."""
        return self.states["neutral"].energy - self.states["anion"].energy

    @property
    def excitation_energy(self) -> float:
        """eps = E(*) - E(0), hartree."""
        return self.states["excited"].energy - self.states["neutral"].energy

    @property
    def electronegativity(self) -> float:
        """Mulliken chi = (I + A) / 2, hartree."""
        return 0.5 * (self.ionization_energy + self.electron_affinity)

    @property
    def hardness(self) -> float:
        """eta = I - A, hartree."""
        return self.ionization_energy - self.electron_affinity

    @property
    def decay_exponent(self) -> float:
        """Valence decay exponent zeta = sqrt(2 I), bohr^-1 (exact asymptotics of the density tail)."""
        return math.sqrt(2.0 * max(self.ionization_energy, 1e-3))


@dataclass(frozen=True)
class LatentLibrary:
    """The latent library: grids, level of theory and provenance, and one :class:`ElementEntry` per element."""

    level: dict
    r_grid: np.ndarray
    rhobar_grid: np.ndarray
    elements: dict[str, ElementEntry] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        """Element symbols in atomic-number order."""
        return sorted(self.elements, key=lambda s: self.elements[s].Z)

    def element(self, symbol: str) -> ElementEntry:
        """Return the entry of ``symbol`` or raise :class:`UnsupportedElementError` naming what exists."""
        try:
            return self.elements[symbol]
        except KeyError:
            raise UnsupportedElementError(
                f"element {symbol} is not in the latent library, which has {', '.join(self.symbols)}; "
                "add it with `lsip library build --elements ...`"
            ) from None

    def check_symbols(self, symbols: list[str] | tuple[str, ...]) -> None:
        """Raise :class:`UnsupportedElementError` listing every symbol missing from the library."""
        missing = sorted(set(symbols) - set(self.elements))
        if missing:
            raise UnsupportedElementError(
                f"element(s) {', '.join(missing)} not in the latent library, which has {', '.join(self.symbols)}; "
                "add them with `lsip library build --elements ...`"
            )


def _element_meta(entry: ElementEntry) -> dict:
    states = {}
    for label, st in entry.states.items():
        states[label] = {
            "n_electrons": st.n_electrons,
            "energy": st.energy,
            "configuration": st.configuration,
            "fit_error": st.fit_error,
            "converged": st.converged,
            "sphericity": st.sphericity,
            "spin": st.spin,
        }
    meta = {"Z": entry.Z, "flags": list(entry.flags), "states": states}
    if entry.transition is not None:
        tr = entry.transition
        meta["transition"] = {"label": tr.label, "dipole": tr.dipole, "fit_error": tr.fit_error}
    if entry.sp_dipole is not None:
        meta["sp_dipole"] = entry.sp_dipole
    if entry.core is not None:
        meta["core"] = {"n_electrons": entry.core.n_electrons, "shells": entry.core.shells,
                        "fit_error": entry.core.fit_error}
    return meta


def save_library(library: LatentLibrary, path: str | Path) -> Path:
    """Write ``library`` to ``path`` in the documented npz format (no pickle); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "level": library.level,
        "elements": {s: _element_meta(e) for s, e in library.elements.items()},
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps(meta, sort_keys=True)),
        "r_grid": np.asarray(library.r_grid, dtype=np.float64),
        "rhobar_grid": np.asarray(library.rhobar_grid, dtype=np.float64),
    }
    for sym, entry in library.elements.items():
        for label, st in entry.states.items():
            for name in ("radial_density", "gauss_coefficients", "gauss_exponents", "embedding"):
                arrays[f"{sym}/{label}/{name}"] = np.asarray(getattr(st, name), dtype=np.float64)
        if entry.transition is not None:
            for name in ("radial", "shape_coefficients", "shape_exponents"):
                arrays[f"{sym}/transition/{name}"] = np.asarray(getattr(entry.transition, name), dtype=np.float64)
        if entry.core is not None:
            for name in ("radial_density", "gauss_coefficients", "gauss_exponents"):
                arrays[f"{sym}/core/{name}"] = np.asarray(getattr(entry.core, name), dtype=np.float64)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


def load_library(path: str | Path | None = None) -> LatentLibrary:
    """Read a library written by :func:`save_library` (never unpickles).

    Raises
    ------
    LibraryError
        if the file is missing, not an npz archive, or of another format version.
    """
    path = Path(path) if path is not None else DEFAULT_LIBRARY_PATH
    if not path.is_file():
        raise LibraryError(f"latent library file not found: {path} (build one with `lsip library build`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
        meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise LibraryError(f"cannot read latent library {path}: {exc}") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise LibraryError(
            f"latent library {path} has format version {meta.get('format_version')}, expected {FORMAT_VERSION}"
        )
    elements = {}
    for sym, em in meta["elements"].items():
        states = {}
        for label in STATE_LABELS:
            sm = em["states"][label]
            states[label] = AtomicState(
                label=label,
                n_electrons=int(sm["n_electrons"]),
                energy=float(sm["energy"]),
                configuration=sm["configuration"],
                radial_density=data[f"{sym}/{label}/radial_density"],
                gauss_coefficients=data[f"{sym}/{label}/gauss_coefficients"],
                gauss_exponents=data[f"{sym}/{label}/gauss_exponents"],
                fit_error=float(sm["fit_error"]),
                embedding=data[f"{sym}/{label}/embedding"],
                converged=bool(sm.get("converged", True)),
                sphericity=float(sm.get("sphericity", 0.0)),
                spin=int(sm.get("spin", 0)),
            )
        transition = None
        if "transition" in em:
            tm = em["transition"]
            transition = Transition(label=tm["label"], dipole=float(tm["dipole"]),
                                    shape_coefficients=data[f"{sym}/transition/shape_coefficients"],
                                    shape_exponents=data[f"{sym}/transition/shape_exponents"],
                                    radial=data[f"{sym}/transition/radial"], fit_error=float(tm["fit_error"]))
        core = None
        if "core" in em:
            cm = em["core"]
            core = Core(n_electrons=int(cm["n_electrons"]), shells=str(cm["shells"]),
                        gauss_coefficients=data[f"{sym}/core/gauss_coefficients"],
                        gauss_exponents=data[f"{sym}/core/gauss_exponents"],
                        radial_density=data[f"{sym}/core/radial_density"], fit_error=float(cm["fit_error"]))
        elements[sym] = ElementEntry(symbol=sym, Z=int(em["Z"]), states=states, flags=tuple(em["flags"]),
                                     transition=transition, core=core,
                                     sp_dipole=float(em["sp_dipole"]) if "sp_dipole" in em else None)
    return LatentLibrary(level=meta["level"], r_grid=data["r_grid"], rhobar_grid=data["rhobar_grid"],
                         elements=elements)


@cache
def default_library() -> LatentLibrary:
    """The shipped library, loaded once per process."""
    return load_library(DEFAULT_LIBRARY_PATH)
