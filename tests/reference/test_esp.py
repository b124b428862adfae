"""Electrostatic potentials: the model's (lsip.model.density), the DFT's (lsip.reference.density) and their
ESP-coloured surfaces (lsip.viz.density_views).

Reference values, each from an independent path:
* a normalised Gaussian's potential is erf(sqrt(a) r) / r (closed form); a point charge's is Q / r;
* the potential of a charge density satisfies Poisson's equation, lap ESP = 4 pi rho_electrons away from nuclei
  (finite differences of the ESP against the model's own density functions);
* far from a neutral spherical atom the potential vanishes (Gauss); far from a dipole it is p.r / r^3;
* the DFT ESP against PySCF's own ``tools.cubegen.mep`` on its cube points (a separate SCF run, not the driver).
"""

from __future__ import annotations

import numpy as np
import pytest
from pyscf import dft
from pyscf.tools import cubegen
from scipy.special import erf

from lsip.gallery import gallery_structure
from lsip.io.cube import read_cube
from lsip.model.density import (
    BasisDensities,
    BasisPotentials,
    dipole_density,
    dipole_potential,
    gaussian_potential,
    model_electrostatic_potential,
    nuclear_potential,
    promolecule_weights,
    radial_potential,
)
from lsip.model.library import default_library
from lsip.reference import density as D
from lsip.reference.driver import ReferenceDFT
from lsip.reference.grids import build_mole
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR, HARTREE_TO_EV
from lsip.viz import density_views as V
from lsip.viz.molview import JS_URL

WATER = Structure(("O", "H", "H"), [[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]], name="water")
OH = Structure(("O", "H"), [[0, 0, 0], [0, 0, 0.97]])


@pytest.fixture(scope="module")
def lib():
    return default_library()


def _laplacian(f, points: np.ndarray, h: float = 3e-3) -> np.ndarray:
    return sum((f(points + h * e) + f(points - h * e) - 2.0 * f(points)) / h**2 for e in np.eye(3))


@pytest.mark.parametrize("a", [0.3, 2.0, 50.0, 5000.0])
def test_radial_potential_of_a_gaussian_is_erf_over_r(lib, a):
    r = np.asarray(lib.r_grid)
    rho = (a / np.pi) ** 1.5 * np.exp(-a * r * r)
    exact = erf(np.sqrt(a) * r) / r
    np.testing.assert_allclose(radial_potential(r, rho), exact, rtol=1e-5)
    np.testing.assert_allclose(gaussian_potential(r, [1.0], [a]), exact, rtol=1e-12)
    assert gaussian_potential(np.array([0.0]), [2.0], [a])[0] == pytest.approx(4.0 * np.sqrt(a / np.pi))


def test_point_charge_limit_is_z_over_r_minus_q_over_r():
    """A nucleus Z with a Gaussian cloud of Q electrons so compact (a = 1e12 bohr^-2) it is a point charge."""
    r = np.array([0.05, 0.5, 1.0, 3.0, 10.0])
    pts = np.stack([r, np.zeros_like(r), np.zeros_like(r)], axis=1)
    z, q = 8.0, 9.0
    esp = nuclear_potential(pts, np.zeros((1, 3)), [z]) - gaussian_potential(r, [q], [1e12])
    np.testing.assert_allclose(esp, (z - q) / r, rtol=1e-12)


@pytest.mark.parametrize("symbol", ["H", "O"])
def test_neutral_atom_potential_vanishes_outside(lib, symbol):
    """Gauss: a neutral spherical atom has no potential outside its density; 4 A from the library's free atom the
    numeric ESP is below 1e-3 hartree/e (H: ~1e-6), and near the nucleus it is positive and approaches Z/r."""
    pot = BasisPotentials(lib, [symbol])
    w = promolecule_weights(1).numpy()
    far = np.array([[4.0 * ANGSTROM_TO_BOHR, 0, 0], [0, -3.0 * ANGSTROM_TO_BOHR, 3.0 * ANGSTROM_TO_BOHR], [0, 0, 80.0]])
    esp_far = model_electrostatic_potential(far, np.zeros((1, 3)), pot, w)
    assert np.abs(esp_far).max() < 1e-3, esp_far
    near = np.array([[1e-3, 0, 0], [0.3, 0, 0]])
    esp_near = model_electrostatic_potential(near, np.zeros((1, 3)), pot, w)
    z = lib.elements[symbol].Z
    assert np.all(esp_near > 0) and esp_near[0] * 1e-3 == pytest.approx(z, rel=0.02)
    # an ion is a charge: far from a cation the potential is +1/r
    w_cat = np.zeros((1, 4))
    w_cat[0, 0] = 1.0
    if symbol == "O":
        np.testing.assert_allclose(model_electrostatic_potential(far, np.zeros((1, 3)), pot, w_cat),
                                   1.0 / np.linalg.norm(far, axis=1), rtol=1e-5)


