"""An energy term is defined in one place (issue 12.2; docs/model.md "Adding an energy term").

A toy term registered in this file - its energy function and its own per-geometry cache, with or without a
hand-written solver gradient - reaches the decoder, the solver, forces, the CLI JSON, the exports and the
waterfall without touching any other module. And every registered term's solver part equals autograd through
its energy function.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsip import export
from lsip.gallery import gallery_structure
from lsip.model.encoder import _Problem
from lsip.model.latent import initial_latent
from lsip.model.model import LSIPModel
from lsip.model.objective import _autograd_part
from lsip.model.system import build_topology
from lsip.model.terms import (
    ENERGY_TERMS,
    SolverPart,
    TermContext,
    TermOutput,
    pair_geometry,
    register_term,
    unregister_term,
)
from lsip.results import prediction_to_dict
from lsip.structure import Structure
from lsip.units import HARTREE_TO_EV
from lsip.viz.figures import energy_waterfall

STRENGTH = 0.05  # hartree per e^2 per bohr^-1: strong enough to move charges visibly


def _toy_geometry(topo, tables, positions, shared):
    """Per-geometry cache of the toy term: a soft 1/R between short-range pairs (differentiable)."""
    return {"inv_r": 1.0 / (1.0 + shared.r_sr)}


def _toy_energy(ctx: TermContext) -> TermOutput:
    """E = STRENGTH sum_{pairs} q_i q_j / (1 + R) (a screened extra Coulomb), half to each atom."""
    q, topo = ctx.charges, ctx.topo
    e = STRENGTH * q[topo.sr_i] * q[topo.sr_j] * ctx.cache("toy")["inv_r"]
    out = torch.zeros(topo.n_atoms, dtype=e.dtype, device=e.device)
    return TermOutput(out.index_add(0, topo.sr_i, 0.5 * e).index_add(0, topo.sr_j, 0.5 * e), e)


def _toy_solver(ctx: TermContext) -> SolverPart:
    """Hand-written gradient: dE/dq_i = STRENGTH sum_j q_j / (1 + R); q = w+ - w-."""
    q, topo = ctx.charges, ctx.topo
    k = STRENGTH * ctx.cache("toy")["inv_r"]
    e = k * q[topo.sr_i] * q[topo.sr_j]
    energy = torch.zeros(topo.n_mols, dtype=q.dtype).index_add(0, topo.mol[topo.sr_i], e)
    dq = torch.zeros_like(q).index_add(0, topo.sr_i, k * q[topo.sr_j]).index_add(0, topo.sr_j, k * q[topo.sr_i])
    grad_w = torch.zeros_like(ctx.weights)
    grad_w[:, 0], grad_w[:, 2] = dq, -dq
    return SolverPart(energy, grad_w=grad_w)


def _register(kind: str) -> None:
    register_term("toy", "Toy screened Coulomb", "STRENGTH sum q_i q_j / (1 + R)", geometry=_toy_geometry,
                  solver=_toy_solver if kind == "analytic" else None)(_toy_energy)


@pytest.fixture(params=["analytic", "autograd"])
def toy_term(request):
    _register(request.param)
    yield request.param
    unregister_term("toy")


@pytest.mark.parametrize("kind", ["analytic", "autograd"])
def test_a_term_in_one_file_reaches_every_consumer(shipped_model, kind):
    st = gallery_structure("lif")
    before = shipped_model.predict(st)
    _register(kind)
    try:
        _check_toy_everywhere(shipped_model, st, before)
    finally:
        unregister_term("toy")
    assert "toy" not in shipped_model.predict(st).term_totals


def _check_toy_everywhere(shipped_model, st, before) -> None:
    pred = shipped_model.predict(st)  # same model object: nothing to rebuild when a term is added
    assert "toy" in pred.term_totals and "toy" not in before.term_totals
    # the solver saw it: a repulsive q_i q_j term between opposite charges lowers |q|
    assert abs(float(pred.charges[0])) != pytest.approx(abs(float(before.charges[0])), abs=1e-6)
    assert pred.converged and pred.energy == pytest.approx(sum(pred.term_totals.values()), abs=1e-12)
    # forces include it: finite differences of the re-equalized energy
    h = 1e-4
    e = []
    for sign in (1, -1):
        pos = st.positions.copy()
        pos[1, 2] += sign * h
        e.append(shipped_model.predict(st.with_positions(pos), forces=False).energy)
    fd = -(e[0] - e[1]) / (2 * h / 0.529177210903)
    assert float(pred.forces[1, 2]) == pytest.approx(fd, abs=1e-6)
    # CLI JSON, exports, waterfall, per-atom records
    js = prediction_to_dict(pred)
    assert js["terms_eV"]["toy"] == pytest.approx(pred.term_totals["toy"] * HARTREE_TO_EV)
    assert "toy" in js["terms_per_atom_eV"]
    assert any(r["term"] == "toy" for r in export.term_records(pred))
    assert all("E_toy_eV" in r for r in export.atom_records(pred))
    fig = energy_waterfall(pred)
    assert any("Toy screened Coulomb" in str(x) for x in fig.data[0].x)


def test_term_names_are_unique():
    with pytest.raises(ValueError, match="already registered"):
        register_term("state", "again", "")(lambda ctx: None)


@pytest.mark.parametrize("name", [n for n, t in ENERGY_TERMS.items() if t.solver is not None])
def test_every_solver_part_equals_autograd_of_its_energy(all_terms_model, name):
    """Each registered term's hand-written solver gradient against autograd through its energy function (every
    optional term switched on)."""
    term, shipped_model = ENERGY_TERMS[name], all_terms_model
    if not term.active(shipped_model.params):  # the applied field: switched on for its own check
        shipped_model = shipped_model.with_params(shipped_model.params.with_(external_field=(0.002, -0.001, 0.003)))
    structures = [Structure(("N", "H", "H", "H", "H"), np.array(
        [[0, 0, 0], [0.6, 0.6, 0.6], [0.6, -0.6, -0.6], [-0.6, 0.6, -0.6], [-0.6, -0.6, 0.55]]), charge=1),
        Structure(("O", "H"), np.array([[0.0, 0, 0], [0, 0, 0.97]]), charge=-1), gallery_structure("water")]
    topo = build_topology(structures, shipped_model.tables)
    geometry = pair_geometry(topo, shipped_model.tables, topo.positions).detach()
    prob = _Problem(topo, shipped_model.tables, geometry)
    g = torch.Generator().manual_seed(3)
    x = prob.pack(initial_latent(topo))
    x[: prob.n_ch] = 0.15 * torch.rand(prob.n_ch, generator=g, dtype=x.dtype)
    start = prob.n_ch + prob.n
    assert prob.n_p == 3 * prob.n  # the shipped library has a polarization channel for every element
    x[start:start + prob.n_p] = 0.3 * torch.randn(prob.n_p, generator=g, dtype=x.dtype)
    x[start + prob.n_p:] = torch.randn(prob.n_res, generator=g, dtype=x.dtype)
    s, excited, r, p = prob.unpack(x)
    from lsip.model.latent import latent_weights

    w = latent_weights(s, excited, r, topo)
    ctx = TermContext(w, s, geometry, topo, shipped_model.tables, totals_only=True, reservoir=r, dipoles=p)
    part = term.solver(ctx)
    ref = _autograd_part(term, w, s, r, geometry, topo, shipped_model.tables, p)
    torch.testing.assert_close(part.energy, ref.energy, rtol=0, atol=1e-12)
    for got, want in ((part.grad_w, ref.grad_w), (part.grad_s, ref.grad_s), (part.grad_r, ref.grad_r),
                      (part.grad_p, ref.grad_p)):
        got = torch.zeros_like(want) if got is None and want is not None else got
        want = torch.zeros_like(got) if want is None and got is not None else want
        if got is not None:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-11)
    assert float(part.energy.abs().max()) > 1e-4  # the test points exercise the term


def test_model_sees_terms_registered_after_it_was_built(toy_term):
    model = LSIPModel(device="cpu")
    assert "toy" in model.predict(gallery_structure("h2")).term_totals


def test_analytic_and_autograd_solver_paths_reach_the_same_minimum(shipped_model):
    st = gallery_structure("hydroxide")
    preds = {}
    for kind in ("analytic", "autograd"):
        _register(kind)
        try:
            preds[kind] = shipped_model.predict(st)
        finally:
            unregister_term("toy")
    assert preds["analytic"].energy == pytest.approx(preds["autograd"].energy, abs=1e-10)
    np.testing.assert_allclose(preds["analytic"].charges.numpy(), preds["autograd"].charges.numpy(), atol=1e-7)
