"""Per-element-pair tables shared between parameter sets, and one table snapshot per batch (docs/calibration.md:
a fit builds a new parameter set for every evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsip.model.model import LSIPModel
from lsip.model.params import get_parameters
from lsip.model.system import build_topology
from lsip.model.tables import ModelTables
from lsip.validation.molecules import load


def test_dipole_kernels_are_shared_between_parameter_sets_with_the_same_shapes(shipped_model):
    """Two sets that differ in a fitted number reuse the library's dipole table (the same kernels, no new
    entry); a set whose shapes are widened by the positivity bound gets its own, uncached table."""
    library = shipped_model.library
    base = get_parameters("calibrated")
    t1 = ModelTables(library, base)
    slot1 = t1.pair_slots(np.array([t1.index["O"]]), np.array([t1.index["H"]]))
    cache = library.__dict__["_penetration_tables"]
    n_entries = len(cache)
    t2 = ModelTables(library, base.with_(kappa=0.5, lone_pair_dipole=0.2))
    slot2 = t2.pair_slots(np.array([t2.index["O"]]), np.array([t2.index["H"]]))
    assert len(cache) == n_entries
    r = torch.linspace(1.0, 8.0, 15, dtype=torch.float64)
    k1 = t1.dipole_kernels(torch.full((15,), int(slot1[0])), r)
    k2 = t2.dipole_kernels(torch.full((15,), int(slot2[0])), r)
    assert torch.equal(k1, k2) and k1.abs().max() > 0
    wide = ModelTables(library, base.with_(polarizability_scale=1000.0))
    assert float(wide.shape_widening[wide.index["O"]]) < 1.0
    slot3 = wide.pair_slots(np.array([wide.index["O"]]), np.array([wide.index["H"]]))
    assert len(cache) == n_entries  # widened shapes are not kept on the library
    k3 = wide.dipole_kernels(torch.full((15,), int(slot3[0])), r)
    assert not torch.allclose(k3, k1)


def test_a_batch_registers_its_element_pairs_in_one_snapshot(shipped_model, monkeypatch):
    """Every structure of a batch brings its element pairs; they are built together (one snapshot), not once
    per structure that brings a new pair, and the energies are those of the structures alone."""
    library = shipped_model.library
    tables = ModelTables(library, get_parameters("calibrated"))
    calls = []
    original = tables._add_pairs
    monkeypatch.setattr(tables, "_add_pairs", lambda pairs: (calls.append(len(pairs)), original(pairs)))
    batch = [load(name) for name in ("h2o", "hcl", "nacl", "ch3f")]
    build_topology(batch, tables)
    # the ordered pairs within each structure, once: {H,O} 4, {H,Cl} 3 more, {Na,Cl} 3 more, {C,H,F} 8 more
    assert calls == [18]
    model = LSIPModel(library, params="calibrated")
    together = model.predict(batch, forces=False)
    alone = [model.predict(st, forces=False) for st in batch]
    assert [p.energy for p in together] == pytest.approx([p.energy for p in alone], abs=1e-9)
