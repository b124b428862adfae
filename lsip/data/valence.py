"""Valence counts from the periodic table (docs/model.md section 10): how many covalent bonds an electron count
can form, and which fraction of its valence electrons can pair with a neighbour's."""

from __future__ import annotations


def valence_electrons(n_electrons: int) -> int:
    """Valence electrons of an atom or ion with ``n_electrons`` electrons (its isoelectronic element; closed
    shells count 8, or 2 for the He shell; none for zero electrons).

    >>> [valence_electrons(n) for n in (0, 1, 2, 3, 6, 10, 11, 18, 19, 20)]
    [0, 1, 2, 1, 4, 8, 1, 8, 1, 2]
    """
    if n_electrons <= 2:
        return n_electrons
    if n_electrons <= 18:
        return (n_electrons - 2) % 8 or 8
    return n_electrons - 18 if n_electrons <= 20 else 2


def valence_for_electrons(n_electrons: int) -> int:
    """Covalent bonds an atom or ion with ``n_electrons`` electrons can form: min(n_v, 8 - n_v) (He shell:
    min(n_v, 2 - n_v)); zero for closed shells and for no electrons."""
    n_v = valence_electrons(n_electrons)
    return min(n_v, 2 - n_v) if n_electrons <= 2 else min(n_v, 8 - n_v)


def pairing_fraction(n_electrons: int) -> float:
    """Fraction of the valence electrons that are unpaired, nu / n_v: 1 for H, Li, C; 3/5 for N; 0 for closed
    shells (Li+, F-, Na+, Cl-: their density cannot pair with a neighbour's and pays the full Pauli cost).

    >>> [round(pairing_fraction(n), 3) for n in (1, 2, 6, 7, 8, 9, 10)]
    [1.0, 0.0, 1.0, 0.6, 0.333, 0.143, 0.0]
    """
    n_v = valence_electrons(n_electrons)
    return valence_for_electrons(n_electrons) / n_v if n_v else 0.0


def lone_pairs(n_electrons: int) -> float:
    """Lone pairs of an atom or ion with ``n_electrons`` electrons: its valence electrons not used by its nu bonds,
    in pairs, (n_v - nu) / 2 (docs/model.md section 10.8).

    >>> [lone_pairs(n) for n in (1, 4, 5, 6, 7, 8, 9, 10, 16)]
    [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 2.0]
    """
    return (valence_electrons(n_electrons) - valence_for_electrons(n_electrons)) / 2


def period(z: int) -> int:
    """Row of the periodic table of element ``z`` (1-20 and beyond: 4).

    >>> [period(z) for z in (1, 2, 3, 10, 11, 18, 19, 36)]
    [1, 1, 2, 2, 3, 3, 4, 4]
    """
    return 1 if z <= 2 else 2 if z <= 10 else 3 if z <= 18 else 4
