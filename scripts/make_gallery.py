"""Generate the curated gallery: ``assets/gallery/*.xyz`` (extended XYZ) and ``assets/gallery/index.json``.

Run once by a developer; the output is committed, so the app never needs RDKit::

    pip install rdkit            # generated with rdkit 2026.9.1, ase 3.29.0, numpy 2.4.6, scipy 1.17.1
    python scripts/make_gallery.py

Where the geometries come from (none of them is DFT-relaxed):

* diatomics: experimental equilibrium bond lengths r_e (K. P. Huber and G. Herzberg, *Constants of Diatomic
  Molecules*, 1979, as tabulated in NIST CCCBDB); OH- from Rosenbaum et al., J. Chem. Phys. 84, 5308 (1986);
* water: experimental r_e = 0.9578 A, angle 104.48 deg (Hoy and Bunker, J. Mol. Spectrosc. 74, 1 (1979));
* small molecules: the G2/97 set in ``ase.build.molecule`` (MP2(full)/6-31G(d) geometries, Curtiss et al.,
  J. Chem. Phys. 106, 1063 (1997));
* H3N-BH3: the microwave r_s structure of Thorne, Suenram and Lovas, J. Chem. Phys. 78, 167 (1983);
* dimers and complexes: the S22 set in ``ase.collections.s22`` (CCSD(T) or MP2 optimized, Jurecka et al., Phys.
  Chem. Chem. Phys. 8, 1985 (2006));
* other organics and ions: RDKit ETKDGv3 conformers minimized with MMFF94 (lowest of several seeds);
* clusters: simple constructions (water on a jittered lattice with random orientations, ions with a first
  solvation shell) minimized with MMFF94 including all intermolecular terms; the NaCl nanocrystal is cut from
  the experimental rock-salt lattice (a = 5.640 angstrom) and not relaxed.

Every structure is centred on its centroid and rotated to its principal axes (largest extent along x, smallest
along z), so linear molecules lie along x and planar ones in the xy plane (3Dmol.js looks down -z). The script
checks the elements, that no two atoms are closer than 0.7 angstrom, and that water clusters have O-O >= 2.5 A.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import molecule
from ase.collections import s22
from ase.io import write
from scipy.spatial.transform import Rotation

OUT = Path(__file__).resolve().parents[1] / "assets" / "gallery"
CATEGORIES = ("teaching", "molecules", "complexes", "larger")
ALLOWED = {"H", "Li", "Be", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K", "Ca"}
HH = "experimental r_e (Huber & Herzberg 1979, NIST CCCBDB)"
G2 = "G2/97 geometry via ase.build.molecule (MP2(full)/6-31G(d), Curtiss et al. 1997)"
S22 = "S22 geometry via ase.collections.s22 (CCSD(T)/MP2 optimized, Jurecka et al. 2006)"
MMFF = "RDKit ETKDGv3 conformers + MMFF94 minimization (lowest of {n} seeds)"
R_OH, A_HOH = 0.9578, 104.48  # water r_e and angle, Hoy & Bunker 1979


# ----------------------------------------------------------------------------------------------- builders


def diatomic(a: str, b: str, r: float) -> Atoms:
    return Atoms(a + b, positions=[[0, 0, 0], [r, 0, 0]])


def water() -> Atoms:
    """Experimental equilibrium geometry of H2O."""
    h = np.radians(A_HOH / 2)
    return Atoms("OH2", positions=[[0, 0, 0], [R_OH * np.sin(h), R_OH * np.cos(h), 0],
                                   [-R_OH * np.sin(h), R_OH * np.cos(h), 0]])


def ammonia_borane() -> Atoms:
    """Staggered H3N-BH3 from the r_s parameters: BN 1.6576, BH 1.2160, NH 1.0140 A, NBH 104.69, BNH 110.28 deg."""
    pos = [[0, 0, 0], [1.6576, 0, 0]]  # N, B along x
    for k in range(3):
        phi = np.radians(120 * k)
        t = np.radians(180 - 110.28)  # H on N points away from B
        pos.append([-1.0140 * np.cos(t), 1.0140 * np.sin(t) * np.cos(phi), 1.0140 * np.sin(t) * np.sin(phi)])
    for k in range(3):
        phi = np.radians(120 * k + 60)  # staggered
        t = np.radians(180 - 104.69)
        pos.append([1.6576 + 1.2160 * np.cos(t), 1.2160 * np.sin(t) * np.cos(phi), 1.2160 * np.sin(t) * np.sin(phi)])
    return Atoms("NBH6", positions=pos)


def _rdkit_mol_from_smiles(smiles: str):
    from rdkit import Chem

    return Chem.AddHs(Chem.MolFromSmiles(smiles))


def _mmff_minimize(mol, max_iters: int = 20000, fixed: tuple[int, ...] = ()) -> float:  # noqa: ANN001
    from rdkit.Chem import AllChem

    props = AllChem.MMFFGetMoleculeProperties(mol)
    assert props is not None, "MMFF94 has no parameters for this molecule"
    ff = AllChem.MMFFGetMoleculeForceField(mol, props, nonBondedThresh=100.0, ignoreInterfragInteractions=False)
    for idx in fixed:
        ff.AddFixedPoint(idx)
    status = ff.Minimize(maxIts=max_iters)
    assert status == 0, "MMFF minimization did not converge"
    return ff.CalcEnergy()


def _to_atoms(mol) -> Atoms:  # noqa: ANN001
    conf = mol.GetConformer()
    return Atoms([a.GetSymbol() for a in mol.GetAtoms()], positions=np.array(conf.GetPositions()))


def rdkit_conformer(smiles: str, n_seeds: int = 20) -> Atoms:
    """Lowest-MMFF94 energy of ``n_seeds`` ETKDGv3 conformers (deterministic seeds)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    best, best_e = None, np.inf
    for seed in range(n_seeds):
        mol = _rdkit_mol_from_smiles(smiles)
        params = AllChem.ETKDGv3()
        params.randomSeed = 1000 + seed
        assert AllChem.EmbedMolecule(mol, params) == 0, smiles
        e = _mmff_minimize(mol)
        if e < best_e - 1e-6:
            best, best_e = Chem.Mol(mol), e
    return _to_atoms(best)


