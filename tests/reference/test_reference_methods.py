"""Reference method choice (automatic / RKS / UKS) and the Molden export of reference calculations
(lsip.reference.driver, lsip.reference.molden, ``lsip reference --method --molden``).

Reference values: a closed-shell H2 has the same RKS and UKS energy (UKS keeps the restricted solution); Molden files
are read back with PySCF's own parser (``pyscf.tools.molden.load``), independent of the writer's caller.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyscf.tools import molden as pyscf_molden

from lsip.cli import main
from lsip.errors import ReferenceCalculationError
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import (
    METHODS,
    ReferenceDFT,
    ReferenceResult,
    ReferenceSettings,
    canonical_unrestricted,
    method_refusal,
)
from lsip.reference.molden import RECOMPUTE_MESSAGE, MoldenUnavailable, has_orbitals, molden_text, write_molden
from lsip.structure import Structure

H2 = Structure(("H", "H"), [[0, 0, 0], [0, 0, 0.741]])
OH = Structure(("O", "H"), [[0, 0, 0], [0, 0, 0.97]])
O2_TRIPLET = Structure(("O", "O"), [[0, 0, 0], [0, 0, 1.21]], spin=2)
WATER = Structure(("O", "H", "H"), [[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])


def test_h2_rks_and_uks_agree_and_are_cached_apart(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    rks = ReferenceDFT(H2, basis="sto-3g", cache=cache, unrestricted=False).kernel()
    uks = ReferenceDFT(H2, basis="sto-3g", cache=cache, unrestricted=True).kernel()
    assert not rks.unrestricted and uks.unrestricted and uks.density_matrix.shape == (2, 2, 2)
    assert rks.energy == pytest.approx(uks.energy, abs=1e-6)
    assert uks.spin_square == pytest.approx(0.0, abs=1e-6)
    keys = {m: ReferenceDFT(H2, basis="sto-3g", cache=False, unrestricted=v).key() for m, v in METHODS.items()}
    assert len(set(keys.values())) == 3  # automatic, RKS and UKS are three cache entries for the driver
    assert len(cache) == 2 and uks.key == keys["UKS"] != rks.key == keys["RKS"]
    # the app passes a choice equal to the automatic one as automatic (one entry, read by the Charge transfer page)
    assert canonical_unrestricted(H2, False) is None and canonical_unrestricted(H2, True) is True
    assert canonical_unrestricted(OH, True) is None and canonical_unrestricted(OH, False) is False
    assert canonical_unrestricted(H2, None) is None


def test_rks_refused_for_open_shells_before_any_scf(tmp_path):
    msg = method_refusal(OH, ReferenceSettings(unrestricted=False))
    assert msg is not None and "odd number of electrons (9)" in msg and "choose UKS or automatic" in msg
    with pytest.raises(ReferenceCalculationError, match="odd number of electrons"):
        ReferenceDFT(OH, basis="sto-3g", cache=ReferenceCache(tmp_path / "c.sqlite"), unrestricted=False).kernel()
    assert len(ReferenceCache(tmp_path / "c.sqlite")) == 0
    assert "2S = 2" in method_refusal(O2_TRIPLET, ReferenceSettings(unrestricted=False))
    for unrestricted in (None, True):
        assert method_refusal(OH, ReferenceSettings(unrestricted=unrestricted)) is None
    assert method_refusal(H2, ReferenceSettings(unrestricted=False)) is None
    # explicit UKS keeps its own key (free atoms are cached that way by the calibration and validation)
    assert ReferenceDFT(OH, cache=False, unrestricted=True).key() != ReferenceDFT(OH, cache=False).key()


def _load(tmp_path, text: str, name: str):
    path = tmp_path / name
    path.write_text(text)
    return pyscf_molden.load(str(path))


@pytest.mark.parametrize("structure,unrestricted", [(WATER, None), (OH, None), (H2, True)])
def test_molden_round_trip(tmp_path, structure, unrestricted):
    res = ReferenceDFT(structure, basis="def2-SVP", cache=False, unrestricted=unrestricted).kernel()
    assert has_orbitals(res)
    mol, energy, coeff, occ, _, _ = _load(tmp_path, molden_text(res), "ref.molden")
    assert mol.natm == structure.n_atoms and mol.nao == res.n_basis
    np.testing.assert_allclose(mol.atom_coords(), res.mole().atom_coords(), atol=1e-10)
    if res.unrestricted:
        assert isinstance(occ, tuple) and len(occ) == 2
        assert occ[0].sum() - occ[1].sum() == pytest.approx(res.spin)
        np.testing.assert_allclose(energy[0], res.mo_energy[0], atol=1e-9)
    else:
        np.testing.assert_allclose(energy, res.mo_energy, atol=1e-9)
    assert float(np.sum([np.sum(o) for o in (occ if isinstance(occ, tuple) else [occ])])) == \
        pytest.approx(structure.n_electrons)
    # the orbitals rebuild the driver's density matrix (same AO order after PySCF's reader)
    c, o = (coeff, occ) if not res.unrestricted else (np.asarray(coeff), np.asarray(occ))
    dm = (c * o) @ c.T if not res.unrestricted else sum((c[s] * o[s]) @ c[s].T for s in range(2))
    ref_dm = res.density_matrix if not res.unrestricted else res.density_matrix.sum(axis=0)
    np.testing.assert_allclose(dm, ref_dm, atol=1e-8)


def test_cache_keeps_orbitals_and_old_entries_ask_to_recompute(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    res = ReferenceDFT(H2, basis="sto-3g", cache=cache).kernel()
    hit = ReferenceDFT(H2, basis="sto-3g", cache=cache).kernel()
    assert hit.cached and has_orbitals(hit)
    np.testing.assert_array_equal(hit.mo_coeff, res.mo_coeff)
    scalars, arrays = res.to_record()
    old = {k: v for k, v in arrays.items() if not k.startswith("mo_")}  # an entry written before the export
    cache.put(res.key, scalars, old)
    stale = ReferenceResult.from_record(*cache.get(res.key))
    assert stale.mo_coeff is None and not has_orbitals(stale) and stale.energy == res.energy
    with pytest.raises(MoldenUnavailable, match="recompute to export Molden"):
        molden_text(stale)
    assert "recompute to export Molden" in RECOMPUTE_MESSAGE
    fresh = ReferenceDFT(H2, basis="sto-3g", cache=cache).kernel(use_cache=False)  # what "recompute" runs
    assert has_orbitals(ReferenceResult.from_record(*cache.get(fresh.key)))
    write_molden(fresh, tmp_path / "h2.molden")
    assert (tmp_path / "h2.molden").read_text().startswith("[Molden Format]")


def test_cli_method_and_molden(tmp_path, capsys):
    xyz = tmp_path / "oh.xyz"
    xyz.write_text("2\n\nO 0 0 0\nH 0 0 0.97\n")
    db = tmp_path / "c.sqlite"
    out = tmp_path / "oh.molden"
    code = main(["reference", str(xyz), "--basis", "sto-3g", "--json", "--cache-path", str(db),
                 "--molden", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and f"wrote {out}" in err
    mol, _, _, occ, _, _ = pyscf_molden.load(str(out))
    assert mol.natm == 2 and sum(o.sum() for o in occ) == pytest.approx(9.0)
    code = main(["reference", str(xyz), "--basis", "sto-3g", "--method", "rks", "--cache-path", str(db)])
    assert code != 0 and "odd number of electrons" in capsys.readouterr().err
    # an older cache entry without orbitals: the CLI recomputes it for the Molden file and says so
    key = next(iter(ReferenceCache(db).keys()))
    scalars, arrays = ReferenceCache(db).get(key)
    ReferenceCache(db).put(key, scalars, {k: v for k, v in arrays.items() if not k.startswith("mo_")})
    out.unlink()
    code = main(["reference", str(xyz), "--basis", "sto-3g", "--cache-path", str(db), "--molden", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and "recomputing it for the Molden file" in err and out.is_file()
    assert "mo_coeff" in ReferenceCache(db).get(key)[1]
