"""Structure I/O: explicit format whitelist, round trips through ASE writers, clear errors, no unpickling."""

from __future__ import annotations

import contextlib
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import read as ase_read
from ase.io import write as ase_write

from lsip.errors import StructureError, UnsupportedFormatError
from lsip.io import (
    DEFAULT_MAX_BYTES,
    FORMATS,
    format_from_extension,
    parse_xyz_text,
    read_structure,
    read_structures,
    structure_from_ase,
    structure_to_ase,
    write_extxyz,
)
from lsip.structure import Structure

WATER_XYZ = "3\nwater\nO 0.0 0.0 0.117\nH 0.0 0.757 -0.469\nH 0.0 -0.757 -0.469\n"


def _water() -> Atoms:
    return molecule("H2O")


def _nacl() -> Atoms:
    return bulk("NaCl", "rocksalt", a=5.64, cubic=True)  # CIF keeps only cell lengths/angles: stay axis-aligned


# ----------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("fmt", "ase_fmt", "fname", "periodic", "tol"), [
    ("xyz", "xyz", "a.xyz", False, 1e-6),
    ("extxyz", "extxyz", "a.extxyz", False, 1e-6),
    ("pdb", "proteindatabank", "a.pdb", False, 1e-3),  # PDB stores 3 decimals
    ("traj", "traj", "a.traj", False, 0.0),
    ("cif", "cif", "a.cif", True, 1e-5),
    ("poscar", "vasp", "POSCAR", True, 1e-6),
])
def test_round_trip_each_format(tmp_path, fmt, ase_fmt, fname, periodic, tol):
    atoms = _nacl() if periodic else _water()
    path = tmp_path / fname
    ase_write(path, atoms, format=ase_fmt)
    st = read_structure(path, fmt)
    assert st.symbols == tuple(atoms.get_chemical_symbols())
    np.testing.assert_allclose(st.positions, atoms.positions, atol=tol + 1e-12)
    assert st.charge == 0
    if periodic:
        assert st.pbc == (True, True, True)
        np.testing.assert_allclose(st.cell, atoms.cell.array, atol=1e-5)
    else:
        assert st.cell is None and not any(st.pbc)
    # the same bytes given as an upload (no path) read identically
    st2 = read_structure(path.read_bytes(), fmt)
    np.testing.assert_array_equal(st2.positions, st.positions)


def test_multi_frame_extxyz_and_traj(tmp_path):
    frames = []
    for d in (0.7, 0.9, 1.1):
        a = Atoms("H2", positions=[[0, 0, 0], [d, 0, 0]])
        a.info["charge"] = 0
        frames.append(a)
    for fmt in ("extxyz", "traj"):
        path = tmp_path / f"scan.{fmt}"
        ase_write(path, frames, format=fmt)
        out = read_structures(path, fmt)
        assert [round(s.positions[1, 0], 6) for s in out] == [0.7, 0.9, 1.1]
    assert read_structure(tmp_path / "scan.traj", "traj").positions[1, 0] == pytest.approx(0.7)


def test_plain_xyz_extension_goes_to_extxyz_reader_which_reads_plain_xyz(tmp_path):
    path = tmp_path / "w.xyz"
    path.write_text(WATER_XYZ + "\n")
    assert format_from_extension(path) == "extxyz"
    a = read_structure(path, "extxyz")
    b = read_structure(path, "xyz")
    assert a.symbols == b.symbols == ("O", "H", "H")
    np.testing.assert_allclose(a.positions, b.positions)


def test_extxyz_keeps_cell_and_pbc(tmp_path):
    path = tmp_path / "nacl.extxyz"
    ase_write(path, _nacl(), format="extxyz")
    st = read_structure(path, "extxyz")
    assert st.pbc == (True, True, True)
    np.testing.assert_allclose(st.cell, _nacl().cell.array)


def test_format_table():
    assert format_from_extension("x/POSCAR") == "poscar"
    assert format_from_extension("CONTCAR_relaxed") == "poscar"
    assert format_from_extension("a.vasp") == "poscar"
    assert format_from_extension("A.CIF") == "cif"
    assert format_from_extension("a.traj") == "traj"
    assert format_from_extension("a.pdb") == "pdb"
    with pytest.raises(UnsupportedFormatError, match=r"extxyz.*cif.*pdb.*poscar.*traj"):
        format_from_extension("a.mol2")
    assert set(FORMATS) == {"xyz", "extxyz", "cif", "pdb", "poscar", "traj"}
    for info in FORMATS.values():
        assert info.description and all(e.startswith(".") for e in info.extensions)


