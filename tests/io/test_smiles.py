"""lsip.io.smiles (issue 14, teacher): a 3D structure from SMILES - composition, charge and spin from the string,
force-field bond lengths, the same geometry every time, clear refusals - and the sidebar's SMILES source with
its link."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lsip.errors import StructureError, SystemTooLargeError
from lsip.io.smiles import MAX_SMILES_ATOMS, MAX_SMILES_LENGTH, structure_from_smiles
from lsip.ui import state

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def distance(st, i: int, j: int) -> float:
    return float(np.linalg.norm(st.positions[i] - st.positions[j]))


def test_ethanol_has_its_atoms_and_force_field_bond_lengths():
    st = structure_from_smiles("CCO")
    assert st.formula == "C2H6O" and st.n_atoms == 9 and st.charge == 0 and st.spin == 0
    sym = st.symbols
    # heavy atoms first in SMILES order: C0 C1 O2; MMFF94 C-C 1.51-1.53 A, C-O 1.41-1.43 A, C-H 1.09-1.10 A
    assert sym[:3] == ("C", "C", "O")
    assert 1.50 < distance(st, 0, 1) < 1.54 and 1.40 < distance(st, 1, 2) < 1.44
    ch = [distance(st, 0, k) for k in range(3, 9) if sym[k] == "H" and distance(st, 0, k) < 1.3]
    assert len(ch) == 3 and all(1.08 < d < 1.11 for d in ch)
    assert st.info["geometry"] == "RDKit ETKDGv3 + MMFF94"


def test_charge_and_spin_come_from_the_smiles():
    assert structure_from_smiles("CC(=O)[O-]").charge == -1
    assert structure_from_smiles("[NH4+]").charge == 1
    methyl = structure_from_smiles("[CH3]")
    assert methyl.charge == 0 and methyl.spin == 1 and methyl.n_atoms == 4


def test_the_same_smiles_gives_the_same_geometry():
    a, b = structure_from_smiles("c1ccncc1"), structure_from_smiles("c1ccncc1")
    assert np.array_equal(a.positions, b.positions)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"), ("C1CC", "not a valid SMILES"), ("C(C)(C)(C)(C)C", "valence"), ("C C", "no spaces"),
    ("C" * (MAX_SMILES_LENGTH + 1), "the limit is"),
])
def test_bad_smiles_are_refused_with_a_reason(text, message):
    with pytest.raises(StructureError, match=message):
        structure_from_smiles(text)


def test_a_too_large_molecule_is_refused():
    with pytest.raises(SystemTooLargeError, match=f"at most {MAX_SMILES_ATOMS}"):
        structure_from_smiles("C" * 70)  # C70H142: 212 atoms


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def test_sidebar_smiles_source_builds_the_structure_and_its_link():
    at = app().run()
    at.radio(key=state.SOURCE_KEY).set_value("SMILES").run()
    assert not at.exception
    at.text_input(key=state.SMILES_KEY).input("CC(=O)[O-]").run()
    assert not at.exception
    assert at.session_state[state.CHARGE_KEY] == -1  # the formal charge, shown and editable in the sidebar
    assert any("C2H3O2, 7 atoms, Q = -1" in c.value for c in at.sidebar.caption)
    assert at.query_params["smiles"] == "CC(=O)[O-]" and "mol" not in at.query_params
    at.switch_page("app_pages/1_Explore.py").run()
    assert not at.exception
    # the link reproduces the molecule and its charge in a new session
    fresh = app()
    fresh.query_params.update({"smiles": "CC(=O)[O-]", "q": "-1"})
    fresh.run()
    assert fresh.session_state[state.SOURCE_KEY] == "SMILES" and fresh.session_state[state.CHARGE_KEY] == -1
    # a hand-written link without q takes the SMILES' formal charge
    bare = app()
    bare.query_params["smiles"] = "[NH4+]"
    bare.run()
    assert bare.session_state[state.CHARGE_KEY] == 1


def test_sidebar_bad_smiles_is_one_message():
    at = app().run()
    at.radio(key=state.SOURCE_KEY).set_value("SMILES").run()
    at.text_input(key=state.SMILES_KEY).input("C1CC").run()
    assert not at.exception
    assert any("Cannot build 'C1CC'" in e.value for e in at.sidebar.error)
