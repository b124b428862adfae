"""Evaluating a data set (issue 14): lsip.workflows.evaluate, `lsip evaluate`, the figures and the Evaluate page.

Data sets are written with ASE (SinglePointCalculator results -> extended XYZ) from the model's own numbers with
known changes: per-element energy offsets (+ noise), shifted forces, scaled charges. So every expected error is
known exactly.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from lsip.cli import main
from lsip.errors import LSIPError, StructureError, SystemTooLargeError
from lsip.export import extxyz_export
from lsip.io import structure_from_ase
from lsip.model.model import LSIPModel
from lsip.results import user_units
from lsip.units import E_ANGSTROM_TO_DEBYE
from lsip.workflows import evaluate as ev

#: Per-element offsets (eV) between a made-up "total energy" reference and the model's zero.
OFFSETS = {"H": -13.6, "O": -2041.3, "Li": -203.1, "F": -2715.9}
#: The made-up reference forces are the model's plus this shift (eV/angstrom); its charges 0.9 x the model's.
FORCE_SHIFT = np.array([0.02, -0.01, 0.03])
CHARGE_SCALE = 0.9


@pytest.fixture(scope="module")
def model() -> LSIPModel:
    return LSIPModel(params="first-principles", device="cpu")


def molecules() -> list[Atoms]:
    """Water and three distortions, LiF at three distances, LiH and HF (compositions of full rank in H, O, Li, F)."""
    rng = np.random.default_rng(7)
    water = Atoms("OH2", positions=[[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])
    frames = [water.copy()]
    for _ in range(3):
        w = water.copy()
        w.positions += rng.normal(0.0, 0.04, w.positions.shape)
        frames.append(w)
    frames += [Atoms("LiF", positions=[[0, 0, 0], [0, 0, d]]) for d in (1.5, 1.6, 1.75)]
    frames += [Atoms("LiH", positions=[[0, 0, 0], [0, 0, 1.6]]), Atoms("HF", positions=[[0, 0, 0], [0, 0, 0.92]])]
    return frames


def with_reference(frames: list[Atoms], model: LSIPModel, noise: float = 0.0) -> list[Atoms]:
    """Attach made-up references: E = E_model + sum offsets (+ noise), F = F_model + shift, q = 0.9 q_model,
    dipole = the model's."""
    rng = np.random.default_rng(11)
    for atoms in frames:
        u = user_units(model.predict(structure_from_ase(atoms)))
        energy = u.energy_eV + sum(OFFSETS[s] for s in atoms.get_chemical_symbols()) + noise * rng.normal()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=u.forces_eV_A + FORCE_SHIFT,
                                           charges=CHARGE_SCALE * u.charges_e, dipole=u.dipole_eA)
    return frames


def extxyz_bytes(frames: list[Atoms]) -> bytes:
    buf = io.StringIO()
    write(buf, frames, format="extxyz")
    return buf.getvalue().encode()


@pytest.fixture(scope="module")
def dataset(model) -> tuple[list[Atoms], bytes]:
    frames = with_reference(molecules(), model, noise=1e-3)
    return frames, extxyz_bytes(frames)


@pytest.fixture(scope="module")
def result(model, dataset) -> ev.Evaluation:
    return ev.evaluate_file(dataset[1], model, name="test.extxyz")


# ----------------------------------------------------------------------------------------------------- reading


def test_reference_properties_round_trip_through_extxyz(tmp_path, dataset):
    frames, data = dataset
    path = tmp_path / "set.extxyz"
    path.write_bytes(data)
    read = ev.read_dataset(path)
    assert [f.frame for f in read] == list(range(1, len(frames) + 1))
    for atoms, f in zip(frames, read):
        res = atoms.calc.results
        assert f.error == "" and f.structure is not None and f.structure.charge == 0
        assert f.reference.quantities == ("energy", "forces", "charges", "dipole")
        assert f.reference.energy_eV == pytest.approx(res["energy"], abs=1e-9)
        np.testing.assert_allclose(f.reference.forces_eV_A, res["forces"], atol=1e-8)
        np.testing.assert_allclose(f.reference.charges_e, res["charges"], atol=1e-8)
        np.testing.assert_allclose(f.reference.dipole_eA, res["dipole"], atol=1e-8)
        np.testing.assert_allclose(f.structure.positions, atoms.positions, atol=1e-8)
    assert read[0].structure.name == "set frame 1"


