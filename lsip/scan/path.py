"""Bond stretching / fragment separation scans, warm-started along the path.

``scan_structures`` moves atom J - together with everything bonded to J once the I-J bond is cut, when that
splits the molecule in two - along the I->J axis so that R_IJ takes each requested value. Bonds are found
from covalent radii (``ase.data.covalent_radii`` x 1.2).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.data import covalent_radii

from lsip.errors import LSIPError
from lsip.structure import Structure


def bond_graph(structure: Structure, scale: float = 1.2) -> list[set[int]]:
    """Adjacency sets from covalent radii (distance < scale * (r_i + r_j))."""
    rad = covalent_radii[structure.numbers]
    d = np.linalg.norm(structure.positions[:, None] - structure.positions[None], axis=-1)
    adj = (d < scale * (rad[:, None] + rad[None, :])) & ~np.eye(structure.n_atoms, dtype=bool)
    return [set(np.nonzero(row)[0].tolist()) for row in adj]


def moving_fragment(structure: Structure, i: int, j: int) -> list[int]:
    """Atoms that move with J when the I-J bond is stretched (J alone if I and J stay connected)."""
    graph = bond_graph(structure)
    graph[i].discard(j)
    graph[j].discard(i)
    seen, stack = {j}, [j]
    while stack:
        for nb in graph[stack.pop()]:
            if nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return [j] if i in seen else sorted(seen)


def scan_structures(structure: Structure, i: int, j: int, distances: np.ndarray) -> tuple[list[Structure], list[int]]:
    """Structures with R_IJ = each of ``distances`` (angstrom) and the list of moved atoms."""
    n = structure.n_atoms
    if not (0 <= i < n and 0 <= j < n) or i == j:
        raise LSIPError(f"scan atoms must be two different indices in 0..{n - 1}, got {i} and {j}")
    if np.any(np.asarray(distances) <= 0.3):
        raise LSIPError("scan distances must be larger than 0.3 angstrom")
    axis = structure.positions[j] - structure.positions[i]
    r0 = float(np.linalg.norm(axis))
    axis = axis / r0
    moved = moving_fragment(structure, i, j)
    out = []
    for r in np.asarray(distances, dtype=float):
        pos = structure.positions.copy()
        pos[moved] += (r - r0) * axis
        out.append(structure.with_positions(pos))
    return out, moved


def predict_along(model: Any, structures: list[Structure], *,
                  progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> list:
    """``model.predict`` at every structure of a path, each warm-started from the previous point's latent.

    The one scan loop of the package (app, CLI, validation). ``kwargs`` go to ``predict`` (``forces``,
    ``raise_on_failure``); the default here is ``raise_on_failure=False`` so one bad point does not lose the
    others (its ``converged`` flag says so). ``progress(k, n)`` is called after point k of n (1-based).
    """
    kwargs.setdefault("raise_on_failure", False)
    out, guess = [], None
    for k, st in enumerate(structures, start=1):
        pred = model.predict(st, guess=guess, **kwargs)
        out.append(pred)
        guess = pred.latent
        if progress is not None:
            progress(k, len(structures))
    return out


#: Spacing (angstrom) at which a remaining energy or charge step counts as a discontinuity.
FINE_STEP = 0.005
#: At FINE_STEP spacing: largest |dE - trapezoid of the force| (eV) and largest charge step (e) of a continuous path.
JUMP_ENERGY_EV = 1e-3
JUMP_CHARGE_E = 0.2


@dataclass(frozen=True)
class PathContinuity:
    """Is the energy (with its force) and every charge continuous along a scan? (docs/model.md, "Continuity")

    Attributes
    ----------
    distances : every point checked, sorted (angstrom): the scan's plus the refinement's.
    energy_step_eV : largest |E_k+1 - E_k| between neighbouring points.
    charge_step : largest |q_k+1 - q_k| of any atom, e.
    force_mismatch_eV : largest |E_k+1 - E_k + (F_k + F_k+1)/2 dR| (the force against the energy's slope).
    jumps : (R_a, R_b, what) intervals no wider than ``FINE_STEP`` where a step remains (a discontinuity).
    unresolved : suspicious intervals left unrefined because the evaluation budget ran out.
    extra_points : predictions the refinement made.
    """

    distances: np.ndarray
    energy_step_eV: float
    charge_step: float
    force_mismatch_eV: float
    jumps: list[tuple[float, float, str]]
    unresolved: list[tuple[float, float]]
    extra_points: int

    @property
    def passed(self) -> bool:
        """No discontinuity found and nothing left unchecked."""
        return not self.jumps and not self.unresolved

    @property
    def message(self) -> str:
        """One sentence for people."""
        if self.jumps:
            where = "; ".join(f"{what} between {a:.3f} and {b:.3f} Å" for a, b, what in self.jumps[:3])
            return f"The curve is NOT continuous: {where}."
        if self.unresolved:
            a, b = self.unresolved[0]
            return (f"Continuity not verified between {a:.3f} and {b:.3f} Å (refinement budget spent); "
                    "run a finer scan there.")
        return (f"Energy, force and charges are continuous (checked down to {FINE_STEP} Å where the curve bends "
                f"fast; largest force-vs-slope mismatch {self.force_mismatch_eV:.1e} eV).")


def _path_force(pred: Any, moved: list[int], axis: np.ndarray) -> float:
    """dE/dR of the scan coordinate (eV/angstrom): minus the moved fragment's force along the axis."""
    from lsip.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM

    f = pred.forces.detach().cpu().numpy()[moved].sum(axis=0)
    return -float(f @ axis) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM


def path_continuity(model: Any, frames: list[Structure], distances: np.ndarray, moved: list[int],
                    predictions: list | None = None, max_extra: int = 64) -> PathContinuity:
    """Check a scan for energy, force and charge steps, bisecting suspicious intervals down to ``FINE_STEP``.

    ``frames`` are the scan's structures at ``distances`` (angstrom; a straight path, as
    :func:`scan_structures` makes), ``moved`` the atoms that move. An interval is suspicious when its energy
    change disagrees with the trapezoid of the path force by more than ``JUMP_ENERGY_EV`` plus a smooth-curve
    allowance, or a charge changes by more than ``JUMP_CHARGE_E``. Smooth curves lose the disagreement as h^3
    when bisected; a jump keeps it. What is still above the thresholds at a width <= ``FINE_STEP`` is reported
    as a jump. At most ``max_extra`` extra predictions are made (the midpoint geometry is the average of the
    interval's ends, exact on a straight path).
    """
    from lsip.units import HARTREE_TO_EV

    dist = np.asarray(distances, dtype=np.float64).reshape(-1)
    if len(dist) != len(frames) or len(dist) < 2:
        raise LSIPError("path_continuity needs one frame per distance and at least two points")
    preds = list(predictions) if predictions is not None else predict_along(model, frames)
    k_min, k_max = int(np.argmin(dist)), int(np.argmax(dist))
    axis = frames[k_max].positions[moved[0]] - frames[k_min].positions[moved[0]]
    axis = axis / max(float(np.linalg.norm(axis)), 1e-300)
    points = {float(r): p for r, p in zip(dist, preds)}
    geoms = {float(r): f for r, f in zip(dist, frames)}
    budget = [max_extra]
    jumps: list[tuple[float, float, str]] = []
    unresolved: list[tuple[float, float]] = []

    def measures(a: float, b: float) -> tuple[float, float, float]:
        pa, pb = points[a], points[b]
        de = (pb.energy - pa.energy) * HARTREE_TO_EV
        slope = 0.5 * (_path_force(pa, moved, axis) + _path_force(pb, moved, axis)) * (b - a)
        dq = float(np.max(np.abs(pb.charges.numpy() - pa.charges.numpy()))) if len(pa.charges) else 0.0
        return de, abs(de - slope), dq

    def check(a: float, b: float) -> None:
        de, mismatch, dq = measures(a, b)
        width = b - a
        if width <= FINE_STEP * (1 + 1e-9):
            if mismatch > JUMP_ENERGY_EV:
                jumps.append((a, b, f"energy step {de:+.3f} eV ({mismatch:.3f} eV more than the force explains)"))
            elif dq > JUMP_CHARGE_E:
                jumps.append((a, b, f"charge step {dq:.3f} e"))
            return
        # smooth-curve allowance: a trapezoid error of a few meV at 0.1 A grows as h^3
        allowance = JUMP_ENERGY_EV + 0.05 * abs(de) + 2.0 * (width / 0.1) ** 3 * 1e-3
        if mismatch <= allowance and dq <= JUMP_CHARGE_E:
            return
        if budget[0] <= 0:
            unresolved.append((a, b))
            return
        mid = 0.5 * (a + b)
        geoms[mid] = geoms[a].with_positions(0.5 * (geoms[a].positions + geoms[b].positions))
        points[mid] = model.predict(geoms[mid], guess=points[a].latent, raise_on_failure=False)
        budget[0] -= 1
        check(a, mid)
        check(mid, b)

    order = np.argsort(dist)
    for k in range(len(order) - 1):
        a, b = float(dist[order[k]]), float(dist[order[k + 1]])
        if b > a:
            check(a, b)
    rs = sorted(points)
    steps = [measures(a, b) for a, b in itertools.pairwise(rs)]
    return PathContinuity(
        distances=np.array(rs), energy_step_eV=max((abs(s[0]) for s in steps), default=0.0),
        charge_step=max((s[2] for s in steps), default=0.0), force_mismatch_eV=max((s[1] for s in steps), default=0.0),
        jumps=jumps, unresolved=unresolved, extra_points=max_extra - budget[0])


def dissociation_range(model: Any, structure: Structure, i: int, j: int,
                       longest: float = 30.0) -> tuple[float, float]:
    """Default scan range (angstrom) that reaches the separated limit of the I-J pair.

    From 0.75 R0 (at least 0.4 Å) to the larger of R0 + 6 Å and 0.5 Å past the pair's channel range (an ionic
    pair stays ionic up to its crossing, docs/model.md "Channel range"), at most ``longest``.
    """
    from lsip.units import BOHR_TO_ANGSTROM

    r0 = float(np.linalg.norm(structure.positions[j] - structure.positions[i]))
    reach = model.tables.channel_cutoff(structure.symbols[i], structure.symbols[j]) * BOHR_TO_ANGSTROM + 0.5
    return round(max(0.4, 0.75 * r0), 2), round(min(max(r0 + 6.0, reach), longest), 2)
