"""Plotly figures of a scan (no Streamlit), built on :func:`lsip.viz.figures.scan_figure` (eV, angstrom, e)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lsip.model.decoder import term_labels
from lsip.scan.curves import ScanCurves
from lsip.units import HARTREE_TO_EV
from lsip.viz.figures import scan_figure


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def dft_relative(curves: ScanCurves) -> np.ndarray | None:
    """DFT energies relative to the separately computed fragments (eV; NaN at flagged points), or None."""
    if curves.dft_energy is None or not np.isfinite(curves.dft_energy).any():
        return None
    return curves.dft_energy * HARTREE_TO_EV


def _flagged(curves: ScanCurves) -> list[int]:
    """Indices of DFT points that were computed but are not drawn (failed, unstable or unphysical)."""
    return [k for k, f in enumerate(curves.dft_flags) if f] if curves.dft_energy is not None else []


def _mark_flagged(fig: go.Figure, curves: ScanCurves) -> None:
    """Red crosses on the zero line where a DFT point is not drawn; the hover says why."""
    bad = _flagged(curves)
    if bad:
        fig.add_trace(go.Scatter(x=[float(curves.distances[k]) for k in bad], y=[0.0] * len(bad), mode="markers",
                                 name="DFT point not drawn", marker={"symbol": "x", "size": 11, "color": "#d62728"},
                                 hovertext=[curves.dft_flags[k] for k in bad], hoverinfo="text+x"))


def energy_figure(curves: ScanCurves, marker: float | None = None, font_size: int = 13) -> go.Figure:
    """Model energy (relative to free neutral atoms), QEq charge energy and DFT (0 = separated fragments), eV;
    DFT points that are not drawn are marked with red crosses."""
    series: dict[str, list[float | None]] = {"LSIP model": _nan_to_none(curves.energy * HARTREE_TO_EV),
                                             "QEq (charge energy)": _nan_to_none(curves.qeq_energy * HARTREE_TO_EV)}
    dft = dft_relative(curves)
    if dft is not None:
        series[f"DFT {curves.dft_level} (0 = separated fragments)"] = _nan_to_none(dft)
    fig = scan_figure(curves.distances, series, "E / eV", "Energy along the scan", marker, font_size)
    _mark_flagged(fig, curves)
    return fig


def fragment_charge_figure(curves: ScanCurves, marker: float | None = None, font_size: int = 13) -> go.Figure:
    """Charge of the moving fragment (atoms ``curves.moved``) for the model, QEq, EEQ and DFT (Hirshfeld), e."""
    series = {"LSIP model": _nan_to_none(curves.fragment_charge(curves.charges)),
              "QEq": _nan_to_none(curves.fragment_charge(curves.qeq_charges))}
    if curves.eeq_charges is not None:
        series["EEQ"] = _nan_to_none(curves.fragment_charge(curves.eeq_charges))
    if curves.dft_charges is not None:
        series["DFT Hirshfeld"] = _nan_to_none(curves.fragment_charge(curves.dft_charges))
    names = "+".join(curves.labels[k] for k in curves.moved)
    fig = scan_figure(curves.distances, series, "q / e", f"Charge of the moving fragment ({names})", marker,
                      font_size)
    fig.add_hline(y=0.0, line_color="#bbb")
    _mark_flagged(fig, curves)
    return fig


def atom_charges_figure(curves: ScanCurves, marker: float | None = None, font_size: int = 13,
                        top: int = 10) -> go.Figure:
    """Model charge along the scan of every atom, or, for more than ``top`` atoms, of the ``top`` atoms whose
    charge changes most (issue 14.5: a legend of hundreds of atoms is unreadable), e."""
    q = np.asarray(curves.charges, dtype=float)
    order = list(range(q.shape[1]))
    title = "Model charges per atom"
    if q.shape[1] > top:
        span = np.nanmax(q, axis=0) - np.nanmin(q, axis=0)
        order = sorted(np.argsort(-np.nan_to_num(span, nan=-1.0))[:top].tolist())
        title = f"Model charges of the {top} atoms (of {q.shape[1]}) whose charge changes most"
    series = {curves.labels[k]: _nan_to_none(q[:, k]) for k in order}
    return scan_figure(curves.distances, series, "q / e", title, marker, font_size)


def channels_figure(curves: ScanCurves, marker: float | None = None, font_size: int = 13,
                    top: int = 8) -> go.Figure:
    """Occupations c_AB of the ``top`` channels with the largest occupation anywhere along the scan."""
    ranked = sorted(curves.channels.items(), key=lambda kv: -float(np.max(kv[1])))[:top]
    series = {name: _nan_to_none(v) for name, v in ranked if float(np.max(v)) > 0.0}
    fig = scan_figure(curves.distances, series, "c_AB", "Charge-transfer channel occupations (donor->acceptor)",
                      marker, font_size)
    if not series:
        fig.add_annotation(text="no channel is populated along this scan", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    return fig


def terms_figure(curves: ScanCurves, marker: float | None = None, font_size: int = 13) -> go.Figure:
    """Every energy term and the total along the scan, eV."""
    labels = term_labels()
    series = {labels.get(k, k): _nan_to_none(v * HARTREE_TO_EV) for k, v in curves.terms.items()
              if np.any(v != 0.0)}
    series["Total"] = _nan_to_none(curves.energy * HARTREE_TO_EV)
    return scan_figure(curves.distances, series, "E / eV", "Energy terms along the scan", marker, font_size)
