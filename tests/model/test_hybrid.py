"""The hybrid-orthogonality (bond-angle) term, docs/model.md section 10.8: its angles, its limits and the
model's invariants with it switched on."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from synthetic import tetrahedral

import lsip.data.valence
import lsip.model.hybrid
from lsip.diagnostics import run_diagnostics
from lsip.model.bond_order import sigma_order
from lsip.model.hybrid import bond_pairs, smooth_max1
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.model.terms import ENERGY_TERMS
from lsip.structure import Structure
from lsip.validation.molecules import load


@pytest.fixture(scope="module")
def hybrid_model(all_terms_model):
    assert all_terms_model.params.hybrid_repulsion > 0
    return all_terms_model


def _hybrid_energy(model: LSIPModel, st: Structure) -> float:
    return float(model.predict(st, forces=False).term_totals["hybrid"])


def bent(center: str, ligand: str, r: float, theta: float) -> Structure:
    t = np.radians(theta)
    pos = np.array([[0.0, 0, 0], [r, 0, 0], [r * np.cos(t), r * np.sin(t), 0]])
    return Structure((center, ligand, ligand), pos)


def test_helpers_and_valence_counts():
    for module in (lsip.model.hybrid, lsip.data.valence):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0
    x = torch.linspace(0, 3, 301, dtype=torch.float64)
    lo, hi = sigma_order(x), smooth_max1(x)
    assert float(lo[0]) == pytest.approx(0.0, abs=1e-15)
    assert float((lo - torch.minimum(x, torch.ones_like(x))).abs().max()) < 0.03  # rounded only near the corner
    assert float((hi - torch.maximum(x, torch.ones_like(x))).abs().max()) < 0.03
    assert bool((lo[1:] > lo[:-1]).all())  # monotonic: no kink, no plateau before 1
    a, b = bond_pairs(np.array([2, 2, 2, 5]))
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]


def test_off_in_the_first_principles_set_and_zero_when_off(shipped_model, all_terms_model):
    assert "hybrid" in ENERGY_TERMS and not ENERGY_TERMS["hybrid"].active(shipped_model.params)
    off = LSIPModel(params=all_terms_model.params.with_(hybrid_repulsion=0.0), device="cpu")
    assert _hybrid_energy(off, load("h2o")) == 0.0
    with pytest.raises(Exception, match="hybrid_repulsion"):
        ModelParameters(hybrid_repulsion=-1.0)


def test_bond_pairs_repel_unless_their_hybrids_are_orthogonal(hybrid_model):
    """CH4's sp3 carbon: the tetrahedron (g = 1/4 - 3/4 * 1/3 = 0) costs almost nothing (the hydrogens' one
    s orbital each still sees the others' bonds weakly) and squeezing one H-C-H angle costs more."""
    ch4 = tetrahedral("C", 1.09, 0)
    e0 = _hybrid_energy(hybrid_model, ch4)
    squeezed = ch4.positions.copy()
    squeezed[1] = 0.8 * squeezed[1] + 0.2 * squeezed[2]  # H1 turned towards H2 (length kept below)
    squeezed[1] *= 1.09 / np.linalg.norm(squeezed[1])
    e1 = _hybrid_energy(hybrid_model, Structure(ch4.symbols, squeezed))
    assert e1 > e0 + 1e-3


def test_coulson_angle_of_the_central_atom():
    """With two bonds and t lone pairs' weight, the central atom's term is smallest where g = 0:
    cos(theta) = -s / (1 - s), s = 1 / (n_sigma + t n_lp). For O (2 lone pairs) and t -> 0 the hybrids are
    sp (s = 1/2): linear; a large t leaves pure p bonds: 90 degrees."""
    from lsip.model.system import build_topology
    from lsip.model.terms import pair_geometry
    from lsip.units import ANGSTROM_TO_BOHR

    def oxygen_part(params: ModelParameters, theta: float) -> float:
        model = LSIPModel(params=params, device="cpu")
        st = bent("O", "H", 0.96, theta)
        topo = build_topology([st], model.tables)
        geo = pair_geometry(topo, model.tables, torch.as_tensor(st.positions * ANGSTROM_TO_BOHR))
        return float(geo.extra["hybrid"][0, 1])  # O, neutral state

    base = ModelParameters(pairing_strength=0.6, pairing_decay=1.4, hybrid_repulsion=1.0)
    angles = np.arange(80.0, 180.1, 2.0)
    for t, expected in ((1e-3, 180.0), (50.0, 90.0)):
        e = [oxygen_part(base.with_(lone_pair_s_period2=t), a) for a in angles]
        assert abs(angles[int(np.argmin(e))] - expected) <= 4.0, (t, angles[int(np.argmin(e))])


