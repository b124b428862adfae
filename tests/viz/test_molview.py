"""lsip.viz.molview: colour mapping, legend and the py3Dmol HTML (drawing itself is checked in tests/browser/)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lsip.structure import Structure
from lsip.viz import molview

WATER = Structure(("O", "H", "H"), np.array([[0.0, 0.0, 0.0], [0.7575, 0.5865, 0.0], [-0.7575, 0.5865, 0.0]]))


def _atom_colors(html: str) -> dict[int, str]:
    """index -> colour of the per-atom setStyle calls in the generated JavaScript."""
    found = re.findall(r'setStyle\(\{"index": (\d+)\},\{"stick": \{[^}]*"color": "(#[0-9a-f]{6})"', html)
    return {int(k): c for k, c in found}


def test_diverging_map_ends_centre_and_clipping():
    assert molview.diverging_colors([-2.0, -1.0, 0.0, 1.0, 3.0], -1.0, 1.0) == [
        "#2166ac", "#2166ac", "#f7f7f7", "#b2182b", "#b2182b"]
    assert molview.diverging_colors([-1.0, 1.0], -1.0, 1.0, reverse=True) == ["#b2182b", "#2166ac"]
    assert molview.diverging_colors([np.nan], -1.0, 1.0) == [molview.MISSING_COLOR]
    # halfway between the centre and the red end is the 4th anchor exactly
    assert molview.diverging_colors([0.5], -1.0, 1.0) == ["#f4a582"]


def test_symmetric_range():
    assert molview.symmetric_range([0.3, -0.7, np.nan]) == (-0.7, 0.7)
    assert molview.symmetric_range([0.0, 0.0]) == (-1.0, 1.0)
    assert molview.symmetric_range([5.0], vmin=-0.2) == (-0.2, 0.2)
    assert molview.symmetric_range([5.0], vmin=0.0, vmax=2.0) == (0.0, 2.0)
    with pytest.raises(ValueError, match="vmin < vmax"):
        molview.symmetric_range([1.0], vmin=1.0, vmax=1.0)


def test_values_colour_atoms_and_legend_matches():
    q = np.array([-0.66, 0.33, 0.33])
    mv = molview.molecule_view(WATER, q, value_title="charge", unit="e")
    html = mv.html()
    assert (mv.vmin, mv.vmax) == (-0.66, 0.66)
    assert _atom_colors(html) == {0: "#2166ac", 1: "#f4a582", 2: "#f4a582"}
    assert "charge (e)" in mv.legend_html and "+0.66" in mv.legend_html and "-0.66" in mv.legend_html
    assert "linear-gradient(to right, #2166ac, #92c5de, #f7f7f7, #f4a582, #b2182b)" in mv.legend_html
    assert mv.total_height == mv.height + molview.LEGEND_HEIGHT
    assert "O0  charge = -0.660 e" in html  # default hover text
    assert html.count("/app/static/3Dmol-min.js") == 1 and "cdn" not in html


def test_element_colours_without_values():
    mv = molview.molecule_view(WATER, height=300)
    assert mv.legend_html == "" and mv.total_height == 300 and mv.vmin is None
    assert _atom_colors(mv.html()) == {}
    assert "3\\nH2O\\nO 0.000000 0.000000 0.000000" in mv.html()


def test_labels_cannot_break_out_of_the_script():
    mv = molview.molecule_view(WATER, labels=["</script><b>x", "", "H"], hover_texts=["</script>", "a", "b"])
    html = mv.html()
    assert html.count("</script>") == 1  # only py3Dmol's own closing tag
    assert html.count("addLabel(") == 1 + 2  # one in the hover callback + the two non-empty labels


def test_camera_memory_and_bad_input():
    assert "sessionStorage" in molview.molecule_view(WATER, camera_key="home").html()
    assert "sessionStorage" not in molview.molecule_view(WATER).html()
    with pytest.raises(ValueError, match="3 atoms"):
        molview.molecule_view(WATER, values=[1.0, 2.0])
    with pytest.raises(ValueError, match="3 atoms"):
        molview.molecule_view(WATER, labels=["a"])
    with pytest.raises(ValueError, match="unknown style"):
        molview.molecule_view(WATER, style="cartoon")


def test_periodic_cell_is_drawn():
    crystal = Structure(("Na", "Cl"), np.array([[0.0, 0.0, 0.0], [2.8, 0.0, 0.0]]),
                        cell=np.eye(3) * 5.6, pbc=(True, True, True))
    assert crystal.cell is not None
    assert molview.molecule_view(crystal).html().count("addCylinder(") == 12
    assert molview.molecule_view(WATER).html().count("addCylinder(") == 0


def test_small_molecules_are_zoomed_to_fill_the_view():
    # 3Dmol fits at least a 5 A box; water's atom-centre box diagonal is 2 * 0.7575 x 0.5865 = 1.6245 A
    assert molview.fit_zoom(WATER.positions) == pytest.approx(5.0 / (np.hypot(1.515, 0.5865) + 1.4))
    assert molview.fit_zoom(np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])) == 1.0
    html = molview.molecule_view(WATER).html()
    assert re.search(r"\.zoomTo\(\);\n\s*viewer_\d+\.zoom\(1\.65", html)


def test_finite_structures_are_turned_onto_their_principal_axes_and_cells_are_optional():
    """Issue 14.9: a rotation to the principal axes precedes the first zoom (none for crystals, which keep their
    cell axes); the cell edges can be switched off."""
    yz_water = Structure(("O", "H", "H"), np.array([[0.0, 0.0, 0.117], [0.0, 0.757, -0.469], [0.0, -0.757, -0.469]]))
    html = molview.molecule_view(yz_water).html()
    assert re.search(r"\.rotate\(120\.0\d*,", html) and html.index(".rotate(") < html.rindex(".zoomTo(")
    assert ".rotate(" not in molview.molecule_view(yz_water, orient=False).html()
    crystal = Structure(("Na", "Cl"), np.array([[0.0, 0, 0], [2.8, 2.8, 2.8]]), cell=np.eye(3) * 5.6,
                        pbc=(True, True, True))
    assert ".rotate(" not in molview.molecule_view(crystal).html()
    assert molview.molecule_view(crystal, show_cell=False).html().count("addCylinder(") == 0


def test_png_button_is_optional_and_names_its_file():
    html = molview.molecule_view(WATER, png_name="water_charges").html()
    assert html.count("lsip-png") == 1 and "v.pngURI()" in html and '"water_charges.png"' in html
    assert "lsip-png" not in molview.molecule_view(WATER, png_name=None).html()


def test_force_arrows_point_along_the_forces(shipped_model):
    """Arrows start at each atom's surface, point along F, the longest is 1.2 A; tiny forces get none."""
    from lsip.gallery import gallery_structure
    from lsip.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    from lsip.viz import latent3d

    st = gallery_structure("water")
    pos = st.positions.copy()
    pos[1] += [0.0, 0.15, 0.0]  # stretch one O-H bond: a clear force on that H
    st = st.with_positions(pos)
    pred = shipped_model.predict(st)
    arrows = latent3d.force_arrows(pred, st.positions)
    f = pred.forces.numpy() * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    assert len(arrows) == int((np.linalg.norm(f, axis=1) >= 0.05).sum()) > 0
    lengths = [float(np.linalg.norm(e - s)) for s, e, _, _ in arrows]
    assert max(lengths) == pytest.approx(1.2)
    for (start, end, _, hover), k in zip(arrows, np.nonzero(np.linalg.norm(f, axis=1) >= 0.05)[0]):
        u = (end - start) / np.linalg.norm(end - start)
        np.testing.assert_allclose(u, f[k] / np.linalg.norm(f[k]), atol=1e-12)
        assert f"{st.symbols[k]}{k}" in hover and "eV/Å" in hover
    html = latent3d.latent_view(st, pred, show_forces=True).html()
    assert latent3d.FORCE_COLOR in html
    assert latent3d.FORCE_COLOR not in latent3d.latent_view(st, pred).html()


