"""lsip.reference.driver: PySCF reference DFT on tiny systems, convergence handling, limits, progress, cache.

Reference values: total energies and dipoles are compared with a direct PySCF run of the same level of theory
(independent of the driver's code path); the experimental dipole of water is 1.855 D (CRC Handbook).
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from pyscf import dft

from lsip.errors import ConvergenceError, ReferenceCalculationError, StructureError, SystemTooLargeError
from lsip.model.library import STATE_LABELS, default_library
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import CalculationCancelled, ReferenceDFT, ReferenceResult
from lsip.reference.grids import basis_function_count, build_mole, spin_warnings
from lsip.structure import Structure
from lsip.units import E_BOHR_TO_DEBYE

H2O = Structure(("O", "H", "H"), [[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]], name="water")
LIH = Structure(("Li", "H"), [[0, 0, 0], [0, 0, 1.595]])
H2 = Structure(("H", "H"), [[0, 0, 0], [0, 0, 0.741]])
H2_PLUS = Structure(("H", "H"), [[0, 0, 0], [0, 0, 1.06]], charge=1)
PARTITION = ("hirshfeld", "hirshfeld_i", "density_encoder")


@pytest.fixture(scope="module")
def water():
    return ReferenceDFT(H2O, cache=False).kernel()


@pytest.fixture(scope="module")
def lih():
    return ReferenceDFT(LIH, cache=False).kernel()


def test_water_matches_direct_pyscf(water):
    mol = build_mole(H2O, "def2-SVP")
    mf = dft.RKS(mol, xc="PBE0")
    mf.verbose = 0
    e = mf.kernel()
    assert water.converged and water.n_basis == mol.nao == 24 and not water.unrestricted
    assert water.energy == pytest.approx(e, abs=1e-7)
    # neutral molecule: the dipole does not depend on the origin
    np.testing.assert_allclose(water.dipole, mf.dip_moment(unit="AU", verbose=0), atol=1e-5)
    assert abs(np.linalg.norm(water.dipole) * E_BOHR_TO_DEBYE - 1.855) < 0.25
    assert water.electrons_grid == pytest.approx(10.0, abs=1e-4)


def test_water_charges_and_latent_weights(water):
    for name in ("mulliken", "meta_lowdin"):
        assert water.charges[name].sum() == pytest.approx(0.0, abs=1e-8)
    for name in PARTITION:
        q = water.charges[name]
        assert q.sum() == pytest.approx(0.0, abs=1e-4)
        assert q[1] == pytest.approx(q[2], abs=1e-6)  # the two H are equivalent
    for name in ("hirshfeld", "hirshfeld_i", "mulliken", "meta_lowdin"):
        assert water.charges[name][0] < -0.1  # O is the acceptor in every scheme
    # Hirshfeld-I is more ionic than Hirshfeld (Bultinck et al. 2007)
    assert water.charges["hirshfeld_i"][0] < water.charges["hirshfeld"][0]
    w = water.latent_weights
    assert w.shape == (3, 4) and np.all(w >= 0) and np.allclose(w.sum(1), 1)
    err = water.density_error
    assert 0 < err["latent"] <= err["promolecule"] + 1e-9 and err["model"] is None


def test_lih_is_ionic_and_latent_beats_promolecule(lih):
    for name in ("hirshfeld", "hirshfeld_i", "mulliken", "meta_lowdin", "density_encoder"):
        assert lih.charges[name][0] > 0.3  # Li donates to H
        assert lih.charges[name].sum() == pytest.approx(0.0, abs=1e-4)
    assert lih.charges["hirshfeld_i"][0] > lih.charges["hirshfeld"][0]
    w = dict(zip(STATE_LABELS, lih.latent_weights.T))
    assert w["cation"][0] > 0.5 and w["anion"][1] > 0.5
    assert lih.density_error["latent"] < 0.8 * lih.density_error["promolecule"]


def test_cation_uks_charges_sum_to_total_charge():
    res = ReferenceDFT(H2_PLUS, cache=False, basis="sto-3g").kernel()
    assert res.unrestricted and res.spin == 1
    assert res.spin_square == pytest.approx(0.75, abs=1e-6)  # one electron: no contamination possible
    assert res.electrons_grid == pytest.approx(1.0, abs=1e-4)
    for name in PARTITION:
        assert res.charges[name].sum() == pytest.approx(1.0, abs=1e-4)
        np.testing.assert_allclose(res.charges[name], [0.5, 0.5], atol=1e-4)
    assert res.charges["density_encoder"].sum() == pytest.approx(1.0, abs=1e-9)  # exact by constraint


def test_model_error_uses_the_same_grid(lih):
    lib = default_library()
    same = lih.with_model_error(lih.latent_weights, lib)
    assert same.density_error["model"] == pytest.approx(lih.density_error["latent"], rel=1e-9)
    promol = np.zeros((2, 4))
    promol[:, 1] = 1.0
    assert lih.with_model_error(promol, lib).density_error["model"] == pytest.approx(
        lih.density_error["promolecule"], rel=1e-9)


def test_model_error_includes_the_dipolar_lobes_when_given(lih):
    """Zero dipoles change nothing; a dipole that moves Li's cloud towards H (where the DFT density of the ionic
    bond sits relative to the neutral promolecule) changes the error."""
    from lsip.model.model import LSIPModel

    lib = default_library()
    tables = LSIPModel(lib, "first-principles", device="cpu").tables
    shapes = [tables.dipole_shapes[tables.index[s]] for s in ("Li", "H")]
    w = lih.latent_weights
    base = lih.with_model_error(w, lib).density_error["model"]
    zero = lih.with_model_error(w, lib, np.zeros((2, 3)), shapes).density_error["model"]
    assert zero == pytest.approx(base, rel=1e-12)
    axis = lih.structure().positions[1] - lih.structure().positions[0]
    p = np.zeros((2, 3))
    p[0] = -0.3 * axis / np.linalg.norm(axis)  # electrons shifted towards H: the dipole points away from it
    moved = lih.with_model_error(w, lib, p, shapes).density_error["model"]
    assert abs(moved - base) > 1e-3


def test_non_convergence_is_reported_and_not_cached(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    with pytest.raises(ConvergenceError, match="did not converge") as info:
        ReferenceDFT(H2O, cache=cache, max_cycle=1).kernel()
    res = info.value.result
    assert isinstance(res, ReferenceResult) and not res.converged and res.attempts == 2
    assert res.latent_weights is None and res.charges == {}
    assert len(cache) == 0
    res = ReferenceDFT(H2O, cache=cache, max_cycle=1, retry="none").kernel(raise_on_failure=False)
    assert not res.converged and res.attempts == 1 and "did not converge" in res.warnings[-1]
    assert len(cache) == 0


def test_cache_hit_returns_identical_arrays(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    first = ReferenceDFT(H2, cache=cache, basis="sto-3g").kernel()
    second = ReferenceDFT(H2, cache=cache, basis="sto-3g").kernel()
    assert not first.cached and second.cached and second.time_s < 0.05
    assert second.key == first.key and second.energy == first.energy
    for name in ("density_matrix", "latent_weights", "dipole", "positions"):
        np.testing.assert_array_equal(getattr(second, name), getattr(first, name))
    assert set(second.charges) == set(first.charges)
    for name, q in first.charges.items():
        np.testing.assert_array_equal(second.charges[name], q)
    assert second.to_dict()["cached"] is True
    assert ReferenceDFT(H2, cache=cache, basis="sto-3g").kernel(use_cache=False).cached is False
    other = ReferenceDFT(H2.with_positions([[0, 0, 0], [0, 0, 0.75]]), cache=cache, basis="sto-3g")
    assert other.key() != first.key


def test_corrupted_cache_file_does_not_stop_a_calculation(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"\x00garbage" * 500)
    with pytest.warns(RuntimeWarning, match="damaged"):
        res = ReferenceDFT(H2, cache=ReferenceCache(path), basis="sto-3g").kernel()
    assert res.converged and ReferenceCache(path).get(res.key) is not None


def test_progress_cancel_and_time_limit():
    reports = []
    ReferenceDFT(H2, cache=False, basis="sto-3g", progress=reports.append).kernel()
    stages = [r.stage for r in reports]
    assert stages[0] == "scf" and stages[-1] == "analysis"
    cycles = [r.cycle for r in reports if r.stage == "scf"]
    assert cycles == list(range(len(cycles))) and len(cycles) > 2
    assert all(b.elapsed_s >= a.elapsed_s for a, b in itertools.pairwise(reports))
    assert all(r.estimate_s > 0 for r in reports)

    stop = threading.Event()

    def stop_after_two(p):
        if p.cycle >= 2:
            stop.set()

    with pytest.raises(CalculationCancelled, match="cancelled"):
        ReferenceDFT(H2O, cache=False, progress=stop_after_two, cancel=stop).kernel()
    with pytest.raises(CalculationCancelled, match="time limit"):
        ReferenceDFT(H2O, cache=False, time_limit_s=0.0).kernel()


def test_size_limits_and_bad_input():
    # the atom-limit message also estimates the time, from per-element basis sizes (O 14 + 2 H 5 in def2-SVP)
    with pytest.raises(SystemTooLargeError, match=r"limited to 2 atoms .* Estimated time: ~.* its 24 basis functions"):
        ReferenceDFT(H2O, cache=False, max_atoms=2).kernel()
    assert basis_function_count(["O", "H", "H"], "def2-svp") == build_mole(H2O, "def2-svp").nao == 24
    with pytest.raises(SystemTooLargeError, match=r"24 basis functions .* limited to 10 .* Estimated time"):
        ReferenceDFT(H2O, cache=False, max_basis=10).kernel()
    with pytest.raises(ReferenceCalculationError, match="basis"):
        ReferenceDFT(H2, cache=False, basis="no-such-basis").kernel()
    with pytest.raises(ReferenceCalculationError, match="functional"):
        ReferenceDFT(H2, cache=False, basis="sto-3g", xc="no-such-xc").kernel()
    with pytest.raises(StructureError, match="parity"):
        ReferenceDFT(Structure(("H", "H"), [[0, 0, 0], [0, 0, 0.74]], spin=1), cache=False).kernel()
    with pytest.raises(ReferenceCalculationError, match="retry"):
        ReferenceDFT(H2, cache=False, retry="pray")


def test_spin_contamination_warning():
    assert spin_warnings(None, 0, 0.1) == []
    assert spin_warnings(2.05, 2, 0.1) == []  # triplet, S(S+1) = 2
    assert "contamination" in spin_warnings(0.9, 0, 0.1)[0]


def test_json_schema(lih):
    d = lih.to_dict()
    for key in ("energy_eV", "converged", "dipole_D", "dipole_eA", "charges_e", "latent_weights", "density_error_e",
                "xc", "basis", "n_basis", "time_s", "cached"):
        assert key in d
    assert set(d["charges_e"]) >= {"hirshfeld", "hirshfeld_i", "mulliken", "density_encoder"}
    assert set(d["latent_weights"]) == set(STATE_LABELS) and len(d["dipole_eA"]) == 3
    assert set(d["density_error_e"]) == {"latent", "promolecule", "model"}


@pytest.mark.slow
def test_nacl_density_encoder_is_ionic():
    res = ReferenceDFT(Structure(("Na", "Cl"), [[0, 0, 0], [0, 0, 2.361]]), cache=False).kernel()
    assert res.charges["density_encoder"][0] > 0.6 and res.charges["hirshfeld_i"][0] > 0.6
    assert res.density_error["latent"] < 0.6 * res.density_error["promolecule"]
