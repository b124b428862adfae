"""The calibration data set, its recorded split and the fit's pieces (docs/calibration.md)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from lsip.calibration.dataset import (
    BEND_FACTORS,
    BEND_SCANS,
    BOND_SCANS,
    DIMER_SCANS,
    SCAN_FACTORS,
    SPLIT_FILE,
    TARGET_MOLECULES,
    bond_angle,
    build_dimer,
    load_split,
    make_split,
)
from lsip.calibration.fit import (
    PARAMETERS,
    Entry,
    evaluate,
    load_data,
    minimum,
    params_from_vector,
    residual_vector,
    side,
    start_vector,
    summary,
)
from lsip.calibration.report import markdown_report
from lsip.cli import main
from lsip.errors import LSIPError
from lsip.model.params import ModelParameters, describe
from lsip.reference.cache import ReferenceCache
from lsip.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV
from lsip.validation.molecules import available, load


def test_recorded_split_is_the_reproducible_one():
    assert load_split() == make_split()
    data = json.loads(SPLIT_FILE.read_text())
    assert data["made_by"].endswith("make_split")


def test_split_sides_and_targets():
    split = load_split()
    assert set(available()) <= set(split)
    assert all(split[m] == "test" for m in TARGET_MOLECULES)
    n_test = sum(v == "test" for v in split.values())
    assert 0.3 < n_test / len(split) < 0.5
    # every category keeps training data
    from lsip.validation.molecules import category

    for cat in ("ionic", "covalent", "ion"):
        assert any(split[m] == "train" for m in available() if category(m) == cat)


def test_scans_and_dimers_sit_on_their_molecules_side():
    split = load_split()
    for item in (*BOND_SCANS, *BEND_SCANS, *DIMER_SCANS):
        assert item.molecule in split, item.name
        entry = Entry("scan", item.name, item.molecule, [], np.zeros(0))
        assert side(entry, split) == split[item.molecule]


def test_bond_scan_geometry():
    scan = next(s for s in BOND_SCANS if s.molecule == "h2o")
    sts = scan.structures()
    r0 = np.linalg.norm(load("h2o").positions[1] - load("h2o").positions[0])
    got = [np.linalg.norm(s.positions[1] - s.positions[0]) for s in sts]
    np.testing.assert_allclose(got, np.array(SCAN_FACTORS) * r0, atol=1e-12)
    # the other O-H bond does not move
    np.testing.assert_allclose([np.linalg.norm(s.positions[2] - s.positions[0]) for s in sts],
                               np.linalg.norm(load("h2o").positions[2] - load("h2o").positions[0]), atol=1e-12)


def test_bend_scan_scales_the_angle_and_keeps_every_bond():
    for bend in BEND_SCANS:
        st = load(bend.molecule)
        sts = bend.structures()
        theta0 = bond_angle(st.positions, bend.i, bend.j, bend.k)
        np.testing.assert_allclose(bend.angles(), np.array(BEND_FACTORS) * theta0, atol=1e-9)
        assert sts[BEND_FACTORS.index(1.0)].positions == pytest.approx(st.positions, abs=1e-12)
        # a rotation about the vertex: every bond length of the molecule is kept (no atom beyond k moves apart)
        for s in sts:
            for a, b in ((bend.i, bend.j), (bend.i, bend.k)):
                assert np.linalg.norm(s.positions[a] - s.positions[b]) == pytest.approx(
                    np.linalg.norm(st.positions[a] - st.positions[b]), abs=1e-12)
    # closing a water angle to 0.55 brings the hydrogens to ~0.8 Angstrom (the contact the fit must see)
    water = next(b for b in BEND_SCANS if b.molecule == "h2o").structures()[0]
    assert 0.7 < np.linalg.norm(water.positions[1] - water.positions[2]) < 1.0


def test_dimer_builder_puts_the_acceptor_on_the_donor_line():
    dimer = build_dimer("h2o", 1, "nh3", 1.95)
    h, o, n = dimer.positions[1], dimer.positions[0], dimer.positions[3]
    assert np.linalg.norm(n - h) == pytest.approx(1.95, abs=1e-9)
    cos = np.dot(h - o, n - h) / np.linalg.norm(h - o) / np.linalg.norm(n - h)
    assert cos == pytest.approx(1.0, abs=1e-9)  # linear O-H...N
    ion = build_dimer("Li+", None, "h2o", 1.85)
    assert ion.charge == 1 and ion.symbols[0] == "Li"
    assert np.linalg.norm(ion.positions[0] - ion.positions[1]) == pytest.approx(1.85, abs=1e-9)
    with pytest.raises(LSIPError, match="no N-H, O-H or F-H"):
        build_dimer("ch4", None, "h2o", 2.0)


def test_dimer_scans_move_the_second_monomer_rigidly():
    for dim in DIMER_SCANS:
        sts = dim.structures()
        n1, n2 = dim.monomers()
        assert all(s.n_atoms == n1 + n2 for s in sts)
        for s in sts[1:]:
            d1 = np.linalg.norm(s.positions[:n1, None] - s.positions[None, :n1], axis=-1)
            d2 = np.linalg.norm(s.positions[n1:, None] - s.positions[None, n1:], axis=-1)
            d1_0 = np.linalg.norm(sts[0].positions[:n1, None] - sts[0].positions[None, :n1], axis=-1)
            d2_0 = np.linalg.norm(sts[0].positions[n1:, None] - sts[0].positions[None, n1:], axis=-1)
            np.testing.assert_allclose(d1, d1_0, atol=1e-12)
            np.testing.assert_allclose(d2, d2_0, atol=1e-12)


def test_minimum_of_a_parabola_is_exact_and_ends_are_reported():
    r = np.array([0.8, 0.9, 1.0, 1.1, 1.3])
    assert minimum(r, 3.0 * (r - 0.97) ** 2) == pytest.approx(0.97, abs=1e-12)
    assert minimum(r, -r) == 1.3  # minimum beyond the scan: its end


def test_parameter_vector_round_trip():
    x = start_vector()
    params = params_from_vector(x, ModelParameters())
    for (name, transform, start), value in zip(PARAMETERS, x, strict=True):
        if transform == "log":
            want = np.log(start)
        elif transform == "logit":
            want = np.log(start / (1 - start))
        elif transform == "above1":  # Bent's-rule bound of the lone pairs' s weight (docs/model.md 10.8)
            want = np.log(start - 1)
        else:
            want = start
        assert value == pytest.approx(want)
        if ":" in name:
            assert params.electronegativity_slope[name.split(":")[1]] == pytest.approx(start)
        else:
            assert getattr(params, name) == pytest.approx(start)
    # a start below a bound takes the default: the shipped seventh-round t of period 3 (0.0004) cannot start a fit
    below = start_vector(ModelParameters(lone_pair_s_period3=0.5))
    k = [n for n, _, _ in PARAMETERS].index("lone_pair_s_period3")
    assert below[k] == pytest.approx(np.log(2.0 - 1.0))
    assert params_from_vector(below - 50.0, ModelParameters()).lone_pair_s_period3 >= 1.0  # never below 1


def test_evaluate_measures_model_minus_reference(shipped_model):
    """Targets equal to the model's own numbers give zero error; a shifted target gives exactly the shift."""
    st = load("h2o")
    pred = shipped_model.predict(st)
    e_model = pred.energy * HARTREE_TO_EV
    entry = Entry("molecule", "h2o", "h2o", [st], np.array([e_model - 0.3]), pred.charges.numpy() + 0.01, None)
    ev = evaluate(shipped_model.params, [entry])
    assert ev.errors["atomization"] == [pytest.approx(0.1, abs=1e-9)]  # 0.3 eV over 3 atoms
    np.testing.assert_allclose(ev.errors["charge"], -0.01, atol=1e-9)
    assert ev.failures == 0
    # the force target: DFT's forces vanish at its relaxed geometry, so the error is the model's RMS force there
    f = pred.forces.numpy() * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    assert ev.errors["force"] == [pytest.approx(float(np.sqrt(np.mean(f * f))), rel=1e-9)]
    assert ev.per_entry[0]["force_rms_eV_A"] == ev.errors["force"][0]
    r = residual_vector(ev)
    assert len(r) == 5 and np.all(np.isfinite(r))  # atomization, 3 charges, force
    assert summary(ev)["atomization_mae"] == pytest.approx(0.1, abs=1e-9)