# ---------------------------------------------------------------------------------------------- charge, spin


def test_charge_from_metadata():
    oh = "2\n{}\nO 0 0 0\nH 0.97 0 0\n"
    assert read_structure(oh.format("charge=-1").encode(), "xyz").charge == -1
    assert read_structure(oh.format("hydroxide total_charge=-1").encode(), "xyz").charge == -1
    assert read_structure(oh.format('charge=-1 name="oh"').encode(), "extxyz").charge == -1
    assert read_structure(oh.format("total_charge=-1").encode(), "extxyz").charge == -1
    assert read_structure(oh.format("charge=-1").encode(), "extxyz", charge=0).charge == 0  # caller wins
    assert read_structure(oh.format("a hydroxide").encode(), "extxyz").charge == 0  # no metadata -> 0
    assert parse_xyz_text(oh.format("charge=-1")).charge == -1
    assert parse_xyz_text(oh.format("charge=-1"), charge=1).charge == 1
    h2 = "2\n{}\nH 0 0 0\nH 0.74 0 0\n"
    assert read_structure(h2.format("multiplicity=3").encode(), "extxyz").spin == 2
    assert read_structure(h2.format("spin=0").encode(), "xyz").spin == 0
    assert read_structure(h2.format("").encode(), "xyz").spin is None
    with pytest.raises(StructureError, match=r"spin 2S = 1 is impossible with 2 electrons"):
        read_structure(h2.format("spin=1").encode(), "xyz")
    with pytest.raises(StructureError, match=r"charge = 0\.5 must be an integer"):
        read_structure(h2.format("charge=0.5").encode(), "extxyz")


def test_structure_from_ase_charge_sources():
    a = molecule("CH4")
    assert structure_from_ase(a).charge == 0
    a.set_initial_charges([0.6, 0.1, 0.1, 0.1, 0.1])  # sums to 1.0
    assert structure_from_ase(a).charge == 1
    a.info["charge"] = -2
    assert structure_from_ase(a).charge == -2
    assert structure_from_ase(a, charge=3).charge == 3


def test_structure_to_ase_and_back():
    st = Structure(("Na", "Cl"), np.array([[0, 0, 0], [2.361, 0, 0]]), charge=0, spin=0, name="nacl")
    atoms = structure_to_ase(st)
    assert atoms.info["charge"] == 0 and atoms.info["name"] == "nacl"
    back = structure_from_ase(atoms)
    assert back.symbols == st.symbols and back.spin == 0 and back.name == "nacl"
    np.testing.assert_array_equal(back.positions, st.positions)


# ------------------------------------------------------------------------------------------------ export


def test_write_extxyz_with_per_atom_arrays_round_trips(tmp_path):
    st = Structure(("O", "H", "H"), ase_read(io.StringIO(WATER_XYZ), format="xyz").positions, charge=-1,
                   name="w")
    q = np.array([-0.8, -0.1, -0.1])
    w = np.arange(12, dtype=float).reshape(3, 4) / 10
    path = tmp_path / "out.extxyz"
    write_extxyz(st, path, per_atom_arrays={"lsip_charge": q, "state_weights": w},
                 info={"energy_ev": -12.5, "model": "lsip"})
    atoms = ase_read(path, format="extxyz")
    np.testing.assert_allclose(atoms.arrays["lsip_charge"], q)
    np.testing.assert_allclose(atoms.arrays["state_weights"], w)
    assert atoms.info["energy_ev"] == pytest.approx(-12.5) and atoms.info["model"] == "lsip"
    back = read_structure(path, "extxyz")
    assert back.charge == -1 and back.name == "w"
    np.testing.assert_allclose(back.positions, st.positions)
    buf = io.StringIO()
    write_extxyz(st, buf)
    assert buf.getvalue().startswith("3\n")
    with pytest.raises(StructureError, match=r"shape \(3,\)"):
        write_extxyz(st, io.StringIO(), per_atom_arrays={"bad": np.zeros(2)})


