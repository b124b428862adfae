"""The validation set: committed geometries under ``assets/validation/`` and the dissociation scans.

Starting geometries come from ``scripts/make_validation_set.py`` (RDKit ETKDG + MMFF94/UFF, hand-built ionic
diatomics at experimental distances); ``scripts/relax_validation_set.py`` then relaxed every one at the
reference level, PBE0/def2-SVP (PySCF + geomeTRIC), recording energy changes and displacements in
``assets/validation/relaxation.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsip import paths
from lsip.errors import LSIPError
from lsip.io import read_structure
from lsip.structure import Structure

#: Folder of the committed xyz files.
VALIDATION_DIR = paths.VALIDATION_DIR

#: Elements of the latent library that the set must cover.
LIBRARY_ELEMENTS: tuple[str, ...] = ("H", "Li", "Be", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S",
                                     "Cl", "K", "Ca")

#: Ground-state 2S of the free neutral atoms (for DFT atomization energies).
ATOM_SPIN: dict[str, int] = {"H": 1, "Li": 1, "Be": 0, "B": 1, "C": 2, "N": 3, "O": 2, "F": 1, "Na": 1, "Mg": 0,
                             "Al": 1, "Si": 2, "P": 3, "S": 2, "Cl": 1, "K": 1, "Ca": 0}

#: Category of each entry (for grouped statistics): ionic diatomics/salts, covalent neutrals, molecular ions,
#: complexes (donor-acceptor, hydrogen bonded).
CATEGORIES: dict[str, str] = {
    **{k: "ionic" for k in ("lih", "lif", "licl", "naf", "nacl", "kf", "kcl", "beo", "mgo", "cao", "alf", "beh2",
                            "bef2", "mgf2", "mgcl2", "cacl2", "koh", "alf3", "alcl3")},
    **{k: "ion" for k in ("oh-", "nh4+", "h3o+", "hcoo-", "ch3coo-", "cn-", "hs-", "no3-", "bf4-", "ch3nh3+")},
    **{k: "complex" for k in ("h3n_bh3", "water_dimer")},
}

#: The --quick set (CI): a polar covalent molecule, an ionic diatomic, a cation and an anion.
QUICK_SET: tuple[str, ...] = ("h2o", "lif", "nh4+", "oh-")


@dataclass(frozen=True)
class ScanSpec:
    """One dissociation curve: stretch atoms ``i``-``j`` of validation entry ``molecule`` over ``distances`` (A)."""

    name: str
    molecule: str
    i: int
    j: int
    distances: tuple[float, ...]


#: The dissociation curves (8 points each, equilibrium to ~3x equilibrium and beyond).
SCANS: tuple[ScanSpec, ...] = (
    ScanSpec("H2", "h2", 0, 1, (0.55, 0.74, 1.0, 1.4, 2.0, 2.8, 4.0, 6.0)),
    ScanSpec("LiH", "lih", 0, 1, (1.2, 1.6, 2.0, 2.6, 3.4, 4.5, 6.0, 8.0)),
    ScanSpec("LiF", "lif", 0, 1, (1.3, 1.56, 2.0, 2.6, 3.4, 4.5, 6.0, 8.0)),
    ScanSpec("NaCl", "nacl", 0, 1, (2.0, 2.36, 2.9, 3.6, 4.5, 6.0, 8.0, 10.0)),
    ScanSpec("HF", "hf", 0, 1, (0.7, 0.92, 1.2, 1.6, 2.2, 3.0, 4.5, 6.0)),
    ScanSpec("H2O (one O-H)", "h2o", 0, 1, (0.75, 0.96, 1.2, 1.6, 2.2, 3.0, 4.5, 6.0)),
    ScanSpec("H3N-BH3 (B-N)", "h3n_bh3", 0, 1, (1.4, 1.6, 1.9, 2.3, 2.9, 3.8, 5.0, 7.0)),
)

#: The --quick scan: H2 at equilibrium and stretched (where broken-symmetry UKS must beat RKS).
QUICK_SCANS: tuple[ScanSpec, ...] = (ScanSpec("H2", "h2", 0, 1, (0.74, 4.0)),)


def available() -> list[str]:
    """Names of every committed validation geometry (sorted)."""
    return sorted(p.stem for p in VALIDATION_DIR.glob("*.xyz"))


def category(name: str) -> str:
    """Category of an entry: ``ionic``, ``ion``, ``complex`` or ``covalent``."""
    return CATEGORIES.get(name, "covalent")


def load(name: str) -> Structure:
    """The structure of validation entry ``name`` (charge from the xyz comment line).

    Raises
    ------
    LSIPError
        when no such entry exists.
    """
    path = VALIDATION_DIR / f"{name}.xyz"
    if not path.is_file():
        raise LSIPError(f"no validation geometry {name!r} in {VALIDATION_DIR} (have: {', '.join(available())})")
    st = read_structure(path, "xyz")
    return Structure(st.symbols, st.positions, st.charge, None, name=name, info={"category": category(name)})


def load_set(names: list[str] | tuple[str, ...] | None = None) -> list[Structure]:
    """Structures of ``names`` (default: the whole set)."""
    return [load(n) for n in (names if names is not None else available())]


def covered_elements(structures: list[Structure]) -> set[str]:
    """Set of element symbols present in ``structures``."""
    return {s for st in structures for s in st.symbols}


def free_atom(symbol: str) -> Structure:
    """A free neutral atom in its ground-state spin (:data:`ATOM_SPIN`), at the origin."""
    return Structure((symbol,), np.zeros((1, 3)), 0, ATOM_SPIN[symbol], name=f"atom {symbol}")
