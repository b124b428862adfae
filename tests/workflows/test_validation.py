"""``lsip validate``: the validation set and the --quick run (STO-3G, 4 molecules, one 2-point H2 scan)."""

from __future__ import annotations

import json

import pytest

from lsip.cli import main
from lsip.validation.molecules import LIBRARY_ELEMENTS, QUICK_SET, available, covered_elements, load, load_set
from lsip.validation.run import error_stats


def test_set_covers_every_library_element_and_has_40_entries():
    structures = load_set()
    assert len(structures) >= 40
    assert covered_elements(structures) >= set(LIBRARY_ELEMENTS)
    charges = {st.charge for st in structures}
    assert {-1, 0, 1} <= charges  # neutral, anions and cations


def test_geometries_are_sane():
    """Force-field / hand-built geometries: no two atoms closer than 0.6 A, every entry bonded (< 3.2 A)."""
    import numpy as np

    for st in load_set():
        d = np.linalg.norm(st.positions[:, None] - st.positions[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        assert d.min() > 0.6, st.name
        assert st.n_atoms == 1 or d.min(axis=1).max() < 3.2, st.name
    assert load("nh4+").charge == 1 and load("ch3coo-").charge == -1
    assert "water_dimer" in available()


def test_error_stats_known_values():
    import numpy as np

    s = error_stats(np.array([1.0, 2.0, 5.0]), np.array([1.0, 1.0, 1.0]), ["a", "b", "c"])
    assert s["mae"] == pytest.approx(5 / 3)
    assert s["rmse"] == pytest.approx(np.sqrt(17 / 3))
    assert s["max"] == 4.0 and s["worst"][0]["label"] == "c"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory, module_cache):
    """Run ``lsip validate --quick --json --out`` once with a fresh cache."""
    import contextlib
    import io

    tmp = tmp_path_factory.mktemp("validate")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["validate", "--quick", "--json", "--out", str(tmp / "out")])
    return rc, json.loads(buf.getvalue()), tmp / "out"


def test_quick_report_structure(quick_report):
    rc, rep, out = quick_report
    assert rc == 0
    assert rep["settings"]["basis"] == "sto-3g" and rep["settings"]["quick"]
    assert [m["name"] for m in rep["molecules"]] == sorted(QUICK_SET) or \
        {m["name"] for m in rep["molecules"]} == set(QUICK_SET)
    assert {"model vs Hirshfeld-I", "EEQ vs Hirshfeld-I", "model dipole vs DFT"} <= set(rep["statistics"])
    assert rep["statistics"]["model vs Hirshfeld-I"]["all"]["n"] == sum(len(m["symbols"]) for m in rep["molecules"])
    assert (out / "validation.json").is_file() and (out / "validation.md").read_text().startswith("# LSIP")
    assert (out / "parity.png").stat().st_size < 200_000
    assert rep["runtime_s"] > 0  # its speed is a benchmark matter (docs/benchmarks.md), not a unit-test bound


def test_quick_report_physics(quick_report):
    _, rep, _ = quick_report
    mols = {m["name"]: m for m in rep["molecules"]}
    water = mols["h2o"]
    assert water["symbols"][0] == "O"
    for key in ("model", "eeq", "gfn2", "dft_hirshfeld_i", "dft_hirshfeld"):
        assert water["charges"][key][0] < -0.1, key  # O is negative in water in every scheme
    for m in mols.values():  # every scheme conserves the total charge
        for key in ("model", "qeq", "eeq", "gfn2", "dft_hirshfeld_i"):
            assert sum(m["charges"][key]) == pytest.approx(m["total_charge"], abs=2e-3), (m["name"], key)
    lif = mols["lif"]
    assert lif["charges"]["model"][0] > 0.5 and lif["charges"]["dft_hirshfeld_i"][0] > 0.5  # Li+ F-
    assert water["energy_eV"]["dft_atomization"] < -5 and water["energy_eV"]["model"] < 0  # bound
    assert 0.5 < water["dipole_D"]["dft"] < 3.0
    assert abs(water["dipole_D"]["gfn2"] - 2.3) < 0.2  # GFN2-xTB's water dipole (2.3 D at this geometry)
    assert "GFN2-xTB vs Hirshfeld-I" in rep["statistics"]
    scan = rep["scans"][0]
    near, far = scan["points"][0], scan["points"][-1]
    assert near["energy_eV"]["uks"] < far["energy_eV"]["uks"] - 3  # H2 is bound (D_e 4.7 eV)
    # stretched H2: broken-symmetry UKS dissociates to two H atoms (E -> 0, <S^2> -> 1); RKS stays far above
    assert abs(far["energy_eV"]["uks"]) < 0.3 and far["uks_spin_square"] > 0.8
    assert far["energy_eV"]["rks"] > far["energy_eV"]["uks"] + 1.0