def test_linear_co2_and_planar_bf3_are_the_minima_of_their_central_atoms(hybrid_model):
    """Two sigma bonds of an atom without lone pairs make sp hybrids (180 degrees), three make sp2 (120)."""
    co2 = [_hybrid_energy(hybrid_model, bent("C", "O", 1.16, a)) for a in (180.0, 160.0, 140.0)]
    assert co2[0] < co2[1] < co2[2]
    def bf3(fold: float) -> Structure:  # the fluorines folded out of the plane by ``fold`` degrees
        phi, f = np.radians([0.0, 120.0, 240.0]), np.radians(fold)
        pos = 1.31 * np.c_[np.cos(phi) * np.cos(f), np.sin(phi) * np.cos(f), np.full(3, np.sin(f))]
        return Structure(("B", "F", "F", "F"), np.vstack([[0.0, 0, 0], pos]))

    e = [_hybrid_energy(hybrid_model, bf3(a)) for a in (0.0, 10.0, 20.0)]
    assert e[0] < e[1] < e[2]


def test_ionic_closed_shells_pay_nothing(hybrid_model):
    """Li+ and F- have no bonding hybrids: in the ionic rhombus (LiF)2 the term only sees the small covalent
    weight of the neutral configurations."""
    r = 1.75
    rhombus = Structure(("Li", "F", "Li", "F"), np.array([[r, 0, 0], [0, r, 0], [-r, 0, 0], [0, -r, 0]]))
    pred = hybrid_model.predict(rhombus)
    assert abs(pred.term_totals["hybrid"]) < 0.05 * abs(pred.term_totals["electrostatic"])


@pytest.mark.parametrize("name", ["h2o", "nh4+", "ch4"])
def test_model_with_the_term_passes_every_diagnostic(hybrid_model, name):
    water = Structure(("O", "H", "H"), np.array([[0.0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]]))
    st = {"h2o": water, "nh4+": tetrahedral("N", 1.03, 1), "ch4": tetrahedral("C", 1.09, 0)}[name]
    results = run_diagnostics(hybrid_model, st, include_slow=True)
    failed = [f"{r.name}: {r.detail}" for r in results if r.passed is False]
    assert not failed, failed
    assert hybrid_model.predict(st).term_totals["hybrid"] > 0.0


def test_water_dissociation_is_continuous_and_ends_in_neutral_atoms(hybrid_model):
    """One H pulled off water to 8 A through the term's switch (2.9-3.4 A): no step in the energy."""
    dist = np.arange(0.9, 8.0, 0.05)
    scan = []
    for d in dist:
        pos = np.array([[0.0, 0, 0], [0.757, 0.586, 0], [-0.757 * d / 0.957, 0.586 * d / 0.957, 0]])
        scan.append(Structure(("O", "H", "H"), pos))
    e = np.array([p.energy for p in hybrid_model.predict(scan, forces=False)])
    steps = np.abs(np.diff(e))
    assert steps[dist[1:] > 2.0].max() < 0.01  # hartree per 0.05 A beyond the bond
    far = hybrid_model.predict(Structure(("O", "H"), np.array([[0.0, 0, 0], [0, 0, 40.0]])))
    assert float(far.charges.abs().max()) < 1e-6


def test_periodic_images_give_the_same_bond_pairs(hybrid_model):
    """Eight waters in a periodic box: moving one molecule, and one atom of another, by lattice vectors changes
    neither the energy nor the forces (the bond pairs are found through the periodic shifts)."""
    from lsip.gallery import gallery_structure

    w, rng = gallery_structure("water"), np.random.default_rng(1)
    blocks = []
    for corner in np.ndindex(2, 2, 2):
        rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        blocks.append((w.positions - w.positions.mean(0)) @ rot.T + 3.1 * np.array(corner) + 1.0)
    cell = np.eye(3) * 6.2
    box = Structure(w.symbols * 8, np.vstack(blocks), cell=cell, pbc=(True, True, True))
    moved = box.positions.copy()
    moved[3:6] += cell[1]
    moved[0] -= cell[2]
    a, b = hybrid_model.predict(box), hybrid_model.predict(box.with_positions(moved))
    assert a.term_totals["hybrid"] > 1e-3
    assert abs(a.energy - b.energy) < 1e-9
    assert float((a.forces - b.forces).abs().max()) < 1e-7
