"""The solver's analytic energy and gradient (lsip.model.objective) equal autograd through the decoder's terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsip.model.encoder import _Problem
from lsip.model.latent import initial_latent
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.model.system import build_topology
from lsip.model.terms import pair_geometry
from lsip.structure import Structure

WATER = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


def _water_box(n: int, spacing: float = 3.1) -> Structure:
    rng = np.random.default_rng(7)
    pos = [WATER + spacing * np.array([k % 3, (k // 3) % 3, k // 9]) + rng.normal(0, 0.1, 3) for k in range(n)]
    return Structure(("O", "H", "H") * n, np.concatenate(pos))


def _structures() -> list[Structure]:
    nacl = Structure(("Na", "Cl"), np.array([[0.0, 0, 0], [0, 0, 2.5]]))
    cation = Structure(("Li", "F", "H"), np.array([[0.0, 0, 0], [0, 0, 1.6], [0, 1.7, -0.5]]), charge=1)
    anion = Structure(("O", "H"), np.array([[0.0, 0, 0], [0, 0, 0.97]]), charge=-1)
    crystal = Structure(("Na", "Cl"), np.array([[0.0, 0, 0], [2.8, 2.8, 2.8]]), cell=np.eye(3) * 5.6,
                        pbc=(True, True, True))
    return [nacl, cation, anion, crystal, _water_box(9)]


def _problem(model: LSIPModel, structures: list[Structure], backend: str = "auto") -> _Problem:
    topo = build_topology(structures, model.tables)
    geometry = pair_geometry(topo, model.tables, topo.positions).detach()
    prob = _Problem(topo, model.tables, geometry)
    if backend != "auto":
        from lsip.model.objective import EqualizationObjective

        prob.energy = EqualizationObjective(topo, model.tables, geometry, backend=backend)
    return prob


def _random_point(prob: _Problem, seed: int) -> torch.Tensor:
    """A feasible interior point: every w0 stays positive."""
    g = torch.Generator().manual_seed(seed)
    x = prob.pack(initial_latent(prob.topo))
    x[: prob.n_ch] = 0.15 * torch.rand(prob.n_ch, generator=g, dtype=x.dtype)
    x[prob.n_ch : prob.n_ch + prob.n] = 0.03 * torch.rand(prob.n, generator=g, dtype=x.dtype)
    start = prob.n_ch + prob.n
    x[start : start + prob.n_p] = 0.2 * torch.randn(prob.n_p, generator=g, dtype=x.dtype)  # atomic dipoles
    x[start + prob.n_p :] = torch.randn(prob.n_res, generator=g, dtype=x.dtype)
    return x


@pytest.mark.parametrize("backend", ["scipy", "torch"])
@pytest.mark.parametrize("params", [ModelParameters(),
                                    ModelParameters(name="hot", electronic_temperature=0.01,
                                                    born_mayer={"Na": (40.0, 1.6), "Cl": (60.0, 1.4),
                                                                "O": (30.0, 1.8), "H": (5.0, 2.0)})])
def test_analytic_energy_and_gradient_match_autograd(shipped_model, backend, params):
    """Neutral, cationic, anionic, periodic and a 27-atom cluster in one batch, with and without the optional
    entropy and repulsion terms, on both pair-operator back ends."""
    model = LSIPModel(shipped_model.library, params, device="cpu")
    prob = _problem(model, _structures(), backend)
    for seed in range(3):
        x = _random_point(prob, seed)
        e, g = prob(x)[:2]
        e_ref, g_ref = prob.autograd_value_and_grad(x)
        assert torch.isfinite(e).all()
        torch.testing.assert_close(e, e_ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-11)
        assert float(g.abs().max()) > 1e-3  # a real, non-trivial gradient was compared


def test_gradient_matches_finite_differences(synth_model):
    prob = _problem(synth_model, [_structures()[1]])
    x = _random_point(prob, 11)
    g = prob(x)[1]
    h = 1e-6
    for k in range(len(x)):
        dx = torch.zeros_like(x)
        dx[k] = h
        fd = (prob(x + dx)[0] - prob(x - dx)[0]).sum() / (2 * h)
        assert float(fd) == pytest.approx(float(g[k]), abs=1e-7)


def test_infeasible_points_are_flagged_per_structure(synth_model):
    """w0 < 0 in one structure marks only that structure infinite, with a zero gradient on its variables."""
    prob = _problem(synth_model, _structures()[:2])
    x = _random_point(prob, 3)
    first = prob.variable_group == 0
    x[: prob.n_ch][first[: prob.n_ch]] = 0.9  # both NaCl channels: w+ + w- = 1.62 on each atom
    e, g = prob(x)[:2]
    assert torch.isinf(e[0]) and torch.isfinite(e[1])
    assert float(g[first].abs().max()) == 0.0 and float(g[~first].abs().max()) > 0.0
