"""Physics v2 terms (docs/model.md section 10): pairing, Pauli repulsion, environment electronegativity.

The invariants are the diagnostics' own checks (``lsip.diagnostics.run_diagnostics``: converged, terms sum,
charge conservation, weights, symmetry, rigid motion, permutation, free atoms, finite-difference forces), run on
a model with every v2 term switched on; plus the term-specific limits derived in docs/model.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import tetrahedral

from lsip.diagnostics import run_diagnostics
from lsip.model.bond_order import PAIRING_DELTA
from lsip.model.bonding import valence
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.model.terms import ENERGY_TERMS
from lsip.structure import Structure
from lsip.validation.molecules import load

V2_TERMS = ("pairing", "pauli", "electronegativity")


@pytest.fixture(scope="module")
def v2_model(all_terms_model):
    return all_terms_model


def test_valence_counts_the_bonds_an_element_forms():
    first = ("H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne")
    assert [valence(s) for s in first] == [1, 0, 1, 2, 3, 4, 3, 2, 1, 0]
    assert [valence(s) for s in ("Na", "Al", "Si", "P", "S", "Cl", "Ar", "K", "Ca")] == [1, 3, 4, 3, 2, 1, 0, 1, 2]


def test_terms_are_registered_and_off_in_first_principles(shipped_model, v2_model):
    for name in V2_TERMS:
        assert name in ENERGY_TERMS and not ENERGY_TERMS[name].active(shipped_model.params)
        assert ENERGY_TERMS[name].active(v2_model.params)
    pred = shipped_model.predict(load("ch4"))
    assert all(pred.term_totals[n] == 0.0 for n in V2_TERMS)


@pytest.mark.parametrize("name", ["ch4", "nh4+", "h2o", "lif"])
def test_v2_model_passes_every_diagnostic(v2_model, name):
    water = Structure(("O", "H", "H"), np.array([[0.0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]]), name="H2O")
    st = {"ch4": tetrahedral("C", 1.09, 0), "nh4+": tetrahedral("N", 1.03, 1), "h2o": water}.get(name) or load(name)
    results = run_diagnostics(v2_model, st, include_slow=True)
    failed = [f"{r.name}: {r.detail}" for r in results if r.passed is False]
    assert not failed, failed
    pred = v2_model.predict(st)
    assert abs(pred.term_totals["pairing"]) > 1e-4
    if name == "lif":  # closed shells on both sides (Li+ F-): the Pauli term acts; C-H and N-H have none
        assert pred.term_totals["pauli"] > 1e-4


def test_pairing_counts_two_electrons_per_bond_order(v2_model):
    """Diatomics: b = 2 nu_A nu_B / (nu_A + nu_B) (up to the regulariser), E = -2 b h (w0_A + w0_B) / 2."""
    from lsip.physics.overlap import sto_1s_overlap

    t, p = v2_model.tables, v2_model.params
    for name, order in (("h2", 1.0), ("n2", 3.0), ("hf", 1.0), ("co", 2 * 4 * 2 / 6)):
        pred = v2_model.predict(load(name))
        e = [t.index[s] for s in pred.symbols]
        r = torch.linalg.norm(pred.positions[1] - pred.positions[0])
        h = p.pairing_strength * torch.sqrt(t.I[e[0]] * t.I[e[1]]) * sto_1s_overlap(
            p.pairing_decay * t.zeta[e[0]], p.pairing_decay * t.zeta[e[1]], r)
        b = order * float(h / (h + PAIRING_DELTA))
        want = -b * float(h) * float(pred.weights[0, 1] + pred.weights[1, 1])
        assert pred.term_totals["pairing"] == pytest.approx(want, rel=1e-9), name


def test_pairing_saturates_with_valence(v2_model):
    """H between two equal partners (a symmetric F-H-F-) shares its one bond: each H-F bond order is the harmonic
    mean of H's offer 1/2 and F's offer ~1, i.e. 2/3, so H's pairing is 4/3 of one bond's, not 2 (no valence limit)."""
    from lsip.model.bonding import _pairing_geometry
    from lsip.model.system import build_topology
    from lsip.model.terms import pair_geometry

    fhf = Structure(("F", "H", "F"), np.array([[0.0, 0, -1.14], [0, 0, 0], [0, 0, 1.14]]), charge=-1)
    hf = Structure(("F", "H"), np.array([[0.0, 0, -1.14], [0, 0, 0]]))
    k = {}
    for st in (fhf, hf):
        topo = build_topology([st], v2_model.tables)
        k[st.n_atoms] = _pairing_geometry(topo, v2_model.tables, topo.positions,
                                          pair_geometry(topo, v2_model.tables, topo.positions))
    ratio = float(k[3][1, 1]) / float(k[2][1, 1])  # H's neutral-state pairing
    assert 1.2 < ratio <= 4 / 3 + 1e-9  # F also offers a little to the other F, 2.28 A away


def test_electronegativity_slope_moves_charge_towards_the_atom_with_larger_slope():
    """CH4: a positive slope on C raises C's electronegativity in its host density: q_C goes down."""
    st = load("ch4")
    q = []
    for d in (0.0, 4.0):
        m = LSIPModel(params=ModelParameters(name=f"d{d}", electronegativity_slope={"C": d}), device="cpu")
        q.append(float(m.predict(st).charges[0]))
    assert q[1] < q[0] - 0.05


