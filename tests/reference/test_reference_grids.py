"""Densities on grids (lsip.reference.grids) and cube files shared by model, DFT and difference densities.

The cube convention is checked against PySCF's own writer (``pyscf.tools.cubegen``): same grid points,
same values.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyscf import dft
from pyscf.tools import cubegen

from lsip.errors import StructureError
from lsip.io.cube import CubeGrid, read_cube, write_cube
from lsip.model.density import BasisDensities
from lsip.model.library import default_library
from lsip.reference.driver import ReferenceDFT
from lsip.reference.grids import build_mole, cube_grid_for, density_on_cube, density_on_points, molecular_grid
from lsip.structure import Structure

H2 = Structure(("H", "H"), [[0, 0, 0], [0, 0, 0.741]])
LIH = Structure(("Li", "H"), [[0, 0, 0], [0, 0, 1.595]])


@pytest.fixture(scope="module")
def lih():
    return ReferenceDFT(LIH, cache=False, basis="def2-SVP").kernel()


def test_density_integrates_to_n_on_both_grids(lih):
    mol = lih.mole()
    coords, weights = molecular_grid(mol, 3)
    rho = density_on_points(mol, lih.density_matrix, coords, block=5000)  # several blocks
    assert weights @ rho == pytest.approx(4.0, abs=1e-5)
    mol2 = build_mole(H2, "sto-3g")
    mf = dft.RKS(mol2, xc="pbe0")
    mf.verbose = 0
    mf.kernel()
    grid = cube_grid_for(H2, spacing=0.1, margin=6.0)  # Gaussian basis: no cusp, a fine Riemann sum is accurate
    assert density_on_cube(mol2, mf.make_rdm1(), grid).sum() * grid.voxel_volume == pytest.approx(2.0, abs=1e-3)


def test_cube_convention_matches_pyscf_cubegen(lih, tmp_path):
    mol = lih.mole()
    dm = lih.density_matrix
    cubegen.density(mol, str(tmp_path / "pyscf.cube"), dm, nx=12, ny=14, nz=16)  # margin 3 bohr, end points in
    theirs = read_cube(tmp_path / "pyscf.cube")
    ours = CubeGrid.around(mol.atom_coords(), margin=3.0, shape=(12, 14, 16))
    assert theirs.grid.same_as(ours, tol=2e-6)
    np.testing.assert_allclose(theirs.values, density_on_cube(mol, dm, ours), rtol=2e-5, atol=1e-12)
    assert cube_grid_for(LIH, shape=(12, 14, 16)).same_as(ours)


def test_model_dft_and_difference_cubes_share_one_grid(lih, tmp_path):
    st, mol = lih.structure(), lih.mole()
    grid = cube_grid_for(st, shape=(20, 20, 24))
    dft_rho = density_on_cube(mol, lih.density_matrix, grid)
    model_rho = BasisDensities(default_library(), st.symbols).density(
        grid.points(), mol.atom_coords(), lih.latent_weights).numpy().reshape(grid.shape)
    files = {}
    for name, values in (("dft", dft_rho), ("model", model_rho), ("diff", model_rho - dft_rho)):
        files[name] = read_cube(write_cube(tmp_path / f"{name}.cube", grid, values, st.numbers, mol.atom_coords()))
    assert all(f.grid.same_as(grid, tol=1e-6) for f in files.values())
    scale = np.abs(dft_rho).max()
    np.testing.assert_allclose(files["diff"].values, files["model"].values - files["dft"].values,
                               atol=2e-5 * scale)


def test_build_mole_rejects_periodic_structures():
    st = Structure(("H", "H"), [[0, 0, 0], [0, 0, 0.74]], cell=np.eye(3) * 5, pbc=(True, True, True))
    with pytest.raises(StructureError, match="molecular only"):
        build_mole(st, "sto-3g")
