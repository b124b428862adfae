"""py3Dmol view builders (no Streamlit): a structure with atoms coloured by any per-atom value.

The builders return a :class:`MoleculeView` (the ``py3Dmol.view`` plus an HTML colour-bar legend) whose
:meth:`MoleculeView.html` is a self-contained HTML fragment. It loads 3Dmol.js from :data:`JS_URL`, the copy
the app serves itself (``static/`` -> ``assets/vendor/``), never from a CDN. Pages draw arrows, glyphs or
isosurfaces on top through ``MoleculeView.view`` (the py3Dmol API) before calling ``html()``.

Values are shown on a diverging blue-white-red map (ColorBrewer RdBu) over a range that is symmetric about
zero unless the caller fixes ``vmin``/``vmax``; ``vmin`` is blue, ``vmax`` red (``reverse=True`` swaps them).
Atoms whose value is NaN are drawn grey and reported as "n/a".

>>> import numpy as np
>>> from lsip.structure import Structure
>>> h2 = Structure(("H", "H"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]))
>>> mv = molecule_view(h2, values=[0.1, -0.1], value_title="q", unit="e")
>>> mv.vmin, mv.vmax
(-0.1, 0.1)
>>> diverging_colors(np.array([-1.0, 0.0, 1.0]), -1.0, 1.0)
['#2166ac', '#f7f7f7', '#b2182b']
"""

from __future__ import annotations

import html as html_lib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import py3Dmol

from lsip.structure import Structure

#: URL of the locally served 3Dmol.js (Streamlit static serving of ``static/3Dmol-min.js``).
JS_URL: str = "/app/static/3Dmol-min.js"
#: Diverging colour map anchors, evenly spaced from vmin to vmax (ColorBrewer RdBu, 5 classes).
DIVERGING_ANCHORS: tuple[str, ...] = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")
#: Sequential map for quantities that are never negative (ColorBrewer Reds, 5 classes): white at 0.
SEQUENTIAL_ANCHORS: tuple[str, ...] = ("#fff5f0", "#fcbba1", "#fb6a4a", "#cb181d", "#67000d")
#: Colour of atoms without a value (NaN).
MISSING_COLOR: str = "#9e9e9e"
#: Height in CSS pixels that the colour-bar legend adds below the viewer.
LEGEND_HEIGHT: int = 64
#: Atom and bond sizes (3Dmol units: angstrom) per drawing style.
STYLES: dict[str, dict[str, dict[str, float]]] = {
    "ball_and_stick": {"stick": {"radius": 0.14}, "sphere": {"scale": 0.28}},
    "spacefill": {"sphere": {"scale": 0.85}},
    "stick": {"stick": {"radius": 0.18}},
}


def _hex_to_rgb(color: str) -> np.ndarray:
    """``"#rrggbb"`` -> (3,) float array in 0..255."""
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)], dtype=np.float64)


def js_json(obj: object) -> str:
    """JSON for inlining in a ``<script>``: ``<`` is escaped so no text can close the script element."""
    return json.dumps(obj).replace("<", "\\u003c")


def _fmt(value: float) -> str:
    """Compact tick label: 3 significant digits, sign shown, no ``-0``."""
    if abs(value) < 5e-13:
        return "0"
    return f"{value:+.3g}"