def test_electronegativity_saturation_bounds_the_shift_and_is_linear_below_rho_s():
    """docs/model.md 10.4: rho0 enters as rho_s tanh(rho0 / rho_s). A very large rho_s is the linear form; with
    rho_s = 0.05 bohr^-3 the term's energy stays within |d| rho_s |q| per atom even with the H inside O's core
    (0.35 A), where the linear form is unbounded."""
    from lsip.scan.path import scan_structures

    slopes = {"H": -6.7, "O": 2.0}
    st = load("h2o")
    squeezed = scan_structures(st, 0, 1, np.array([0.35]))[0][0]
    out = {}
    for rho_s in (0.0, 1e6, 0.05):
        m = LSIPModel(params=ModelParameters(name=f"s{rho_s}", electronegativity_slope=slopes,
                                             electronegativity_saturation=rho_s), device="cpu")
        out[rho_s] = [m.predict(x, forces=False) for x in (st, squeezed)]
    for k in range(2):
        assert out[1e6][k].term_totals["electronegativity"] == pytest.approx(
            out[0.0][k].term_totals["electronegativity"], rel=1e-6, abs=1e-10)
    sat = out[0.05][1]
    bound = sum(abs(slopes[s]) * 0.05 * abs(float(q)) for s, q in zip(sat.symbols, sat.charges))
    assert abs(sat.term_totals["electronegativity"]) <= bound + 1e-12
    assert abs(out[0.0][1].term_totals["electronegativity"]) > 3 * bound  # the linear form is not bounded


