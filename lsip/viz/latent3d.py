"""3D views of the latent coordinates on top of :func:`lsip.viz.molview.molecule_view` (no Streamlit).

* atoms coloured by charge (or any per-atom quantity, e.g. one energy term) on the diverging map;
* charge-transfer channels as arrows donor -> acceptor: one arrow per pair showing the **net** flow
  c_AB - c_BA (radius grows with it), or both directions as two offset arrows;
* per-atom state-weight glyphs: a translucent halo whose radius grows with the charge fluctuation w+ + w-
  (red when w+ > w-, blue otherwise) and an orange ring when the excited weight is populated;
* hover labels with the charge, the four weights and the per-atom energy;
* density isosurfaces from cube text (positive and negative lobes for differences).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lsip.model.decoder import Prediction
from lsip.model.flows import net_pair_flows
from lsip.structure import Structure, atom_label
from lsip.units import HARTREE_TO_EV
from lsip.viz.molview import MoleculeView, molecule_view

ARROW_COLOR = "#2a9d4b"
REVERSE_ARROW_COLOR = "#8e44ad"


def hover_texts(pred: Prediction, extra: dict[str, Sequence[float]] | None = None) -> list[str]:
    """One hover label per atom: symbol+index, charge, weights, per-atom energy (eV), extras."""
    e_atom = sum(pred.terms.values()).numpy() * HARTREE_TO_EV
    out = []
    for k, sym in enumerate(pred.symbols):
        w = pred.weights[k].tolist()
        text = (f"{sym}{k}  q = {float(pred.charges[k]):+.3f} e\\nw+ {w[0]:.3f}  w0 {w[1]:.3f}  "
                f"w- {w[2]:.3f}  w* {w[3]:.3f}\\nE_atom {e_atom[k]:+.3f} eV")
        for name, vals in (extra or {}).items():
            text += f"\\n{name} {float(vals[k]):+.4g}"
        out.append(text)
    return out


def net_flows(pred: Prediction) -> list[tuple[int, int, float, float, float]]:
    """(donor, acceptor, net c_AB - c_BA, c_AB, c_BA) per atom pair, donor = the side that gives more
    (:func:`lsip.model.flows.net_pair_flows`)."""
    flows = net_pair_flows(pred.donor.tolist(), pred.acceptor.tolist(), pred.occupation.tolist())
    return [(f.donor, f.acceptor, f.net, f.forward, f.backward) for f in flows]


def _arrow(view: object, p0: np.ndarray, p1: np.ndarray, radius: float, color: str, hover: str) -> None:
    v = p1 - p0
    d = np.linalg.norm(v)
    if d < 1e-6:
        return
    u = v / d
    view_arrow(view, p0 + 0.30 * u, p1 - 0.30 * u, radius, color, hover)  # between the atom spheres


def latent_view(structure: Structure, pred: Prediction, values: Sequence[float] | None = None,
                value_title: str = "charge q", unit: str = "e", *, channel_threshold: float = 0.01,
                show_channels: bool = True, both_directions: bool = False, show_glyphs: bool = True,
                height: int = 440, font_size: int = 12, camera_key: str | None = None,
                labels: Sequence[str] | None = None, vmin: float | None = None,
                vmax: float | None = None, show_forces: bool = False, show_dipoles: bool = False,
                show_cell: bool = True) -> MoleculeView:
    """Structure coloured by ``values`` (default: charges) with channels and state-weight glyphs.

    ``vmin``/``vmax`` fix the colour range (default symmetric about zero, right for charges; pass
    ``vmin=0`` for non-negative quantities such as the charge fluctuation). ``show_forces`` adds one arrow per
    atom along its force (:func:`force_arrows`), ``show_dipoles`` one along its atomic dipole
    (:func:`dipole_arrows`)."""
    vals = pred.charges.numpy() if values is None else np.asarray(values, dtype=float)
    mv = molecule_view(structure, values=vals, value_title=value_title, unit=unit, height=height, vmin=vmin, vmax=vmax,
                       font_size=font_size, camera_key=camera_key, hover_texts=hover_texts(pred), labels=labels,
                       show_cell=show_cell)
    pos = structure.positions
    if show_channels:
        _add_channels(mv.view, pos, pred, channel_threshold, both_directions)
    if show_glyphs:
        _add_glyphs(mv.view, pos, pred)
    if show_forces:
        for start, end, radius, hover in force_arrows(pred, pos):
            view_arrow(mv.view, start, end, radius, FORCE_COLOR, hover)
    if show_dipoles:
        for start, end, radius, hover in dipole_arrows(pred, pos):
            view_arrow(mv.view, start, end, radius, DIPOLE_COLOR, hover)
    return mv


#: Colour of force arrows (distinct from the channel arrows).
FORCE_COLOR = "#2ca02c"


def force_arrows(pred: Prediction, pos: np.ndarray, max_length: float = 1.2,
                 min_force: float = 0.05) -> list[tuple[np.ndarray, np.ndarray, float, str]]:
    """One arrow per atom along its force: (start, end, radius, hover), angstrom.

    The longest arrow is ``max_length`` angstrom, the others scale linearly with |F| (eV/angstrom); atoms with
    |F| below ``min_force`` eV/angstrom get none. Hovers give the force in eV/angstrom.
    """
    from lsip.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM

    f = pred.forces.detach().cpu().numpy() * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    norm = np.linalg.norm(f, axis=1)
    top = float(norm.max()) if len(norm) else 0.0
    out = []
    for k in np.nonzero(norm >= min_force)[0]:
        u = f[k] / norm[k]
        length = max_length * norm[k] / top
        start = pos[k] + 0.35 * u  # from the atom's surface
        out.append((start, start + length * u, 0.06, f"{atom_label(pred.symbols, k)}: |F| = {norm[k]:.2f} eV/Å"))
    return out


#: Colour of atomic-dipole arrows.
DIPOLE_COLOR = "#9467bd"


def dipole_arrows(pred: Prediction, pos: np.ndarray, max_length: float = 1.0,
                  min_dipole: float = 0.01) -> list[tuple[np.ndarray, np.ndarray, float, str]]:
    """One arrow per atom along its atomic dipole p_A (pointing from the negative to the positive side of the
    atom's electron cloud, induced plus lone-pair dipole; docs/model.md sections 11 and 11.1): (start, end, radius,
    hover), angstrom. Like the force arrows they start at the atom's surface, so the head is never hidden inside
    the atom (water's O: an arrow from O towards its hydrogens, its lone pairs on the other side).

    The longest arrow is ``max_length`` angstrom, the others to scale; atoms with |p| below ``min_dipole`` debye get
    none. Hovers give |p| in debye.
    """
    from lsip.units import E_BOHR_TO_DEBYE

    p = pred.atomic_dipoles.detach().cpu().numpy()
    norm_d = np.linalg.norm(p, axis=1) * E_BOHR_TO_DEBYE
    top = float(norm_d.max()) if len(norm_d) else 0.0
    out = []
    for k in np.nonzero(norm_d >= min_dipole)[0]:
        u = p[k] / np.linalg.norm(p[k])
        length = max_length * norm_d[k] / top
        start = pos[k] + 0.35 * u  # from the atom's surface
        out.append((start, start + length * u, 0.05,
                    f"{atom_label(pred.symbols, k)}: atomic dipole |p| = {norm_d[k]:.3f} D"))
    return out


def view_arrow(view: object, start: np.ndarray, end: np.ndarray, radius: float, color: str, hover: str) -> None:
    """A hoverable arrow from ``start`` to ``end`` (angstrom)."""
    view.addArrow({"start": dict(zip("xyz", map(float, start))), "end": dict(zip("xyz", map(float, end))),
                   "radius": float(radius), "radiusRatio": 2.2, "mid": 0.75, "color": color,
                   "hoverable": True, "hover_label": hover})


def _add_channels(view: object, pos: np.ndarray, pred: Prediction, threshold: float, both: bool) -> None:
    if both:
        for d, a, c in zip(pred.donor.tolist(), pred.acceptor.tolist(), pred.occupation.tolist()):
            if c < threshold:
                continue
            off = np.cross(pos[a] - pos[d], [0.0, 0.0, 1.0])
            off = 0.08 * off / (np.linalg.norm(off) or 1.0)
            _arrow(view, pos[d] + off, pos[a] + off, 0.03 + 0.25 * np.sqrt(c), ARROW_COLOR,
                   f"{atom_label(pred.symbols, d)} -> {atom_label(pred.symbols, a)}: c = {c:.4f}")
        return
    for d, a, net, c_f, c_b in net_flows(pred):
        if net < threshold:
            continue
        _arrow(view, pos[d], pos[a], 0.03 + 0.25 * np.sqrt(net), ARROW_COLOR,
               f"{atom_label(pred.symbols, d)} -> {atom_label(pred.symbols, a)}: net {net:.4f} "
               f"(c = {c_f:.4f}, back {c_b:.4f})")


def _add_glyphs(view: object, pos: np.ndarray, pred: Prediction) -> None:
    w = pred.weights.numpy()
    for k in range(len(pos)):
        fluct = w[k, 0] + w[k, 2]
        if fluct > 0.02:
            color = "#d62728" if w[k, 0] > w[k, 2] else "#1f77b4"
            view.addSphere({"center": dict(zip("xyz", map(float, pos[k]))), "radius": 0.35 + 0.6 * fluct,
                            "color": color, "opacity": 0.18})
        if w[k, 3] > 0.02:
            view.addSphere({"center": dict(zip("xyz", map(float, pos[k]))), "radius": 0.3 + 0.8 * w[k, 3],
                            "color": "#ff7f0e", "opacity": 0.15, "wireframe": True})


def add_isosurfaces(view: object, cube_text: str, isovalue: float, signed: bool = False,
                    color: str = "#3b7dd8", opacity: float = 0.55) -> None:
    """Add a density isosurface from cube text; ``signed`` data (differences) get a red positive lobe
    (more density in the model) and a blue negative lobe (less), matching the diverging colour map."""
    if signed:
        view.addVolumetricData(cube_text, "cube", {"isoval": abs(isovalue), "color": "#d62728", "opacity": opacity})
        view.addVolumetricData(cube_text, "cube", {"isoval": -abs(isovalue), "color": "#1f77b4", "opacity": opacity})
    else:
        view.addVolumetricData(cube_text, "cube", {"isoval": isovalue, "color": color, "opacity": opacity})