def symmetric_range(values: Sequence[float] | np.ndarray, vmin: float | None = None,
                    vmax: float | None = None) -> tuple[float, float]:
    """Colour range for a diverging map.

    Parameters
    ----------
    values : (n,) per-atom values (any unit); NaN entries are ignored.
    vmin, vmax : fixed limits. If both are None the range is ``(-m, m)`` with ``m = max|values|``
        (``m = 1`` when every value is zero or missing); if only one is given it is mirrored about zero.

    Returns
    -------
    (vmin, vmax) with ``vmin < vmax``.

    >>> symmetric_range([0.2, -0.5])
    (-0.5, 0.5)
    >>> symmetric_range([1.0], vmax=2.0)
    (-2.0, 2.0)
    """
    if vmin is None and vmax is None:
        arr = np.asarray(values, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        m = float(np.max(np.abs(finite))) if finite.size else 0.0
        m = m if m > 0.0 else 1.0
        return -m, m
    if vmin is None:
        vmin = -float(vmax)
    if vmax is None:
        vmax = -float(vmin)
    if not float(vmax) > float(vmin):
        raise ValueError(f"colour range needs vmin < vmax, got vmin={vmin}, vmax={vmax}")
    return float(vmin), float(vmax)


def diverging_colors(values: Sequence[float] | np.ndarray, vmin: float, vmax: float,
                     reverse: bool = False, anchors: Sequence[str] = DIVERGING_ANCHORS) -> list[str]:
    """Map values to ``#rrggbb`` colours on ``anchors`` (default :data:`DIVERGING_ANCHORS`; values outside the
    range are clipped).

    Parameters
    ----------
    values : (n,) values; NaN gives :data:`MISSING_COLOR`.
    vmin, vmax : values drawn with the first (blue) and last (red) anchor.
    reverse : swap the ends (vmin red, vmax blue).

    Returns
    -------
    n colour strings.
    """
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    t = np.clip((arr - vmin) / (vmax - vmin), 0.0, 1.0)
    if reverse:
        t = 1.0 - t
    rgb_anchors = np.stack([_hex_to_rgb(c) for c in anchors])
    x = np.linspace(0.0, 1.0, len(rgb_anchors))
    colors = []
    for k, tk in enumerate(t):
        if not np.isfinite(arr[k]):
            colors.append(MISSING_COLOR)
            continue
        rgb = [round(float(np.interp(tk, x, rgb_anchors[:, c]))) for c in range(3)]
        colors.append("#{:02x}{:02x}{:02x}".format(*rgb))
    return colors


def colorbar_html(vmin: float, vmax: float, title: str = "", unit: str = "", reverse: bool = False,
                  n_ticks: int = 5, font_size: int = 13, anchors: Sequence[str] = DIVERGING_ANCHORS) -> str:
    """An HTML colour bar for :func:`diverging_colors` with ``n_ticks`` evenly spaced tick labels.

    The gradient uses the same anchors as the atom colours, so legend and atoms agree exactly.
    """
    gradient = ", ".join(tuple(anchors)[::-1] if reverse else anchors)
    ticks = "".join(f"<span>{html_lib.escape(_fmt(v))}</span>" for v in np.linspace(vmin, vmax, n_ticks))
    label = html_lib.escape(f"{title} ({unit})" if unit else title)
    return (
        f'<div class="lsip-colorbar" style="font: {font_size}px sans-serif; color: #1b1f24; '
        f'padding: 6px 12px 0 12px; height: {LEGEND_HEIGHT - 6}px; box-sizing: border-box;">'
        f'<div style="text-align: center; margin-bottom: 2px;">{label}</div>'
        f'<div style="height: 12px; border: 1px solid #888; background: linear-gradient(to right, {gradient});">'
        f"</div>"
        f'<div style="display: flex; justify-content: space-between;">{ticks}</div></div>'
    )


def xyz_block(structure: Structure) -> str:
    """XYZ text (angstrom) of a structure; atom order is kept, so 3Dmol's ``atom.index`` is the LSIP index."""
    lines = [str(structure.n_atoms), structure.formula]
    lines += [f"{s} {x:.6f} {y:.6f} {z:.6f}" for s, (x, y, z) in zip(structure.symbols, structure.positions)]
    return "\n".join(lines) + "\n"


def default_hover_texts(structure: Structure, values: np.ndarray | None, value_title: str,
                        unit: str) -> list[str]:
    """Hover text per atom: ``"O0"`` or ``"O0  q = -0.652 e"`` (0-based index, as in every table)."""
    texts = []
    for k, s in enumerate(structure.symbols):
        text = f"{s}{k}"
        if values is not None:
            v = values[k]
            shown = f"{v:+.3f}" if np.isfinite(v) else "n/a"
            text += f"  {value_title or 'value'} = {shown}{' ' + unit if unit and np.isfinite(v) else ''}"
        texts.append(text)
    return texts


@dataclass
class MoleculeView:
    """A py3Dmol view plus its legend; ``html()`` gives the fragment to show (height ``total_height`` px).

    Attributes
    ----------
    view : the py3Dmol view (add shapes through its API before calling ``html()``).
    height : viewer height, CSS pixels.
    legend_html : colour-bar HTML ("" when atoms are coloured by element).
    vmin, vmax : colour range used (None without values).
    """

    view: py3Dmol.view
    height: int
    legend_html: str = ""
    vmin: float | None = None
    vmax: float | None = None

    @property
    def total_height(self) -> int:
        """Viewer plus legend height in CSS pixels (the iframe height to use)."""
        return self.height + (LEGEND_HEIGHT if self.legend_html else 0)

    def html(self) -> str:
        """Self-contained HTML: the 3Dmol viewer (script loaded from ``JS_URL``) and the legend below it."""
        return ('<style>html, body { margin: 0; padding: 0; overflow: hidden; }</style>'
                f"{self.view.write_html()}{self.legend_html}")


def new_view(height: int = 420, viewergrid: tuple[int, int] | None = None, linked: bool = True,
             js_url: str = JS_URL) -> py3Dmol.view:
    """An empty ``py3Dmol.view`` (full width, ``height`` CSS pixels) that loads the app's own 3Dmol.js.

    Use it for views that :func:`molecule_view` does not build (e.g. ``viewergrid=(1, 2)`` for linked
    side-by-side isosurface viewers); never construct ``py3Dmol.view`` without ``js=``: its default is a CDN.
    """
    return py3Dmol.view(width="100%", height=int(height), viewergrid=viewergrid, linked=linked, js=js_url)


def _set_atom_styles(view: py3Dmol.view, style: str, colors: list[str] | None) -> None:
    """Element colours (Jmol scheme) when ``colors`` is None, else one colour per atom (by 0-based index)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    view.setStyle({}, STYLES[style])
    for k, color in enumerate(colors or []):
        view.setStyle({"index": k}, {part: {**size, "color": color} for part, size in STYLES[style].items()})


def _add_hover(view: py3Dmol.view, texts: Sequence[str], font_size: int) -> None:
    """Show ``texts[atom.index]`` as a label while the pointer is over an atom (3Dmol evals the strings)."""
    options = {"backgroundColor": "#1b1f24", "backgroundOpacity": 0.85, "fontColor": "white",
               "fontSize": font_size, "inFront": True}
    on_hover = ("function(atom, viewer) { if (!atom.label) { var t = " + js_json(list(texts)) +
                "; atom.label = viewer.addLabel(t[atom.index], Object.assign({position: atom}, " +
                js_json(options) + ")); } }")
    on_unhover = "function(atom, viewer) { if (atom.label) { viewer.removeLabel(atom.label); delete atom.label; } }"
    view.setHoverable({}, True, on_hover, on_unhover)


def _add_labels(view: py3Dmol.view, structure: Structure, labels: Sequence[str], font_size: int) -> None:
    """Persistent per-atom text labels (empty strings are skipped)."""
    if len(labels) != structure.n_atoms:
        raise ValueError(f"labels has {len(labels)} entries for {structure.n_atoms} atoms")
    for text, (x, y, z) in zip(labels, structure.positions):
        if text:
            options = {"position": {"x": float(x), "y": float(y), "z": float(z)}, "fontSize": font_size,
                       "fontColor": "black", "backgroundColor": "white", "backgroundOpacity": 0.7,
                       "inFront": True, "alignment": "center"}
            # written directly (not via py3Dmol's json.dumps) so that "<" in a label cannot end the script
            view.startjs += f"\tviewer_UNIQUEID.addLabel({js_json(str(text))}, {js_json(options)});\n"


def _add_cell(view: py3Dmol.view, cell: np.ndarray) -> None:
    """Draw the 12 edges of a periodic cell (rows of ``cell`` are lattice vectors, angstrom) as thin cylinders."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in cell)
    corners = {(i, j, k): i * a + j * b + k * c for i in (0, 1) for j in (0, 1) for k in (0, 1)}
    for (i, j, k), p in corners.items():
        for q in ((i + 1, j, k), (i, j + 1, k), (i, j, k + 1)):
            if q in corners:
                end = corners[q]
                view.addCylinder({"start": dict(zip("xyz", map(float, p))), "end": dict(zip("xyz", map(float, end))),
                                  "radius": 0.03, "color": "#777777", "fromCap": 1, "toCap": 1})


def remember_camera(view: py3Dmol.view, camera_key: str) -> None:
    """Restore the camera saved under ``camera_key`` (browser sessionStorage) and save it on every change.

    The Streamlit iframe is rebuilt on every rerun; this keeps the user's rotation and zoom across reruns.
    """
    key = js_json("lsip-camera:" + camera_key)
    view.startjs += (
        "try { var lsipCamKey = " + key + "; var lsipCam = window.sessionStorage.getItem(lsipCamKey);\n"
        "if (lsipCam) { viewer_UNIQUEID.setView(JSON.parse(lsipCam)); }\n"
        "viewer_UNIQUEID.setViewChangeCallback(function(v) {"
        " window.sessionStorage.setItem(lsipCamKey, JSON.stringify(v)); });\n"
        "} catch (err) { console.warn('LSIP camera memory unavailable', err); }\n"
    )


def _add_png_button(view: py3Dmol.view, file_name: str) -> None:
    """A small "PNG" button in the viewer's corner that downloads the current picture (``viewer.pngURI()``).

    Plotly figures have their own camera button; this is the same for 3D views, at the size shown, with the
    user's current rotation and zoom. The iframe sandbox of Streamlit allows downloads.
    """
    name = js_json(file_name if file_name.endswith(".png") else file_name + ".png")
    view.startjs += (
        "try { (function(v) { var b = document.createElement('button'); b.textContent = 'PNG';\n"
        "b.className = 'lsip-png'; b.title = 'Save this view as a PNG picture';\n"
        "b.style.cssText = 'position:fixed;top:4px;right:4px;z-index:20;font:11px sans-serif;padding:1px 6px;'"
        " + 'opacity:0.7;border:1px solid #999;border-radius:4px;background:#fff;cursor:pointer';\n"
        "b.onclick = function() { var a = document.createElement('a'); a.href = v.pngURI(); a.download = " + name
        + "; document.body.appendChild(a); a.click(); a.remove(); };\n"
        "document.body.appendChild(b); })(viewer_UNIQUEID); } catch (err) { console.warn('LSIP PNG button', err); }\n"
    )


def principal_rotation(positions: np.ndarray) -> tuple[float, np.ndarray] | None:
    """The rotation (angle in degrees, unit axis) that turns a structure onto its principal axes: the direction of
    largest spread along the screen's x, the next along y, the smallest (the normal of a planar molecule) towards the
    viewer (issue 14.9: water given in the yz plane is otherwise seen edge-on and looks linear). None when the
    structure already lies so, or has fewer than two atoms.

    >>> angle, axis = principal_rotation(np.array([[0.0, 0.0, 0.117], [0.0, 0.757, -0.469], [0.0, -0.757, -0.469]]))
    >>> round(angle), np.round(np.abs(axis), 3).tolist()
    (120, [0.577, 0.577, 0.577])
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(pos) < 2:
        return None
    centred = pos - pos.mean(axis=0)
    vals, vecs = np.linalg.eigh(centred.T @ centred)
    rows = vecs[:, np.argsort(-vals)].T  # rows: screen x, y, z in model coordinates
    for k in range(3):  # a deterministic sign: each axis points along the positive model diagonal component
        if rows[k] @ np.array([1.0, 1e-3, 1e-6]) < 0:
            rows[k] = -rows[k]
    if np.linalg.det(rows) < 0:
        rows[2] = -rows[2]
    cos = float(np.clip((np.trace(rows) - 1.0) / 2.0, -1.0, 1.0))
    angle = float(np.degrees(np.arccos(cos)))
    if angle < 1e-6:
        return None
    axis = np.array([rows[2, 1] - rows[1, 2], rows[0, 2] - rows[2, 0], rows[1, 0] - rows[0, 1]])
    if np.linalg.norm(axis) < 1e-9:  # a half turn: the axis is the eigenvector of eigenvalue +1
        w, v = np.linalg.eigh((rows + rows.T) / 2.0)
        axis = v[:, int(np.argmax(w))]
    return angle, axis / np.linalg.norm(axis)


def fit_zoom(positions: np.ndarray, atom_margin: float = 1.4) -> float:
    """Extra zoom after ``zoomTo`` so that small molecules fill the view.

    3Dmol's ``zoomTo`` fits a box of at least 5 angstrom diagonal, so water (1.6 angstrom between atom
    centres) would fill a third of the viewer. With ``d`` the diagonal of the atom-centre box plus
    ``atom_margin`` (angstrom, room for the spheres) the zoom is ``5 / d`` when ``d < 5``, else 1.

    >>> round(fit_zoom(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]])), 3)
    2.336
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    diagonal = float(np.linalg.norm(np.ptp(pos, axis=0))) + atom_margin if len(pos) else 5.0
    return 5.0 / diagonal if diagonal < 5.0 else 1.0


