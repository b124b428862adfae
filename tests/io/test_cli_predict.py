"""`lsip predict` / `lsip scan` and the ASE calculator on the shipped library."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from lsip.cli import main
from lsip.units import HARTREE_TO_EV

KEYS = {"n_atoms", "symbols", "total_charge", "energy_eV", "terms_eV", "charges_e", "weights", "channels",
        "dipole_eA", "dipole_D", "mu_eV", "forces_eV_per_A", "converged", "iterations", "residual", "time_s", "device"}


@pytest.fixture
def water_xyz(tmp_path):
    atoms = Atoms("OH2", positions=[[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])
    path = tmp_path / "water.xyz"
    write(path, atoms, format="extxyz")
    return path


def test_predict_json_has_the_documented_schema(water_xyz, capsys):
    assert main(["predict", str(water_xyz), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= KEYS
    assert out["n_atoms"] == 3 and out["symbols"] == ["O", "H", "H"]
    assert sum(out["charges_e"]) == pytest.approx(0.0, abs=1e-9)
    assert sum(out["terms_eV"].values()) == pytest.approx(out["energy_eV"], abs=1e-9)
    assert set(out["weights"]) == {"cation", "neutral", "anion", "excited"}
    assert all(set(c) >= {"donor", "acceptor", "occupation"} for c in out["channels"])
    assert np.array(out["forces_eV_per_A"]).shape == (3, 3)
    assert out["converged"] is True and out["device"] == "cpu"


def test_predict_multiframe_gives_a_list_batched(tmp_path, capsys):
    frames = [Atoms("LiF", positions=[[0, 0, 0], [0, 0, d]]) for d in (1.5, 1.6, 1.7)]
    path = tmp_path / "lif.extxyz"
    write(path, frames, format="extxyz")
    assert main(["predict", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, list) and len(out) == 3
    assert [o["n_atoms"] for o in out] == [2, 2, 2]
    assert out[0]["charges_e"][0] > 0  # Li donates


@pytest.mark.parametrize("model", ["qeq", "eeq"])
def test_predict_baselines_fill_their_fields(water_xyz, capsys, model):
    assert main(["predict", str(water_xyz), "--json", "--model", model]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == model and len(out["charges_e"]) == 3
    assert out["charges_e"][0] < 0  # oxygen negative in both baselines


def test_scan_json_and_fragment_motion(tmp_path, capsys):
    atoms = Atoms("NaCl", positions=[[0, 0, 0], [0, 0, 2.36]])
    path = tmp_path / "nacl.xyz"
    write(path, atoms, format="extxyz")
    assert main(["scan", str(path), "--atoms", "0", "1", "--start", "2.2", "--stop", "20", "--steps", "6",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pts = out["points"]
    assert [round(p["distance_A"], 3) for p in pts] == pytest.approx(list(np.linspace(2.2, 20, 6)), abs=1e-3)
    assert pts[0]["charges_e"][0] > 0.3 and abs(pts[-1]["charges_e"][0]) < 1e-6
    assert out["moved_atoms"] == [1]


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\n\nXx 0 0 0\nH 0 0 1\n")
    assert main(["predict", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_ase_calculator_units_and_results():
    from lsip.calculator import LSIPCalculator

    atoms = Atoms("LiH", positions=[[0, 0, 0], [0, 0, 1.6]])
    atoms.calc = LSIPCalculator(params="first-principles", device="cpu")
    e = atoms.get_potential_energy()
    q = atoms.get_charges()
    f = atoms.get_forces()
    assert q[0] > 0 and q.sum() == pytest.approx(0, abs=1e-10)
    assert atoms.calc.results["energies"].sum() == pytest.approx(e, abs=1e-9)
    assert f.shape == (2, 3) and f[0, 2] == pytest.approx(-f[1, 2], abs=1e-8)
    from lsip.io import structure_from_ase

    pred_e = atoms.calc.model.predict(structure_from_ase(atoms))
    assert pred_e.energy * HARTREE_TO_EV == pytest.approx(e, abs=1e-6)
    # finite-difference force in eV/A at the ASE boundary
    h = 1e-4
    atoms2 = atoms.copy()
    atoms2.calc = LSIPCalculator(params="first-principles", device="cpu")
    atoms2.positions[1, 2] += h
    ep = atoms2.get_potential_energy()
    atoms2.positions[1, 2] -= 2 * h
    em = atoms2.get_potential_energy()
    assert f[1, 2] == pytest.approx(-(ep - em) / (2 * h), abs=2e-4)
    from lsip.model.params import default_parameter_set

    assert LSIPCalculator(device="cpu").parameters.params == default_parameter_set()
