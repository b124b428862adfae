"""Charge-transfer resonance between neutral and ionic configurations (Valone-Atlas coupling).

docs/model.md section 3, term `charge_transfer`:

    E_ct = -2 sum_{A->B} beta_AB sqrt(c_AB) (w_A^0 w_B^0)^(1/4).

For a dimer with configurations {A B, A+ B-, A- B+}, energies (0, D1, D2) and couplings beta, the lowest
eigenvalue of the 3x3 configuration Hamiltonian equals the minimum over (c1, c2) of
c1 D1 + c2 D2 - 2 beta sqrt(c1 w0) - 2 beta sqrt(c2 w0) with w0 = 1 - c1 - c2 (an amplitude parametrisation
a0 = sqrt(w0), a_i = sqrt(c_i)); :func:`dimer_configuration_hamiltonian` builds that matrix for tests.
"""

from __future__ import annotations

import torch
from torch import Tensor

W_FLOOR = 1e-300  # keeps the infinite slope of w0^(1/4) at w0 = 0 finite


def resonance_energy(beta: Tensor, amplitude: Tensor, w0_donor: Tensor, w0_acceptor: Tensor) -> Tensor:
    """Per-channel resonance energy -2 beta s (w0_A w0_B)^(1/4), with s = sqrt(c) >= 0.

    Parameters
    ----------
    beta : (n_ch,) couplings, hartree (>= 0).
    amplitude : (n_ch,) s_AB = sqrt(c_AB), dimensionless.
    w0_donor, w0_acceptor : (n_ch,) neutral weights of donor and acceptor atoms.

    Returns
    -------
    (n_ch,) energies, hartree (<= 0).
    """
    # each factor is floored separately: (w_A w_B)^(1/4) = w_A^(1/4) w_B^(1/4) keeps the infinite slope at
    # w0 -> 0 visible to the solver even when both neutral weights vanish together (a dimer at c = 1)
    root_d = torch.pow(torch.clamp(w0_donor, min=0.0) + W_FLOOR, 0.25)
    root_a = torch.pow(torch.clamp(w0_acceptor, min=0.0) + W_FLOOR, 0.25)
    return -2.0 * beta * amplitude * root_d * root_a


def dimer_configuration_hamiltonian(d_ab: Tensor, d_ba: Tensor, beta: Tensor) -> Tensor:
    """3x3 Hamiltonian of {A B, A+ B-, A- B+}: diagonal (0, d_ab, d_ba), couplings -beta to the neutral.

    Parameters
    ----------
    d_ab, d_ba : energies of A+B- and A-B+ relative to A B, hartree.
    beta : coupling, hartree (same for both ionic configurations).

    Returns
    -------
    (3, 3) symmetric matrix, hartree.
    """
    z = torch.zeros_like(d_ab)
    return torch.stack([
        torch.stack([z, -beta, -beta]),
        torch.stack([-beta, d_ab, z]),
        torch.stack([-beta, z, d_ba]),
    ])
