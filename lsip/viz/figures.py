"""Plotly figure builders (no Streamlit): energy waterfall, channel matrix, per-atom bars, scans, library plots.

Every builder takes plain results (a :class:`lsip.model.decoder.Prediction` or arrays) and returns a
``plotly.graph_objects.Figure`` in user units (eV, angstrom, e), so it can be tested without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from lsip.model.decoder import Prediction, term_labels
from lsip.model.library import STATE_LABELS, LatentLibrary
from lsip.structure import atom_label
from lsip.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

STATE_COLORS = {"cation": "#d62728", "neutral": "#7f7f7f", "anion": "#1f77b4", "excited": "#ff7f0e"}
#: Font sizes (pixels) of plotly figures in normal and teaching mode.
FIGURE_FONT = {False: 13, True: 18}
_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "template": "plotly_white"}


def atom_labels(symbols: Sequence[str]) -> list[str]:
    """``["O0", "H1", ...]``: element + 0-based index, the label used in every table and figure."""
    return [atom_label(tuple(symbols), k) for k in range(len(symbols))]


#: Above this many atoms the per-atom figures aggregate by element (issue 14.5: 648 bars and a 648 x 648 heatmap are
#: unreadable); the per-atom numbers stay in the tables and the CSV exports.
MAX_ATOMS_PER_ATOM_FIGURES = 40


def _by_element(symbols: Sequence[str], values: np.ndarray, how: str = "sum") -> tuple[list[str], np.ndarray,
                                                                                         np.ndarray, np.ndarray]:
    """Per element (in order of first appearance): labels "O (216)", the sum or mean of ``values`` (n, ...), and
    the minimum and maximum over its atoms."""
    order = list(dict.fromkeys(symbols))
    sym = np.asarray(symbols)
    vals = np.asarray(values, dtype=float)
    labels, agg, lo, hi = [], [], [], []
    for s in order:
        sel = vals[sym == s]
        labels.append(f"{s} ({len(sel)})")
        agg.append(sel.sum(axis=0) if how == "sum" else sel.mean(axis=0))
        lo.append(sel.min(axis=0))
        hi.append(sel.max(axis=0))
    return labels, np.array(agg), np.array(lo), np.array(hi)


def energy_waterfall(pred: Prediction, font_size: int = 13) -> go.Figure:
    """Waterfall of the named energy terms ending exactly at the total (eV); the residual is shown.

    The total bar is drawn from the sum of the terms, and the title reports |total - sum| (round-off only).
    """
    labels = term_labels()
    names = [k for k in pred.term_totals if abs(pred.term_totals[k]) > 0 or k in ("state", "electrostatic")]
    vals = [pred.term_totals[k] * HARTREE_TO_EV for k in names]
    total = pred.energy * HARTREE_TO_EV
    residual = total - sum(vals)
    fig = go.Figure(go.Waterfall(
        x=[labels[k] for k in names] + ["Total"], y=[*vals, total],
        measure=["relative"] * len(vals) + ["total"],
        text=[f"{v:+.3f}" for v in vals] + [f"{total:.3f}"], textposition="outside",
        connector={"line": {"color": "#999"}},
        decreasing={"marker": {"color": "#1f77b4"}}, increasing={"marker": {"color": "#d62728"}},
        totals={"marker": {"color": "#2ca02c"}},
    ))
    fig.update_layout(title=f"Energy decomposition (eV); residual {residual:.1e} eV", yaxis_title="eV",
                      font={"size": font_size}, **_LAYOUT)
    return fig


def per_atom_terms(pred: Prediction, font_size: int = 13,
                   max_atoms: int = MAX_ATOMS_PER_ATOM_FIGURES) -> go.Figure:
    """Stacked bars of every term per atom (eV); summed by element above ``max_atoms`` atoms."""
    labels = term_labels()
    aggregate = pred.n_atoms > max_atoms
    x = atom_labels(pred.symbols)
    title = "Per-atom energy terms (eV)"
    if aggregate:
        title = f"Energy terms summed by element (eV; {pred.n_atoms} atoms, per atom in the table)"
    fig = go.Figure()
    for k, v in pred.terms.items():
        if float(v.abs().max()) == 0.0:
            continue
        y = v.numpy() * HARTREE_TO_EV
        if aggregate:
            x, y, _, _ = _by_element(pred.symbols, y)
        fig.add_bar(name=labels[k], x=x, y=np.asarray(y).tolist())
    fig.update_layout(barmode="relative", title=title, yaxis_title="eV", font={"size": font_size}, **_LAYOUT)
    return fig


def channel_matrix(pred: Prediction, font_size: int = 13, max_atoms: int = MAX_ATOMS_PER_ATOM_FIGURES) -> go.Figure:
    """Donor x acceptor heatmap of channel occupations c_AB; above ``max_atoms`` atoms the electrons moved between
    elements (summed over their atoms)."""
    n = pred.n_atoms
    donor, acceptor, occ = pred.donor.numpy(), pred.acceptor.numpy(), pred.occupation.numpy()
    title = "Charge-transfer channels (donor rows, acceptor columns)"
    if n > max_atoms:
        elements = list(dict.fromkeys(pred.symbols))
        index = {s: k for k, s in enumerate(elements)}
        m = np.zeros((len(elements), len(elements)))
        sym = pred.symbols
        np.add.at(m, ([index[sym[d]] for d in donor], [index[sym[a]] for a in acceptor]), occ)
        lab = [f"{s} ({sum(x == s for x in sym)})" for s in elements]
        title = f"Electrons moved between elements, summed over channels ({n} atoms; pairs in the channel table)"
        hover = "from %{y} to %{x}: %{z:.3f} e<extra></extra>"
    else:
        m = np.zeros((n, n))
        m[donor, acceptor] = occ
        lab = atom_labels(pred.symbols)
        hover = "donor %{y} -> acceptor %{x}: %{z:.4f}<extra></extra>"
    fig = go.Figure(go.Heatmap(z=m, x=lab, y=lab, colorscale="Viridis", colorbar={"title": "c_AB"},
                               hovertemplate=hover))
    fig.update_layout(title=title, xaxis_title="acceptor", yaxis_title="donor", yaxis={"autorange": "reversed"},
                      font={"size": font_size}, **_LAYOUT)
    return fig


def charges_bar(symbols: Sequence[str], series: dict[str, Sequence[float]], title: str = "Atomic charges (e)",
                font_size: int = 13, max_atoms: int = MAX_ATOMS_PER_ATOM_FIGURES) -> go.Figure:
    """Grouped bars of several charge models per atom (e); above ``max_atoms`` atoms the mean per element with the
    range over its atoms as error bars."""
    fig = go.Figure()
    aggregate = len(symbols) > max_atoms
    for name, q in series.items():
        if aggregate:
            x, mean, lo, hi = _by_element(symbols, np.asarray(q, dtype=float), how="mean")
            fig.add_bar(name=name, x=x, y=mean.tolist(),
                        error_y={"type": "data", "symmetric": False, "array": (hi - mean).tolist(),
                                 "arrayminus": (mean - lo).tolist()})
        else:
            fig.add_bar(name=name, x=atom_labels(symbols), y=list(map(float, q)))
    if aggregate:
        title = f"{title}: mean per element, bars span its {len(symbols)} atoms' range"
    fig.update_layout(barmode="group", title=title, yaxis_title="q / e", font={"size": font_size}, **_LAYOUT)
    return fig


def weights_bar(pred: Prediction, font_size: int = 13, max_atoms: int = MAX_ATOMS_PER_ATOM_FIGURES) -> go.Figure:
    """Stacked ensemble weights (cation, neutral, anion, excited) per atom; mean per element above ``max_atoms``."""
    fig = go.Figure()
    w = pred.weights.numpy()
    x = atom_labels(pred.symbols)
    title = "Ensemble weights"
    if pred.n_atoms > max_atoms:
        x, w, _, _ = _by_element(pred.symbols, w, how="mean")
        title = f"Ensemble weights, mean per element ({pred.n_atoms} atoms)"
    for k, lab in enumerate(STATE_LABELS):
        fig.add_bar(name=lab, x=x, y=np.asarray(w)[:, k].tolist(), marker_color=STATE_COLORS[lab])
    fig.update_layout(barmode="stack", title=title, yaxis={"range": [0, 1]}, font={"size": font_size}, **_LAYOUT)
    return fig


def scan_figure(distances: Sequence[float], curves: dict[str, Sequence[float | None]], y_title: str,
                title: str, marker: float | None = None, font_size: int = 13) -> go.Figure:
    """Lines of several quantities against the scan distance (angstrom); an optional vertical marker."""
    fig = go.Figure()
    for name, ys in curves.items():
        fig.add_scatter(x=list(distances), y=[None if y is None else float(y) for y in ys], mode="lines+markers",
                        name=name)
    if marker is not None:
        fig.add_vline(x=marker, line_dash="dot", line_color="#555")
    fig.update_layout(title=title, xaxis_title="R / angstrom", yaxis_title=y_title, font={"size": font_size},
                      **_LAYOUT)
    return fig


def radial_densities(library: LatentLibrary, symbol: str, log_axes: bool = True, font_size: int = 13) -> go.Figure:
    """4 pi r^2 rho_k(r) of every state of an element (radial distribution, e / bohr), and its frozen core (the
    shells below the valence shell, docs/model.md section 10.10) dashed where the library has one."""
    ent = library.element(symbol)
    r = np.asarray(library.r_grid)
    fig = go.Figure()
    for lab in STATE_LABELS:
        st = ent.states[lab]
        y = 4 * np.pi * r**2 * np.asarray(st.radial_density)
        fig.add_scatter(x=r * BOHR_TO_ANGSTROM, y=y, name=f"{lab} (N={st.n_electrons})", mode="lines",
                        line={"color": STATE_COLORS[lab]})
    if ent.core is not None and ent.core.n_electrons:
        fig.add_scatter(x=r * BOHR_TO_ANGSTROM, y=4 * np.pi * r**2 * np.asarray(ent.core.radial_density),
                        name=f"core {ent.core.shells} (N={ent.core.n_electrons})", mode="lines",
                        line={"color": "#555555", "dash": "dash"})
    fig.update_layout(title=f"{symbol}: radial distributions 4 pi r^2 rho(r)", xaxis_title="r / angstrom",
                      yaxis_title="e / bohr", font={"size": font_size}, **_LAYOUT)
    if log_axes:
        fig.update_xaxes(type="log", range=[-3, 1.2])
    else:
        fig.update_xaxes(range=[0, 4])
    return fig


def embedding_functions(library: LatentLibrary, symbol: str, font_size: int = 13) -> go.Figure:
    """F_k(rho_bar) of every state of an element (eV) against the background density."""
    ent = library.element(symbol)
    fig = go.Figure()
    for lab in STATE_LABELS:
        fig.add_scatter(x=np.asarray(library.rhobar_grid), y=np.asarray(ent.states[lab].embedding) * HARTREE_TO_EV,
                        name=lab, mode="lines", line={"color": STATE_COLORS[lab]})
    fig.update_layout(title=f"{symbol}: embedding functions F_k(rho_bar)", xaxis_title="rho_bar / bohr^-3",
                      yaxis_title="eV", font={"size": font_size}, **_LAYOUT)
    fig.update_xaxes(type="log")
    return fig
