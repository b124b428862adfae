"""ASE calculator for the LSIP model (eV and angstrom at this boundary, atomic units inside).

``results`` keys: ``energy`` (eV, relative to free neutral atoms), ``forces`` (eV/A), ``charges`` (e),
``dipole`` (e A, about the centre of mass, point charges plus atomic dipoles), ``energies`` (per-atom eV), and the
latent outputs: ``atomic_dipoles`` (n, 3) e A (docs/model.md section 11),
``weights`` (n, 4: cation, neutral, anion, excited), ``charge_fluctuation`` (n,), ``channels`` (n_ch, 2) int
donor/acceptor, ``channel_occupations`` (n_ch,), ``terms`` {name: per-atom eV}, ``mu`` (eV),
``converged`` (bool), ``residual`` (hartree).

>>> from ase.build import molecule                     # doctest: +SKIP
>>> atoms = molecule("H2O"); atoms.calc = LSIPCalculator()   # doctest: +SKIP
>>> atoms.get_charges()                                # doctest: +SKIP
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from lsip.io import structure_from_ase
from lsip.model.model import LSIPModel
from lsip.model.params import default_parameter_set
from lsip.results import user_units


class LSIPCalculator(Calculator):
    """ASE calculator wrapping :class:`LSIPModel`; warm-starts the encoder from the previous call."""

    implemented_properties: ClassVar[list[str]] = ["energy", "forces", "charges", "dipole", "energies",
                                                   "free_energy"]
    default_parameters: ClassVar[dict] = {"charge": None, "params": default_parameter_set(), "device": "auto",
                                          "warm_start": True}

    def __init__(self, model: LSIPModel | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.model = model or LSIPModel(params=self.parameters.params, device=self.parameters.device)
        self._latent = None
        self._n_atoms = None

    def calculate(self, atoms: object = None, properties: list[str] | None = None,
                  system_changes: list[str] = all_changes) -> None:
        """Run encoder + decoder and fill ``self.results``."""
        super().calculate(atoms, properties or ["energy"], system_changes)
        st = structure_from_ase(self.atoms, charge=self.parameters.charge)
        warm = self._latent if (self.parameters.warm_start and self._n_atoms == st.n_atoms
                                and "numbers" not in system_changes) else None
        pred = self.model.predict(st, guess=warm)
        self._latent, self._n_atoms = pred.latent, st.n_atoms
        u = user_units(pred)
        self.results = {
            "energy": u.energy_eV,
            "free_energy": u.energy_eV,
            "forces": u.forces_eV_A,
            "charges": u.charges_e,
            "dipole": u.dipole_eA,
            "atomic_dipoles": u.atomic_dipoles_eA,
            "energies": u.energies_eV,
            "weights": u.weights,
            "charge_fluctuation": pred.charge_fluctuation.numpy().copy(),
            "channels": np.stack([pred.donor.numpy(), pred.acceptor.numpy()], axis=1),
            "channel_occupations": pred.occupation.numpy().copy(),
            "terms": u.terms_per_atom_eV,
            "mu": u.mu_eV,
            "converged": pred.converged,
            "residual": pred.residual,
        }
