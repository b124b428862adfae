"""Teaching-mode helpers (no Streamlit): predict-then-reveal questions and charge labels. The gallery stories
that teaching mode shows are :func:`lsip.gallery.gallery_story`.

A predict-then-reveal question hides the model's answer until the learner has committed to a guess
("which atom is the most negative?"); :func:`judge_negative_guess` then explains the answer with numbers.
Ties (symmetric molecules such as H2) count every tied atom as right.

>>> import numpy as np
>>> most_negative_atoms(np.array([0.3, -0.6, 0.3]))
[1]
>>> most_negative_atoms(np.array([0.0, 0.0]))
[0, 1]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lsip.errors import StructureError
from lsip.structure import atom_label

#: Charges closer than this (e) count as equal when judging a guess.
TIE_TOLERANCE = 1e-3


def most_negative_atoms(charges: Sequence[float] | np.ndarray, tol: float = TIE_TOLERANCE) -> list[int]:
    """Indices of the atoms whose charge (e) is within ``tol`` of the most negative one."""
    q = np.asarray(charges, dtype=np.float64).reshape(-1)
    if q.size == 0:
        return []
    return [int(k) for k in np.nonzero(q <= q.min() + tol)[0]]


def judge_negative_guess(symbols: Sequence[str], charges: Sequence[float] | np.ndarray,
                         guess: int) -> tuple[bool, str]:
    """Whether atom ``guess`` is (one of) the most negative atoms, and a markdown explanation.

    Parameters
    ----------
    symbols : element symbols.  charges : (n,) model charges, e.  guess : 0-based atom index.

    Returns
    -------
    (correct, message)
    """
    q = np.asarray(charges, dtype=np.float64).reshape(-1)
    if not 0 <= guess < len(q):
        raise StructureError(f"atom index {guess} out of range 0..{len(q) - 1}")
    best = most_negative_atoms(q)
    labels = [atom_label(symbols, k) for k in best]
    answer = labels[0] if len(labels) == 1 else ", ".join(labels) + " (tied)"
    detail = f"the model puts q = {q[best[0]]:+.3f} e on {answer}"
    if guess in best:
        return True, f"**Right.** {detail[0].upper()}{detail[1:]}."
    return False, (f"**Not quite.** You chose {atom_label(symbols, guess)} (q = {q[guess]:+.3f} e), but {detail}. "
                   "The atom that binds an extra electron more strongly (larger electron affinity, "
                   "larger ionization energy) pulls charge towards itself.")


def atom_labels_with_charges(symbols: Sequence[str], charges: Sequence[float] | np.ndarray | None) -> list[str]:
    """Persistent 3D labels: ``"O0 -0.65"`` with charges, or just ``"O0"`` while the answer is hidden."""
    if charges is None:
        return [f"{s}{k}" for k, s in enumerate(symbols)]
    return [f"{s}{k} {float(q):+.2f}" for k, (s, q) in enumerate(zip(symbols, charges))]