def test_other_names_initial_charges_and_the_total_charge():
    oh = Atoms("OH", positions=[[0, 0, 0], [0, 0, 0.97]])
    oh.info.update({"REF_energy": -5.0})
    oh.arrays["REF_forces"] = np.ones((2, 3))
    oh.set_initial_charges([-1.3, 0.3])  # the total charge comes from their sum (-1)
    data = extxyz_bytes([oh])
    (frame,) = ev.read_dataset(data, keys=ev.ReferenceKeys(energy="REF_energy", forces="REF_forces"))
    assert frame.reference.energy_eV == -5.0 and frame.reference.forces_eV_A.sum() == 6.0
    np.testing.assert_allclose(frame.reference.charges_e, [-1.3, 0.3])
    assert frame.structure.charge == -1
    # the default keys do not see REF_*: only the charges are there
    (plain,) = ev.read_dataset(data)
    assert plain.reference.quantities == ("charges",)
    # reference charges as calculator results (column 'charge') carry the total charge when the header has none
    ion = Atoms("OH", positions=[[0, 0, 0], [0, 0, 0.97]])
    ion.calc = SinglePointCalculator(ion, charges=np.array([-1.2, 0.2]))
    text = extxyz_bytes([ion]).decode().replace(" charge=0", "")
    assert ev.read_dataset(text.encode())[0].structure.charge == -1


def test_the_model_against_its_own_export_has_no_error(model):
    """lsip.export's extended XYZ is read back as a data set: the model agrees with itself."""
    frames = molecules()[:5]
    text = "".join(extxyz_export(structure_from_ase(a), model.predict(structure_from_ase(a))) for a in frames)
    out = ev.evaluate_file(text.encode(), model, baselines=())
    assert out.n_failed == 0 and out.energy_fit.method == "per-element offsets"
    rows = {r["quantity"]: r for r in out.summary}
    assert rows["energy per atom"]["MAE"] < 1e-5
    assert rows["force components"]["MAE"] < 1e-4 and rows["force components"]["values"] == 3 * 14
    assert rows["charges"]["MAE"] < 1e-6 and rows["dipole |Δμ|"]["MAE"] < 1e-5


# ---------------------------------------------------------------------------------------------------- energies


def test_per_element_offsets_are_recovered(result):
    fit = result.energy_fit
    assert fit.method == "per-element offsets" and fit.rank == 4 and fit.n_frames == 9
    assert set(fit.offsets_eV) == set(OFFSETS)
    for el, c in OFFSETS.items():
        assert fit.offsets_eV[el] == pytest.approx(c, abs=5e-3)
    assert fit.mae_eV < 2e-3 and fit.raw_mae_eV > 1000  # total energies vs energies relative to free atoms
    assert "least squares" in fit.message and "before the fit" in fit.message


def test_energy_fit_falls_back_to_relative_energies():
    water, hf = ("O", "H", "H"), ("H", "F")
    # one composition: the fit has rank 1; three frames leave two degrees of freedom
    fit = ev.fit_energy_offsets([water] * 3, [1.0, 2.0, 4.0], [11.0, 12.0, 14.5])
    assert fit.method == "per-element offsets" and fit.offsets_eV is None and fit.rank == 1
    # (E - mean) for both: errors -1/6, -1/6, +1/3
    np.testing.assert_allclose(fit.model_eV - fit.reference_eV - (fit.model_eV - fit.reference_eV).mean(),
                               [1 / 6, 1 / 6, -1 / 3], atol=1e-12)
    # too few frames for the fit: relative energies within each composition, a lone frame not compared
    few = ev.fit_energy_offsets([water, water, hf], [1.0, 2.0, 3.0], [-100.0, -98.0, 7.0])
    assert few.method == "relative per composition" and "E − mean" in few.message
    np.testing.assert_allclose(few.model_eV[:2], [-0.5, 0.5])
    np.testing.assert_allclose(few.reference_eV[:2], [-1.0, 1.0])
    assert np.isnan(few.model_eV[2]) and few.mae_eV == pytest.approx(0.5)
    one = ev.fit_energy_offsets([water], [1.0], [-2000.0])
    assert one.method == "none" and one.message.startswith("One frame") and one.mae_eV is None
    assert ev.fit_energy_offsets([water], [None], [1.0]).method == "none"


# ---------------------------------------------------------------------------------------------- per-frame errors