def test_a_bend_entry_gives_its_energies_and_the_angle_at_the_minimum(shipped_model):
    """A bend scan whose targets are the model's own relative energies plus a parabola: the residuals are the
    parabola (softened by its height) and the DFT minimum is the parabola's vertex."""
    bend = next(b for b in BEND_SCANS if b.molecule == "h2o")
    sts = bend.structures()
    preds = shipped_model.predict(sts, forces=False)
    e = np.array([p.energy for p in preds]) * HARTREE_TO_EV
    rel = e - e[BEND_FACTORS.index(1.0)]
    angles = bend.angles()
    bump = 0.002 * (angles - angles[3]) ** 2  # eV, zero at the relaxed angle
    ev = evaluate(shipped_model.params, [Entry("bend", bend.name, "h2o", sts, rel + bump, distances=angles)])
    np.testing.assert_allclose(ev.errors["bend"], -bump, atol=1e-9)
    assert ev.errors["scan"] == [] and ev.errors["bond_length"] == []
    rec = ev.per_entry[0]
    assert rec["model_min_deg"] == pytest.approx(minimum(angles, rel), abs=1e-9)
    assert len(ev.errors["angle"]) == 1
    r = residual_vector(ev)
    np.testing.assert_allclose(r, -bump / (0.10 * (1 + np.abs(rel + bump))), atol=1e-9)