def test_pair_saturation_bounds_each_neighbour_at_f_times_its_covalent_contact_density():
    """docs/model.md 10.4: with ``electronegativity_pair_saturation`` f each neighbour B contributes
    sigma_AB tanh(rho_B(R) / sigma_AB), sigma_AB = f rho_B(r_A + r_B). A huge f is the unsaturated form; the table
    holds f times the library density at the sum of the covalent radii; BeO squeezed to 0.7 A stays within
    |d| sigma |q| per atom, where the whole-sum bound of 0.05 bohr^-3 lets the Be slope pull far harder."""
    from ase.data import covalent_radii

    from lsip.model.library import default_library
    from lsip.units import ANGSTROM_TO_BOHR, BOHR_TO_ANGSTROM

    slopes = {"Be": -14.0, "O": -3.0}
    base = ModelParameters(name="pair-sat", electronegativity_slope=slopes, electronegativity_saturation=0.05)
    models = {f: LSIPModel(params=base.with_(electronegativity_pair_saturation=f), device="cpu")
              for f in (0.0, 1e9, 4.0)}
    # the table against the library's radial density (cubic in ln rho against a linear one in ln rho)
    tables = models[4.0].tables
    lib = default_library()
    be, o = tables.index["Be"], tables.index["O"]
    r = (covalent_radii[4] + covalent_radii[8]) * ANGSTROM_TO_BOHR
    expect = 4.0 * np.exp(np.interp(r, lib.r_grid, np.log(lib.element("O").states["neutral"].radial_density)))
    assert float(tables.en_pair_saturation[be, o]) == pytest.approx(expect, rel=1e-3)
    assert float(tables.en_pair_saturation[o, be]) != pytest.approx(expect, rel=1e-2)  # sigma_AB: B's density

    def beo(r_a: float) -> Structure:
        return Structure(("Be", "O"), np.array([[0.0, 0, 0], [0, 0, r_a]]))

    for r_a in (1.35, 2.5):  # a huge f is the unsaturated form
        e = [models[f].predict(beo(r_a), forces=False).term_totals["electronegativity"] for f in (0.0, 1e9)]
        assert e[1] == pytest.approx(e[0], rel=1e-6, abs=1e-12)
    sq = {f: models[f].predict(beo(0.7), forces=False) for f in (0.0, 4.0)}
    sat = sq[4.0]
    sig = tables.en_pair_saturation
    bound = (abs(slopes["Be"]) * float(sig[be, o]) * abs(float(sat.charges[0]))
             + abs(slopes["O"]) * float(sig[o, be]) * abs(float(sat.charges[1])))
    assert abs(sat.term_totals["electronegativity"]) <= bound + 1e-12
    assert abs(sq[0.0].term_totals["electronegativity"]) > 2 * abs(sat.term_totals["electronegativity"])
    # smooth: the force along a compression scan matches the energy difference (autograd through the tanh)
    d = 1e-4
    e1, e2 = (models[4.0].predict(beo(1.0 + s * d), forces=False).energy for s in (-1, 1))
    f = models[4.0].predict(beo(1.0))
    assert float(f.forces[1, 2]) == pytest.approx(-(e2 - e1) / (2 * d / BOHR_TO_ANGSTROM), rel=1e-4, abs=1e-8)
    with pytest.raises(Exception, match="electronegativity_pair_saturation"):
        base.with_(electronegativity_pair_saturation=-1.0)


def test_heteronuclear_dimers_still_dissociate_to_neutral_atoms(v2_model):
    """The dissociation invariant (docs/model.md section 9) with the v2 terms on: |q| < 1e-6 and E = 0 far beyond
    the crossing."""
    for a, b in (("Li", "F"), ("Na", "Cl"), ("H", "F"), ("C", "O")):
        far = Structure((a, b), np.array([[0.0, 0, 0], [0, 0, 40.0]]))
        pred = v2_model.predict(far)
        assert float(pred.charges.abs().max()) < 1e-6
        assert abs(pred.energy) < 1e-9
        assert all(abs(pred.term_totals[n]) < 1e-12 for n in V2_TERMS)


def test_bond_scan_is_continuous_with_v2_terms(v2_model):
    from lsip.scan.path import path_continuity, predict_along, scan_structures

    st = load("hf")
    dist = np.linspace(0.7, 6.0, 25)
    sts, moved = scan_structures(st, 0, 1, dist)
    report = path_continuity(v2_model, sts, dist, moved, predict_along(v2_model, sts))
    assert report.passed, report.message