def test_per_frame_errors_match_a_hand_computation(result, dataset, model):
    frames, _ = dataset
    k = 2  # a distorted water
    r = result.frames[k]
    ref = frames[k].calc.results
    u = user_units(model.predict(r.structure))
    e_model = u.energy_eV + sum(result.energy_fit.offsets_eV[s] for s in r.structure.symbols)
    assert r.errors["energy_error_eV"] == pytest.approx(e_model - ref["energy"], abs=1e-6)
    assert r.errors["energy_error_per_atom_eV"] == pytest.approx((e_model - ref["energy"]) / 3, abs=1e-6)
    assert r.errors["force_rmse_eV_A"] == pytest.approx(np.sqrt(np.mean((u.forces_eV_A - ref["forces"]) ** 2)),
                                                        abs=1e-6)
    assert r.errors["force_rmse_eV_A"] == pytest.approx(np.sqrt(np.mean(FORCE_SHIFT**2)), abs=1e-6)
    assert r.errors["force_mae_eV_A"] == pytest.approx(np.mean(np.abs(FORCE_SHIFT)), abs=1e-6)
    assert r.errors["charge_mae_e"] == pytest.approx((1 - CHARGE_SCALE) * np.mean(np.abs(u.charges_e)), abs=1e-7)
    assert r.errors["dipole_error_D"] == pytest.approx(0.0, abs=1e-5)
    eeq = r.baselines["eeq"]
    assert r.errors["eeq_charge_mae_e"] == pytest.approx(np.mean(np.abs(eeq.charges_e - ref["charges"])))
    assert r.errors["eeq_dipole_error_D"] == pytest.approx(
        np.linalg.norm(eeq.dipole_eA - ref["dipole"]) * E_ANGSTROM_TO_DEBYE)
    # the summary pools the same numbers
    rows = {(s["quantity"], s["model"]): s for s in result.summary}
    forces = rows[("force components", "LSIP (first-principles)")]
    assert forces["values"] == 3 * (4 * 3 + 5 * 2) and forces["RMSE"] == pytest.approx(
        np.sqrt(np.mean(FORCE_SHIFT**2)), abs=1e-6)
    assert {m for q, m in rows if q == "charges"} == {"LSIP (first-principles)", "EEQ", "QEq"}
    records = ev.frame_records(result)
    assert records[k]["frame"] == 3 and records[k]["force_rmse_eV_A"] == r.errors["force_rmse_eV_A"]


def test_failed_frames_are_kept_with_their_message(model):
    frames = with_reference(molecules()[:4], model)
    uranium = Atoms("UO", positions=[[0, 0, 0], [0, 0, 1.8]])
    argon = Atoms("ArH", positions=[[0, 0, 0], [0, 0, 1.3]])  # H-Kr, but not in the latent library
    overlap = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.1]])
    for a in (uranium, argon, overlap):
        a.calc = SinglePointCalculator(a, energy=-1.0, forces=np.zeros((2, 3)))
    data = extxyz_bytes([frames[0], uranium, frames[1], argon, overlap, frames[2], frames[3]])
    out = ev.evaluate_file(data, model, baselines=("qeq",))
    assert len(out.frames) == 7 and out.n_failed == 3
    status = {r.frame: (r.status, r.message) for r in out.frames}
    assert "beyond krypton" in status[2][1] and status[2][0] == "failed"
    assert "Ar" in status[4][1] and "latent library" in status[4][1]
    assert "apart" in status[5][1]
    assert [r.frame for r in out.frames if r.ok] == [1, 3, 6, 7]
    assert {r["quantity"]: r["frames"] for r in out.summary}["force components"] == 4
    assert np.isnan(out.map_xy[1]).all() and np.isfinite(out.map_xy[3]).all()  # Ar frame is a structure
    rec = ev.frame_records(out)[1]
    assert rec["status"] == "failed" and rec["energy_error_eV"] is None and "krypton" in rec["message"]


def test_limits_and_refusals(model, dataset):
    _, data = dataset
    with pytest.raises(SystemTooLargeError, match="more than 3 frames"):
        ev.read_dataset(data, max_frames=3)
    with pytest.raises(SystemTooLargeError, match="more than the limit of 10 atoms"):
        ev.read_dataset(data, max_total_atoms=10)
    with pytest.raises(StructureError, match="extxyz or traj"):
        ev.read_dataset(data, "cif")
    bare = extxyz_bytes([Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])])
    with pytest.raises(LSIPError, match="no reference properties"):
        ev.evaluate_file(bare, model)
    with pytest.raises(StructureError):
        ev.read_dataset(b"3\nnot xyz\nO 0 0\n")