def molecule_view(structure: Structure, values: Sequence[float] | np.ndarray | None = None, *,
                  vmin: float | None = None, vmax: float | None = None, value_title: str = "",
                  unit: str = "", reverse: bool = False, labels: Sequence[str] | None = None,
                  hover_texts: Sequence[str] | None = None, style: str = "ball_and_stick", height: int = 420,
                  font_size: int = 12, camera_key: str | None = None, js_url: str = JS_URL,
                  png_name: str | None = "lsip-view", show_cell: bool = True, orient: bool = True) -> MoleculeView:
    """Build a 3Dmol view of ``structure``, coloured by element or by a per-atom value.

    Parameters
    ----------
    structure : the structure (positions in angstrom; drawn as given, bonds guessed by 3Dmol).
    values : (n,) per-atom values in display units (e.g. charges in e, energies in eV), or None for
        element colours. NaN marks atoms without a value.
    vmin, vmax : colour range (see :func:`symmetric_range`; default symmetric about zero, on the diverging blue-red
        map; ``vmin >= 0`` marks a quantity that is never negative and switches to the sequential white-red map).
    value_title, unit : legend title and unit, also used in the default hover text.
    reverse : map vmin to red and vmax to blue instead.
    labels : n persistent per-atom label texts ("" for none).
    hover_texts : n texts shown on hover (default: element + 0-based index [+ value]).
    style : one of :data:`STYLES`.
    height : viewer height in CSS pixels (the legend adds :data:`LEGEND_HEIGHT`).
    font_size : label font size in pixels (larger in teaching mode).
    camera_key : if given, the camera is remembered in the browser under this key across reruns.
    js_url : where the page loads 3Dmol.js from.
    png_name : file name of the view's "PNG" download button (None: no button).
    show_cell : draw the periodic cell's edges (structures with a cell only).
    orient : turn a finite structure onto its principal axes (:func:`principal_rotation`) before the first
        zoom; periodic structures keep their cell axes. A camera remembered under ``camera_key`` wins.

    Returns
    -------
    MoleculeView
    """
    view = new_view(height, js_url=js_url)
    view.addModel(xyz_block(structure), "xyz")
    arr = None
    legend = ""
    lo = hi = None
    if values is not None:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.shape[0] != structure.n_atoms:
            raise ValueError(f"values has {arr.shape[0]} entries for {structure.n_atoms} atoms")
        lo, hi = symmetric_range(arr, vmin, vmax)
        # a range starting at zero is a quantity that is never negative: a sequential map, white at zero
        anchors = SEQUENTIAL_ANCHORS if vmin is not None and vmin >= 0.0 else DIVERGING_ANCHORS
        legend = colorbar_html(lo, hi, value_title, unit, reverse, font_size=max(font_size, 12), anchors=anchors)
    _set_atom_styles(view, style, None if arr is None else diverging_colors(arr, lo, hi, reverse, anchors))
    periodic = structure.cell is not None and any(structure.pbc)
    if periodic and show_cell:
        _add_cell(view, structure.cell)
    if labels is not None:
        _add_labels(view, structure, labels, font_size)
    texts = list(hover_texts) if hover_texts is not None else default_hover_texts(structure, arr, value_title, unit)
    if len(texts) != structure.n_atoms:
        raise ValueError(f"hover_texts has {len(texts)} entries for {structure.n_atoms} atoms")
    _add_hover(view, texts, font_size)
    turn = principal_rotation(structure.positions) if orient and not periodic else None
    if turn is not None:
        view.rotate(turn[0], dict(zip("xyz", map(float, turn[1]))))
    view.zoomTo()
    zoom = fit_zoom(structure.positions)
    if zoom != 1.0:
        view.zoom(zoom)
    if camera_key:
        remember_camera(view, camera_key)
    if png_name:
        _add_png_button(view, png_name)
    return MoleculeView(view=view, height=int(height), legend_html=legend, vmin=lo, vmax=hi)


