"""Presentation mode (no Streamlit): the views, figures and plain-words texts of ``app_pages/10_Present.py``.

One idea per screen, for a projector: large auto-oriented 3D views (:func:`lsip.viz.molview.molecule_view` turns a
finite structure onto its principal axes) with big atom labels ``"O0 −0.57 e"``, the charge-transfer arrows of
:mod:`lsip.viz.latent3d`, the energy waterfall of :mod:`lsip.viz.figures` at a large font, and the molecular dipole
as one arrow with its size in debye next to the reference values this repository stores (the experimental dipoles
quoted in the gallery's texts, ``assets/gallery/index.json``, and the DFT dipoles of the validation set,
docs/validation.md). No number is made up: without a stored reference the slide says so.

>>> format_charge(-0.5651)
'−0.57 e'
>>> format_charge(0.2826)
'+0.28 e'
>>> charge_labels(("O", "H", "H"), [-0.5651, 0.2826, 0.2826])[0]
['O0 −0.57 e', 'H1 +0.28 e', 'H2 +0.28 e']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from lsip import paths
from lsip.data.experiment import experimental_dipole_for
from lsip.data.masses import atomic_mass
from lsip.errors import LSIPError
from lsip.gallery import load_gallery
from lsip.model.decoder import Prediction, as_numpy
from lsip.model.flows import net_pair_flows
from lsip.structure import Structure, atom_label
from lsip.units import E_BOHR_TO_DEBYE, HARTREE_TO_EV
from lsip.viz import figures
from lsip.viz.latent3d import DIPOLE_COLOR, latent_view, view_arrow
from lsip.viz.molview import MoleculeView, fit_zoom, js_json, molecule_view, remember_camera

#: Height of the 3D views of the slides, CSS pixels.
VIEW_HEIGHT: int = 600
#: Font size of the atom labels in the 3D views, pixels.
LABEL_FONT: int = 22
#: Font size of the colour bar and the hover texts of the slide views, pixels (the bar's height is fixed).
LEGEND_FONT: int = 16
#: Font size of the slide figures (plotly), pixels.
FIGURE_FONT: int = 22
#: Largest extra zoom of the slide views after the fit of :func:`lsip.viz.molview.molecule_view` (see
#: :func:`slide_zoom`).
SLIDE_ZOOM: float = 4.0
#: How far (angstrom) a label sits outside its atom, away from the structure's centre (:func:`add_labels`).
LABEL_OFFSET: float = 0.55
#: Above this many atoms not every atom is labelled: labels would cover the picture.
MAX_LABELLED_ATOMS: int = 60
#: How many atoms (the largest |q|) keep a label above :data:`MAX_LABELLED_ATOMS` atoms.
LARGE_STRUCTURE_LABELS: int = 12
#: A dipole smaller than this (debye) is "no dipole" on the slide, and gets no arrow.
MIN_DIPOLE_D: float = 0.05
#: Two geometries are the same molecule for a stored DFT dipole when every sorted interatomic distance (per pair
#: of elements) differs by at most this much, angstrom.
REFERENCE_MATCH_A: float = 0.1
#: The validation report that stores the DFT dipoles (``lsip validate``; docs/validation.md).
VALIDATION_REPORT: Path = paths.ASSETS.parent / "docs" / "validation" / "validation.json"
#: Level of theory of the stored DFT dipoles.
VALIDATION_LEVEL: str = "PBE0/def2-SVP"


@dataclass(frozen=True)
class Slide:
    """One screen of the presentation: ``key`` (stable id), ``title`` (shown as the heading)."""

    key: str
    title: str


#: The slides, in order.
SLIDES: tuple[Slide, ...] = (
    Slide("molecule", "The molecule"),
    Slide("transfer", "Where the electrons went"),
    Slide("energy", "The energy"),
    Slide("dipole", "The dipole"),
)


def format_charge(q: float, digits: int = 2) -> str:
    """A charge for a label: sign always shown, a true minus sign (U+2212), ``"0.00 e"`` for zero after rounding."""
    value = round(float(q), digits)
    if value == 0.0:
        return f"{0.0:.{digits}f} e"
    return f"{value:+.{digits}f} e".replace("-", "\u2212")


def charge_labels(symbols: Sequence[str], charges: Sequence[float] | np.ndarray,
                  max_atoms: int = MAX_LABELLED_ATOMS, n_large: int = LARGE_STRUCTURE_LABELS) -> tuple[list[str], str]:
    """Per-atom 3D labels ``"O0 −0.57 e"`` (element, 0-based index, charge) and a note for the screen.

    Up to ``max_atoms`` atoms every atom is labelled and the note is ``""``; above, only the ``n_large`` atoms with
    the largest |q| are (the others get ``""``) and the note says so.
    """
    q = np.asarray(charges, dtype=np.float64).reshape(-1)
    symbols = tuple(symbols)
    if len(q) != len(symbols):
        raise ValueError(f"{len(q)} charges for {len(symbols)} atoms")
    shown = set(range(len(q)))
    note = ""
    if len(q) > max_atoms:
        shown = {int(k) for k in np.argsort(-np.abs(q), kind="stable")[:n_large]}
        note = (f"{len(q)} atoms: only the {len(shown)} most charged atoms are labelled (labels on every atom would "
                f"cover the picture); hover an atom for its charge.")
    labels = [f"{atom_label(symbols, k)} {format_charge(q[k])}" if k in shown else "" for k in range(len(q))]
    return labels, note


def element_labels(symbols: Sequence[str], max_atoms: int = MAX_LABELLED_ATOMS) -> list[str]:
    """``"O0"``, ``"H1"``, ... (element + index); no labels at all above ``max_atoms`` atoms."""
    symbols = tuple(symbols)
    if len(symbols) > max_atoms:
        return [""] * len(symbols)
    return [atom_label(symbols, k) for k in range(len(symbols))]


def add_labels(view: object, positions: np.ndarray, labels: Sequence[str], font_size: int = LABEL_FONT,
               offset: float = LABEL_OFFSET) -> None:
    """Persistent labels beside their atoms, so that the atom's colour stays visible: each label sits ``offset``
    angstrom further out from the structure's centre than its atom (just outside the drawn sphere); an atom at the
    centre gets its label above it (3Dmol's ``screenOffset`` counts pixels upwards). "" is skipped.

    The JavaScript is written directly with escaped JSON (no text can close the script element)."""
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(labels) != len(pos):
        raise ValueError(f"{len(labels)} labels for {len(pos)} atoms")
    centre = pos.mean(axis=0) if len(pos) else np.zeros(3)
    for text, p in zip(labels, pos):
        if not text:
            continue
        out = p - centre
        r = float(np.linalg.norm(out))
        options: dict[str, object] = {"fontSize": int(font_size), "fontColor": "black", "backgroundColor": "white",
                                      "backgroundOpacity": 0.8, "borderThickness": 1, "borderColor": "#888888",
                                      "inFront": True}
        if r > 0.3:
            at = p + offset * out / r
            options.update(alignment="center")
        else:
            at = p
            options.update(alignment="bottomCenter", screenOffset={"x": 0, "y": round(1.8 * font_size)})
        options["position"] = dict(zip("xyz", map(float, at)))
        view.startjs += f"\tviewer_UNIQUEID.addLabel({js_json(str(text))}, {js_json(options)});\n"


def slide_zoom(positions: np.ndarray, fill: float = 0.85, aspect: float = 1.3, pad: float = 1.6,
               top: float = SLIDE_ZOOM) -> float:
    """Extra zoom of a slide view, after :func:`lsip.viz.molview.molecule_view`'s ``zoomTo`` and
    :func:`lsip.viz.molview.fit_zoom`, so that the structure fills about ``fill`` of a view ``aspect`` times as wide as
    tall.

    3Dmol's ``zoomTo`` puts a sphere around the atom centres, at least 10 angstrom across, across the view's height.
    A finite structure is turned with its longest principal axis across the view (span ``sx``) and its second one
    up (``sy``); each gets ``pad`` angstrom for the atoms and their labels. Between 1 and ``top``.

    >>> round(slide_zoom(np.array([[0.0, 0.0, 0.117], [0.0, 0.757, -0.469], [0.0, -0.757, -0.469]])), 2)
    2.15
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(pos) == 0:
        return 1.0
    centre = 0.5 * (pos.min(axis=0) + pos.max(axis=0))
    fitted = max(10.0, 2.0 * float(np.max(np.linalg.norm(pos - centre, axis=1))))
    centred = pos - pos.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    sx, sy = np.sort(np.ptp(centred @ vecs, axis=0))[::-1][:2]
    extra = fitted / fit_zoom(pos) * min(fill / (sy + pad), fill * aspect / (sx + pad))
    return float(np.clip(extra, 1.0, top))


def _finish(mv: MoleculeView, structure: Structure, camera_key: str | None) -> MoleculeView:
    """Zoom a finite structure in by :func:`slide_zoom`, then remember the camera under ``camera_key`` (after the
    zoom, so that a restored camera is not zoomed again on every rerun)."""
    zoom = 1.0 if any(structure.pbc) else slide_zoom(structure.positions)
    if zoom != 1.0:
        mv.view.zoom(zoom)
    if camera_key:
        remember_camera(mv.view, camera_key)
    return mv


def molecule_slide_view(structure: Structure, pred: Prediction, *, height: int = VIEW_HEIGHT,
                        font_size: int = LABEL_FONT, camera_key: str | None = None) -> tuple[MoleculeView, str]:
    """Slide 1: the structure large, auto-oriented, coloured by charge, every atom labelled ``"O0 −0.57 e"``
    (:func:`charge_labels`). Returns the view and the note about labels ("" when every atom is labelled)."""
    q = as_numpy(pred.charges)
    labels, note = charge_labels(structure.symbols, q)
    mv = molecule_view(structure, values=q, value_title="charge q", unit="e", height=height, font_size=LEGEND_FONT,
                       png_name="lsip-present-molecule")
    add_labels(mv.view, structure.positions, labels, font_size)
    return _finish(mv, structure, camera_key), note


def transfer_slide_view(structure: Structure, pred: Prediction, *, threshold: float = 0.01,
                        height: int = VIEW_HEIGHT, font_size: int = LABEL_FONT,
                        camera_key: str | None = None) -> MoleculeView:
    """Slide 2: charge-transfer arrows donor -> acceptor (net flow, :func:`lsip.viz.latent3d.latent_view`) over the
    charge colours, atoms labelled by element and index (none above :data:`MAX_LABELLED_ATOMS` atoms)."""
    mv = latent_view(structure, pred, channel_threshold=threshold, show_glyphs=False, height=height,
                     font_size=LEGEND_FONT)
    add_labels(mv.view, structure.positions, element_labels(structure.symbols), font_size)
    return _finish(mv, structure, camera_key)


def largest_flows(pred: Prediction, n: int = 3, threshold: float = 0.01) -> list[tuple[str, str, float]]:
    """The ``n`` largest net flows (donor label, acceptor label, electrons moved, e) at or above ``threshold``."""
    flows = net_pair_flows(pred.donor.tolist(), pred.acceptor.tolist(), pred.occupation.tolist())
    flows = sorted((f for f in flows if f.net >= threshold), key=lambda f: -f.net)[:n]
    return [(atom_label(pred.symbols, f.donor), atom_label(pred.symbols, f.acceptor), float(f.net)) for f in flows]


def energy_slide_figure(pred: Prediction, font_size: int = FIGURE_FONT, height: int = 560) -> go.Figure:
    """Slide 3: the energy waterfall of :func:`lsip.viz.figures.energy_waterfall` at a large font."""
    fig = figures.energy_waterfall(pred, font_size=font_size)
    fig.update_layout(height=height, title={"text": "Energy, term by term (eV)", "font": {"size": font_size + 2}},
                      margin={"l": 80, "r": 30, "t": 70, "b": 110})
    fig.update_xaxes(tickfont={"size": font_size - 4}, tickangle=-25)
    fig.update_yaxes(tickfont={"size": font_size - 4}, title={"font": {"size": font_size}})
    fig.update_traces(textfont={"size": font_size - 2})
    return fig


def energy_sentence(energy_eV: float) -> str:
    """One plain-words sentence on the total energy (relative to the free neutral atoms)."""
    if energy_eV < 0:
        return (f"Putting the free atoms together lowers the energy by {abs(energy_eV):.2f} eV: the atoms are "
                "better off together. The bars show which effects help (down) and which cost (up).")
    return (f"Putting the free atoms together raises the energy by {energy_eV:.2f} eV: this model does not hold "
            "them together. The bars show which effects help (down) and which cost (up).")


def mass_centre(structure: Structure) -> np.ndarray:
    """Centre of mass (angstrom), the origin of the model's dipole."""
    mass = np.array([atomic_mass(s) for s in structure.symbols])
    return (mass[:, None] * structure.positions).sum(axis=0) / mass.sum()


def dipole_vector_D(pred: Prediction) -> np.ndarray:
    """The model's molecular dipole (point charges plus atomic dipoles, about the centre of mass), debye, (3,)."""
    return as_numpy(pred.dipole).reshape(3) * E_BOHR_TO_DEBYE


def dipole_arrow(structure: Structure, dipole_D: np.ndarray, scale: float = 1.2, min_length: float = 1.5,
                 max_length: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(start, end) in angstrom of the dipole arrow: centred on the centre of mass, pointing from the negative to
    the positive side (the physics convention of ``pred.dipole``), ``scale`` angstrom per debye, clipped to
    ``[min_length, max_length]`` (default: the structure's size plus 1.5 angstrom), long enough to stick out of the
    atom it passes through. None below :data:`MIN_DIPOLE_D`."""
    mu = np.asarray(dipole_D, dtype=np.float64).reshape(3)
    size = float(np.linalg.norm(mu))
    if size < MIN_DIPOLE_D:
        return None
    extent = float(np.linalg.norm(np.ptp(structure.positions, axis=0))) if structure.n_atoms > 1 else 0.0
    top = max_length if max_length is not None else max(min_length, extent + 1.5)
    length = float(np.clip(scale * size, min_length, top))
    u = mu / size
    centre = mass_centre(structure)
    return centre - 0.5 * length * u, centre + 0.5 * length * u


def dipole_slide_view(structure: Structure, pred: Prediction, *, height: int = VIEW_HEIGHT,
                      font_size: int = LABEL_FONT, camera_key: str | None = None) -> MoleculeView:
    """Slide 4: the structure coloured by charge with one thick purple arrow for the molecular dipole (none for a
    periodic structure or a dipole below :data:`MIN_DIPOLE_D`)."""
    q = as_numpy(pred.charges)
    mv = molecule_view(structure, values=q, value_title="charge q", unit="e", height=height, font_size=LEGEND_FONT,
                       png_name="lsip-present-dipole")
    add_labels(mv.view, structure.positions, element_labels(structure.symbols), font_size)
    if not any(structure.pbc):
        mu = dipole_vector_D(pred)
        arrow = dipole_arrow(structure, mu)
        if arrow is not None:
            view_arrow(mv.view, arrow[0], arrow[1], 0.09, DIPOLE_COLOR,
                       f"molecular dipole {np.linalg.norm(mu):.2f} D")
    return _finish(mv, structure, camera_key)


@dataclass(frozen=True)
class ReferenceDipole:
    """A stored reference dipole: ``label`` (what it is), ``value_D`` (debye) and ``source`` (where it is stored)."""

    label: str
    value_D: float
    source: str


def experimental_dipole(gallery_key: str | None, structure: Structure) -> ReferenceDipole | None:
    """The experimental gas-phase dipole of ``structure``'s molecule (:mod:`lsip.data.experiment`, by formula, neutral
    molecules only) when the structure is near the DFT-relaxed molecule (every interatomic distance of a validation
    geometry of that formula within :data:`REFERENCE_MATCH_A`) or is the gallery entry itself; else None."""
    exp = experimental_dipole_for(structure.formula, structure.charge)
    if exp is None:
        return None
    entry = load_gallery().get(gallery_key) if gallery_key else None
    is_entry = entry is not None and entry.n_atoms == structure.n_atoms and entry.charge == structure.charge
    if not is_entry and dft_dipole(structure) is None:
        return None
    return ReferenceDipole("Experiment", exp.value_D, f"{exp.molecule}, gas phase ({exp.source})")


def _distance_signature(symbols: Sequence[str], positions: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """Sorted interatomic distances per (sorted) element pair: the same for any rotation and atom order."""
    pos = np.asarray(positions, dtype=np.float64)
    out: dict[tuple[str, str], list[float]] = {}
    for a in range(len(pos)):
        for b in range(a + 1, len(pos)):
            key = tuple(sorted((symbols[a], symbols[b])))
            out.setdefault(key, []).append(float(np.linalg.norm(pos[a] - pos[b])))
    return {k: np.sort(np.array(v)) for k, v in out.items()}


def geometry_deviation(a: Structure, b: Structure) -> float | None:
    """Largest difference (angstrom) between the sorted interatomic distances of ``a`` and ``b`` per element pair,
    or None when they do not hold the same atoms."""
    if sorted(a.symbols) != sorted(b.symbols):
        return None
    sa, sb = _distance_signature(a.symbols, a.positions), _distance_signature(b.symbols, b.positions)
    if sa.keys() != sb.keys():
        return None
    return max((float(np.max(np.abs(sa[k] - sb[k]))) for k in sa), default=0.0)


@lru_cache(maxsize=1)
def _validation_molecules() -> tuple[dict, ...]:
    """The validation report's molecules (docs/validation/validation.json), or none when it cannot be read."""
    try:
        report = json.loads(VALIDATION_REPORT.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    return tuple(m for m in report.get("molecules", []) if isinstance(m, dict) and "symbols" in m)


def _finite(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


@dataclass(frozen=True)
class DFTReference:
    """What the validation set knows about a molecule (PBE0/def2-SVP at its DFT-relaxed geometry).

    name : the validation molecule.  deviation_A : largest interatomic-distance difference from the structure.
    atomization_eV : E(molecule) - sum E(free atoms).  dipole_D : |mu| (None for ions).
    charges_by_element : mean Hirshfeld-I charge per element, e (order-free, so no atom mapping is needed).
    """

    name: str
    deviation_A: float
    atomization_eV: float | None
    dipole_D: float | None
    charges_by_element: dict[str, float]


def dft_reference(structure: Structure, tolerance: float = REFERENCE_MATCH_A) -> DFTReference | None:
    """The validation molecule that ``structure`` is: same atoms and total charge, every interatomic distance within
    ``tolerance`` angstrom (:func:`geometry_deviation`; the closest when several). None otherwise, for periodic
    structures and above 40 atoms."""
    if any(structure.pbc) or structure.n_atoms > 40:
        return None
    from lsip.validation.molecules import load

    best: tuple[float, dict] | None = None
    for mol in _validation_molecules():
        if int(mol.get("total_charge", 0)) != structure.charge or sorted(mol["symbols"]) != sorted(structure.symbols):
            continue
        try:
            dev = geometry_deviation(structure, load(str(mol["name"])))
        except LSIPError:
            continue
        if dev is not None and dev <= tolerance and (best is None or dev < best[0]):
            best = (dev, mol)
    if best is None:
        return None
    dev, mol = best
    charges = (mol.get("charges") or {}).get("dft_hirshfeld_i")
    by_element: dict[str, float] = {}
    if charges is not None and len(charges) == len(mol["symbols"]):
        for el in dict.fromkeys(mol["symbols"]):
            by_element[el] = float(np.mean([q for s, q in zip(mol["symbols"], charges, strict=True) if s == el]))
    return DFTReference(str(mol["name"]), dev, _finite((mol.get("energy_eV") or {}).get("dft_atomization")),
                        _finite((mol.get("dipole_D") or {}).get("dft")), by_element)


def dft_dipole(structure: Structure, tolerance: float = REFERENCE_MATCH_A) -> ReferenceDipole | None:
    """The DFT dipole of the validation set for a structure that is the same molecule (:func:`dft_reference`)."""
    ref = dft_reference(structure, tolerance)
    if ref is None or ref.dipole_D is None:
        return None
    return ReferenceDipole(f"DFT ({VALIDATION_LEVEL})", ref.dipole_D,
                           f"validation molecule {ref.name!r} at its DFT-relaxed geometry (distances within "
                           f"{ref.deviation_A:.2f} Å of this one; docs/validation/validation.json)")


def comparison_rows(structure: Structure, energy_eV: float, dipole_D: float, charges: np.ndarray,
                    gallery_key: str | None = None) -> list[dict]:
    """The model's numbers beside DFT's (validation set) and experiment's where either is known for this molecule:
    rows of ``quantity``, ``unit``, ``model``, ``DFT``, ``experiment`` (None where unknown). Empty when neither is
    known. Atomization energy and dipole: DFT at its own relaxed geometry, the model at this one (within
    :data:`REFERENCE_MATCH_A`); charges: the mean per element (model q, DFT Hirshfeld-I)."""
    ref = dft_reference(structure)
    exp = experimental_dipole(gallery_key, structure)
    if ref is None and exp is None:
        return []
    rows = [{"quantity": "atomization energy", "unit": "eV", "model": energy_eV,
             "DFT": ref.atomization_eV if ref else None, "experiment": None}]
    if structure.charge == 0:
        rows.append({"quantity": "dipole |μ|", "unit": "D", "model": dipole_D, "DFT": ref.dipole_D if ref else None,
                     "experiment": exp.value_D if exp else None})
    q = np.asarray(charges, dtype=np.float64)
    for el in dict.fromkeys(structure.symbols):
        model_q = float(np.mean([qq for s, qq in zip(structure.symbols, q, strict=True) if s == el]))
        rows.append({"quantity": f"charge of {el} (mean)", "unit": "e", "model": model_q,
                     "DFT": ref.charges_by_element.get(el) if ref else None, "experiment": None})
    return rows


def reference_dipoles(structure: Structure, gallery_key: str | None) -> list[ReferenceDipole]:
    """Every stored reference dipole of ``structure``: experiment (gallery texts), then DFT (validation set)."""
    return [ref for ref in (experimental_dipole(gallery_key, structure), dft_dipole(structure)) if ref is not None]


def dipole_sentence(dipole_D: float, periodic: bool = False) -> str:
    """One plain-words sentence on the molecular dipole."""
    if periodic:
        return ("A periodic crystal has no single dipole (it depends on how the cell is cut), so none is drawn "
                "here.")
    if dipole_D < MIN_DIPOLE_D:
        return "The charges balance out in space: this molecule has (almost) no dipole."
    return ("The charges are not balanced in space: the arrow points from the negative side to the positive side, "
            f"and its size, the dipole moment μ, is {dipole_D:.2f} debye (D).")


def energy_numbers(pred: Prediction) -> dict[str, float]:
    """Total energy and energy per atom (eV, relative to the free neutral atoms)."""
    energy = float(pred.energy) * HARTREE_TO_EV
    return {"total_eV": energy, "per_atom_eV": energy / max(pred.n_atoms, 1)}
