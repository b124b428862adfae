"""LSIP: a first-principles latent-space interatomic potential and its explorer.

The latent space is built from atomic DFT (the *latent library*), the *physical encoder* maps a geometry to
latent coordinates by chemical-potential equalization, and the *decoder* returns energy terms, forces,
charges, a dipole and an electron density. See ``docs/model.md``.
"""

__version__ = "0.1.0"