@pytest.mark.usefixtures("isolated_cache")
def test_missing_references_are_a_clear_error():
    with pytest.raises(LSIPError, match="lsip calibrate --generate"):
        load_data(cache=ReferenceCache())


def test_calibrate_command_is_registered(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--help"])
    assert exc.value.code == 0
    assert "--generate" in capsys.readouterr().out


def test_report_and_description_of_a_fitted_set():
    row = {"atomization_mae": 0.5, "scan_mae": 0.2, "bond_length_mae": 0.03, "dimer_mae": 0.1,
           "charge_mae": 0.1, "dipole_mae": 0.4, "failures": 0.0}
    report = {"name": "x", "level": "PBE0/def2-SVP", "train_entries": ["a"], "test_entries": ["b"],
              "split_file": "split.json", "evaluations": 3, "seconds": 1.0, "git": "abc", "optimizer": "o",
              "status": "s", "first_principles": {"train": row, "test": row}, "calibrated": {"train": row, "test": row},
              "test_per_entry": [{"kind": "molecule", "name": "b", "model_eV": -1.0, "dft_eV": -1.5}]}
    text = markdown_report(report)
    assert "| atomization energy | eV/atom | 0.500 |" in text and "| b | atomization, eV | -1.00 | -1.50 |" in text
    params = ModelParameters(name="x", fitted_to={"level": "PBE0/def2-SVP", "train_size": 1, "test_size": 1,
                                                  "test_mae": row})
    assert "fitted to PBE0/def2-SVP" in describe(params) and "atomization 0.50 eV/atom" in describe(params)


def test_a_set_becomes_default_only_when_it_beats_first_principles_on_every_test_measure():
    from lsip.calibration.fit import DEFAULT_CRITERIA, beats_on_test

    fp = {k: 1.0 for k in DEFAULT_CRITERIA} | {"failures": 0.0}
    better = {k: 0.5 for k in DEFAULT_CRITERIA} | {"failures": 0.0}
    assert beats_on_test(fp, better)
    assert not beats_on_test(fp, better | {"charge_mae": 1.01})
    assert not beats_on_test(fp, better | {"failures": 1.0})


def test_default_parameter_set_is_a_shipped_set_marked_default():
    from lsip.model.params import PARAM_DIR, available_parameter_sets, default_parameter_set, get_parameters

    name = default_parameter_set()
    assert name in available_parameter_sets()
    if name != "first-principles":
        assert get_parameters(name).fitted_to["default"] is True
        assert (PARAM_DIR / f"{name}.json").is_file()


def _train_and_test_entries(model) -> list[Entry]:
    """HCl (training side) and water (test side) with targets 1 eV below the model's own energies."""
    entries = []
    for name in ("hcl", "h2o"):  # train, test
        st = load(name)
        pred = model.predict(st)
        entries.append(Entry("molecule", name, name, [st], np.array([pred.energy * HARTREE_TO_EV - 1.0]),
                             pred.charges.numpy(), None))
    return entries


def test_calibrate_is_deterministic_and_records_its_provenance(shipped_model):
    """Two short fits on the same two entries (one per side of the split) give the same set; the report has
    train and test errors for both sets and the provenance the parameter file carries."""
    from lsip.calibration.fit import calibrate

    entries = _train_and_test_entries(shipped_model)
    runs = [calibrate("tiny", entries, max_nfev=2) for _ in range(2)]
    (p1, rep1), (p2, _) = runs
    d1, d2 = p1.to_dict(), p2.to_dict()
    assert json.dumps(d1.pop("fitted_to")) == json.dumps(d2.pop("fitted_to"))  # NaN-safe (no dipoles here)
    assert d1 == d2
    assert rep1["train_entries"] == ["hcl"] and rep1["test_entries"] == ["h2o"]
    assert set(rep1["first_principles"]) == set(rep1["calibrated"]) == {"train", "test"}
    # the fit lowered its cost on the training entry from its start point (energy and charge residuals together)
    from lsip.calibration.fit import objective, params_from_vector, start_vector

    start = objective(params_from_vector(start_vector(), ModelParameters()), entries[:1])
    assert objective(p1, entries[:1]) < start
    assert p1.fitted_to["level"] == "PBE0/def2-SVP" and p1.fitted_to["train_size"] == 1
    assert isinstance(p1.fitted_to["default"], bool)
    # the cost a rule compares between sets is the fit's own objective at its result (the fit warm-starts each
    # equalization from the previous evaluation's solution, the objective starts cold: equal to the solver's
    # tolerance, which is 1e-8 relative here)
    from lsip.calibration.fit import objective

    assert objective(p1, entries[:1]) == pytest.approx(rep1["cost"], rel=1e-7)


def test_fixed_choices_and_checkpoints_of_a_fit(shipped_model):
    """An experiment's fixed fields reach every trial set and the report; the checkpoint sees each improvement of
    the training cost (strictly decreasing), so a stopped fit keeps its best point."""
    from lsip.calibration.fit import FIXED, calibrate
    from lsip.commands.calibrate import parse_fixed

    entries = _train_and_test_entries(shipped_model)
    seen: list[tuple[float, bool, float]] = []
    params, report = calibrate("tiny", entries, max_nfev=2, fixed=parse_fixed(["pauli_two_sided=true"]),
                               checkpoint=lambda p, cost, k: seen.append((cost, p.pauli_two_sided,
                                                                          p.electronegativity_saturation)))
    costs = [c for c, _, _ in seen]
    assert len(costs) >= 2 and all(b < a for a, b in itertools.pairwise(costs))
    assert all(two and sat == FIXED["electronegativity_saturation"] for _, two, sat in seen)
    assert params.pauli_two_sided is True
    assert report["fixed"] == {**FIXED, "pauli_two_sided": True}


def test_a_fixed_value_holds_a_fitted_field():
    """``--fix`` on a field the fit varies keeps it at the given value whatever the vector says (the sixteenth
    round found the vector winning: the polarizability scale it meant to hold ran to 1e-31)."""
    from lsip.calibration.fit import params_from_vector, start_vector

    x = start_vector()
    k = [n for n, _, _ in PARAMETERS].index("polarizability_scale")
    x[k] = -70.0
    assert params_from_vector(x, ModelParameters()).polarizability_scale == pytest.approx(np.exp(-70.0))
    held = params_from_vector(x, ModelParameters(), {"polarizability_scale": 2.4e-6})
    assert held.polarizability_scale == 2.4e-6


@pytest.mark.parametrize("item", ["bogus=1", "kappa", "kappa=abc"])
def test_a_bad_fixed_field_is_a_clear_error(item):
    from lsip.commands.calibrate import parse_fixed

    with pytest.raises(LSIPError, match="--fix"):
        parse_fixed([item])


def test_a_warm_started_evaluation_equals_a_cold_one(shipped_model):
    """The fit starts each evaluation from the previous one's latents: with other parameters the residuals agree
    with a cold start to the solver's tolerance, and a guess for another list of structures is ignored."""
    from lsip.calibration.fit import evaluate, residual_vector

    entries = _train_and_test_entries(shipped_model)
    base = shipped_model.params
    first = evaluate(base, entries)
    assert len(first.latents) == 2 and all(lat is not None for lat in first.latents)
    other = base.with_(kappa=base.kappa * 1.01)
    cold, warm = evaluate(other, entries), evaluate(other, entries, first.latents)
    signal = np.abs(residual_vector(cold) - residual_vector(first)).max()
    assert signal > 1e-3  # the parameter change moves the residuals ...
    assert np.abs(residual_vector(warm) - residual_vector(cold)).max() < 1e-4 * signal  # ... the start does not
    mismatched = evaluate(other, entries[:1], first.latents)  # two latents for one structure: a cold start
    assert residual_vector(mismatched)[0] == pytest.approx(residual_vector(cold)[0], abs=1e-6)
