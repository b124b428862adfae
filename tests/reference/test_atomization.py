"""DFT atomization energies from the reference cache (lsip.reference.atomization; issue 11.5)."""

from __future__ import annotations

import pytest

from lsip.gallery import gallery_structure
from lsip.reference.atomization import cached_atomization, compute_atomization
from lsip.reference.broken_symmetry import free_atom
from lsip.reference.driver import ReferenceDFT, ReferenceSettings
from lsip.units import HARTREE_TO_EV


@pytest.mark.usefixtures("isolated_cache")
def test_atomization_is_molecule_minus_free_atoms_and_then_cached():
    settings = ReferenceSettings(basis="sto-3g")
    h2 = gallery_structure("h2")
    assert cached_atomization(h2, settings) is None  # nothing computed yet: a look costs no SCF
    first = compute_atomization(h2, settings)
    assert first is not None and not first.cached and first.level == "PBE0/sto-3g"
    e_mol = ReferenceDFT(h2, settings).kernel().energy
    e_h = ReferenceDFT(free_atom("H"), ReferenceSettings(basis="sto-3g", unrestricted=True)).kernel().energy
    assert first.energy_eV == pytest.approx((e_mol - 2 * e_h) * HARTREE_TO_EV, abs=1e-9)
    assert first.energy_eV < -3.0  # H2 is bound
    again = cached_atomization(h2, settings)
    assert again is not None and again.cached and again.energy_eV == pytest.approx(first.energy_eV, abs=1e-12)
