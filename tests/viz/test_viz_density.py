"""lsip.reference.density / lsip.viz.density_views: model, promolecule and DFT densities on one grid, slices,
per-atom integrals.

Reference values: electron counts are exact (N = sum Z - Q); the DFT density is PBE0/def2-SVP from the reference
driver (no cache). Tolerances of the regular-grid integrals are set by the grid (stated per test).
"""

from __future__ import annotations

import numpy as np
import pytest

from lsip.errors import LSIPError
from lsip.gallery import gallery_structure
from lsip.io.cube import read_cube
from lsip.model.density import promolecule_weights
from lsip.reference import density as D
from lsip.reference.driver import ReferenceDFT
from lsip.viz import density_views as V


@pytest.fixture(scope="module")
def lib(shipped_model):
    return shipped_model.library


def _fields(model, name: str):
    st = gallery_structure(name)
    pred = model.predict(st)
    ref = ReferenceDFT(st, cache=False).kernel(model_weights=pred.weights.numpy())
    return D.DensityFields(model.library, st, pred.weights.numpy(), ref), ref


@pytest.fixture(scope="module")
def h2_fields(shipped_model):
    return _fields(shipped_model, "h2")


@pytest.fixture(scope="module")
def lih_fields(shipped_model):
    return _fields(shipped_model, "lih")


def test_h2_densities_integrate_to_two_electrons_on_one_grid(h2_fields):
    fields, _ = h2_fields
    grid = D.display_grid(fields.structure, points=64, margin=8.0)  # spacing 0.28 bohr, tails to 8 bohr
    cubes = D.grid_densities(fields, grid)
    assert set(cubes) == {"model", "promolecule", "dft", "difference"}
    for kind in ("model", "promolecule", "dft"):
        assert cubes[kind].shape == (64, 64, 64)
        assert D.integrate(cubes[kind], grid) == pytest.approx(2.0, abs=2e-3), kind
    np.testing.assert_allclose(cubes["difference"], cubes["model"] - cubes["dft"], atol=0)


def test_lih_densities_integrate_to_four_electrons(lih_fields):
    fields, _ = lih_fields
    grid = D.display_grid(fields.structure, points=64, margin=8.0)
    cubes = D.grid_densities(fields, grid)
    # the Li 1s cusp is under-sampled at 0.3 bohr spacing: the Riemann sum loses ~0.03 e, the same for all three
    counts = {k: D.integrate(cubes[k], grid) for k in ("model", "promolecule", "dft")}
    for kind, n in counts.items():
        assert n == pytest.approx(4.0, abs=0.04), kind
    assert max(counts.values()) - min(counts.values()) < 0.01


def test_difference_of_identical_densities_is_zero(lib):
    st = gallery_structure("water")
    fields = D.DensityFields(lib, st, promolecule_weights(3).numpy())  # the model *is* the promolecule
    grid = D.display_grid(st, points=16)
    cubes = D.grid_densities(fields, grid)
    assert set(cubes) == {"model", "promolecule"}
    assert np.array_equal(cubes["model"], cubes["promolecule"])
    sl = D.slice_densities(fields, grid, "xy", resolution=31)
    assert np.max(np.abs(sl.values["model_minus_promolecule"])) == 0.0


def test_axis_and_atom_slices_have_the_right_shape(lib):
    st = gallery_structure("water")  # in the xy plane
    fields = D.DensityFields(lib, st, promolecule_weights(3).numpy())
    grid = D.display_grid(st, points=20)
    sl = D.slice_densities(fields, grid, "xy", resolution=41)
    assert sl.values["model"].shape == (len(sl.t), len(sl.s))
    assert max(len(sl.s), len(sl.t)) == 41
    assert all(dist < 1e-6 for *_, dist in sl.atoms)  # water lies in the xy plane through the box centre
    yz = D.slice_densities(fields, grid, "yz", resolution=25)
    assert yz.values["promolecule"].shape == (len(yz.t), len(yz.s)) and np.all(yz.values["promolecule"] >= 0)
    through = D.slice_densities(fields, grid, "atoms", atoms=(0, 1, 2), resolution=33)
    assert through.values["model"].shape == (len(through.t), len(through.s))
    assert all(dist < 1e-9 for *_, dist in through.atoms)
    # the plane through O, H, H is the xy plane: same densities at the same points up to the in-plane rotation
    assert np.abs(through.u[2]) < 1e-12 and np.abs(through.v[2]) < 1e-12