# ----------------------------------------------------------------------------------------- animated scans

#: Width and height (CSS pixels) of the energy curve drawn under an animated scan; its height adds to the view's.
CURVE_WIDTH: int = 360
CURVE_HEIGHT: int = 150


@dataclass
class AnimatedView(MoleculeView):
    """A :class:`MoleculeView` that plays ``n_frames`` frames; ``footer_html`` (energy curve with a marker that
    follows the frame shown, the frame's caption, a pause button) sits under the colour bar."""

    n_frames: int = 0
    footer_html: str = ""
    footer_height: int = 0

    @property
    def total_height(self) -> int:
        """Viewer, legend and footer height in CSS pixels (the iframe height to use)."""
        return super().total_height + self.footer_height

    def html(self) -> str:
        """Self-contained HTML: viewer (script loaded from ``JS_URL``), legend, then the footer."""
        return super().html() + self.footer_html


def multi_xyz_block(structures: Sequence[Structure], comments: Sequence[str] | None = None) -> str:
    """Concatenated XYZ frames (one model per structure, angstrom), the input of 3Dmol's ``addModelsAsFrames``."""
    blocks = []
    for k, structure in enumerate(structures):
        comment = (comments[k] if comments is not None else structure.formula).replace("\n", " ")
        lines = [str(structure.n_atoms), comment]
        lines += [f"{s} {x:.6f} {y:.6f} {z:.6f}" for s, (x, y, z) in zip(structure.symbols, structure.positions)]
        blocks.append("\n".join(lines) + "\n")
    return "".join(blocks)