def test_dipole_lobe_potential_point_dipole_far_and_poisson_near(lib):
    tr = lib.elements["H"].transition
    shapes = [(tr.shape_coefficients, tr.shape_exponents)]
    p = np.array([[0.3, -0.2, 0.5]])
    far = np.array([[0, 0, 30.0], [20.0, 5.0, -3.0]])
    np.testing.assert_allclose(dipole_potential(far, np.zeros((1, 3)), p, shapes),
                               far @ p[0] / np.linalg.norm(far, axis=1) ** 3, rtol=1e-8)
    near = np.array([[0.2, 0.1, 0.3], [1.0, -0.5, 0.2], [0.0, 2.0, 1.0]])
    lap = _laplacian(lambda x: dipole_potential(x, np.zeros((1, 3)), p, shapes), near)
    # the lobe's charge density is -p.grad s, so lap ESP = -4 pi (charge) = 4 pi (electron density p.grad s)
    np.testing.assert_allclose(lap, 4 * np.pi * dipole_density(near, np.zeros((1, 3)), p, shapes).numpy(),
                               rtol=1e-4)
    at_nucleus = dipole_potential(np.zeros((1, 3)), np.zeros((1, 3)), p, shapes)
    just_off = dipole_potential(np.full((1, 3), 1e-7), np.zeros((1, 3)), p, shapes)
    assert np.isfinite(at_nucleus).all() and at_nucleus[0] == pytest.approx(0.0, abs=1e-9)
    assert abs(just_off[0]) < 1e-5


def test_model_esp_obeys_poisson_with_the_model_density(lib):
    """lap ESP = 4 pi rho_model (spherical states with arbitrary weights and dipolar lobes) off the nuclei; the
    tolerance is the cubic interpolation's curvature error of the tables (~0.3 %)."""
    syms = list(WATER.symbols)
    pos = WATER.positions * ANGSTROM_TO_BOHR
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(4), 3)
    shapes = [(lib.elements[s].transition.shape_coefficients, lib.elements[s].transition.shape_exponents)
              for s in syms]
    dip = rng.normal(size=(3, 3)) * 0.3
    pot, dens = BasisPotentials(lib, syms), BasisDensities(lib, syms)
    pts = np.array([[0.3, 0.4, 1.2], [1.0, 1.5, -0.2], [0.0, 2.5, 1.0], [2.0, 2.0, 2.0]])
    lap = _laplacian(lambda x: model_electrostatic_potential(x, pos, pot, w, dip, shapes), pts, h=1e-2)
    rho = dens.density(pts, pos, w).numpy() + dipole_density(pts, pos, dip, shapes).numpy()
    np.testing.assert_allclose(lap, 4 * np.pi * rho, rtol=5e-3)


@pytest.fixture(scope="module")
def water_sto3g():
    return ReferenceDFT(WATER, basis="sto-3g", cache=False).kernel()


def test_dft_esp_matches_pyscf_cubegen_mep(water_sto3g, tmp_path):
    """Our chunked, pair-packed integrals against PySCF's ``cubegen.mep`` (its own loop) with the density matrix of
    a separate PySCF SCF (not the driver's), on cubegen's own 4^3 points."""
    mol = build_mole(WATER, "sto-3g")
    mf = dft.RKS(mol, xc="PBE0")
    mf.verbose = 0
    mf.kernel()
    mep = cubegen.mep(mol, str(tmp_path / "mep.cube"), mf.make_rdm1(), 4, 4, 4).reshape(-1)
    pts = cubegen.Cube(mol, 4, 4, 4).get_coords()
    ours = D.dft_electrostatic_potential(water_sto3g.mole(), water_sto3g.density_matrix, pts, memory_bytes=4000)
    np.testing.assert_allclose(ours, mep, atol=1e-6)
    assert ours.min() < -0.01 and ours.max() > 0.05  # lone-pair side negative, near the H positive


def test_dft_esp_of_an_open_shell_sums_both_spins(tmp_path):
    res = ReferenceDFT(OH, basis="sto-3g", cache=False).kernel()
    assert res.unrestricted and res.density_matrix.shape[0] == 2
    mol = res.mole()
    pts = cubegen.Cube(mol, 3, 3, 3).get_coords()
    mep = cubegen.mep(mol, str(tmp_path / "oh.cube"), res.density_matrix.sum(axis=0), 3, 3, 3).reshape(-1)
    np.testing.assert_allclose(D.dft_electrostatic_potential(mol, res.density_matrix, pts), mep, atol=1e-8)