def test_two_sided_pauli_spares_bonds_to_hydrogen(v2_model):
    """With ``pauli_two_sided`` the repulsion needs closed-shell density on both atoms: an O-H bond (c0_H = 0) pays
    only through the hydridic share of H, Li+ F- still pays; one-sided, water's lone pairs repel its hydrogens."""
    two = LSIPModel(params=v2_model.params.with_(pauli_two_sided=True), device="cpu")
    water = Structure(("O", "H", "H"), np.array([[0.0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]]))
    one_w, two_w = v2_model.predict(water).term_totals["pauli"], two.predict(water).term_totals["pauli"]
    assert one_w > 1e-3 and 0.0 <= two_w < 0.2 * one_w
    assert two.predict(load("lif")).term_totals["pauli"] > 1e-3


def test_overlap_repulsion_product_form_needs_closed_shells_on_both_sides():
    """docs/model.md 10.6: the product share c_k c_l against the mean (c_k + c_l) / 2, state pair by state pair
    (tables of Li-F and O-H at 1.5 A); the product vanishes wherever one state is open-shell (neutral H)."""
    r = torch.tensor([1.5 / 0.529177210903], dtype=torch.float64)
    out = {}
    for product in (False, True):
        t = LSIPModel(params=ModelParameters(name=f"p{product}", overlap_repulsion=1.0,
                                             overlap_repulsion_product=product), device="cpu").tables
        c = t.closed_fraction.double()
        for a, b in (("Li", "F"), ("O", "H")):
            ea, eb = t.index[a], t.index[b]
            slot = torch.as_tensor(t.pair_slots(np.array([ea]), np.array([eb])))
            out[(product, a)] = (t.closed_overlap(slot, r)[0][0].double(), c[ea], c[eb])
    for a in ("Li", "O"):
        mean, ca, cb = out[(False, a)]
        prod, _, _ = out[(True, a)]
        share_mean = 0.5 * (ca[:, None] + cb[None, :])
        share_prod = ca[:, None] * cb[None, :]
        ok = share_mean > 0
        torch.testing.assert_close(prod[ok], mean[ok] * (share_prod / share_mean)[ok], rtol=1e-9, atol=1e-14)
    _, _, c_h = out[(True, "O")]
    assert float(c_h[1]) == 0.0 and torch.all(out[(True, "O")][0][:, 1] == 0)  # neutral H: no repulsion


def test_charge_transfer_saturation_spares_bonds_and_cuts_couplings_between_saturated_atoms(v2_model):
    """docs/model.md 10.7: with s = 1 a single bond keeps its coupling (b = 1), two hydrogens that have given their
    one bond to the same oxygen lose most of theirs; s = 0 leaves every coupling as it was (first-principles)."""
    from lsip.model.system import build_topology
    from lsip.model.terms import pair_geometry
    from lsip.units import ANGSTROM_TO_BOHR

    def betas(params, st):
        model = LSIPModel(params=params, device="cpu")
        topo = build_topology([st], model.tables)
        pos = torch.as_tensor(st.positions * ANGSTROM_TO_BOHR, dtype=torch.float64)
        geo = pair_geometry(topo, model.tables, pos)
        return topo, geo.beta

    closed = load("h2o")  # relaxed: H-H 1.52 A, each H's one bond given to O
    off = v2_model.params.with_(charge_transfer_saturation=0.0)
    on = v2_model.params.with_(charge_transfer_saturation=1.0)
    topo, b0 = betas(off, closed)
    _, b1 = betas(on, closed)
    hh = (topo.elem[topo.ch_donor] == topo.elem[topo.ch_acceptor])  # H -> H (the only same-element channels)
    ratio = (b1 / b0).numpy()
    assert ratio[~hh.numpy()].min() > 0.85  # O-H: b close to 1 (each H gives O nearly its whole bond)
    assert ratio[hh.numpy()].max() < 0.5 * ratio[~hh.numpy()].min()  # H...H: more than half of it gone
    _, h2_off = betas(off, load("h2"))
    _, h2_on = betas(on, load("h2"))
    np.testing.assert_allclose(h2_on.numpy(), h2_off.numpy(), rtol=5e-3)  # b = h / (h + d) ~ 1 for H2
    with pytest.raises(Exception, match="between 0 and 1"):
        v2_model.params.with_(charge_transfer_saturation=1.5)