def _curve_svg(distances: np.ndarray, energies: np.ndarray, y_title: str, font_size: int) -> tuple[str, list]:
    """An inline SVG line of ``energies`` against ``distances`` (non-finite points skipped) and the marker position
    (x, y in SVG pixels, or None) of every frame."""
    w, h = CURVE_WIDTH, CURVE_HEIGHT
    left, right, top, bottom = 64, 12, 8, 32
    ok = np.isfinite(distances) & np.isfinite(energies)
    x0, x1 = (float(distances[ok].min()), float(distances[ok].max())) if ok.any() else (0.0, 1.0)
    y0, y1 = (float(energies[ok].min()), float(energies[ok].max())) if ok.any() else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1.0
    pad = 0.08 * (y1 - y0) if y1 > y0 else 0.5
    y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (w - left - right)

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (h - top - bottom)

    marks = [[round(sx(float(d)), 2), round(sy(float(e)), 2)] if good else None
             for d, e, good in zip(distances, energies, ok)]
    points = " ".join(f"{p[0]},{p[1]}" for p in marks if p is not None)
    fs = max(12, int(font_size))
    ticks = "".join(
        f'<text x="{left - 4}" y="{sy(v) + fs / 3:.1f}" text-anchor="end">{html_lib.escape(f"{v:.2f}")}</text>'
        for v in (y0 + pad, y1 - pad))
    svg = (f'<svg class="lsip-curve" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'style="font: {fs}px sans-serif; fill: #1b1f24; max-width: 100%; height: auto;">'
           f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" '
           f'stroke="#bbb"/>{ticks}'
           f'<text x="{left}" y="{h - 8}">{html_lib.escape(f"{x0:.2f}")}</text>'
           f'<text x="{w - right}" y="{h - 8}" text-anchor="end">{html_lib.escape(f"{x1:.2f}")}</text>'
           f'<text x="{(left + w - right) / 2:.1f}" y="{h - 8}" text-anchor="middle">R / &#197;</text>'
           f'<text x="12" y="{(top + h - bottom) / 2:.1f}" text-anchor="middle" '
           f'transform="rotate(-90 12 {(top + h - bottom) / 2:.1f})">{html_lib.escape(y_title)}</text>'
           f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>'
           f'<circle class="lsip-marker" r="6" cx="-20" cy="-20" fill="#d62728" stroke="white" stroke-width="1.5"/>'
           "</svg>")
    return svg, marks


