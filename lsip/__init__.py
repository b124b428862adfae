"""LSIP: a first-principles latent-space interatomic potential and its explorer.

The latent space is built from atomic DFT (the *latent library*), the *physical encoder* maps a geometry to
latent coordinates by chemical-potential equalization, and the *decoder* returns energy terms, forces,
charges, a dipole and an electron density. See ``docs/model.md``.

The public API is importable from here (loaded on first use, so ``import lsip`` stays cheap):

>>> import numpy as np
>>> from lsip import LSIPModel, Structure
>>> lif = Structure(("Li", "F"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.56]]))
>>> pred = LSIPModel(device="cpu").predict(lif)
>>> print(f"{pred.energy * 27.211386:.2f} eV", [round(float(q), 2) for q in pred.charges])
-8.54 eV [0.76, -0.76]

``LSIPModel``, ``Prediction``, ``ModelParameters``, ``Structure``, ``read_structure``, ``read_structures``,
``gallery_structure``, ``LSIPCalculator`` (ASE) and the errors (``LSIPError`` and its subclasses).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_API = {
    "LSIPModel": "lsip.model.model",
    "Prediction": "lsip.model.decoder",
    "ModelParameters": "lsip.model.params",
    "Structure": "lsip.structure",
    "read_structure": "lsip.io",
    "read_structures": "lsip.io",
    "gallery_structure": "lsip.gallery",
    "LSIPCalculator": "lsip.calculator",
    "LSIPError": "lsip.errors",
    "StructureError": "lsip.errors",
    "UnsupportedElementError": "lsip.errors",
    "UnsupportedFormatError": "lsip.errors",
    "ConvergenceError": "lsip.errors",
    "SystemTooLargeError": "lsip.errors",
    "ReferenceCalculationError": "lsip.errors",
    "LibraryError": "lsip.errors",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lsip' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