def test_structure_map_is_deterministic_and_groups_equal_frames(result):
    xy, (v1, v2) = ev.structure_map([r.structure for r in result.frames])
    np.testing.assert_allclose(xy, result.map_xy)
    assert xy.shape == (9, 2) and 0 < v2 <= v1 <= 1
    lif = xy[4:7]
    water = xy[:4]
    # frames of one composition lie closer to each other than to the other composition
    assert np.linalg.norm(lif.mean(0) - water.mean(0)) > np.ptp(water, axis=0).max()
    single, _ = ev.structure_map([result.frames[0].structure])
    assert single.tolist() == [[0.0, 0.0]]


# --------------------------------------------------------------------------------------------------------- views


def test_figures_and_tables(result):
    from lsip.viz import evaluate_views as views

    fig = views.parity_figure(result, "charges")
    names = [t.name for t in fig.data]
    assert names[0].startswith("LSIP (first-principles): MAE") and names[-1] == "y = x"
    assert any(n.startswith("EEQ") for n in names) and any(n.startswith("QEq") for n in names)
    assert "(e)" in fig.layout.xaxis.title.text
    energy = views.parity_figure(result, "energy")
    assert len(energy.data) == 2 and "eV/atom" in energy.layout.yaxis.title.text
    fmap = views.map_figure(result, "force_rmse_eV_A")
    assert sorted(fmap.data[0].customdata) == list(range(1, 10))
    assert "eV/Å" in fmap.data[0].marker.colorbar.title.text
    assert views.selected_frame({"points": [{"customdata": 4}]}) == 4
    assert views.selected_frame({"points": [{"customdata": [5]}]}) == 5
    assert views.selected_frame({"points": []}) is None and views.selected_frame(None) is None
    table = views.summary_table(result)
    assert {"quantity", "model", "unit", "MAE", "RMSE"} <= set(table.columns)
    frames = views.frames_table(result)
    assert "F RMSE (eV/Å)" in frames.columns and len(frames) == 9
    assert views.offsets_table(result)["element"].tolist() == sorted(OFFSETS)


# ----------------------------------------------------------------------------------------------------------- CLI


