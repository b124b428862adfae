"""Tables and figures of the Diagnostics page (no Streamlit): invariant checks, solver trace, baseline charges.

Inputs are atomic units (hartree, e, e bohr); outputs are in eV, e and debye.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lsip.diagnostics import CheckResult
from lsip.units import E_BOHR_TO_DEBYE, HARTREE_TO_EV
from lsip.viz.figures import atom_labels


def checks_table(results: Sequence[CheckResult]) -> pd.DataFrame:
    """One row per check: status (pass / FAIL / skipped), name, value, tolerance, detail."""
    rows = [{"status": "skipped" if r.skipped else ("pass" if r.passed else "FAIL"), "check": r.name,
             "value": r.value, "tolerance": r.tolerance, "detail": r.detail} for r in results]
    return pd.DataFrame(rows, columns=["status", "check", "value", "tolerance", "detail"])


def solver_trace_figure(trace: Sequence[tuple[int, float, float]], tol: float | None = None,
                        font_size: int = 13) -> go.Figure:
    """Energy (eV, top) and KKT residual (hartree, log axis, bottom) per solver iteration.

    Parameters
    ----------
    trace : (iteration, total energy in hartree, max KKT residual in hartree) per iteration.
    tol : the solver's convergence threshold, drawn as a dashed line on the residual panel.
    """
    it = [int(t[0]) for t in trace]
    energy = [float(t[1]) * HARTREE_TO_EV for t in trace]
    resid = [max(float(t[2]), 1e-300) for t in trace]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Energy (eV)", "KKT residual (Ha, log)"))
    fig.add_scatter(x=it, y=energy, mode="lines+markers", name="energy", row=1, col=1)
    fig.add_scatter(x=it, y=resid, mode="lines+markers", name="KKT residual", row=2, col=1)
    if tol is not None:
        fig.add_hline(y=tol, line_dash="dash", line_color="#2ca02c", row=2, col=1,
                      annotation_text=f"tolerance {tol:.0e}", annotation_position="top right")
    fig.update_yaxes(type="log", exponentformat="e", row=2, col=1)
    fig.update_xaxes(title_text="iteration", row=2, col=1)
    fig.update_layout(title="Charge-equalization solver trace", showlegend=False, height=520,
                      font={"size": font_size}, margin={"l": 60, "r": 20, "t": 70, "b": 40},
                      template="plotly_white")
    return fig


def baseline_table(symbols: Sequence[str], charges: dict[str, Sequence[float] | None]) -> pd.DataFrame:
    """Per-atom charges (e) of several models side by side; a model mapped to None gets an empty column."""
    table = {"atom": atom_labels(symbols)}
    for name, q in charges.items():
        table[f"{name} q (e)"] = [np.nan] * len(symbols) if q is None else [float(x) for x in q]
    return pd.DataFrame(table)


def dipole_debye(dipole_e_bohr: Sequence[float]) -> float:
    """|mu| in debye from a dipole vector in e bohr."""
    return float(np.linalg.norm(np.asarray(dipole_e_bohr, dtype=np.float64))) * E_BOHR_TO_DEBYE
