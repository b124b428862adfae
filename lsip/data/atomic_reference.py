"""Experimental atomic reference data and the electron configurations of the latent-library states.

Every table is keyed by element symbol and cites its source. Energies are kept in the units of the source
(eV, or cm^-1 for level energies) and converted with :mod:`lsip.units` only in :func:`atomic_reference`.

Configurations
--------------
Each element has four states (``STATE_LABELS`` of :mod:`lsip.model.library`): cation, neutral, anion and
excited neutral. The cation, neutral and anion use their experimental ground configurations (for unbound
anions the configuration the extra electron would occupy). The excited neutral is the lowest *valence
promotion* (docs/library.md, "Occupations": a promoted valence state, p-like where possible so that it can
later carry polarization):

* ns -> np for one-valence-electron atoms (H 1s->2p, Li, Na, K); ns2 -> ns np for Be, Mg, Ca;
* ns2 np^k -> ns np^(k+1) for groups 13-15 (B, Al; C, Si; N, P): the sp-promoted valence states of
  bonding chemistry (C 2s 2p3 5S is the classic sp3 valence state);
* np^k -> np^(k-1) (n+1)s for groups 16-17 (O, S; F, Cl): ns np^(k+1) is impossible (closed np shell) or
  lies far higher, so the lowest excited configuration of the atom is used (the 2p->3s Rydberg-valence
  promotion; O 2p3 3s 5S is the lowest O I level above the 2p4 term).

H: 2s and 2p are degenerate; 2p is chosen (decision) so that the state is p-like. Each configuration is
taken at its highest spin (Hund's first rule): every open subshell holds as many alpha electrons as it can.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsip.units import INV_CM_TO_EV

#: Atomic numbers of the supported elements.
ATOMIC_NUMBER: dict[str, int] = {
    "H": 1, "Li": 3, "Be": 4, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Na": 11, "Mg": 12, "Al": 13,
    "Si": 14, "P": 15, "S": 16, "Cl": 17, "K": 19, "Ca": 20,
}

#: First ionization energies, eV. Source: NIST Atomic Spectra Database, Ionization Energies
#: (A. Kramida, Yu. Ralchenko, J. Reader and NIST ASD Team, NIST ASD v5.11, 2023,
#: https://physics.nist.gov/asd), as also tabulated in the CRC Handbook of Chemistry and Physics,
#: "Ionization energies of atoms and atomic ions".
IONIZATION_ENERGY_EV: dict[str, float] = {
    "H": 13.598434599702, "Li": 5.391714996, "Be": 9.322699, "B": 8.298019, "C": 11.2602880,
    "N": 14.53413, "O": 13.618055, "F": 17.42282, "Na": 5.1390769, "Mg": 7.646236, "Al": 5.985769,
    "Si": 8.15168, "P": 10.486686, "S": 10.36001, "Cl": 12.967633, "K": 4.34066373, "Ca": 6.11315547,
}

#: Electron affinities, eV; ``None`` where the anion is unbound (no stable anion exists).
#: Source: CRC Handbook of Chemistry and Physics, "Electron affinities" (T. Andersen, H. K. Haugen and
#: H. Hotop, J. Phys. Chem. Ref. Data 28, 1511 (1999), with later updates; Ca from Petrunin et al.,
#: Phys. Rev. Lett. 76, 2886 (1996): 0.02455 eV, a very weakly bound 4s2 4p 2P anion).
ELECTRON_AFFINITY_EV: dict[str, float | None] = {
    "H": 0.754195, "Li": 0.618049, "Be": None, "B": 0.279723, "C": 1.262119, "N": None,
    "O": 1.4611053, "F": 3.4011898, "Na": 0.547926, "Mg": None, "Al": 0.43283, "Si": 1.3895220,
    "P": 0.7465, "S": 2.0771029, "Cl": 3.612724, "K": 0.501459, "Ca": 0.02455,
}

#: Elements whose anion is unbound in reality (CRC / Andersen et al. 1999: Be-, N-, Mg- have no bound
#: state; noble gases likewise, but none is in this table). Ca- is bound by only 0.02455 eV and is kept as
#: bound.
ANION_UNBOUND: frozenset[str] = frozenset({"Be", "N", "Mg"})

#: Ground configurations of cation, neutral and anion, and the excited-neutral configuration.
#: Noble-gas cores are written in brackets; "" is the empty configuration (H+).
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "H": {"cation": "", "neutral": "1s1", "anion": "1s2", "excited": "2p1"},
    "Li": {"cation": "[He]", "neutral": "[He] 2s1", "anion": "[He] 2s2", "excited": "[He] 2p1"},
    "Be": {"cation": "[He] 2s1", "neutral": "[He] 2s2", "anion": "[He] 2s2 2p1",
           "excited": "[He] 2s1 2p1"},
    "B": {"cation": "[He] 2s2", "neutral": "[He] 2s2 2p1", "anion": "[He] 2s2 2p2",
          "excited": "[He] 2s1 2p2"},
    "C": {"cation": "[He] 2s2 2p1", "neutral": "[He] 2s2 2p2", "anion": "[He] 2s2 2p3",
          "excited": "[He] 2s1 2p3"},
    "N": {"cation": "[He] 2s2 2p2", "neutral": "[He] 2s2 2p3", "anion": "[He] 2s2 2p4",
          "excited": "[He] 2s1 2p4"},
    "O": {"cation": "[He] 2s2 2p3", "neutral": "[He] 2s2 2p4", "anion": "[He] 2s2 2p5",
          "excited": "[He] 2s2 2p3 3s1"},
    "F": {"cation": "[He] 2s2 2p4", "neutral": "[He] 2s2 2p5", "anion": "[He] 2s2 2p6",
          "excited": "[He] 2s2 2p4 3s1"},
    "Na": {"cation": "[Ne]", "neutral": "[Ne] 3s1", "anion": "[Ne] 3s2", "excited": "[Ne] 3p1"},
    "Mg": {"cation": "[Ne] 3s1", "neutral": "[Ne] 3s2", "anion": "[Ne] 3s2 3p1",
           "excited": "[Ne] 3s1 3p1"},
    "Al": {"cation": "[Ne] 3s2", "neutral": "[Ne] 3s2 3p1", "anion": "[Ne] 3s2 3p2",
           "excited": "[Ne] 3s1 3p2"},
    "Si": {"cation": "[Ne] 3s2 3p1", "neutral": "[Ne] 3s2 3p2", "anion": "[Ne] 3s2 3p3",
           "excited": "[Ne] 3s1 3p3"},
    "P": {"cation": "[Ne] 3s2 3p2", "neutral": "[Ne] 3s2 3p3", "anion": "[Ne] 3s2 3p4",
          "excited": "[Ne] 3s1 3p4"},
    "S": {"cation": "[Ne] 3s2 3p3", "neutral": "[Ne] 3s2 3p4", "anion": "[Ne] 3s2 3p5",
          "excited": "[Ne] 3s2 3p3 4s1"},
    "Cl": {"cation": "[Ne] 3s2 3p4", "neutral": "[Ne] 3s2 3p5", "anion": "[Ne] 3s2 3p6",
           "excited": "[Ne] 3s2 3p4 4s1"},
    "K": {"cation": "[Ar]", "neutral": "[Ar] 4s1", "anion": "[Ar] 4s2", "excited": "[Ar] 4p1"},
    "Ca": {"cation": "[Ar] 4s1", "neutral": "[Ar] 4s2", "anion": "[Ar] 4s2 4p1",
           "excited": "[Ar] 4s1 4p1"},
}

#: Experimental energy of the excited configuration: (lowest level of its highest-spin term, cm^-1 above
#: the ground level, term label), or ``None`` where we are not confident of the assignment.
#: Source: NIST Atomic Spectra Database, Levels (Kramida et al., NIST ASD v5.11, 2023), which compiles
#: Moore (NSRDS-NBS 35) and the J. Phys. Chem. Ref. Data critical compilations (Martin & Zalubas: Na 1981,
#: Mg 1980, Al 1979, Si 1983; Sugar & Corliss: K, Ca 1985; Kramida: H 2010). Fine-structure spread of each
#: term is < 0.03 eV except where noted in docs/library.md. P 3s 3p4 4P is strongly mixed with 3s2 3p2 3d
#: and is left as None.
EXCITED_LEVEL_CM: dict[str, tuple[float, str] | None] = {
    "H": (82258.92, "2p 2P1/2"),
    "Li": (14903.66, "2p 2P1/2"),
    "Be": (21978.28, "2s2p 3P0"),
    "B": (28805.98, "2s2p2 4P1/2"),
    "C": (33735.20, "2s2p3 5S2"),
    "N": (88107.26, "2s2p4 4P5/2"),
    "O": (73768.20, "2p3(4S)3s 5S2"),
    "F": (102405.71, "2p4(3P)3s 4P5/2"),
    "Na": (16956.17, "3p 2P1/2"),
    "Mg": (21850.41, "3s3p 3P0"),
    "Al": (29020.41, "3s3p2 4P1/2"),
    "Si": (33326.05, "3s3p3 5S2"),
    "P": None,
    "S": (52623.64, "3p3(4S)4s 5S2"),
    "Cl": (71958.36, "3p4(3P)4s 4P5/2"),
    "K": (12985.19, "4p 2P1/2"),
    "Ca": (15157.90, "4s4p 3P0"),
}


@dataclass(frozen=True)
class AtomicReference:
    """Experimental data and state configurations of one element (energies in eV)."""

    symbol: str
    Z: int
    ionization_energy_ev: float
    electron_affinity_ev: float | None
    anion_unbound: bool
    configurations: dict[str, str]
    excitation_energy_ev: float | None
    excited_term: str | None


def supported_elements() -> list[str]:
    """Symbols with reference data, in atomic-number order."""
    return sorted(ATOMIC_NUMBER, key=ATOMIC_NUMBER.__getitem__)


def atomic_reference(symbol: str) -> AtomicReference:
    """Return the :class:`AtomicReference` of ``symbol``.

    Raises
    ------
    KeyError
        if the element has no reference data (callers turn this into a user-facing error).

    >>> atomic_reference("O").configurations["excited"]
    '[He] 2s2 2p3 3s1'
    """
    level = EXCITED_LEVEL_CM[symbol]
    return AtomicReference(
        symbol=symbol,
        Z=ATOMIC_NUMBER[symbol],
        ionization_energy_ev=IONIZATION_ENERGY_EV[symbol],
        electron_affinity_ev=ELECTRON_AFFINITY_EV[symbol],
        anion_unbound=symbol in ANION_UNBOUND,
        configurations=dict(CONFIGURATIONS[symbol]),
        excitation_energy_ev=None if level is None else level[0] * INV_CM_TO_EV,
        excited_term=None if level is None else level[1],
    )