# ------------------------------------------------------------------------------------------------ errors


def test_unsupported_format_lists_choices():
    with pytest.raises(UnsupportedFormatError, match=r"'vasprun'.*xyz, extxyz, cif, pdb, poscar, traj"):
        read_structures(b"x", "vasprun")


def test_empty_file(tmp_path):
    (tmp_path / "e.xyz").write_text("\n  \n")
    for fmt in FORMATS:
        with pytest.raises(StructureError, match="empty"):
            read_structures(tmp_path / "e.xyz", fmt)
    with pytest.raises(StructureError, match="non-empty"):
        parse_xyz_text("   ")


def test_malformed_xyz_has_line_numbers():
    with pytest.raises(StructureError, match=r"line 4: coordinates are not numbers"):
        read_structure(b"2\nc\nO 0 0 0\nH 0.97 zero 0\n", "xyz")
    with pytest.raises(StructureError, match=r"declares 3 atoms on line 1 but the file ends after 2"):
        read_structure(b"3\nc\nO 0 0 0\nH 0.97 0 0\n", "xyz")
    with pytest.raises(StructureError, match=r"line 1: expected the number of atoms"):
        read_structure(b"O 0 0 0\n", "xyz")
    bad = b"2\nc\nO 0 0 0\nH 0.97 0 0\n2\nc\nO 0 0 0\nH 0.97 x 0\n"
    with pytest.raises(StructureError, match=r"frame 2, which starts on line 5"):
        read_structures(bad, "extxyz")


def test_unknown_and_unsupported_elements():
    with pytest.raises(StructureError, match="line 2: unknown element symbol 'Qq'"):
        parse_xyz_text("H 0 0 0\nQq 1 0 0")
    with pytest.raises(StructureError, match=r"U \(Z = 92\) is beyond krypton"):
        read_structure(b"2\nc\nH 0 0 0\nU 2 0 0\n", "xyz")
    with pytest.raises(StructureError):
        read_structure(b"2\nc\nH 0 0 0\nQq 2 0 0\n", "extxyz")


def test_overlapping_atoms_named_with_distance():
    with pytest.raises(StructureError, match=r"atoms 1 \(O\) and 3 \(H\) are only 0.300 angstrom apart"):
        parse_xyz_text("O 0 0 0\nH 0.96 0 0\nH 0 0.3 0")
    # periodic: an atom too close to its own image in a tiny cell
    tiny = b'1\nLattice="0.3 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\nH 0 0 0\n'
    with pytest.raises(StructureError, match="own periodic image"):
        read_structure(tiny, "extxyz")
    # a 0.6 A pair passes the default 0.5 A check
    assert parse_xyz_text("H 0 0 0\nH 0.6 0 0").n_atoms == 2


def test_too_many_atoms_and_too_many_bytes(tmp_path):
    text = "5\nc\n" + "".join(f"H {2 * k} 0 0\n" for k in range(5))
    with pytest.raises(StructureError, match="5 atoms is more than the limit of 4"):
        read_structure(text.encode(), "xyz", max_atoms=4)
    with pytest.raises(StructureError, match="more than the limit of 4"):
        read_structure(text.encode(), "extxyz", max_atoms=4)
    path = tmp_path / "big.xyz"
    path.write_text(text)
    with pytest.raises(StructureError, match=r"big\.xyz is 44 bytes, more than the limit of 30 bytes"):
        read_structure(path, "xyz", max_bytes=30)
    with pytest.raises(StructureError, match="larger than the limit of 30 bytes"):
        read_structure(text.encode(), "xyz", max_bytes=30)
    assert DEFAULT_MAX_BYTES == 20 * 2**20


def test_binary_garbage_is_refused_for_every_format():
    rng = np.random.default_rng(0)
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    for fmt in FORMATS:
        with pytest.raises(StructureError) as err:
            read_structures(junk, fmt)
        msg = str(err.value)
        assert "binary" in msg or "ulm" in msg, msg


