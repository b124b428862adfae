"""Views of densities (no Streamlit): linked 3Dmol isosurface viewers and plotly slice / weight / error figures.
The densities themselves are computed by :mod:`lsip.reference.density`.

Units on screen: densities in e/angstrom^3 (cube files and isovalues passed to 3Dmol stay in e/bohr^3, the
cube convention), lengths in angstrom, integrated electron counts in e.
"""

from __future__ import annotations

import html as html_lib
import json

import numpy as np
import plotly.graph_objects as go

from lsip.model.library import STATE_LABELS
from lsip.reference.density import AU_TO_E_PER_A3, KIND_LABELS, PlaneSlice, to_angstrom
from lsip.structure import Structure
from lsip.viz.latent3d import add_isosurfaces
from lsip.viz.molview import STYLES, MoleculeView, fit_zoom, molecule_view, new_view, xyz_block

#: Isosurface colour of each density kind in the linked viewers.
KIND_COLORS: dict[str, str] = {"dft": "#2a9d4b", "model": "#3b7dd8", "promolecule": "#8c8c8c"}
#: Height of the title row above the linked viewers, CSS pixels.
TITLE_HEIGHT = 30
_LAYOUT = {"margin": {"l": 55, "r": 20, "t": 50, "b": 45}, "template": "plotly_white"}
STATE_COLORS = {"cation": "#d62728", "neutral": "#7f7f7f", "anion": "#1f77b4", "excited": "#ff7f0e"}


def _camera_js(key: str, n_views: int) -> str:
    """Restore/save the camera of a linked viewer grid under ``key`` (browser sessionStorage)."""
    k = json.dumps("lsip-camera:" + key).replace("<", "\\u003c")
    restore = "".join(f"viewergrid_UNIQUEID[0][{c}].setView(JSON.parse(cam));" for c in range(n_views))
    return ("try { var camKey = " + k + "; var cam = window.sessionStorage.getItem(camKey);\n"
            f"if (cam) {{ {restore} }}\n"
            "viewergrid_UNIQUEID[0][0].setViewChangeCallback(function(v) {"
            " window.sessionStorage.setItem(camKey, JSON.stringify(v)); });\n"
            "} catch (err) { console.warn('LSIP camera memory unavailable', err); }\n")


def linked_isosurfaces_html(structure: Structure, cubes: dict[str, str], isovalue_au: float, height: int = 380,
                            font_size: int = 13, camera_key: str | None = None) -> tuple[str, int]:
    """Side-by-side linked 3Dmol viewers (one canvas, ``viewergrid=(1, k)``), one isosurface each.

    Parameters
    ----------
    structure : the molecule (angstrom), drawn as sticks in every viewer.
    cubes : kind -> cube text (e/bohr^3) in display order, e.g. {"dft": ..., "model": ..., "promolecule": ...}.
    isovalue_au : isovalue, e/bohr^3 (the cube unit).
    height : viewer height, CSS pixels.  font_size : title font size.
    camera_key : remember the (shared) camera under this key across reruns.

    Returns
    -------
    (html, total height in CSS pixels); the HTML loads 3Dmol.js from the app (``molview.JS_URL``).
    """
    kinds = list(cubes)
    view = new_view(height, viewergrid=(1, len(kinds)), linked=True)
    style = {part: dict(size) for part, size in STYLES["stick"].items()}
    for c, kind in enumerate(kinds):
        view.addModel(xyz_block(structure), "xyz", viewer=(0, c))
        view.setStyle({}, style, viewer=(0, c))
        view.addVolumetricData(cubes[kind], "cube", {"isoval": float(isovalue_au), "opacity": 0.75,
                                                    "color": KIND_COLORS.get(kind, "#3b7dd8")}, viewer=(0, c))
    view.zoomTo()
    zoom = fit_zoom(structure.positions, atom_margin=4.0)
    if zoom != 1.0:
        view.zoom(zoom)
    if camera_key:
        view.startjs += _camera_js(camera_key, len(kinds))
    view.render()
    titles = "".join(f'<div style="flex: 1; text-align: center;">{html_lib.escape(KIND_LABELS.get(k, k))}</div>'
                     for k in kinds)
    head = (f'<div style="display: flex; font: {font_size}px sans-serif; height: {TITLE_HEIGHT}px; '
            f'line-height: {TITLE_HEIGHT}px; color: #1b1f24;">{titles}</div>')
    page = '<style>html, body { margin: 0; padding: 0; overflow: hidden; }</style>' + head + view.write_html()
    return page, int(height) + TITLE_HEIGHT


def difference_view(structure: Structure, cube: str, isovalue_au: float, height: int = 380, font_size: int = 13,
                    camera_key: str | None = None) -> MoleculeView:
    """The difference density (model - DFT) as signed isosurfaces: red where the model has more electrons,
    blue where it has fewer (+-``isovalue_au``, e/bohr^3)."""
    mv = molecule_view(structure, style="stick", height=height, font_size=font_size, camera_key=camera_key)
    add_isosurfaces(mv.view, cube, isovalue_au, signed=True, opacity=0.7)
    mv.view.render()
    return mv


