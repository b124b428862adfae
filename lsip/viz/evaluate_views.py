"""Tables and figures of the Evaluate page (no Streamlit): summary errors, parity plots, the structure-property map.

Inputs are :class:`lsip.workflows.evaluate.Evaluation` results, already in user units (eV, angstrom, e, debye); what is
compared and how energies are aligned is in docs/evaluate.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lsip.workflows.evaluate import BASELINE_LABELS, ERROR_COLUMNS, Evaluation, frame_records, parity_pairs

_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "template": "plotly_white"}
#: Colours of the models in the parity plots (LSIP first, then the baselines).
MODEL_COLORS = {"lsip": "#1f5fa8", "eeq": "#ff7f0e", "qeq": "#2ca02c"}
#: Parity-plot axes per quantity: (title, axis label with unit).
PARITY_AXES: dict[str, tuple[str, str]] = {
    "energy": ("Energy per atom", "E / N (eV/atom, model's zero: free atoms)"),
    "forces": ("Force components", "F (eV/Å)"),
    "charges": ("Atomic charges", "q (e)"),
    "dipole": ("Dipole components (neutral frames)", "μ (D)"),
}
#: Above this many points a parity plot draws with WebGL.
WEBGL_POINTS = 2000


def summary_table(result: Evaluation) -> pd.DataFrame:
    """The summary rows (quantity, model, frames and values compared, MAE, RMSE) with the unit in the headers'
    place: one column ``unit`` and numbers rounded to 4 significant digits for the screen (the CSV/JSON keep
    full precision)."""
    rows = [{"quantity": r["quantity"], "model": r["model"], "unit": r["unit"], "frames": r["frames"],
             "values": r["values"], "MAE": _sig(r["MAE"]), "RMSE": _sig(r["RMSE"])} for r in result.summary
            if r["values"]]
    return pd.DataFrame(rows, columns=["quantity", "model", "unit", "frames", "values", "MAE", "RMSE"])


def _sig(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else float(f"{value:.{digits}g}")


def offsets_table(result: Evaluation) -> pd.DataFrame | None:
    """Fitted per-element energy offsets c_el (eV), or None when they are not individually determined."""
    offsets = result.energy_fit.offsets_eV
    if not offsets:
        return None
    return pd.DataFrame([{"element": el, "offset c_el (eV)": c} for el, c in offsets.items()])


def frames_table(result: Evaluation) -> pd.DataFrame:
    """Per-frame records (:func:`lsip.workflows.evaluate.frame_records`) with unit-bearing headers for the screen."""
    records = frame_records(result)
    rename = {"frame": "frame", "formula": "formula", "n_atoms": "atoms", "charge_e": "Q (e)", "status": "status",
              "message": "message", "reference": "reference has", "energy_ref_eV": "E ref (eV)",
              "energy_model_eV": "E model (eV)", "energy_error_eV": "ΔE (eV)",
              "energy_error_per_atom_eV": "ΔE/N (eV/atom)", "force_rmse_eV_A": "F RMSE (eV/Å)",
              "force_mae_eV_A": "F MAE (eV/Å)", "charge_mae_e": "q MAE (e)", "dipole_error_D": "|Δμ| (D)"}
    for b, label in BASELINE_LABELS.items():
        rename[f"{b}_charge_mae_e"] = f"{label} q MAE (e)"
        rename[f"{b}_dipole_error_D"] = f"{label} |Δμ| (D)"
    frame = pd.DataFrame(records).drop(columns=["map_x", "map_y"], errors="ignore")
    frame = frame.rename(columns=rename)
    empty = [c for c in frame.columns if frame[c].isna().all() or (frame[c].astype(str) == "").all()]
    return frame.drop(columns=[c for c in empty if c not in ("frame", "formula", "status")])


def parity_figure(result: Evaluation, quantity: str, font_size: int = 13) -> go.Figure:
    """Model (and, for charges and dipoles, the baselines) against the reference, with the line y = x.

    Every trace's legend entry carries its MAE; hover shows the frame number. Energies are per atom on the
    model's zero (relative to free atoms) after the alignment of docs/evaluate.md.
    """
    title, axis = PARITY_AXES[quantity]
    models = ["lsip"] if quantity in ("energy", "forces") else ["lsip", *result.baselines]
    fig = go.Figure()
    lo, hi = np.inf, -np.inf
    n_points = 0
    for model in models:
        ref, pred, frames = parity_pairs(result, quantity, model)
        if not len(ref):
            continue
        n_points += len(ref)
        lo, hi = min(lo, ref.min(), pred.min()), max(hi, ref.max(), pred.max())
        mae = float(np.mean(np.abs(pred - ref)))
        name = (f"LSIP ({result.params})" if model == "lsip" else BASELINE_LABELS[model]) + f": MAE {mae:.3g}"
        scatter = go.Scattergl if len(ref) > WEBGL_POINTS else go.Scatter
        fig.add_trace(scatter(x=ref, y=pred, mode="markers", name=name, customdata=frames,
                              marker={"color": MODEL_COLORS.get(model, "#7f7f7f"), "size": 6, "opacity": 0.7},
                              hovertemplate="frame %{customdata}<br>reference %{x:.4g}<br>predicted %{y:.4g}"
                                            "<extra></extra>"))
    if n_points:
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        line = [lo - pad, hi + pad]
        fig.add_trace(go.Scatter(x=line, y=line, mode="lines", name="y = x", hoverinfo="skip",
                                 line={"color": "#999", "dash": "dash"}))
    else:
        fig.add_annotation(text="no reference values to compare", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    fig.update_layout(title=title, xaxis_title=f"reference {axis}", yaxis_title=f"predicted {axis}",
                      font={"size": font_size}, legend={"orientation": "h", "y": -0.25}, height=440, **_LAYOUT)
    return fig


def map_figure(result: Evaluation, color_by: str = "energy_error_per_atom_eV", font_size: int = 13) -> go.Figure:
    """The frames on the 2D structure map (:func:`lsip.workflows.evaluate.structure_map`), coloured by the absolute
    value of a per-frame error (:data:`lsip.workflows.evaluate.ERROR_COLUMNS`); frames without that error are hollow
    grey circles, failed frames grey crosses. Every point carries its frame number as ``customdata`` (for
    selections)."""
    label, unit = ERROR_COLUMNS[color_by]
    xy = result.map_xy
    have, missing, failed = [], [], []
    for k, r in enumerate(result.frames):
        if not np.isfinite(xy[k]).all():
            continue
        value = r.errors.get(color_by) if r.ok else None
        (have if value is not None else failed if not r.ok else missing).append(k)
    fig = go.Figure()
    if have:
        vals = [abs(float(result.frames[k].errors[color_by])) for k in have]
        fig.add_trace(go.Scatter(
            x=xy[have, 0], y=xy[have, 1], mode="markers", name=f"|{label}|",
            customdata=[result.frames[k].frame for k in have],
            text=[f"frame {result.frames[k].frame}: {result.frames[k].formula}" for k in have],
            marker={"color": vals, "colorscale": "Viridis", "size": 10, "showscale": True,
                    "colorbar": {"title": {"text": f"|{label}| ({unit})", "side": "right"}}},
            hovertemplate="%{text}<br>|" + label + "| %{marker.color:.4g} " + unit + "<extra></extra>"))
    for ks, name, marker in ((missing, "not compared", {"color": "rgba(0,0,0,0)", "size": 9,
                                                         "line": {"color": "#888", "width": 1.5}}),
                             (failed, "failed", {"color": "#888", "size": 9, "symbol": "x"})):
        if ks:
            fig.add_trace(go.Scatter(
                x=xy[ks, 0], y=xy[ks, 1], mode="markers", name=name, marker=marker,
                customdata=[result.frames[k].frame for k in ks],
                text=[f"frame {result.frames[k].frame}: {result.frames[k].formula} ({name})" for k in ks],
                hovertemplate="%{text}<extra></extra>"))
    v1, v2 = result.map_variance
    fig.update_layout(title=f"Structure map of the frames, coloured by |{label}|",
                      xaxis_title=f"PC 1 ({100 * v1:.0f}% of the variance)",
                      yaxis_title=f"PC 2 ({100 * v2:.0f}% of the variance)", font={"size": font_size},
                      legend={"orientation": "h", "y": -0.2}, height=480, clickmode="event+select", **_LAYOUT)
    return fig


def selected_frame(selection: Mapping[str, Any] | None) -> int | None:
    """The frame number of the first point of a plotly selection (``st.plotly_chart(on_select=...)``), or None."""
    points: Sequence[Mapping[str, Any]] = (selection or {}).get("points") or []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if isinstance(data, int | float) and not isinstance(data, bool):
            return int(data)
    return None
