"""Views of densities (no Streamlit): linked 3Dmol isosurface viewers and plotly slice / weight / error figures.
The densities themselves are computed by :mod:`lsip.reference.density`.

Units on screen: densities in e/angstrom^3 (cube files and isovalues passed to 3Dmol stay in e/bohr^3, the
cube convention), lengths in angstrom, integrated electron counts in e. Electrostatic potentials stay in hartree/e
inside the cubes and are labelled in the unit the caller picks (:data:`ESP_UNITS`).
"""

from __future__ import annotations

import html as html_lib
import json

import numpy as np
import plotly.graph_objects as go

from lsip.model.library import STATE_LABELS
from lsip.reference.density import AU_TO_E_PER_A3, KIND_LABELS, PlaneSlice, to_angstrom
from lsip.structure import Structure
from lsip.units import HARTREE_TO_EV
from lsip.viz.latent3d import add_isosurfaces
from lsip.viz.molview import (
    LEGEND_HEIGHT,
    STYLES,
    MoleculeView,
    colorbar_html,
    fit_zoom,
    molecule_view,
    new_view,
    xyz_block,
)

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
    page = _linked_viewers(structure, {k: (cubes[k], {"isoval": float(isovalue_au), "opacity": 0.75,
                                                      "color": KIND_COLORS.get(k, "#3b7dd8")}) for k in cubes},
                           4.0, height, font_size, camera_key)
    return page, int(height) + TITLE_HEIGHT


def _linked_viewers(structure: Structure, volumes: dict[str, tuple[str, dict]], atom_margin: float, height: int,
                    font_size: int, camera_key: str | None) -> str:
    """One linked 3Dmol viewer per kind (sticks + the kind's cube with its volumetric style), titled; the HTML."""
    kinds = list(volumes)
    view = new_view(height, viewergrid=(1, len(kinds)), linked=True)
    style = {part: dict(size) for part, size in STYLES["stick"].items()}
    for c, kind in enumerate(kinds):
        view.addModel(xyz_block(structure), "xyz", viewer=(0, c))
        view.setStyle({}, style, viewer=(0, c))
        cube, spec = volumes[kind]
        view.addVolumetricData(cube, "cube", spec, viewer=(0, c))
    view.zoomTo()
    zoom = fit_zoom(structure.positions, atom_margin=atom_margin)
    if zoom != 1.0:
        view.zoom(zoom)
    if camera_key:
        view.startjs += _camera_js(camera_key, len(kinds))
    view.render()
    titles = "".join(f'<div style="flex: 1; text-align: center;">{html_lib.escape(KIND_LABELS.get(k, k))}</div>'
                     for k in kinds)
    head = (f'<div style="display: flex; font: {font_size}px sans-serif; height: {TITLE_HEIGHT}px; '
            f'line-height: {TITLE_HEIGHT}px; color: #1b1f24;">{titles}</div>')
    return '<style>html, body { margin: 0; padding: 0; overflow: hidden; }</style>' + head + view.write_html()


#: ESP display units: label -> factor from hartree/e (1 hartree/e = 27.211 V, lsip.units.HARTREE_TO_EV).
ESP_UNITS: dict[str, float] = {"V": HARTREE_TO_EV, "hartree/e": 1.0}
#: Opacity of the ESP-coloured density surfaces.
ESP_OPACITY = 0.95
#: ``fit_zoom`` margin of the ESP viewers, angstrom: the 0.002 e/bohr^3 surface of water then fills ~2/3 of the height.
ESP_ATOM_MARGIN = 1.5


def rwb_hex(value: float, vmin: float, vmax: float) -> str:
    """The colour 3Dmol.js's ``RWB`` gradient gives ``value`` on [vmin, vmax] (its ``valueToHex``, re-written):
    **vmin red**, the midpoint white, **vmax blue**, with a square-root ramp on each side; values are clipped.

    >>> rwb_hex(-1.0, -1.0, 1.0), rwb_hex(0.0, -1.0, 1.0), rwb_hex(1.0, -1.0, 1.0)
    ('#ff0000', '#ffffff', '#0000ff')
    """
    lo, hi = float(vmin), float(vmax)
    v = min(max(float(value), lo), hi)
    mid = 0.5 * (lo + hi)
    if v < mid:
        a = int(np.floor(255 * np.sqrt((v - lo) / (mid - lo))))
        return f"#ff{a:02x}{a:02x}"
    if v > mid:
        a = int(np.floor(255 * np.sqrt(1 - (v - mid) / (hi - mid))))
        return f"#{a:02x}{a:02x}ff"
    return "#ffffff"


def esp_colorbar_html(limit: float, unit: str, isovalue_au: float, font_size: int = 13) -> str:
    """Colour bar of the ESP surfaces: -limit (red) to +limit (blue) in ``unit``, the exact 3Dmol RWB ramp."""
    anchors = [rwb_hex(v, -1.0, 1.0) for v in np.linspace(-1.0, 1.0, 21)]
    return colorbar_html(-limit, limit, f"ESP on the ρ = {isovalue_au:g} e/bohr³ surface: red negative "
                         "(electron-rich), blue positive (electron-poor)", unit, font_size=font_size, anchors=anchors)


def esp_surfaces_html(structure: Structure, density_cubes: dict[str, str], esp_cubes: dict[str, str],
                      isovalue_au: float, limit_au: float, unit: str = "V", height: int = 380,
                      font_size: int = 13, camera_key: str | None = None) -> tuple[str, int]:
    """Side-by-side linked 3Dmol viewers of density isosurfaces coloured by the electrostatic potential.

    Each kind (in the order of ``esp_cubes``, e.g. ``{"dft": ..., "model": ...}``) draws its own density's
    isosurface at ``isovalue_au`` and colours it with its own ESP cube (3Dmol ``voldata`` + ``volscheme`` RWB on the
    one symmetric range [-limit_au, +limit_au], hartree/e, shared by every viewer): red is negative potential
    (electron-rich), blue positive (electron-poor), white zero. A colour bar in ``unit`` (:data:`ESP_UNITS`) is
    drawn below the viewers.

    Parameters
    ----------
    structure : the molecule (angstrom), drawn as sticks.
    density_cubes : kind -> density cube text (e/bohr^3).  esp_cubes : kind -> ESP cube text (hartree/e).
    isovalue_au : surface density, e/bohr^3.  limit_au : colour limit, hartree/e (> 0).
    unit : label of the colour bar, a key of :data:`ESP_UNITS`.
    height : viewer height, CSS pixels.  font_size : title and legend font size.
    camera_key : remember the shared camera under this key across reruns.

    Returns
    -------
    (html, total height in CSS pixels); the HTML loads 3Dmol.js from the app (``molview.JS_URL``).
    """
    kinds = list(esp_cubes)
    if not kinds:
        raise ValueError("esp_surfaces_html needs at least one ESP cube")
    if not limit_au > 0:
        raise ValueError(f"the colour limit must be positive, got {limit_au}")
    scheme = {"gradient": "rwb", "min": -float(limit_au), "max": float(limit_au)}
    volumes = {k: (density_cubes[k], {"isoval": float(isovalue_au), "opacity": ESP_OPACITY, "voldata": esp_cubes[k],
                                      "volformat": "cube", "volscheme": scheme}) for k in kinds}
    legend = esp_colorbar_html(float(limit_au) * ESP_UNITS[unit], unit, isovalue_au, font_size=font_size)
    page = _linked_viewers(structure, volumes, ESP_ATOM_MARGIN, height, font_size, camera_key) + legend
    return page, int(height) + TITLE_HEIGHT + LEGEND_HEIGHT


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
