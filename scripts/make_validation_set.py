"""Generate the validation geometries under ``assets/validation/`` (run once; the xyz files are committed).

Covalent molecules and molecular ions: RDKit ETKDG embedding + MMFF94 relaxation (UFF where MMFF has no
parameters, e.g. boron). Ionic and inorganic diatomics / small salts: hand-built at experimental gas-phase
distances (NIST CCCBDB / Huber-Herzberg; also HF, HCl and CO, which MMFF does not type), given in
:data:`HAND_BUILT`. The water dimer is the S22 geometry.

RDKit is *not* a project dependency: the code reads only the xyz files. Usage::

    python scripts/make_validation_set.py          # rewrites assets/validation/*.xyz
    python scripts/make_validation_set.py h2o2 hcn # writes only these
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "assets" / "validation"

#: name -> (SMILES, total charge).
SMILES: dict[str, tuple[str, int]] = {
    "h2o": ("O", 0), "nh3": ("N", 0), "ch4": ("C", 0), "h2s": ("S", 0),
    "ph3": ("P", 0), "sih4": ("[SiH4]", 0), "co2": ("O=C=O", 0), "n2": ("N#N", 0),
    "ch3oh": ("CO", 0), "hcooh": ("OC=O", 0), "ch3cn": ("CC#N", 0), "ch2o": ("C=O", 0),
    "c2h4": ("C=C", 0), "c2h2": ("C#C", 0), "ch3f": ("CF", 0), "ch3cl": ("CCl", 0), "ch3sh": ("CS", 0),
    "formamide": ("NC=O", 0), "so2": ("O=S=O", 0), "pf3": ("FP(F)F", 0), "sif4": ("F[Si](F)(F)F", 0),
    "h3n_bh3": ("[NH3+][BH3-]", 0), "bf3": ("FB(F)F", 0), "h3po4": ("OP(=O)(O)O", 0),
    "oh-": ("[OH-]", -1), "nh4+": ("[NH4+]", 1), "h3o+": ("[OH3+]", 1), "hcoo-": ("[O-]C=O", -1),
    "ch3coo-": ("CC(=O)[O-]", -1), "cn-": ("[C-]#N", -1), "hs-": ("[SH-]", -1), "no3-": ("[O-][N+](=O)[O-]", -1),
    "bf4-": ("F[B-](F)(F)F", -1), "ch3nh3+": ("C[NH3+]", 1),
    # added for issue 13's second calibration round: more O-H, N-H, F-H and multiple bonds (split by hash,
    # lsip.calibration.dataset.make_split)
    "h2o2": ("OO", 0), "hocl": ("OCl", 0), "ethanol": ("CCO", 0), "nh2oh": ("NO", 0), "n2h4": ("NN", 0),
    "hcn": ("C#N", 0), "ch3cho": ("CC=O", 0), "ch3cooh": ("CC(=O)O", 0), "ch3nh2": ("CN", 0), "hof": ("OF", 0),
    "n2o": ("[N-]=[N+]=O", 0), "ch2nh": ("C=N", 0), "boh3": ("OB(O)O", 0), "hono": ("ON=O", 0),
    "hnco": ("N=C=O", 0),
}

#: name -> (symbols, positions in angstrom, charge); experimental gas-phase bond lengths.
HAND_BUILT: dict[str, tuple[tuple[str, ...], list[list[float]], int]] = {
    "lih": (("Li", "H"), [[0, 0, 0], [0, 0, 1.5957]], 0),
    "lif": (("Li", "F"), [[0, 0, 0], [0, 0, 1.5639]], 0),
    "licl": (("Li", "Cl"), [[0, 0, 0], [0, 0, 2.0207]], 0),
    "naf": (("Na", "F"), [[0, 0, 0], [0, 0, 1.9259]], 0),
    "nacl": (("Na", "Cl"), [[0, 0, 0], [0, 0, 2.3609]], 0),
    "kf": (("K", "F"), [[0, 0, 0], [0, 0, 2.1716]], 0),
    "kcl": (("K", "Cl"), [[0, 0, 0], [0, 0, 2.6667]], 0),
    "beo": (("Be", "O"), [[0, 0, 0], [0, 0, 1.3308]], 0),
    "mgo": (("Mg", "O"), [[0, 0, 0], [0, 0, 1.749]], 0),
    "cao": (("Ca", "O"), [[0, 0, 0], [0, 0, 1.8221]], 0),
    "alf": (("Al", "F"), [[0, 0, 0], [0, 0, 1.6544]], 0),
    "beh2": (("Be", "H", "H"), [[0, 0, 0], [0, 0, 1.3264], [0, 0, -1.3264]], 0),
    "bef2": (("Be", "F", "F"), [[0, 0, 0], [0, 0, 1.386], [0, 0, -1.386]], 0),
    "mgf2": (("Mg", "F", "F"), [[0, 0, 0], [0, 0, 1.771], [0, 0, -1.771]], 0),
    "mgcl2": (("Mg", "Cl", "Cl"), [[0, 0, 0], [0, 0, 2.179], [0, 0, -2.179]], 0),
    "cacl2": (("Ca", "Cl", "Cl"), [[0, 0, 0], [0, 0, 2.483], [0, 0, -2.483]], 0),
    "koh": (("K", "O", "H"), [[0, 0, 0], [0, 0, 2.212], [0, 0, 3.124]], 0),
    "alf3": (("Al", "F", "F", "F"), [[0, 0, 0], [1.63, 0, 0], [-0.815, 1.41162, 0], [-0.815, -1.41162, 0]], 0),
    "alcl3": (("Al", "Cl", "Cl", "Cl"), [[0, 0, 0], [2.06, 0, 0], [-1.03, 1.78401, 0], [-1.03, -1.78401, 0]], 0),
    "h2": (("H", "H"), [[0, 0, 0], [0, 0, 0.7414]], 0),
    "hf": (("F", "H"), [[0, 0, 0], [0, 0, 0.9168]], 0),
    "hcl": (("Cl", "H"), [[0, 0, 0], [0, 0, 1.2746]], 0),
    "co": (("C", "O"), [[0, 0, 0], [0, 0, 1.1283]], 0),
    "water_dimer": (("O", "H", "H", "O", "H", "H"), [
        [-1.551007, -0.114520, 0.0], [-1.934259, 0.762503, 0.0], [-0.599677, 0.040712, 0.0],
        [1.350625, 0.111469, 0.0], [1.680398, -0.373741, -0.758561], [1.680398, -0.373741, 0.758561]], 0),
}


def embed(smiles: str, seed: int = 7) -> tuple[list[str], np.ndarray, str]:
    """(symbols, positions in angstrom, force field) of one SMILES: ETKDG, then MMFF94 or UFF."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise RuntimeError(f"embedding failed for {smiles}")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
        ff = "MMFF94"
    else:
        AllChem.UFFOptimizeMolecule(mol, maxIters=2000)
        ff = "UFF"
    pos = mol.GetConformer().GetPositions()
    return [a.GetSymbol() for a in mol.GetAtoms()], pos, ff


def write_xyz(path: Path, symbols: list[str] | tuple[str, ...], pos: np.ndarray, charge: int, source: str) -> None:
    """Write an extended-xyz-style file whose comment line carries charge and provenance."""
    lines = [str(len(symbols)), f"charge={charge} spin=0 source=\"{source}\""]
    lines += [f"{s:2s} {x:12.6f} {y:12.6f} {z:12.6f}" for s, (x, y, z) in zip(symbols, np.asarray(pos, float))]
    path.write_text("\n".join(lines) + "\n")


def main(names: list[str] | None = None) -> None:
    """Write the validation geometries ``names`` (default: every one; relaxed files are then overwritten)."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (smi, q) in SMILES.items():
        if names and name not in names:
            continue
        sym, pos, ff = embed(smi)
        write_xyz(OUT / f"{name}.xyz", sym, pos, q, f"RDKit ETKDGv3+{ff} from {smi}")
    for name, (sym, pos, q) in HAND_BUILT.items():
        if names and name not in names:
            continue
        write_xyz(OUT / f"{name}.xyz", sym, np.array(pos, float), q, "hand-built, experimental distances")
    print(f"wrote {len(names) if names else len(SMILES) + len(HAND_BUILT)} geometries to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:] or None)
