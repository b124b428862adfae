"""lsip.io.cube: the one regular-grid definition (PySCF convention, end points included) and cube-file I/O."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lsip.errors import LSIPError
from lsip.io.cube import CubeGrid, cube_text, read_cube, write_cube
from lsip.units import ANGSTROM_TO_BOHR


def test_around_includes_both_end_points():
    pos = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.5]])
    g = CubeGrid.around(pos, margin=3.0, shape=(11, 21, 5))
    pts = g.points().reshape(*g.shape, 3)
    np.testing.assert_allclose(pts[0, 0, 0], [-3.0, -3.0, -3.0])
    np.testing.assert_allclose(pts[-1, -1, -1], [4.0, 5.0, 3.5])  # last point = max + margin
    np.testing.assert_allclose(np.diag(g.axes), [7.0 / 10, 8.0 / 20, 6.5 / 4])  # box / (n - 1)
    # cube order: the last index runs fastest
    np.testing.assert_allclose(g.points()[1] - g.points()[0], g.axes[2])


def test_around_with_spacing_is_exact_and_centred():
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    g = CubeGrid.around(pos, margin=2.0, spacing=0.3)
    np.testing.assert_allclose(np.diag(g.axes), 0.3)
    pts = g.points()
    centre = 0.5 * (pts.min(0) + pts.max(0))
    np.testing.assert_allclose(centre, [0.0, 0.0, 0.5], atol=1e-12)
    assert np.all(pts.min(0) <= [-2.0, -2.0, -2.0]) and np.all(pts.max(0) >= [2.0, 2.0, 3.0])


def test_riemann_sum_of_a_normalised_gaussian():
    g = CubeGrid.around(np.zeros((1, 3)), margin=6.0, spacing=0.2)
    r2 = (g.points() ** 2).sum(1)
    rho = (1.0 / math.pi) ** 1.5 * np.exp(-r2)
    assert rho.sum() * g.voxel_volume == pytest.approx(1.0, abs=1e-6)


def test_write_read_round_trip(tmp_path):
    g = CubeGrid(np.array([-1.5, -2.0, 0.25]), np.array([[0.2, 0.0, 0.0], [0.05, 0.3, 0.0], [0.0, 0.0, 0.25]]),
                 (7, 5, 9))
    vals = np.random.default_rng(0).lognormal(sigma=3, size=g.shape) * np.sign(np.random.default_rng(1).normal(
        size=g.shape))
    numbers = np.array([8, 1, 1])
    pos = np.array([[0.0, 0.0, 0.2], [1.4, 0.0, -0.9], [-1.4, 0.0, -0.9]])
    path = write_cube(tmp_path / "x.cube", g, vals, numbers, pos, comment="test")
    data = read_cube(path)
    assert data.grid.same_as(g, tol=1e-6) and data.grid.shape == g.shape
    np.testing.assert_allclose(data.values, vals, rtol=1e-5)  # %13.5E: 6 significant digits
    np.testing.assert_array_equal(data.numbers, numbers)
    np.testing.assert_allclose(data.positions, pos, atol=1e-6)
    assert data.comments[0] == "test"
    lines = cube_text(g, vals, numbers, pos).splitlines()
    assert all(len(line.split()) <= 6 for line in lines[9:])  # at most six values a line


def test_read_angstrom_cube_and_errors(tmp_path):
    text = ("a\nb\n    1    0.0 0.0 0.0\n   -2    1.0 0.0 0.0\n   -1    0.0 1.0 0.0\n   -1    0.0 0.0 1.0\n"
            "    1    1.0    0.5 0.0 0.0\n  1.0 2.0\n")
    (tmp_path / "a.cube").write_text(text)
    data = read_cube(tmp_path / "a.cube")
    np.testing.assert_allclose(data.grid.axes, np.eye(3) * ANGSTROM_TO_BOHR)
    np.testing.assert_allclose(data.positions, [[0.5 * ANGSTROM_TO_BOHR, 0, 0]])
    (tmp_path / "bad.cube").write_text(text.replace("  1.0 2.0\n", "  1.0\n"))
    with pytest.raises(LSIPError, match="expected 2 values"):
        read_cube(tmp_path / "bad.cube")
    with pytest.raises(LSIPError):
        CubeGrid(np.zeros(3), np.zeros((3, 3)), (2, 2, 2))
    with pytest.raises(LSIPError, match="limit"):
        CubeGrid.around(np.zeros((1, 3)), margin=100.0, spacing=0.1)
    with pytest.raises(LSIPError, match="entries"):
        cube_text(CubeGrid.around(np.zeros((1, 3)), shape=(2, 2, 2)), np.zeros(7), [1], np.zeros((1, 3)))
