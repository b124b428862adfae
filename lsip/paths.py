"""Where the package's data live: the one place asset paths are resolved (issue 12.6).

The assets sit beside the package in the repository (``assets/``, installed in editable mode); every module asks
here instead of counting ``parents[N]`` from its own file.
"""

from __future__ import annotations

from pathlib import Path

#: The repository's ``assets/`` folder.
ASSETS: Path = Path(__file__).resolve().parent.parent / "assets"
#: The shipped latent library (``lsip-library.npz``).
LIBRARY_DIR: Path = ASSETS / "library"
#: Named parameter sets (JSON, one per set).
PARAMS_DIR: Path = ASSETS / "params"
#: Gallery structures and their index.
GALLERY_DIR: Path = ASSETS / "gallery"
#: Validation geometries (relaxed at the reference level).
VALIDATION_DIR: Path = ASSETS / "validation"
#: The calibration split and other calibration data.
CALIBRATION_DIR: Path = ASSETS / "calibration"
#: The Evaluate page's built-in example data set (written by ``scripts/make_evaluate_example.py``).
EVALUATE_EXAMPLE: Path = ASSETS / "evaluate" / "example.extxyz"
