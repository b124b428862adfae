"""Exports (lsip/export.py): CSV tables hold exactly the Prediction's numbers in user units, extended XYZ
round-trips through lsip.io, the settings JSON rebuilds the parameters, and the generated Python script
reproduces the model's numbers when run in a fresh interpreter."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lsip import export, gallery
from lsip.gallery import gallery_structure, teaching
from lsip.io import read_structure
from lsip.model.library import STATE_LABELS
from lsip.model.params import ModelParameters
from lsip.structure import Structure
from lsip.units import BOHR_TO_ANGSTROM, E_BOHR_TO_DEBYE, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV

ROOT = Path(__file__).resolve().parents[2]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def water(shipped_model):
    structure = gallery_structure("water")
    return structure, shipped_model.predict(structure)


@pytest.fixture(scope="module")
def hydroxide(shipped_model):
    structure = gallery_structure("hydroxide")
    return structure, shipped_model.predict(structure)


def test_atom_csv_matches_prediction(water):
    structure, pred = water
    rows = _rows(export.records_csv(export.atom_records(pred)))
    assert list(rows[0])[:10] == ["index", "symbol", "x_A", "y_A", "z_A", "charge_e", "w_cation", "w_neutral",
                                  "w_anion", "w_excited"]
    assert [f"E_{k}_eV" for k in pred.terms] == [k for k in rows[0] if k.startswith("E_") and k != "E_atom_eV"]
    assert [r["symbol"] for r in rows] == list(structure.symbols)
    pos = np.array([[float(r[c]) for c in ("x_A", "y_A", "z_A")] for r in rows])
    np.testing.assert_allclose(pos, pred.positions.numpy() * BOHR_TO_ANGSTROM, atol=1e-12)
    np.testing.assert_allclose(pos, structure.positions, atol=1e-9)  # bohr round trip of the input geometry
    np.testing.assert_array_equal([float(r["charge_e"]) for r in rows], pred.charges.numpy())  # repr: exact
    for s, lab in enumerate(STATE_LABELS):
        np.testing.assert_array_equal([float(r[f"w_{lab}"]) for r in rows], pred.weights[:, s].numpy())
    for name, per_atom in pred.terms.items():
        np.testing.assert_allclose([float(r[f"E_{name}_eV"]) for r in rows], per_atom.numpy() * HARTREE_TO_EV,
                                   rtol=1e-14, atol=1e-14)
    # per-atom energies add up to the total energy; mu_A in eV
    assert sum(float(r["E_atom_eV"]) for r in rows) == pytest.approx(pred.energy * HARTREE_TO_EV, abs=1e-10)
    np.testing.assert_allclose([float(r["mu_A_eV"]) for r in rows], pred.mu_atoms.numpy() * HARTREE_TO_EV)
    # physics visible in the table: water's O is negative, the two H are equivalent, sum q = Q = 0
    q = [float(r["charge_e"]) for r in rows]
    assert q[0] < -0.3 and q[1] == pytest.approx(q[2], abs=1e-6) and sum(q) == pytest.approx(0.0, abs=1e-9)


def test_channel_and_flow_tables(water, hydroxide):
    _, pred = water
    rows = _rows(export.records_csv(export.channel_records(pred)))
    assert list(rows[0]) == ["donor", "acceptor", "donor_index", "acceptor_index", "occupation", "beta_eV",
                             "distance_A"]
    assert len(rows) == len(pred.donor)
    occ = [float(r["occupation"]) for r in rows]
    assert occ == sorted(occ, reverse=True)
    assert sum(occ) == pytest.approx(float(pred.occupation.sum()), abs=1e-12)
    k = int(np.argmax(pred.occupation.numpy()))
    assert float(rows[0]["beta_eV"]) == pytest.approx(float(pred.beta[k]) * HARTREE_TO_EV, rel=1e-12)
    # O-H in the gallery water is 0.958 A (experimental r_e)
    oh = [float(r["distance_A"]) for r in rows if {r["donor"], r["acceptor"]} == {"O0", "H1"}]
    assert oh and oh[0] == pytest.approx(0.958, abs=2e-3)
    # net flows: strongest first, H -> O in water; for a neutral molecule the channel outflow is the charge
    flows = export.flow_records(pred)
    assert [f["rank"] for f in flows] == list(range(1, len(flows) + 1))
    assert flows[0]["acceptor"] == "O0" and flows[0]["donor"] in ("H1", "H2")
    assert all(f["net_flow"] >= 0 and f["forward"] - f["backward"] == pytest.approx(f["net_flow"]) for f in flows)
    np.testing.assert_allclose(export.net_outflow(pred), pred.charges.numpy(), atol=1e-10)
    assert export.flow_records(pred, threshold=10.0) == []
    # a charged system: q - outflow is the reservoir share, which adds up to Q = -1 (docs/model.md section 2)
    _, pred_oh = hydroxide
    reservoir = pred_oh.charges.numpy() - export.net_outflow(pred_oh)
    assert reservoir.sum() == pytest.approx(-1.0, abs=1e-8)
    assert np.all(reservoir <= 1e-12)


def test_pair_and_term_tables(water):
    _, pred = water
    pairs = export.pair_records(pred)
    assert len(pairs) == len(pred.pair_i)
    ct = sum(p["E_charge_transfer_eV"] for p in pairs)
    # the resonance energy lives entirely on channel pairs, so its pair sum is the term total
    assert ct == pytest.approx(pred.term_totals["charge_transfer"] * HARTREE_TO_EV, abs=1e-10)
    hh = next(p for p in pairs if {p["i"], p["j"]} == {"H1", "H2"})
    assert hh["distance_A"] == pytest.approx(np.linalg.norm(pred.positions[1] - pred.positions[2]).item()
                                             * BOHR_TO_ANGSTROM)
    assert all(p["E_pair_eV"] == pytest.approx(sum(v for k, v in p.items() if k.startswith("E_") and k != "E_pair_eV"))
               for p in pairs)
    terms = export.term_records(pred)
    assert [t["term"] for t in terms] == [*pred.term_totals, "total", "residual"]
    assert terms[-2]["energy_eV"] == pytest.approx(pred.energy * HARTREE_TO_EV, abs=1e-12)
    assert abs(terms[-1]["energy_eV"]) < 1e-9


def test_headline_units(hydroxide):
    _, pred = hydroxide
    h = export.headline(pred)
    assert h["energy_eV"] == pytest.approx(pred.energy * 27.211386245988)
    assert h["dipole_D"] == pytest.approx(float(np.linalg.norm(pred.dipole.numpy())) * E_BOHR_TO_DEBYE)
    assert h["converged"] is True and h["iterations"] > 0 and h["residual_Ha"] < 1e-6


def test_extxyz_round_trips_through_lsip_io(hydroxide):
    from ase.io import read as ase_read

    structure, pred = hydroxide
    text = export.extxyz_export(structure, pred)
    back = read_structure(text.encode(), "extxyz")
    assert back.symbols == structure.symbols and back.charge == -1
    np.testing.assert_allclose(back.positions, structure.positions, atol=1e-8)
    atoms = ase_read(io.StringIO(text), format="extxyz")
    # ASE reads the prediction back as calculator results (issue 14.8: energy_eV made this raise)
    assert atoms.get_potential_energy() == pytest.approx(pred.energy * HARTREE_TO_EV, abs=1e-8)
    np.testing.assert_allclose(atoms.get_forces(), pred.forces.numpy() * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM,
                               atol=1e-7)
    np.testing.assert_allclose(atoms.get_charges(), pred.charges.numpy(), atol=1e-7)
    np.testing.assert_allclose(atoms.get_dipole_moment(), pred.dipole.numpy() * BOHR_TO_ANGSTROM, atol=1e-7)
    np.testing.assert_allclose(atoms.calc.results["charges"], pred.charges.numpy(), atol=1e-7)
    np.testing.assert_allclose(atoms.arrays["weights"], pred.weights.numpy(), atol=1e-7)
    np.testing.assert_allclose(atoms.arrays["E_embedding"], pred.terms["embedding"].numpy() * HARTREE_TO_EV,
                               atol=1e-6)
    assert sum(atoms.calc.results["energies"]) == pytest.approx(pred.energy * HARTREE_TO_EV, abs=1e-6)


def test_settings_json_rebuilds_parameters(water):
    structure, _ = water
    params = ModelParameters().with_(kappa=0.8)
    data = json.loads(export.settings_json(structure, params, gallery_key="water", overrides={"kappa": 0.8}))
    assert data["gallery_key"] == "water" and data["total_charge"] == 0 and data["overrides"] == {"kappa": 0.8}
    assert ModelParameters(**data["params"]) == params
    assert data["structure"]["symbols"] == ["O", "H", "H"]
    np.testing.assert_array_equal(data["structure"]["positions_A"], structure.positions)


def test_generated_script_reproduces_the_numbers(shipped_model, tmp_path):
    """The script runs in a fresh interpreter; a non-default kappa checks that parameters travel too."""
    structure = gallery_structure("hydroxide")
    params = ModelParameters().with_(kappa=0.8)
    pred = shipped_model.with_params(params).predict(structure)
    default = shipped_model.predict(structure)
    script = tmp_path / "reproduce.py"
    script.write_text(export.reproduction_script(structure, params, script.name))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = export.parse_script_output(proc.stdout)
    assert out["converged"] is True
    assert out["energy_eV"] == pytest.approx(pred.energy * HARTREE_TO_EV, abs=1e-8)
    assert out["mu_eV"] == pytest.approx(pred.mu * HARTREE_TO_EV, abs=1e-8)
    assert out["dipole_D"] == pytest.approx(export.headline(pred)["dipole_D"], abs=1e-8)
    np.testing.assert_allclose(out["charges_e"], pred.charges.numpy(), atol=1e-9)
    assert out["terms_eV"] == pytest.approx({k: v * HARTREE_TO_EV for k, v in pred.term_totals.items()}, abs=1e-8)
    # and kappa matters: the default set gives another energy, so the comparison above is not vacuous
    assert abs(default.energy - pred.energy) * HARTREE_TO_EV > 1e-3


def test_user_text_never_becomes_code(tmp_path):
    """A structure name (a file's comment line) and a download name with quotes cannot run code (issue 10)."""
    import ast

    evil = '""" + __import__("os").system("touch PWNED") + """\n\'\'\' ; import os; os.system("touch PWNED") #'
    structure = Structure(("H", "H"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]), name=evil)
    src = export.reproduction_script(structure, ModelParameters(), file_name=evil + ".py")
    tree = ast.parse(src)
    # the name is one string constant assigned to NAME; the docstring holds no user text
    names = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "NAME"]
    assert len(names) == 1 and ast.literal_eval(names[0].value) == evil
    doc = ast.get_docstring(tree)
    assert evil not in doc and '"' not in doc
    run_line = next(line for line in doc.splitlines() if line.startswith("Run with"))
    assert re.fullmatch(r"Run with the lsip package installed: python [A-Za-z0-9_.-]+", run_line)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"]
    script = tmp_path / "s.py"
    script.write_text(src)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "PWNED").exists()
    assert export.file_stem(structure) and set(export.file_stem(structure)) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def test_file_stem_is_safe():
    structure = gallery_structure("h2").with_positions(gallery_structure("h2").positions)
    assert export.file_stem(structure) == "h2"
    from lsip.structure import Structure

    assert export.file_stem(Structure(("H",), [[0.0, 0.0, 0.0]], name="../../etc/passwd")) == "etc_passwd"
    assert export.file_stem(Structure(("H",), [[0.0, 0.0, 0.0]], name="")) == "H"


def test_predict_then_reveal_judging():
    assert teaching.most_negative_atoms([0.32, -0.65, 0.33]) == [1]
    ok, msg = teaching.judge_negative_guess(("O", "H", "H"), [-0.65, 0.32, 0.33], 0)
    assert ok and "O0" in msg and "-0.650" in msg
    ok, msg = teaching.judge_negative_guess(("O", "H", "H"), [-0.65, 0.32, 0.33], 2)
    assert not ok and "H2" in msg and "O0" in msg
    assert teaching.judge_negative_guess(("H", "H"), [0.0, 0.0], 1)[0]  # a tie: both atoms are right
    assert gallery.gallery_story("hydroxide").startswith("A total charge Q = -1")
    assert gallery.gallery_story("benzene") is None and gallery.gallery_story(None) is None
    assert teaching.atom_labels_with_charges(("O", "H"), [-0.5, 0.5]) == ["O0 -0.50", "H1 +0.50"]