def test_non_negative_quantities_use_the_sequential_map():
    """Issue 14.10: a quantity that is never negative (vmin=0, e.g. the charge fluctuation) is drawn white-to-red,
    not on the signed blue-white-red map."""
    h2 = Structure(("H", "H"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]))
    seq = molview.molecule_view(h2, values=[0.0, 0.2], vmin=0.0, vmax=0.2, value_title="w+ + w-")
    assert molview.SEQUENTIAL_ANCHORS[0] in seq.legend_html and molview.DIVERGING_ANCHORS[0] not in seq.legend_html
    assert "#fff5f0" in seq.html()  # the zero-valued atom is white-ish
    signed = molview.molecule_view(h2, values=[-0.1, 0.1], value_title="q", unit="e")
    assert molview.DIVERGING_ANCHORS[0] in signed.legend_html
    assert molview.SEQUENTIAL_ANCHORS[0] not in signed.legend_html


def test_dipole_arrows_point_along_the_atomic_dipoles():
    """The calibrated set's water: O carries the largest dipole (its lone pairs, docs/model.md 11.1), an arrow from O's
    surface towards the hydrogens (along p_O), 1.0 A long; hovers give |p| in debye; off unless asked for."""
    from lsip.gallery import gallery_structure
    from lsip.model.model import LSIPModel
    from lsip.viz import latent3d

    st = gallery_structure("water")
    pred = LSIPModel(params="calibrated", device="cpu").predict(st)
    p = pred.atomic_dipoles.numpy()
    arrows = latent3d.dipole_arrows(pred, st.positions)
    assert arrows and int(np.argmax(np.linalg.norm(p, axis=1))) == 0
    start, end, _, hover = arrows[0]
    u = (end - start) / np.linalg.norm(end - start)
    np.testing.assert_allclose(u, p[0] / np.linalg.norm(p[0]), atol=1e-12)
    assert float(np.linalg.norm(end - start)) == pytest.approx(1.0)
    assert float(np.linalg.norm(start - st.positions[0])) == pytest.approx(0.35)
    bisector = st.positions[1:].mean(0) - st.positions[0]
    assert float(u @ bisector) > 0.9 * float(np.linalg.norm(bisector))  # towards the hydrogens
    assert "O0" in hover and " D" in hover
    assert latent3d.DIPOLE_COLOR in latent3d.latent_view(st, pred, show_dipoles=True).html()
    assert latent3d.DIPOLE_COLOR not in latent3d.latent_view(st, pred).html()
