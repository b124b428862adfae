"""Figures of a geometry optimisation (:class:`lsip.workflows.relax.RelaxResult`; no Streamlit; docs/optimize.md).

* :func:`trajectory_figure` - energy (relative to the start, eV) and largest force (eV/Å, log scale, with the
  threshold) against the optimizer step;
* :func:`relaxed_view` - the relaxed structure in 3D, laid onto the start by the best rotation (molecules), with
  the start drawn faintly and the forces on the start atoms as arrows (they point where the atoms went);
* :func:`force_rows` - per atom the force at the start and at the end, and how far the atom moved;
* :func:`bond_rows` - the bond-length table (start, model-relaxed, DFT-relaxed when there is one) with its column
  names as shown on screen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lsip.structure import atom_label
from lsip.viz.latent3d import FORCE_COLOR, view_arrow
from lsip.viz.molview import MoleculeView, molecule_view, xyz_block
from lsip.workflows.relax import RelaxResult, kabsch_align

#: Style of the faint start geometry under the relaxed one.
START_STYLE = {"stick": {"radius": 0.06, "opacity": 0.35, "color": "#888888"},
               "sphere": {"scale": 0.12, "opacity": 0.35, "color": "#888888"}}
#: Longest force arrow (angstrom) and the smallest force drawn (eV/angstrom).
ARROW_MAX_LENGTH = 1.2
ARROW_MIN_FORCE = 0.02


def trajectory_figure(result: RelaxResult, font_size: int = 13) -> go.Figure:
    """Energy relative to the start (eV, top) and the largest force (eV/Å, log scale, bottom) against the step;
    a dashed line marks the force threshold."""
    steps = [s.step for s in result.trajectory]
    energy = result.energies_eV - (result.energies_eV[0] if len(steps) else 0.0)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Energy relative to the start", "Largest force on any atom"))
    fig.add_scatter(x=steps, y=energy.tolist(), mode="lines+markers", name="E - E(start)", row=1, col=1,
                    hovertemplate="step %{x}<br>ΔE = %{y:.5f} eV<extra></extra>")
    fig.add_scatter(x=steps, y=result.fmax_eV_A.tolist(), mode="lines+markers", name="max |F|", row=2, col=1,
                    hovertemplate="step %{x}<br>max |F| = %{y:.4f} eV/Å<extra></extra>")
    fig.add_hline(y=result.fmax, line_dash="dash", line_color="#d62728", row=2, col=1,
                  annotation_text=f"threshold {result.fmax:g} eV/Å", annotation_position="top right")
    fig.update_yaxes(title_text="ΔE / eV", row=1, col=1)
    fig.update_yaxes(title_text="max |F| / eV Å⁻¹", type="log", row=2, col=1)
    fig.update_xaxes(title_text="optimizer step", row=2, col=1)
    status = "converged" if result.converged else "NOT converged"
    fig.update_layout(title=f"{result.optimizer}: {result.n_steps} steps, {status}", showlegend=False, height=520,
                      font={"size": font_size}, margin={"l": 60, "r": 20, "t": 70, "b": 40},
                      template="plotly_white")
    return fig


def display_positions(result: RelaxResult) -> np.ndarray:
    """Final positions as drawn: laid onto the start by the best rotation and translation (molecules; a periodic
    structure is drawn as it is)."""
    if result.periodic or result.final.n_atoms < 2:
        return result.final.positions
    return kabsch_align(result.final, result.start)


def force_arrows(positions: np.ndarray, forces: np.ndarray, symbols: tuple[str, ...],
                 max_length: float = ARROW_MAX_LENGTH,
                 min_force: float = ARROW_MIN_FORCE) -> list[tuple[np.ndarray, np.ndarray, float, str]]:
    """One arrow per atom along ``forces`` (eV/Å) from ``positions`` (Å): (start, end, radius, hover).

    The longest is ``max_length`` Å, the others to scale; forces below ``min_force`` eV/Å get none.
    """
    f = np.asarray(forces, dtype=np.float64)
    norm = np.linalg.norm(f, axis=1)
    top = float(norm.max()) if len(norm) else 0.0
    out = []
    for k in np.nonzero(norm >= min_force)[0]:
        u = f[k] / norm[k]
        start = positions[k] + 0.2 * u
        out.append((start, start + max_length * norm[k] / top * u, 0.06,
                    f"{atom_label(symbols, k)} at the start: |F| = {norm[k]:.3f} eV/Å"))
    return out


def relaxed_view(result: RelaxResult, height: int = 420, font_size: int = 12,
                 camera_key: str | None = None) -> MoleculeView:
    """The relaxed structure (element colours) over the faint start geometry, with the start forces as arrows.

    Hovering a relaxed atom gives how far it moved (after the best rotation) and its final force.
    """
    pos = display_positions(result)
    final = result.final.with_positions(pos)
    moved = np.linalg.norm(pos - result.start.positions, axis=1)
    f_end = result.final_forces if result.final_forces is not None else np.zeros_like(pos)
    hovers = [f"{atom_label(final.symbols, k)}  moved {moved[k]:.3f} Å\\nfinal |F| = "
              f"{float(np.linalg.norm(f_end[k])):.3f} eV/Å" for k in range(final.n_atoms)]
    mv = molecule_view(final, height=height, font_size=font_size, camera_key=camera_key, hover_texts=hovers,
                       png_name="lsip-relaxed")
    mv.view.addModel(xyz_block(result.start), "xyz")
    mv.view.setStyle({"model": 1}, START_STYLE)
    if result.start_forces is not None:
        for start, end, radius, hover in force_arrows(result.start.positions, result.start_forces,
                                                      result.start.symbols):
            view_arrow(mv.view, start, end, radius, FORCE_COLOR, hover)
    return mv


def force_rows(result: RelaxResult) -> list[dict[str, Any]]:
    """Per atom: |F| at the start and at the final geometry (eV/Å) and how far it moved (Å, after the best
    rotation); empty when the start had no model solution."""
    if result.start_forces is None or result.final_forces is None:
        return []
    start = np.linalg.norm(result.start_forces, axis=1)
    final = np.linalg.norm(result.final_forces, axis=1)
    moved = np.linalg.norm(display_positions(result) - result.start.positions, axis=1)
    return [{"atom": atom_label(result.start.symbols, k), "|F| start (eV/Å)": round(float(start[k]), 4),
             "|F| relaxed (eV/Å)": round(float(final[k]), 4), "moved (Å)": round(float(moved[k]), 4)}
            for k in range(result.start.n_atoms)]


def bond_rows(result: RelaxResult) -> list[dict[str, Any]]:
    """The bond table as shown: lengths in Å rounded to 1e-4, DFT columns only when there is a reference."""
    ref = result.reference is not None
    rows = []
    for r in result.bonds():
        row: dict[str, Any] = {"bond": r["bond"], "start (Å)": round(r["start_A"], 4),
                               "model-relaxed (Å)": round(r["relaxed_A"], 4), "change (Å)": round(r["change_A"], 4)}
        if ref:
            row["DFT-relaxed (Å)"] = round(r["reference_A"], 4)
            row["model − DFT (Å)"] = round(r["relaxed_minus_reference_A"], 4)
        row["note"] = {"formed": "bonded only after relaxation", "broken": "bonded only at the start"}.get(
            r["status"], "")
        rows.append(row)
    return rows