def test_bad_planes_are_clear_errors(lib):
    st = gallery_structure("co2")  # linear
    fields = D.DensityFields(lib, st, promolecule_weights(3).numpy())
    grid = D.display_grid(st, points=12)
    with pytest.raises(LSIPError, match="collinear"):
        D.slice_densities(fields, grid, "atoms", atoms=(0, 1, 2))
    with pytest.raises(LSIPError, match="three different"):
        D.slice_densities(fields, grid, "atoms", atoms=(0, 1))
    with pytest.raises(LSIPError, match="unknown plane"):
        D.slice_densities(fields, grid, "xw")
    with pytest.raises(LSIPError, match="shape"):
        D.DensityFields(lib, st, np.ones((2, 4)))


def test_per_atom_differences_add_up_to_the_reported_errors(lih_fields):
    fields, ref = lih_fields
    diffs = D.per_atom_differences(fields)
    # Becke cells partition the same molecular grid the driver integrates on
    assert diffs.becke_abs_model.sum() == pytest.approx(ref.density_error["model"], rel=1e-8)
    assert diffs.electrons_grid == pytest.approx(4.0, abs=1e-4)
    # both densities hold 4 electrons, so the per-atom differences sum to ~0 in either partition
    assert abs(diffs.becke_model.sum()) < 1e-3 and abs(diffs.hirshfeld_model.sum()) < 1e-3
    np.testing.assert_allclose(diffs.dft_hirshfeld_charges, ref.charges["hirshfeld"], atol=1e-6)
    rows = diffs.rows()
    assert [r["atom"] for r in rows] == ["Li0", "H1"]


def test_cube_text_round_trips_on_the_shared_grid(h2_fields, tmp_path):
    fields, _ = h2_fields
    grid = D.display_grid(fields.structure, points=12)
    cubes = D.grid_densities(fields, grid)
    path = tmp_path / "diff.cube"
    path.write_text(D.density_cube_text(grid, cubes["difference"], fields.structure, "difference"))
    data = read_cube(path)
    assert data.grid.same_as(grid, tol=1e-5)
    np.testing.assert_allclose(data.values, cubes["difference"], rtol=1e-4, atol=1e-12)


def test_reference_of_another_geometry_is_refused(h2_fields, lib):
    _, ref = h2_fields
    other = gallery_structure("h2").with_positions(gallery_structure("h2").positions * 1.1)
    with pytest.raises(LSIPError, match="another geometry"):
        D.DensityFields(lib, other, promolecule_weights(2).numpy(), ref)


def test_linked_viewers_and_figures(h2_fields):
    fields, ref = h2_fields
    grid = D.display_grid(fields.structure, points=12)
    cubes = D.grid_densities(fields, grid)
    texts = {k: D.density_cube_text(grid, cubes[k], fields.structure, k) for k in ("dft", "model", "promolecule")}
    html, height = V.linked_isosurfaces_html(fields.structure, texts, 0.03, height=300, camera_key="t")
    assert height == 300 + V.TITLE_HEIGHT
    assert "loadScriptAsync('/app/static/3Dmol-min.js')" in html and "https://" not in html
    assert "createViewerGrid" in html and html.count("addVolumetricData") == 3
    assert ">DFT<" in html and ">promolecule<" in html
    sl = D.slice_densities(fields, grid, "xy", resolution=21)
    fig = V.slice_figure(sl, "difference")
    assert fig.data[0].zmid == 0.0 and fig.data[0].z.shape == sl.values["difference"].shape
    wfig = V.weights_comparison(fields.structure.symbols, fields.model_weights, ref.latent_weights)
    assert len(wfig.data) == 4 and list(wfig.data[0].x) == ["H0 model", "H0 DFT", "H1 model", "H1 DFT"]
    efig = V.reconstruction_errors(ref.density_error)
    assert len(efig.data[0].y) == 3