def animated_scan_view(structures: Sequence[Structure], values: np.ndarray | Sequence[Sequence[float]] | None = None,
                       *, distances: Sequence[float] | None = None, energies: Sequence[float] | None = None,
                       captions: Sequence[str] | None = None, value_title: str = "charge q", unit: str = "e",
                       vmin: float | None = None, vmax: float | None = None, curve_title: str = "E / eV",
                       style: str = "ball_and_stick", height: int = 380, font_size: int = 12,
                       interval_ms: int = 250, loop: str = "backAndForth", camera_key: str | None = None,
                       js_url: str = JS_URL, png_name: str | None = "lsip-scan-frame",
                       orient: bool = True) -> AnimatedView:
    """A 3Dmol animation of the frames of a scan (or any trajectory with a fixed list of atoms).

    The frames go into one model (``addModelsAsFrames`` of a multi-model XYZ, :func:`multi_xyz_block`) and play with
    ``animate({loop, interval})``. With ``values`` the atoms of every frame are coloured by that frame's values on
    one diverging colour range for the whole scan (charges in e, docs/conventions.md), otherwise by element.

    Parameters
    ----------
    structures : the m frames (same atoms in the same order), angstrom.
    values : (m, n) per-frame per-atom values (e.g. charges, e), or None.
    distances, energies : (m,) scan coordinate (angstrom) and energy (eV): drawn under the viewer as a small curve
        whose red marker follows the frame shown. Both or neither.
    captions : m texts shown under the viewer for the frame shown (set as text, never as HTML).
    value_title, unit, vmin, vmax : legend and colour range, as in :func:`molecule_view`.
    curve_title : the curve's y-axis title.
    style, height, font_size, js_url, png_name : as in :func:`molecule_view`.
    interval_ms : time per frame, milliseconds.  loop : ``"backAndForth"``, ``"forward"`` or ``"backward"``.
    camera_key : remember the camera in the browser under this key across reruns.
    orient : turn the frames onto the principal axes of all their positions together (finite structures).

    Returns
    -------
    AnimatedView (``n_frames``, ``total_height`` for the iframe).
    """
    frames = _animation_frames(structures, loop, style)
    m, n = len(frames), frames[0].n_atoms
    view = new_view(height, js_url=js_url)
    view.startjs += (f"\tvar lsipModel = viewer_UNIQUEID.addModelsAsFrames({js_json(multi_xyz_block(frames))}, "
                     '"xyz");\n')
    view.startjs += f"\tlsipModel.setStyle({{}}, {js_json(STYLES[style])});\n"
    legend, lo, hi = "", None, None
    if values is not None:
        legend, lo, hi = _colour_frames(view, values, (m, n), style, vmin, vmax, value_title, unit, font_size)
    _frame_all(view, frames, orient)
    if camera_key:
        remember_camera(view, camera_key)
    if png_name:
        _add_png_button(view, png_name)
    play = js_json({"loop": loop, "interval": int(interval_ms)})
    view.startjs += f"\tviewer_UNIQUEID.setFrame(0);\n\tviewer_UNIQUEID.animate({play});\n"
    footer, footer_height, marks = _animation_footer(m, distances, energies, curve_title, font_size)
    texts = [str(c) for c in captions] if captions is not None else [f"frame {k + 1} of {m}" for k in range(m)]
    if len(texts) != m:
        raise ValueError(f"captions has {len(texts)} entries for {m} frames")
    view.startjs += _follow_frame_js(marks, texts)
    return AnimatedView(view=view, height=int(height), legend_html=legend, vmin=lo, vmax=hi, n_frames=m,
                        footer_html=footer, footer_height=footer_height)