def test_grid_esp_lives_on_the_surface_band_and_has_both_signs(shipped_model, water_sto3g, tmp_path):
    pred = shipped_model.predict(WATER)
    fields = D.DensityFields(shipped_model.library, WATER, pred.weights.numpy(), water_sto3g)
    grid = D.display_grid(WATER, 24)
    vals = D.grid_densities(fields, grid)
    esp = D.grid_esp(fields, grid, vals, D.ESP_ISOVALUE)
    assert set(esp) == {"model", "dft"}
    for kind, values in esp.items():
        band = D.surface_band(vals[kind], D.ESP_ISOVALUE)
        assert 0 < band.sum() < band.size and np.all(values[~band] == 0.0) and np.all(values[band] != 0.0)
        assert band.sum() == D.band_points(vals[kind], D.ESP_ISOVALUE)
        surface = D.surface_esp_values(vals[kind], values, D.ESP_ISOVALUE)
        assert len(surface) > 100 and surface.min() < 0.0 < surface.max(), (kind, surface.min(), surface.max())
        # the band holds every corner of every cell the surface crosses
        rho = vals[kind]
        crossing = (rho[:-1] - D.ESP_ISOVALUE) * (rho[1:] - D.ESP_ISOVALUE) < 0
        assert band[:-1][crossing].all() and band[1:][crossing].all()
    # the band's ESP equals a direct evaluation at those points
    pts = grid.points()[D.surface_band(vals["dft"], D.ESP_ISOVALUE).reshape(-1)][:50]
    direct = fields.esp(pts)
    np.testing.assert_allclose(esp["dft"].reshape(-1)[D.surface_band(vals["dft"], D.ESP_ISOVALUE).reshape(-1)][:50],
                               direct["dft"], atol=1e-12)
    limit = D.esp_colour_limit([D.surface_esp_values(vals[k], esp[k], D.ESP_ISOVALUE) for k in esp])
    assert 0.01 < limit < 0.5
    path = tmp_path / "esp.cube"  # the compact text (zeros written as "0") is still a valid cube file
    path.write_text(D.esp_cube_text(grid, esp["dft"], WATER, "dft"))
    np.testing.assert_allclose(read_cube(path).values, esp["dft"], rtol=1e-5, atol=1e-12)


def test_esp_colour_limit_rounding():
    assert D.esp_colour_limit([np.array([0.0123, -0.05])]) == pytest.approx(0.05)
    assert D.esp_colour_limit([np.array([0.1234] * 10), np.array([-0.011])]) == pytest.approx(0.13)
    assert D.esp_colour_limit([np.array([])]) == 0.01


def test_dft_esp_time_estimate():
    assert D.dft_esp_seconds(4000, 114) == pytest.approx(1.8, rel=0.1)  # the benzene/def2-SVP measurement


def test_rwb_matches_3dmol_and_the_legend_reads_red_negative():
    assert V.rwb_hex(-2.0, -1.0, 1.0) == "#ff0000"  # clipped
    assert V.rwb_hex(-0.5, -1.0, 1.0) == "#ffb4b4"  # 255 sqrt(0.5) = 180
    assert V.rwb_hex(0.5, -1.0, 1.0) == "#b4b4ff"
    bar = V.esp_colorbar_html(1.36, "V", 0.002)
    assert bar.index("#ff0000") < bar.index("#ffffff") < bar.index("#0000ff")  # left (negative) red
    assert "-1.36" in bar and "+1.36" in bar and "(V)" in bar and "red negative" in bar


def test_esp_surfaces_html_one_scale_for_both_viewers():
    cube = "fake cube"
    html, height = V.esp_surfaces_html(WATER, {"dft": cube, "model": cube}, {"dft": "esp1", "model": "esp2"},
                                       0.002, 0.05, unit="V", font_size=15, camera_key="k")
    assert JS_URL in html and "cdn" not in html.lower() and "createViewerGrid" in html
    assert html.count('"volscheme": {"gradient": "rwb", "min": -0.05, "max": 0.05}') == 2
    assert '"voldata": "esp1"' in html and '"voldata": "esp2"' in html and html.count('"volformat": "cube"') == 2
    assert html.index(">DFT<") < html.index(">model (decoded)<")
    assert f"{-0.05 * HARTREE_TO_EV:+.3g}" in html and "(V)" in html
    assert height == 380 + V.TITLE_HEIGHT + V.LEGEND_HEIGHT
    html_au, _ = V.esp_surfaces_html(WATER, {"model": cube}, {"model": "esp"}, 0.002, 0.05, unit="hartree/e")
    assert "(hartree/e)" in html_au and "-0.05" in html_au
    with pytest.raises(ValueError):
        V.esp_surfaces_html(WATER, {"model": cube}, {"model": "esp"}, 0.002, 0.0)


def test_gallery_water_model_esp_is_cheap_everywhere(shipped_model):
    st = gallery_structure("water")
    pred = shipped_model.predict(st)
    fields = D.DensityFields(shipped_model.library, st, pred.weights.numpy())
    out = fields.esp(np.array([[0.0, 0.0, 10.0]]))
    assert set(out) == {"model"} and abs(out["model"][0]) < 0.05  # a neutral molecule: small far away