def test_charge_transfer_saturation_gives_water_an_angular_wall_and_keeps_the_invariants(v2_model):
    """Closing water's angle to 0.55 x its DFT value costs energy with the saturation and the potential stays
    continuous, differentiable (forces = -dE/dR by finite differences) and dissociates to neutral atoms."""
    from lsip.calibration.dataset import BEND_SCANS

    model = LSIPModel(params=v2_model.params.with_(charge_transfer_saturation=1.0), device="cpu")
    bend = next(b for b in BEND_SCANS if b.molecule == "h2o").structures()
    e = np.array([p.energy for p in model.predict(bend, forces=False)])
    assert e[0] > e[3] and e[1] > e[3]  # 0.55 and 0.7 x the relaxed angle lie above it
    water = Structure(("O", "H", "H"), np.array([[0.0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]]))
    failed = [f"{r.name}: {r.detail}" for r in run_diagnostics(model, water, include_slow=True) if r.passed is False]
    assert not failed, failed
    for a, b in (("Li", "F"), ("H", "F")):
        far = model.predict(Structure((a, b), np.array([[0.0, 0, 0], [0, 0, 40.0]])))
        assert float(far.charges.abs().max()) < 1e-6 and abs(far.energy) < 1e-9


def test_pauli_bond_relief_spares_bonded_partners_and_keeps_hydrogen_bond_and_ionic_repulsion(v2_model):
    """docs/model.md 10.9: with u = 1 the lone pairs of water's O no longer repel the O's own hydrogens, while
    the repulsion between an acceptor O and the donor's H (hydrogen bond, sigma bond order ~ 0) stays, and the
    closed shells of Li+ and F- (states that cannot bond) are untouched."""
    from lsip.model.system import build_topology
    from lsip.model.terms import pair_geometry
    from lsip.units import ANGSTROM_TO_BOHR

    def pauli(u: float, st: Structure) -> np.ndarray:
        model = LSIPModel(params=v2_model.params.with_(pauli_bond_relief=u), device="cpu")
        topo = build_topology([st], model.tables)
        pos = torch.as_tensor(st.positions * ANGSTROM_TO_BOHR, dtype=torch.float64)
        return pair_geometry(topo, model.tables, pos).extra["pauli"].numpy()

    water = load("h2o")
    o = water.symbols.index("O")
    assert pauli(1.0, water)[o, 1] < 0.25 * pauli(0.0, water)[o, 1]  # neutral O against its bonded H: mostly gone
    dimer = load("water_dimer")
    drop_dimer = pauli(0.0, dimer) - pauli(1.0, dimer)
    drop_monomer = pauli(0.0, water)[o, 1] - pauli(1.0, water)[o, 1]
    oxygens = [k for k, s in enumerate(dimer.symbols) if s == "O"]
    inter = [pauli(1.0, dimer)[k, 1] - pauli(1.0, water)[o, 1] for k in oxygens]
    assert max(inter) > 1e-3  # the acceptor O still repels the donor's H
    for k in oxygens:  # and only its own bonds are relieved (the monomer's relief, within 10 %)
        assert drop_dimer[k, 1] == pytest.approx(drop_monomer, rel=0.1)
    lif = load("lif")
    li, f = lif.symbols.index("Li"), lif.symbols.index("F")
    for atom, state in ((li, 0), (f, 2)):  # Li+ (cation state) and F- (anion state): closed shells
        assert pauli(1.0, lif)[atom, state] == pauli(0.0, lif)[atom, state] > 0.0
    with pytest.raises(Exception, match="pauli_bond_relief"):
        ModelParameters(pauli_bond_relief=1.5)
