"""lsip.scan.curves: model + QEq + EEQ along a scan, the dissociation verdict, CSV, optional DFT per point.

Physics asserted (docs/model.md section 9): NaCl pulled apart ends with neutral fragments (|q| < 1e-6) and the
free-atom energy (0), while QEq keeps a fractional charge of at least its infinite-separation value
(chi_Cl - chi_Na) / (eta_Na + eta_Cl) from the same library (the -1/R attraction at finite R only adds to it).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from lsip.gallery import gallery_structure
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import ReferenceSettings
from lsip.scan import curves as S
from lsip.units import HARTREE_TO_EV


@pytest.fixture(scope="module")
def nacl(shipped_model):
    st = gallery_structure("nacl")
    return S.model_scan(shipped_model, st, 0, 1, np.linspace(2.0, 15.0, 12))  # past the channel range (12.6 A)


def test_nacl_fragments_end_neutral_while_qeq_does_not(nacl, shipped_model):
    lib = shipped_model.library
    na, cl = lib.element("Na"), lib.element("Cl")
    q_inf = (cl.electronegativity - na.electronegativity) / (na.hardness + cl.hardness)
    v = S.dissociation_verdict(nacl, shipped_model)
    assert v.passed and v.integer_charges and v.energy_ok
    assert np.all(np.abs(v.model_charges) < 1e-6) and np.all(v.expected == 0)
    assert abs(nacl.energy[-1]) < 1e-10  # free neutral atoms are the energy zero
    assert v.qeq_residual >= q_inf - 1e-9 and q_inf > 0.3
    assert v.eeq_charges is not None and np.max(np.abs(v.eeq_charges)) > 0.1  # EEQ is fractional too
    assert "QEq leaves" in v.message
    # near equilibrium the model is strongly ionic: Na donates
    assert nacl.charges[1, 0] > 0.5 and nacl.fragment_charge(nacl.charges)[1] < -0.5


def test_curves_are_consistent(nacl):
    m = len(nacl.distances)
    assert nacl.charges.shape == (m, 2) and nacl.weights.shape == (m, 2, 4) and nacl.converged.all()
    np.testing.assert_allclose(nacl.charges.sum(axis=1), 0.0, atol=1e-10)
    np.testing.assert_allclose(sum(nacl.terms.values()), nacl.energy, atol=1e-10)
    np.testing.assert_allclose(nacl.weights.sum(axis=2), 1.0, atol=1e-10)
    r = np.array([np.linalg.norm(s.positions[1] - s.positions[0]) for s in nacl.structures])
    np.testing.assert_allclose(r, nacl.distances, atol=1e-12)
    assert nacl.moved == [1] and "Na0->Cl1" in nacl.channels
    # channel occupations reproduce the weights: w+ of Na = c(Na->Cl)
    np.testing.assert_allclose(nacl.channels["Na0->Cl1"], nacl.weights[:, 0, 0], atol=1e-12)


def test_warm_start_gives_the_cold_start_solution(nacl, shipped_model):
    k = 3
    cold = shipped_model.predict(nacl.structures[k])
    np.testing.assert_allclose(nacl.charges[k], cold.charges.numpy(), atol=1e-6)
    assert nacl.energy[k] == pytest.approx(cold.energy, abs=1e-8)


def test_csv_holds_every_curve(nacl):
    text = S.curves_csv(nacl)
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert len(body) == len(nacl.distances)
    for col in ("R_A", "E_model_eV", "E_qeq_eV", "q_model_Na0", "q_qeq_Cl1", "q_eeq_Na0", "w_cation_Na0",
                "c_Na0->Cl1", "E_electrostatic_eV", "converged"):
        assert col in header, col
    assert float(body[0][header.index("R_A")]) == pytest.approx(2.0)
    assert float(body[-1][header.index("q_model_Na0")]) == 0.0


def test_polar_fragments_still_interact(shipped_model):
    st = gallery_structure("water_dimer")
    curves = S.model_scan(shipped_model, st, 0, 3, np.linspace(2.9, 8.0, 4))
    v = S.dissociation_verdict(curves, shipped_model)
    assert v.integer_charges and len(curves.moved) == 3  # the whole second water moves
    # two dipoles ~8 A apart still attract by a few meV: the verdict says so instead of pretending
    assert not v.energy_ok and "still interact" in v.message


def test_dft_per_point_is_cached(shipped_model, tmp_path):
    st = gallery_structure("h2")
    curves = S.model_scan(shipped_model, st, 0, 1, np.array([0.6, 0.74, 1.0]))
    cache = ReferenceCache(tmp_path / "ref.sqlite")
    seen = []
    out = S.add_dft(curves, ReferenceSettings(), cache=cache, progress=lambda k, p: seen.append(k))
    assert np.all(np.isfinite(out.dft_energy)) and out.dft_level == "PBE0/def2-SVP"
    assert len(cache) == 4  # three points and one H atom (both fragments are the same atom)
    assert np.argmin(out.dft_energy) == 1  # PBE0 H2 minimum near 0.75 A
    # zero: two separately computed H atoms, so the bound molecule lies ~4.5 eV below it (PBE0 D_e)
    assert -5.0 < out.dft_energy[1] * HARTREE_TO_EV < -4.0 and out.dft_method == ["RKS"] * 3
    assert out.dft_flags == ["", "", ""] and np.allclose(out.dft_spin_square, 0.0)
    assert sorted(set(seen)) == [0, 1, 2, 3]  # the points, then the fragment (index m)
    again = S.add_dft(curves, ReferenceSettings(), cache=cache, progress=lambda k, p: seen.append(("again", k)))
    np.testing.assert_allclose(again.dft_energy, out.dft_energy, atol=0)
    assert all(not isinstance(s, tuple) for s in seen)  # cache hits run no SCF cycle
    assert S.dft_scan_estimate(curves, ReferenceSettings(), cache=cache).all_cached


def test_dft_scan_refuses_long_runs(shipped_model):
    from lsip.errors import SystemTooLargeError

    st = gallery_structure("h2")
    curves = S.model_scan(shipped_model, st, 0, 1, np.linspace(0.6, 2.0, 5), with_baselines=False)
    with pytest.raises(SystemTooLargeError, match="would take"):
        S.add_dft(curves, ReferenceSettings(), cache=False, max_total_s=1e-3)


def test_flagged_dft_points_are_marked_not_drawn(nacl):
    """A failed or unphysical DFT point is a red cross with its reason, never a point on the curve (issue 11.3)."""
    from dataclasses import replace

    from lsip.viz import scan_views

    m = len(nacl.distances)
    energy = np.linspace(-0.1, -0.001, m)
    flags = [""] * m
    energy[4] = np.nan
    flags[4] = "not drawn: 7.0 eV above the separated fragments (limit 2.0 eV)"
    curves = replace(nacl, dft_energy=energy, dft_charges=np.zeros((m, 2)), dft_level="PBE0/def2-SVP",
                     dft_flags=flags)
    fig = scan_views.energy_figure(curves)
    dft = next(t for t in fig.data if t.name.startswith("DFT PBE0"))
    assert "0 = separated fragments" in dft.name and dft.y[4] is None
    assert dft.y[-1] == pytest.approx(-0.001 * 27.211386, rel=1e-6)  # no shift to the last point: fragments = 0
    crosses = next(t for t in fig.data if t.name == "DFT point not drawn")
    assert list(crosses.x) == [pytest.approx(nacl.distances[4])] and "above the separated" in crosses.hovertext[0]
    assert any(t.name == "DFT point not drawn" for t in scan_views.fragment_charge_figure(curves).data)


def test_verdict_never_prints_nan_when_a_fragment_fails(shipped_model, monkeypatch):
    """Issue 14.3: a fragment whose solve fails gives a sentence saying so, never '+nan eV'."""
    st = gallery_structure("nacl")
    curves = S.model_scan(shipped_model, st, 0, 1, np.array([2.4, 6.0]))
    monkeypatch.setattr(S, "_fragment_energy", lambda *args: float("nan"))
    v = S.dissociation_verdict(curves, shipped_model)
    assert not v.energy_ok and "nan" not in v.message.lower()
    assert "not available" in v.message


def test_atom_charge_plot_keeps_the_atoms_that_change_most(shipped_model):
    """Issue 14.5: a scan of a cluster plots the ten atoms whose charge changes most, not a legend of every atom."""
    from lsip.viz.scan_views import atom_charges_figure

    st = gallery_structure("water_dimer")
    curves = S.model_scan(shipped_model, st, 0, 3, np.linspace(2.9, 6.0, 3))
    assert len(atom_charges_figure(curves).data) == 6  # six atoms: all shown
    fig = atom_charges_figure(curves, top=2)
    span = curves.charges.max(axis=0) - curves.charges.min(axis=0)
    assert [t.name for t in fig.data] == [curves.labels[k] for k in sorted(np.argsort(-span)[:2])]
    assert "2 atoms (of 6)" in fig.layout.title.text
