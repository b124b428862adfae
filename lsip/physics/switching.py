"""Smooth cut-off functions so that pair terms vanish with continuous first derivatives."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def cosine_switch(r: Tensor, r_on: Tensor | float, r_off: Tensor | float) -> Tensor:
    """Switching function: 1 for r <= r_on, 0 for r >= r_off, 0.5 (1 + cos(pi x)) in between.

    Parameters
    ----------
    r : (...) distances, bohr.
    r_on, r_off : onset and cut-off (bohr), scalars or broadcastable tensors, r_on < r_off.

    Returns
    -------
    (...) values in [0, 1], C1-continuous.
    """
    x = torch.clamp((r - r_on) / (r_off - r_on), 0.0, 1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * x))