def _animation_frames(structures: Sequence[Structure], loop: str, style: str) -> list[Structure]:
    """The frames of an animation, checked: at least one, the same atoms in every frame, a known loop and style."""
    frames = list(structures)
    if not frames:
        raise ValueError("an animation needs at least one frame")
    if any(f.symbols != frames[0].symbols for f in frames):
        raise ValueError("every frame of an animation must hold the same atoms in the same order")
    if loop not in ("backAndForth", "forward", "backward"):
        raise ValueError(f"unknown loop {loop!r}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    return frames


def _colour_frames(view: py3Dmol.view, values: np.ndarray | Sequence[Sequence[float]], shape: tuple[int, int],
                   style: str, vmin: float | None, vmax: float | None, value_title: str, unit: str,
                   font_size: int) -> tuple[str, float, float]:
    """Colour every frame's atoms by its values on one range for the whole animation: (legend HTML, lo, hi)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"values has shape {arr.shape}, expected {shape} (frames, atoms)")
    lo, hi = symmetric_range(arr.reshape(-1), vmin, vmax)
    anchors = SEQUENTIAL_ANCHORS if vmin is not None and vmin >= 0.0 else DIVERGING_ANCHORS
    colors = [diverging_colors(row, lo, hi, anchors=anchors) for row in arr]
    # one setStyle per frame ({frame: f} selects that frame's atoms); colorfunc reads the frame's colour list
    view.startjs += (
        f"\tvar lsipColors = {js_json(colors)}; var lsipStyle = {js_json(STYLES[style])};\n"
        "\tlsipColors.forEach(function(c, f) { var s = {}; Object.keys(lsipStyle).forEach(function(p) {"
        " s[p] = Object.assign({colorfunc: function(atom) { return c[atom.serial]; }}, lsipStyle[p]); });"
        " lsipModel.setStyle({frame: f}, s); });\n")
    return colorbar_html(lo, hi, value_title, unit, font_size=max(font_size, 12), anchors=anchors), lo, hi


def _frame_all(view: py3Dmol.view, frames: list[Structure], orient: bool) -> None:
    """Orient on the principal axes of all frames together and zoom so that no frame leaves the picture."""
    positions = np.concatenate([f.positions for f in frames])
    periodic = frames[0].cell is not None and any(frames[0].pbc)
    turn = principal_rotation(positions) if orient and not periodic else None
    if turn is not None:
        view.rotate(turn[0], dict(zip("xyz", map(float, turn[1]))))
    # fit the frame that spreads most, then start at frame 0
    spread = int(np.argmax([np.ptp(f.positions, axis=0).sum() if f.n_atoms > 1 else 0.0 for f in frames]))
    view.startjs += f"\tviewer_UNIQUEID.setFrame({spread});\n"
    view.zoomTo()
    zoom = fit_zoom(frames[spread].positions)
    if zoom != 1.0:
        view.zoom(zoom)
    # zoomTo fits the atom centres into the view's height: leave room for the atoms at both ends, and shrink
    # further in a view narrower than tall (a page column), which would cut the frames' ends off
    view.startjs += ("\ttry { var lsipCanvas = viewer_UNIQUEID.getCanvas(); var lsipW = lsipCanvas.clientWidth, "
                     "lsipH = lsipCanvas.clientHeight;\n\tviewer_UNIQUEID.zoom(0.85 * (lsipW > 0 && lsipW < lsipH ? "
                     "lsipW / lsipH : 1)); } catch (err) { console.warn(err); }\n")


def _follow_frame_js(marks: list, texts: list[str]) -> str:
    """JavaScript that follows the frame shown: moves the curve's marker, shows the frame's caption (as text), and
    lets the footer's button pause and resume."""
    return (
        "\t(function(v) { var marks = " + js_json(marks) + "; var texts = " + js_json(texts) + ";\n"
        "\tvar last = -1; var paused = false; var btn = null;\n"
        "\tfunction toggle() { paused = !paused; if (paused) { v.pauseAnimate(); } else { v.resumeAnimate(); }\n"
        "\t  btn.textContent = paused ? 'Play' : 'Pause'; }\n"
        "\tsetInterval(function() {\n"
        "\t  if (!btn) { btn = document.querySelector('.lsip-play'); if (btn) { btn.onclick = toggle; } }\n"
        "\t  var f = v.getFrame(); if (f === last || f === undefined || f < 0) { return; } last = f;\n"
        "\t  var cap = document.querySelector('.lsip-frame-caption');\n"
        "\t  if (cap && texts[f] !== undefined) { cap.textContent = texts[f]; }\n"
        "\t  var dot = document.querySelector('.lsip-marker'); var p = marks[f];\n"
        "\t  if (dot) { dot.setAttribute('cx', p ? p[0] : -20); dot.setAttribute('cy', p ? p[1] : -20); }\n"
        "\t}, 50); })(viewer_UNIQUEID);\n")


def _animation_footer(n_frames: int, distances: Sequence[float] | None, energies: Sequence[float] | None,
                      curve_title: str, font_size: int) -> tuple[str, int, list]:
    """Footer HTML under an animation (curve, caption, pause button), its height and the marker per frame."""
    if (distances is None) != (energies is None):
        raise ValueError("give both distances and energies, or neither")
    svg, marks = "", [None] * n_frames
    if distances is not None:
        d = np.asarray(distances, dtype=np.float64).reshape(-1)
        e = np.asarray(energies, dtype=np.float64).reshape(-1)
        if len(d) != n_frames or len(e) != n_frames:
            raise ValueError(f"distances and energies need {n_frames} entries each")
        svg, marks = _curve_svg(d, e, curve_title, font_size)
    fs = max(font_size, 12)
    height = (CURVE_HEIGHT + 4 if svg else 0) + 2 * (fs + 10) + 12
    html = (f'<div class="lsip-animation-footer" style="padding: 4px 12px; font: {fs}px sans-serif; '
            f'color: #1b1f24; box-sizing: border-box;">{svg}'
            '<div style="display: flex; align-items: center; gap: 10px; margin-top: 4px;">'
            f'<button class="lsip-play" type="button" style="font: {fs}px sans-serif; padding: 2px 10px; '
            'cursor: pointer;">Pause</button>'
            f'<span class="lsip-frame-caption" data-frames="{int(n_frames)}"></span></div></div>')
    return html, height, marks
