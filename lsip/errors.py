"""Exceptions raised by LSIP. Every user-facing failure is one of these, with a message a person can act on."""

from __future__ import annotations


class LSIPError(Exception):
    """Base class of every error LSIP raises on purpose."""


class StructureError(LSIPError):
    """A structure cannot be used: malformed file, empty, overlapping atoms, too many atoms, bad charge."""


class UnsupportedElementError(StructureError):
    """An element is not in the latent library (or not supported by the requested model)."""


class UnsupportedFormatError(StructureError):
    """A file format outside the explicit whitelist was requested."""


class LibraryError(LSIPError):
    """The latent library file is missing, corrupt or of an incompatible version."""


class ConvergenceError(LSIPError):
    """An iterative solver (encoder equalization, SCF) did not converge; carries the partial result."""

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class SystemTooLargeError(LSIPError):
    """A request exceeds a documented size limit (atoms, basis functions, grid points)."""


class ReferenceCalculationError(LSIPError):
    """A reference (PySCF) calculation failed for a reason other than non-convergence."""