def slice_figure(sl: PlaneSlice, kind: str, font_size: int = 13, log_scale: bool = True) -> go.Figure:
    """Heatmap of one density kind in a plane (e/angstrom^3; angstrom axes) with the atoms marked.

    Signed kinds (differences) use a diverging map centred on zero, clipped at the 99.5th percentile of
    |value| so that the nuclear cusps do not wash it out; positive densities are shown as log10.
    """
    vals = sl.values[kind] * AU_TO_E_PER_A3
    s, t = to_angstrom(sl.s), to_angstrom(sl.t)
    signed = kind in ("difference", "model_minus_promolecule")
    label = KIND_LABELS.get(kind, kind)
    if signed:
        lim = float(np.percentile(np.abs(vals), 99.5)) or 1e-12
        heat = go.Heatmap(z=vals, x=s, y=t, colorscale="RdBu_r", zmid=0.0, zmin=-lim, zmax=lim,
                          colorbar={"title": {"text": "e/Å³"}},
                          hovertemplate="s %{x:.2f} Å, t %{y:.2f} Å: %{z:.3e} e/Å³<extra></extra>")
    else:
        z = np.log10(np.maximum(vals, 1e-6)) if log_scale else vals
        heat = go.Heatmap(z=z, x=s, y=t, colorscale="Viridis", zmin=-4 if log_scale else None,
                          colorbar={"title": {"text": "log10 e/Å³" if log_scale else "e/Å³"}},
                          customdata=vals,
                          hovertemplate="s %{x:.2f} Å, t %{y:.2f} Å: %{customdata:.3e} e/Å³<extra></extra>")
    fig = go.Figure(heat)
    near = [a for a in sl.atoms if a[3] < 0.5]  # atoms within 0.5 bohr of the plane
    if near:
        fig.add_scatter(x=to_angstrom([a[1] for a in near]), y=to_angstrom([a[2] for a in near]),
                        mode="markers+text", text=[a[0] for a in near], textposition="top center",
                        marker={"color": "white", "size": 9, "line": {"color": "black", "width": 1}},
                        textfont={"size": font_size, "color": "black"}, showlegend=False, hoverinfo="text")
    fig.update_layout(title=f"{label}: {sl.name}", xaxis_title="s / Å", yaxis_title="t / Å",
                      yaxis={"scaleanchor": "x", "scaleratio": 1}, font={"size": font_size}, **_LAYOUT)
    return fig


def weights_comparison(symbols: tuple[str, ...], model: np.ndarray, dft: np.ndarray,
                       font_size: int = 13) -> go.Figure:
    """Stacked ensemble weights per atom: physical encoder ("model", plain) next to the density encoder
    ("DFT", hatched), both (n, 4) in STATE_LABELS order."""
    labels = [f"{s}{k}" for k, s in enumerate(symbols)]
    x = [f"{lab} {src}" for lab in labels for src in ("model", "DFT")]
    w = np.stack([np.asarray(model, dtype=float), np.asarray(dft, dtype=float)], axis=1).reshape(-1, 4)
    fig = go.Figure()
    for k, lab in enumerate(STATE_LABELS):
        fig.add_bar(name=lab, x=x, y=w[:, k], marker_color=STATE_COLORS[lab],
                    marker_pattern_shape=["", "/"] * len(labels),
                    hovertemplate=f"%{{x}}: {lab} %{{y:.3f}}<extra></extra>")
    fig.update_layout(barmode="stack", title={"text": "State weights per atom<br><sup>plain: the model; hatched: the "
                                                      "DFT density projected on the same states</sup>"},
                      yaxis={"range": [0, 1.02], "title": "weight"}, font={"size": font_size}, **_LAYOUT)
    return fig


def reconstruction_errors(errors: dict[str, float | None], font_size: int = 13) -> go.Figure:
    """Bars of integral |rho - rho_DFT| (e) for the latent (density-encoder), promolecule and model densities."""
    names = {"latent": "density encoder (best latent fit)", "promolecule": "promolecule", "model": "model"}
    keys = [k for k in ("latent", "model", "promolecule") if errors.get(k) is not None]
    fig = go.Figure(go.Bar(x=[names[k] for k in keys], y=[float(errors[k]) for k in keys],
                           text=[f"{float(errors[k]):.3f} e" for k in keys], textposition="outside",
                           marker_color=["#2a9d4b", "#3b7dd8", "#8c8c8c"][:len(keys)]))
    fig.update_layout(title={"text": "Density error against DFT<br><sup>∫|ρ − ρ_DFT| d³r, electrons</sup>"},
                      yaxis_title="e", font={"size": font_size}, **_LAYOUT)
    return fig