def test_cli_evaluate_writes_json_and_csv(tmp_path, dataset, capsys):
    path = tmp_path / "set.extxyz"
    path.write_bytes(dataset[1])
    out_json, out_csv = tmp_path / "out.json", tmp_path / "out.csv"
    code = main(["evaluate", str(path), "--params", "first-principles", "--baselines", "--json", str(out_json),
                 "--csv", str(out_csv), "--device", "cpu"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "set.extxyz: 9 frames, 0 failed" in stdout and "force components" in stdout and "EEQ" in stdout
    data = json.loads(out_json.read_text())
    assert set(data) == {"source", "params", "baselines", "n_frames", "n_failed", "energy_fit", "summary", "frames",
                         "time_s"}
    assert data["n_frames"] == 9 and data["baselines"] == ["eeq", "qeq"]
    assert data["energy_fit"]["offsets_eV"]["O"] == pytest.approx(OFFSETS["O"], abs=5e-3)
    assert {"frame", "status", "energy_error_per_atom_eV", "force_rmse_eV_A", "charge_mae_e",
            "dipole_error_D"} <= set(data["frames"][0])
    lines = out_csv.read_text().splitlines()
    assert lines[0].startswith("frame,formula,n_atoms") and len(lines) == 10


def test_cli_evaluate_errors_are_one_line(tmp_path, capsys, dataset):
    bad = tmp_path / "bad.extxyz"
    bad.write_text("2\n\nH 0 0\n")
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lsip evaluate: error:") and "\n" not in err and "Traceback" not in err
    big = tmp_path / "big.extxyz"
    big.write_bytes(dataset[1])
    assert main(["evaluate", str(big), "--max-frames", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "more than 2 frames" in err and "--max-frames" in err and "\n" not in err
    assert main(["evaluate", str(tmp_path / "missing.extxyz")]) == 2


# ------------------------------------------------------------------------------------------------------- the page


PAGE = "app_pages/8_Evaluate.py"
DATA_KEY = "lsip_evaluate_data"


@pytest.mark.usefixtures("isolated_cache")
def test_page_without_data_asks_for_a_file():
    from apptest_pages import open_app_page

    at = open_app_page(PAGE, None)
    assert [t.value for t in at.title] == ["Evaluate"]
    assert any("No data set yet" in i.value for i in at.info)


def test_the_built_in_example_is_what_ase_reads_back():
    """The example (scripts/make_evaluate_example.py): every frame carries all four reference properties where ASE
    puts them; forces vanish at the relaxed molecules (relaxed at this level) and not along the stretch; the total
    energies of one composition differ as DFT's scan does."""
    from ase.io import read

    from lsip.paths import EVALUATE_EXAMPLE

    frames = read(EVALUATE_EXAMPLE, ":")
    assert len(frames) == 18
    for a in frames:
        assert np.isfinite(a.get_potential_energy())
        assert a.get_forces().shape == (len(a), 3) and a.get_charges().shape == (len(a),)
        assert a.get_dipole_moment().shape == (3,)
        assert a.get_charges().sum() == pytest.approx(a.info.get("charge", 0), abs=2e-3)
    relaxed = [np.abs(a.get_forces()).max() for a in frames[:14]]
    assert max(relaxed) < 0.05  # eV/A: relaxed at PBE0/def2-SVP (geomeTRIC max gradient 4.5e-4 Eh/bohr)
    stretch = frames[14:]
    assert all(a.get_chemical_formula() == "H2O" for a in stretch)
    assert min(np.abs(a.get_forces()).max() for a in stretch) > 1.0
    water = frames[0].get_potential_energy()
    assert all(a.get_potential_energy() > water for a in stretch)  # the relaxed water is the lowest


@pytest.mark.usefixtures("isolated_cache")
def test_page_loads_the_built_in_example():
    from apptest_pages import elements, open_app_page

    at = open_app_page(PAGE, None)
    next(b for b in at.button if b.label == "Load the example data set").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert [m.value for m in at.metric][:2] == ["18", "0"]
    assert any("one offset per element" in i.value for i in at.info)
    assert len(elements(at, "plotly_chart")) == 5


@pytest.mark.usefixtures("isolated_cache")
def test_page_evaluates_an_injected_data_set_and_opens_a_frame_in_explore(model):
    from apptest_pages import elements, open_app_page

    from lsip.ui import state

    frames = with_reference(molecules()[:4], model)
    frames.insert(1, Atoms("UO", positions=[[0, 0, 0], [0, 0, 1.8]]))
    frames[1].calc = SinglePointCalculator(frames[1], energy=-1.0)
    data = extxyz_bytes(frames)
    at = open_app_page(PAGE, None, **{DATA_KEY: {"name": "waters.extxyz", "data": data}})
    assert not at.error
    assert [m.value for m in at.metric][:2] == ["5", "1"]
    assert any("could not be evaluated" in w.value for w in at.warning)
    assert any("least squares" in i.value for i in at.info)  # four waters: the fit of one composition
    assert len(elements(at, "plotly_chart")) == 5  # four parity plots and the map
    summary = at.dataframe[1].value  # [0]: failed frames
    assert "charges" in summary["quantity"].tolist()
    assert [b.label for b in at.get("download_button")] == ["Per-frame errors (CSV)", "Summary and frames (JSON)"]
    # the uranium frame cannot be chosen (no structure); frame 3 opens in Explore
    assert at.selectbox(key="lsip_evaluate_frame").options == ["frame 1: H2O", "frame 3: H2O", "frame 4: H2O",
                                                               "frame 5: H2O"]
    at.selectbox(key="lsip_evaluate_frame").set_value(3).run()
    next(b for b in at.button if b.label == "Open frame in Explore").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Explore"]
    assert at.session_state[state.SOURCE_KEY] == "Upload"
    shown = at.session_state[state.UPLOADED_KEY]
    assert shown.name == "waters.extxyz frame 3"
    np.testing.assert_allclose(shown.positions, frames[2].positions, atol=1e-8)


@pytest.mark.usefixtures("isolated_cache")
def test_page_shows_a_refused_data_set_as_a_message():
    from apptest_pages import elements, open_app_page

    at = open_app_page(PAGE, None, **{DATA_KEY: {"name": "bad.extxyz", "data": b"2\n\nH 0 0\n"}})
    assert any(e.value.startswith("Cannot evaluate 'bad.extxyz':") for e in at.error)
    assert not elements(at, "plotly_chart")
    at.button(key="lsip_evaluate_forget").click().run()
    assert DATA_KEY not in at.session_state and any("No data set yet" in i.value for i in at.info)
    bare = extxyz_bytes([Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])])
    at = open_app_page(PAGE, None, **{DATA_KEY: {"name": "bare.extxyz", "data": bare}})
    assert any("no reference properties" in e.value for e in at.error)
