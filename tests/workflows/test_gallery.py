"""The curated gallery: every entry loads, matches its index line, and has a sane geometry."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read as ase_read

from lsip.errors import StructureError
from lsip.gallery import CATEGORIES, GALLERY_DIR, gallery_entries, gallery_structure, load_gallery

ALLOWED = {"H", "Li", "Be", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K", "Ca"}
REQUIRED = {"h2", "lih", "lif", "nacl", "hf", "hcl", "water", "nh3", "ch4", "co2", "formaldehyde", "hcn", "benzene",
            "pyridine", "water_dimer", "h3n_bh3", "nacl_water", "glycine", "hydroxide", "ammonium", "water_64",
            "water_216", "nacl_nanocrystal"}
TEACHING = {"h2", "lih", "lif", "nacl", "hf", "hcl", "water", "water_dimer", "h3n_bh3"}
#: Experimental r_e in angstrom (K. P. Huber and G. Herzberg, Constants of Diatomic Molecules, 1979; NIST CCCBDB),
#: OH- from Rosenbaum et al., J. Chem. Phys. 84, 5308 (1986).
DIATOMIC_RE = {"h2": 0.741, "lih": 1.595, "lif": 1.564, "nacl": 2.361, "hf": 0.917, "hcl": 1.275, "kcl": 2.667,
               "hydroxide": 0.9643}
CHARGED = {"hydroxide": -1, "ammonium": 1, "li_water4": 1}


@pytest.fixture(scope="module")
def gallery():
    return load_gallery()


def test_size_categories_and_required_entries(gallery):
    assert len(gallery) >= 24
    assert set(gallery) >= REQUIRED, REQUIRED - set(gallery)
    assert {e.category for e in gallery.values()} == set(CATEGORIES)
    assert sum(len(gallery_entries(c)) for c in CATEGORIES) == len(gallery)
    with pytest.raises(StructureError, match="unknown gallery category 'fun'"):
        gallery_entries("fun")


def test_teaching_set_has_stories(gallery):
    teaching = {e.key for e in gallery_entries("teaching")}
    assert teaching >= TEACHING
    for key in teaching:
        story = gallery[key].story
        assert story and len(story) > 200, key  # a real paragraph, not a placeholder
    assert "charge" in gallery["h2"].story and "neutral" in gallery["lih"].story


@pytest.mark.parametrize("key", sorted(load_gallery()))
def test_entry_loads_and_matches_index(gallery, key):
    entry = gallery[key]
    st = gallery_structure(key)
    assert st.name == key and st.n_atoms == entry.n_atoms
    assert st.charge == entry.charge == CHARGED.get(key, 0)
    assert set(st.symbols) <= ALLOWED
    assert st.n_electrons % 2 == 0 and entry.spin == 0  # every entry is closed shell
    # the file header says the same as the index (the app never needs the index to get the charge right)
    atoms = ase_read(GALLERY_DIR / entry.file, format="extxyz")
    assert atoms.info["charge"] == entry.charge and atoms.info["name"] == key
    assert atoms.get_chemical_formula(mode="hill") == entry.formula
    assert "DFT-relaxed" not in entry.source and entry.description
    d = np.linalg.norm(st.positions[:, None] - st.positions[None], axis=-1) + 99 * np.eye(st.n_atoms)
    assert d.min() > 0.7, f"{key}: closest pair {d.min():.3f} A"
    if entry.scan_bond is not None:
        i, j = entry.scan_bond
        assert 0 <= i < st.n_atoms and 0 <= j < st.n_atoms and i != j


@pytest.mark.parametrize(("key", "r_e"), sorted(DIATOMIC_RE.items()))
def test_diatomics_at_experimental_bond_lengths(key, r_e):
    st = gallery_structure(key)
    assert st.n_atoms == 2 and gallery_structure(key).n_atoms == load_gallery()[key].n_atoms
    assert np.linalg.norm(st.positions[1] - st.positions[0]) == pytest.approx(r_e, abs=1e-6)
    # along x, so a viewer looking down -z sees the bond
    assert abs(st.positions[1, 0] - st.positions[0, 0]) == pytest.approx(r_e, abs=1e-6)


def test_water_clusters_are_physical():
    for key, n in (("water_64", 64), ("water_216", 216)):
        st = gallery_structure(key)
        assert st.formula == f"H{2 * n}O{n}"
        pos = st.positions
        o = pos[np.array(st.symbols) == "O"]
        d_oo = np.linalg.norm(o[:, None] - o[None], axis=-1) + 99 * np.eye(n)
        assert d_oo.min() >= 2.5, f"{key}: O-O {d_oo.min():.2f} A"
        # molecules are intact (atoms O H H in order) and no atom of one molecule sits on another's
        mol = np.arange(3 * n) // 3
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        intra = d[mol[:, None] == mol[None, :]]
        assert intra.max() < 1.7
        inter = d[mol[:, None] != mol[None, :]]
        assert inter.min() > 1.4  # shortest H...O hydrogen bond ~1.6-1.9 A
        # a compact droplet: at least ~1.5 hydrogen bonds (H...O < 2.2 A) per molecule
        h = np.array(st.symbols) == "H"
        hb = (d[np.ix_(h, ~h)] < 2.2) & (mol[h][:, None] != mol[~h][None, :])
        assert hb.sum() >= 1.5 * n


def test_ion_pair_in_water_and_donor_acceptor():
    st = gallery_structure("nacl_water")
    i, j = load_gallery()["nacl_water"].scan_bond
    assert {st.symbols[i], st.symbols[j]} == {"Na", "Cl"}
    assert np.linalg.norm(st.positions[i] - st.positions[j]) == pytest.approx(2.80, abs=1e-3)
    assert st.symbols.count("O") == 8
    ab = gallery_structure("h3n_bh3")
    i, j = load_gallery()["h3n_bh3"].scan_bond
    assert {ab.symbols[i], ab.symbols[j]} == {"N", "B"}
    # microwave r_s B-N distance, Thorne, Suenram & Lovas, J. Chem. Phys. 78, 167 (1983)
    assert np.linalg.norm(ab.positions[i] - ab.positions[j]) == pytest.approx(1.6576, abs=1e-4)


def test_gallery_structure_returns_independent_copies():
    a = gallery_structure("water")
    a.positions[0, 0] += 10.0
    b = gallery_structure("water")
    assert b.positions[0, 0] != pytest.approx(a.positions[0, 0])


def test_unknown_key_lists_choices():
    with pytest.raises(StructureError, match=r"unknown gallery structure 'unobtainium'.*h2, lih"):
        gallery_structure("unobtainium")