def mmff_cluster(fragments: list[tuple[str, np.ndarray]], fixed: tuple[int, ...] = ()) -> Atoms:
    """Minimize a cluster of fragments (SMILES, then positions heavy atom first, H after) with MMFF94."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    mol, coords = None, []
    for smiles, pos in fragments:
        frag = _rdkit_mol_from_smiles(smiles)
        mol = frag if mol is None else Chem.CombineMols(mol, frag)
        coords.extend(pos)
    conf = Chem.Conformer(mol.GetNumAtoms())
    for k, p in enumerate(coords):
        conf.SetAtomPosition(k, Point3D(*map(float, p)))
    mol.AddConformer(conf, assignId=True)
    _mmff_minimize(mol, fixed=fixed)
    return _to_atoms(mol)


WATER = water().positions


def water_cluster(n: int, seed: int) -> Atoms:
    """n waters: the n sites of a jittered 3.1 A cubic lattice nearest its centre, random orientations, MMFF94."""
    rng = np.random.default_rng(seed)
    m = int(np.ceil((2 * n) ** (1 / 3))) + 2
    grid = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3) * 3.1
    grid = grid - grid.mean(axis=0) + rng.uniform(-0.1, 0.1, size=grid.shape)
    sites = grid[np.argsort(np.linalg.norm(grid, axis=1), kind="stable")[:n]]
    rots = Rotation.random(n, random_state=seed)
    return mmff_cluster([("O", sites[k] + rots[k].apply(WATER)) for k in range(n)])


def _oriented_water(o: np.ndarray, toward: np.ndarray, h_first: bool) -> np.ndarray:
    """A water with O at ``o``: its dipole pointing away from ``toward`` (cation) or one O-H at it (anion)."""
    u = (toward - o) / np.linalg.norm(toward - o)
    perp = np.cross(u, [0.0, 0.0, 1.0] if abs(u[2]) < 0.9 else [1.0, 0.0, 0.0])
    perp /= np.linalg.norm(perp)
    half = np.radians(A_HOH / 2)
    if h_first:  # one O-H along u, the other at 104.5 deg
        h1 = o + R_OH * u
        h2 = o + R_OH * (np.cos(2 * half) * u + np.sin(2 * half) * perp)
    else:  # both H away from the cation
        h1 = o + R_OH * (-np.cos(half) * u + np.sin(half) * perp)
        h2 = o + R_OH * (-np.cos(half) * u - np.sin(half) * perp)
    return np.array([o, h1, h2])


def _cap_directions(axis: np.ndarray, n: int, polar_deg: float) -> list[np.ndarray]:
    """n unit vectors on a cone of half-angle ``polar_deg`` about ``axis`` (+x or -x)."""
    t = np.radians(polar_deg)
    return [np.array([np.cos(t), np.sin(t) * np.cos(2 * np.pi * k / n), np.sin(t) * np.sin(2 * np.pi * k / n)])
            * np.sign(axis[0]) for k in range(n)]


def nacl_water() -> Atoms:
    """Contact ion pair Na+ Cl- (held at 2.80 A) with 4 waters on Na and 4 on Cl; waters MMFF94-minimized.

    Left free, MMFF94 pulls the ions to 3.75 A with one water half-way between them; the contact pair is the
    clearer demonstration.
    """
    na, cl = np.zeros(3), np.array([2.8, 0.0, 0.0])
    frags = [("[Na+]", [na]), ("[Cl-]", [cl])]
    for d in _cap_directions(np.array([-1.0, 0, 0]), 4, 60.0):
        frags.append(("O", _oriented_water(na + 2.4 * d, na, h_first=False)))
    for d in _cap_directions(np.array([1.0, 0, 0]), 4, 60.0):
        frags.append(("O", _oriented_water(cl + 3.15 * d, cl, h_first=True)))
    return mmff_cluster(frags, fixed=(0, 1))


def li_water4() -> Atoms:
    """Li+ with four waters at the tetrahedron vertices (O-Li 1.95 A), MMFF94."""
    li = np.zeros(3)
    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    return mmff_cluster([("[Li+]", [li])] + [("O", _oriented_water(1.95 * d, li, h_first=False)) for d in tet])


def nacl_cube(m: int, a: float = 5.640) -> Atoms:
    """An m x m x m rock-salt cube (Na where i + j + k is even), nearest-neighbour distance a / 2."""
    ijk = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3)
    symbols = ["Na" if s % 2 == 0 else "Cl" for s in ijk.sum(axis=1)]
    return Atoms(symbols, positions=ijk * a / 2)


# ----------------------------------------------------------------------------------------------- helpers


def principal_frame(atoms: Atoms) -> Atoms:
    """Centre on the centroid and rotate to principal axes (x: largest spread), deterministic signs."""
    pos = atoms.positions - atoms.positions.mean(axis=0)
    w, v = np.linalg.eigh(pos.T @ pos)
    v = v[:, np.argsort(w)[::-1]]
    for k in range(3):  # sign: make the largest |projection| positive
        proj = pos @ v[:, k]
        if proj[np.argmax(np.abs(proj))] < 0:
            v[:, k] *= -1
    if np.linalg.det(v) < 0:
        v[:, 2] *= -1
    out = atoms.copy()
    out.positions = np.round(pos @ v, 6) + 0.0
    return out


def first_bond(atoms: Atoms, a: str, b: str) -> tuple[int, int]:
    """Indices (i, j) of the shortest a-b distance."""
    sym = atoms.get_chemical_symbols()
    d = atoms.get_all_distances()
    pairs = [(d[i, j], i, j) for i in range(len(sym)) for j in range(len(sym))
             if i != j and sym[i] == a and sym[j] == b]
    _, i, j = min(pairs)
    return int(i), int(j)


def check_water_cluster(atoms: Atoms) -> None:
    """O-O >= 2.5 A and every atom of one molecule > 1.4 A from every atom of another (O H H order)."""
    n = len(atoms) // 3
    d = atoms.get_all_distances()
    mol = np.arange(len(atoms)) // 3
    o = np.arange(n) * 3
    assert (d[np.ix_(o, o)] + 99 * np.eye(n)).min() >= 2.5
    assert d[mol[:, None] != mol[None, :]].min() > 1.4


ENTRIES: list[dict] = []  # filled below


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for e in sorted(ENTRIES, key=lambda e: CATEGORIES.index(e["category"])):  # stable: keeps listed order
        atoms = principal_frame(e["build"]())
        assert set(atoms.get_chemical_symbols()) <= ALLOWED, e["key"]
        d = atoms.get_all_distances() + np.eye(len(atoms)) * 99
        assert d.min() > 0.7, (e["key"], d.min())
        if e["key"].startswith("water_"):
            check_water_cluster(atoms)
        scan = e.get("scan")
        scan = list(first_bond(atoms, *scan)) if scan and isinstance(scan[0], str) else scan
        atoms.info = {"name": e["key"], "title": e["title"], "charge": e["charge"], "spin": 0,
                      "description": e["description"], "source": e["source"]}
        file = f"{e['key']}.xyz"
        write(OUT / file, atoms, format="extxyz")
        index.append({"key": e["key"], "title": e["title"], "file": file, "category": e["category"],
                      "formula": atoms.get_chemical_formula(mode="hill"), "n_atoms": len(atoms),
                      "charge": e["charge"], "spin": 0, "description": e["description"], "story": e.get("story"),
                      "scan_bond": list(scan) if scan else None, "source": e["source"]})
        print(f"{e['key']:20s} {len(atoms):4d} atoms  min d {d.min():.3f}  scan {scan}")
    meta = {"version": 1, "generator": "scripts/make_gallery.py", "entries": index}
    (OUT / "index.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")


def entry(key: str, title: str, category: str, build: Callable[[], Atoms], source: str, description: str,
          charge: int = 0, scan: tuple | None = None, story: str | None = None) -> None:
    ENTRIES.append({"key": key, "title": title, "category": category, "build": build, "source": source,
                    "description": description, "charge": charge, "scan": scan, "story": story})


# ------------------------------------------------------------------------------------------------ entries
# Teaching stories: what to look at, and what a correct model must get right. Experimental dipoles: NIST CCCBDB;
# ionization energies I and electron affinities A: NIST Atomic Spectra Database / CCCBDB.

entry("h2", "H2: the covalent bond", "teaching", lambda: diatomic("H", "H", 0.741),
      f"{HH}: r_e = 0.741 A", "Hydrogen molecule at its experimental bond length.", scan=(0, 1), story=(
          "Two identical atoms: by symmetry both charges are exactly zero, yet the bond is not 'nothing happening'. "
          "Colour by charge fluctuation instead of charge: electrons flow both ways (H -> H and H <- H channels "
          "equally occupied), which is the ionic admixture H+H- <-> H-H+ of the covalent bond in valence-bond "
          "language. Stretch the bond with the scan: the fluctuation must die away and both atoms end up neutral "
          "with integer charges (QEq also gives q = 0 here, but only by symmetry, and has no notion of fluctuation)."))
entry("lih", "LiH: an ionic bond that dissociates to atoms", "teaching", lambda: diatomic("Li", "H", 1.595),
      f"{HH}: r_e = 1.595 A", "Lithium hydride at its experimental bond length.", scan=(0, 1), story=(
          "Lithium gives up charge to hydrogen (Li+ H-), and the dipole is large (experiment 5.88 D). Predict "
          "first: which atom is the donor, and roughly how much charge moves? Then scan the Li-H distance. In the "
          "gas phase the ions are not the separated-atom limit: making Li+ + H- costs I(Li) - A(H) = 5.39 - 0.75 = "
          "4.6 eV, so far apart the molecule must come apart into neutral atoms. The charge should fall to zero "
          "smoothly; the QEq baseline keeps a fractional charge at any distance (the dissociation catastrophe)."))
entry("lif", "LiF: the most ionic diatomic", "teaching", lambda: diatomic("Li", "F", 1.564),
      f"{HH}: r_e = 1.564 A", "Lithium fluoride at its experimental bond length.", scan=(0, 1), story=(
          "Close to a textbook ion pair Li+ F- (experimental dipole 6.33 D; a point-charge pair of +-1 e at "
          "1.564 A would give 7.5 D, the difference is the polarization of F-). Scan the bond: the ionic curve "
          "-1/R crosses the neutral-atom asymptote where 14.40 eV A / R = I(Li) - A(F) = 5.39 - 3.40 eV, near "
          "R = 7 A. Beyond that the charge should drop towards zero, the ground state being neutral Li + F."))
entry("nacl", "NaCl: ionic bonding and the harpoon crossing", "teaching", lambda: diatomic("Na", "Cl", 2.361),
      f"{HH}: r_e = 2.361 A", "Gas-phase sodium chloride molecule at its experimental bond length.",
      scan=(0, 1), story=(
          "Gas-phase NaCl is strongly ionic (experimental dipole 9.00 D). Look at the charges and the single "
          "dominant Na -> Cl channel. Then scan out to 12 A: the Coulomb attraction of Na+ Cl- pays for "
          "I(Na) - A(Cl) = 5.14 - 3.61 = 1.53 eV only inside R = 14.40 / 1.53 = 9.4 A, the crossing of the ionic "
          "and covalent curves exploited in 'harpoon' reactions. A model with the right physics keeps nearly ionic "
          "charges inside the crossing and switches to neutral atoms around it (approximate DFT smears the switch "
          "out: delocalization error); QEq never switches."))
entry("hf", "HF: a polar covalent bond", "teaching", lambda: diatomic("H", "F", 0.917),
      f"{HH}: r_e = 0.917 A", "Hydrogen fluoride at its experimental bond length.", scan=(0, 1), story=(
          "Fluorine is the most electronegative element, yet HF is not H+ F-: the experimental dipole 1.83 D "
          "corresponds to only about 0.4 e at 0.917 A. Compare with LiF: same acceptor, very different donor "
          "(I(H) = 13.6 eV against 5.4 eV for Li). Scan the bond and watch the charge return to zero; H and F "
          "separate as neutral atoms."))
entry("hcl", "HCl: less polar than HF", "teaching", lambda: diatomic("H", "Cl", 1.275),
      f"{HH}: r_e = 1.275 A", "Hydrogen chloride at its experimental bond length.", scan=(0, 1), story=(
          "Predict first: is HCl more or less polar than HF? Chlorine has the larger electron affinity (3.61 eV "
          "against 3.40 eV) but is much less electronegative in molecules; the experimental dipole is 1.11 D "
          "against 1.83 D for HF. Compare the charges, the channel occupations and the energy terms of the two "
          "molecules side by side."))
entry("water", "Water", "teaching", water, "experimental r_e = 0.9578 A, angle 104.48 deg (Hoy & Bunker 1979)",
      "Water monomer at its experimental equilibrium geometry.", scan=(0, 1), story=(
          "Oxygen pulls charge from both hydrogens (experimental dipole 1.85 D, along the symmetry axis). The two "
          "O-H channels are equal by symmetry. Stretch one O-H bond: the leaving H ends up a neutral atom and "
          "the OH fragment neutral too, the radical limit, not H+ + OH-."))
entry("water_dimer", "Water dimer: a hydrogen bond", "teaching", lambda: s22["Water_dimer"], S22,
      "The hydrogen-bonded water dimer.", scan=("O", "O"), story=(
          "The hydrogen bond is mostly electrostatics, plus a small charge transfer: about 0.01-0.02 e flows from "
          "the proton-acceptor molecule (its oxygen lone pair) into the proton-donor molecule. Look for the weak "
          "intermolecular channel and its direction, and sum the charges of each molecule. Scan the O...O "
          "distance: the transfer must vanish and each water must become exactly neutral."))
entry("h3n_bh3", "H3N-BH3: a donor-acceptor (dative) bond", "teaching", ammonia_borane,
      "microwave r_s structure (Thorne, Suenram & Lovas, J. Chem. Phys. 78, 167 (1983)), staggered",
      "Ammonia borane in the gas phase.", scan=("N", "B"), story=(
          "The nitrogen lone pair of NH3 donates into the empty boron orbital of BH3, making a dative bond with a "
          "large dipole (experiment 5.22 D). The NH3 fragment ends up positive and the BH3 fragment negative. Sum "
          "the charges per fragment, then scan the B-N distance: the dative bond breaks heterolytically into two "
          "closed-shell neutral molecules, so both fragments must end with exactly zero charge."))
entry("hydroxide", "OH-: a charged molecule", "teaching", lambda: diatomic("O", "H", 0.9643),
      "experimental r_e = 0.9643 A (Rosenbaum, Owrutsky, Tack & Saykally, J. Chem. Phys. 84, 5308 (1986))",
      "Hydroxide anion (total charge -1).", charge=-1, scan=(0, 1), story=(
          "A total charge Q = -1 has to be shared between O and H. Predict where the extra electron sits, then "
          "scan the bond: far apart it must end up on a single atom as an integer charge. Oxygen binds an extra "
          "electron more strongly than hydrogen (A(O) = 1.46 eV against 0.75 eV), so the limit is O- + H, not "
          "O + H-. Fractional charges on separated fragments would be the QEq dissociation error again."))

entry("nh3", "Ammonia", "molecules", lambda: molecule("NH3"), G2, "Ammonia, a pyramidal lone-pair donor.",
      scan=("N", "H"))
entry("ch4", "Methane", "molecules", lambda: molecule("CH4"), G2, "Methane: nearly non-polar C-H bonds.",
      scan=("C", "H"))
entry("co2", "Carbon dioxide", "molecules", lambda: molecule("CO2"), G2,
      "Linear CO2: polar bonds, zero dipole, a quadrupole.", scan=("C", "O"))
entry("formaldehyde", "Formaldehyde", "molecules", lambda: molecule("H2CO"), G2,
      "Formaldehyde: a polar C=O double bond.", scan=("C", "O"))
entry("hcn", "Hydrogen cyanide", "molecules", lambda: molecule("HCN"), G2,
      "Hydrogen cyanide: linear, a C-H bond next to a triple bond.", scan=("C", "H"))
entry("benzene", "Benzene", "molecules", lambda: molecule("C6H6"), G2,
      "Benzene: aromatic ring, six equivalent C-H.", scan=("C", "H"))
entry("pyridine", "Pyridine", "molecules", lambda: molecule("C5H5N"), G2,
      "Pyridine: benzene with one N, which polarizes the ring.", scan=("C", "H"))
entry("glycine", "Glycine (neutral)", "molecules", lambda: rdkit_conformer("NCC(=O)O"),
      MMFF.format(n=20), "Glycine in its neutral (non-zwitterionic) gas-phase form.")
entry("ammonium", "Ammonium NH4+", "molecules", lambda: rdkit_conformer("[NH4+]", 5), MMFF.format(n=5),
      "Ammonium cation (total charge +1).", charge=1, scan=("N", "H"))
entry("h2s", "Hydrogen sulfide", "molecules", lambda: molecule("SH2"), G2,
      "Hydrogen sulfide, the heavier analogue of water.", scan=("S", "H"))
entry("sih4", "Silane", "molecules", lambda: molecule("SiH4"), G2,
      "Silane: here hydrogen is the electron acceptor.", scan=("Si", "H"))
entry("ph3", "Phosphine", "molecules", lambda: molecule("PH3"), G2, "Phosphine.", scan=("P", "H"))
entry("bf3", "Boron trifluoride", "molecules", lambda: molecule("BF3"), G2,
      "BF3: planar Lewis acid with strongly polar B-F bonds.", scan=("B", "F"))
entry("alcl3", "Aluminium trichloride", "molecules", lambda: molecule("AlCl3"), G2,
      "Monomeric AlCl3: planar, ionic-covalent Al-Cl bonds.", scan=("Al", "Cl"))
entry("methanol", "Methanol", "molecules", lambda: molecule("CH3OH"), G2, "Methanol.", scan=("O", "H"))
entry("kcl", "KCl", "molecules", lambda: diatomic("K", "Cl", 2.667), f"{HH}: r_e = 2.667 A",
      "Gas-phase potassium chloride (experimental dipole 10.27 D).", scan=(0, 1))

entry("nacl_water", "Na+ Cl- ion pair with 8 waters", "teaching", nacl_water,
      "constructed: Na-Cl held at 2.80 A, 4 waters on each ion, waters MMFF94-minimized (RDKit); not DFT",
      "A contact ion pair Na+ Cl- solvated by eight water molecules.", scan=("Na", "Cl"), story=(
          "The same two ions as gas-phase NaCl, now with water around them. Compare the ion charges with the "
          "gas-phase molecule, and look for charge flowing from Cl- into the water O-H bonds that point at it "
          "and from water oxygens towards Na+. In bulk water the hydration energy of the separated ions (several "
          "eV) outweighs I(Na) - A(Cl) = 1.53 eV, so the ions stay ions as they separate; eight waters are only "
          "a first step towards that. Scan Na-Cl a little (the chloride moves alone and soon runs into water)."))
entry("li_water4", "Li+(H2O)4", "complexes", li_water4,
      "constructed tetrahedral first shell, MMFF94-minimized (RDKit); not DFT",
      "Lithium ion with its first hydration shell (total charge +1).", charge=1, scan=("Li", "O"))
entry("ammonia_dimer", "Ammonia dimer", "complexes", lambda: s22["Ammonia_dimer"], S22,
      "The ammonia dimer: a weak N-H...N hydrogen bond.", scan=("N", "N"))
entry("formic_acid_dimer", "Formic acid dimer", "complexes", lambda: s22["Formic_acid_dimer"], S22,
      "The doubly hydrogen-bonded formic acid dimer.")
entry("benzene_water", "Benzene-water", "complexes", lambda: s22["Benzene-water_complex"], S22,
      "Water above a benzene ring: an O-H...pi interaction.")
entry("adenine_thymine", "Adenine-thymine (Watson-Crick)", "complexes",
      lambda: s22["Adenine-thymine_Watson-Crick_complex"], S22, "The Watson-Crick adenine-thymine base pair.")

entry("water_64", "Water cluster (64 molecules)", "larger", lambda: water_cluster(64, seed=64),
      "constructed: jittered 3.1 A lattice, random orientations, MMFF94-minimized (RDKit); not DFT",
      "A droplet of 64 water molecules (192 atoms).")
entry("water_216", "Water cluster (216 molecules)", "larger", lambda: water_cluster(216, seed=216),
      "constructed: jittered 3.1 A lattice, random orientations, MMFF94-minimized (RDKit); not DFT",
      "A droplet of 216 water molecules (648 atoms).")
entry("nacl_nanocrystal", "NaCl nanocrystal (4x4x4)", "larger", lambda: nacl_cube(4),
      "cut from the experimental rock-salt lattice, a = 5.640 A (Na-Cl 2.820 A); unrelaxed",
      "A 64-ion rock-salt cube: compare edge, face and bulk-like ions.")
entry("decane", "n-Decane", "larger", lambda: rdkit_conformer("CCCCCCCCCC", 30), MMFF.format(n=30),
      "A straight-chain alkane, C10H22.")
entry("trialanine", "Tri-alanine (neutral)", "larger",
      lambda: rdkit_conformer("N[C@@H](C)C(=O)N[C@@H](C)C(=O)N[C@@H](C)C(=O)O", 30), MMFF.format(n=30),
      "The neutral tripeptide Ala-Ala-Ala: peptide bonds and termini.")


if __name__ == "__main__":
    main()