def test_truncated_and_corrupted_files_never_leak_ase_exceptions(tmp_path):
    """Damaged versions of valid files: each either reads or raises StructureError, never another type."""
    writers = {"extxyz": ("extxyz", _water()), "cif": ("cif", _nacl()), "pdb": ("proteindatabank", _water()),
               "poscar": ("vasp", _nacl()), "traj": ("traj", _water())}
    for fmt, (ase_fmt, atoms) in writers.items():
        path = tmp_path / f"ok.{fmt}"
        ase_write(path, atoms, format=ase_fmt)
        data = path.read_bytes()
        variants = [data[: len(data) * k // 7] for k in range(1, 7)]
        variants += [data.replace(b"0", b"x", 3), data.replace(b".", b",", 5), data[:40] + b"\xff\xfe" + data[40:]]
        for v in variants:
            with contextlib.suppress(StructureError):
                read_structures(v, fmt)


def test_str_content_is_not_mistaken_for_a_path():
    with pytest.raises(StructureError, match="use parse_xyz_text"):
        read_structure(WATER_XYZ, "xyz")
    with pytest.raises(StructureError, match="no such file"):
        read_structure("/nonexistent/water.xyz", "xyz")


# ------------------------------------------------------------------------------------------------ security


class _Marker:
    """Unpickling this creates a marker file (what a malicious trajectory would do instead)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_posing_as_traj_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled.marker"
    payload = pickle.dumps(_Marker(str(marker)))
    pickle.loads(payload)  # the payload really works ...
    assert marker.exists()
    marker.unlink()
    legacy = tmp_path / "legacy.traj"
    legacy.write_bytes(b"PickleTrajectory" + payload)  # ASE's legacy pickle trajectory header
    plain = tmp_path / "plain.traj"
    plain.write_bytes(payload)
    for src in (legacy, plain, legacy.read_bytes(), plain.read_bytes()):
        with pytest.raises(StructureError, match="pickle trajectory; LSIP never unpickles"):
            read_structures(src, "traj")
    disguised = tmp_path / "disguised.traj"  # pickle behind a non-ulm text prefix
    disguised.write_bytes(b"- of Ul" + payload)
    with pytest.raises(StructureError, match="ulm magic"):
        read_structures(disguised, "traj")
    assert not marker.exists()  # ... but reading never ran it


def test_ulm_file_that_is_not_a_trajectory(tmp_path):
    from ase.io import ulm

    path = tmp_path / "other.traj"
    with ulm.open(path, "w", tag="SomethingElse") as w:
        w.write(a=1)
    with pytest.raises(StructureError, match="not an ASE trajectory"):
        read_structures(path, "traj")


def test_poscar_reader_never_sees_sibling_files(tmp_path):
    """A VASP-4 POSCAR (no symbol line) would take its elements from a POTCAR beside it: the reader must only see a
    fresh temporary folder, so the sibling is ignored and a clear error comes back instead."""
    (tmp_path / "POTCAR").write_text("   TITEL  = PAW_PBE Na_pv 05Jan2001\n   TITEL  = PAW_PBE Cl 06Sep2000\n")
    (tmp_path / "POSCAR").write_text("rock salt\n1.0\n5.64 0 0\n0 5.64 0\n0 0 5.64\n1 1\nCartesian\n"
                                     "0 0 0\n2.82 0 0\n")
    control = ase_read(tmp_path / "POSCAR", format="vasp")  # ASE in place does use the sibling POTCAR
    assert control.get_chemical_symbols() == ["Na", "Cl"]
    with pytest.raises(StructureError, match=r"not a valid POSCAR file.*element-symbol line"):
        read_structure(tmp_path / "POSCAR", "poscar")
    assert {p.name for p in tmp_path.iterdir()} == {"POTCAR", "POSCAR"}


def test_element_limits_say_the_same_thing_on_both_levels():
    """Issue 14.7: uranium (beyond what files may hold) and bromine (readable, not in the library) get messages
    that agree: both name the latent library as what the model computes and how to see or extend it."""
    from lsip.errors import UnsupportedElementError
    from lsip.io import parse_xyz_text
    from lsip.model.library import load_library

    with pytest.raises(StructureError) as beyond:
        parse_xyz_text("1\n\nU 0 0 0\n")
    with pytest.raises(UnsupportedElementError) as missing:
        load_library().check_symbols(["Br"])
    assert "latent library" in str(beyond.value) and "latent library, which has H" in str(missing.value)
    assert "H-Kr" not in str(beyond.value) and "`lsip library" in str(beyond.value)
    assert "`lsip library build --elements ...`" in str(missing.value)
