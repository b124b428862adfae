"""A 3D structure from a SMILES string (issue 14, teacher): RDKit's ETKDG embedding and a force-field clean-up.

The geometry is a force-field one (MMFF94, UFF where MMFF has no parameters), not a DFT minimum: good enough to
look at and to start a model relaxation from (the Optimize page, ``lsip optimize``). The total charge is the sum
of the SMILES formal charges, the spin the number of radical electrons. The text is parsed by RDKit as data and
never executed; its length and the molecule's size are checked first. docs/limits.md lists the limits.

>>> st = structure_from_smiles("O")
>>> st.formula, st.charge, st.n_atoms
('H2O', 0, 3)
"""

from __future__ import annotations

import numpy as np

from lsip.errors import StructureError, SystemTooLargeError
from lsip.structure import Structure

#: Longest SMILES accepted (characters) and most atoms of the embedded molecule (hydrogens included).
MAX_SMILES_LENGTH: int = 300
MAX_SMILES_ATOMS: int = 200
#: Seed of the embedding: the same SMILES always gives the same geometry.
EMBED_SEED: int = 20261207


def structure_from_smiles(smiles: str, *, optimize: bool = True) -> Structure:
    """The 3D structure of ``smiles`` (hydrogens added, angstrom), deterministic for a given string.

    Raises
    ------
    StructureError
        for an empty, too long or invalid SMILES (with RDKit's reason), or one that cannot be embedded in 3D.
    SystemTooLargeError
        above :data:`MAX_SMILES_ATOMS` atoms.
    """
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import AllChem
    except ImportError as exc:  # pragma: no cover - rdkit is in requirements.txt
        raise StructureError("building from SMILES needs RDKit (pip install rdkit)") from exc
    text = str(smiles).strip()
    if not text:
        raise StructureError("the SMILES is empty")
    if len(text) > MAX_SMILES_LENGTH:
        raise StructureError(f"the SMILES has {len(text)} characters; the limit is {MAX_SMILES_LENGTH}")
    if any(c.isspace() for c in text):
        raise StructureError("a SMILES has no spaces; give one molecule (use '.' to join fragments)")
    RDLogger.DisableLog("rdApp.*")  # RDKit's parse errors go to stderr; the reason is reported below instead
    try:
        mol = Chem.MolFromSmiles(text)
        if mol is None:
            raise StructureError(f"{text!r} is not a valid SMILES ({_reason(text)})")
        mol = Chem.AddHs(mol)
        if mol.GetNumAtoms() > MAX_SMILES_ATOMS:
            raise SystemTooLargeError(f"{text!r} has {mol.GetNumAtoms()} atoms with its hydrogens; the SMILES "
                                      f"builder takes at most {MAX_SMILES_ATOMS}")
        params = AllChem.ETKDGv3()
        params.randomSeed = EMBED_SEED
        if AllChem.EmbedMolecule(mol, params) != 0:
            params.useRandomCoords = True
            if AllChem.EmbedMolecule(mol, params) != 0:
                raise StructureError(f"RDKit could not build 3D coordinates for {text!r}")
        forcefield = "none"
        if optimize:
            if AllChem.MMFFHasAllMoleculeParams(mol):
                AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
                forcefield = "MMFF94"
            elif AllChem.UFFHasAllMoleculeParams(mol):
                AllChem.UFFOptimizeMolecule(mol, maxIters=2000)
                forcefield = "UFF"
    finally:
        RDLogger.EnableLog("rdApp.*")
    symbols = tuple(a.GetSymbol() for a in mol.GetAtoms())
    positions = np.array(mol.GetConformer().GetPositions(), dtype=np.float64)
    charge = int(Chem.GetFormalCharge(mol))
    spin = int(sum(a.GetNumRadicalElectrons() for a in mol.GetAtoms()))
    return Structure(symbols, positions, charge, spin, name=text,
                     info={"source": "SMILES", "smiles": text, "geometry": f"RDKit ETKDGv3 + {forcefield}"})


def _reason(text: str) -> str:
    """RDKit's own words for why ``text`` does not parse (its log, captured), or a generic phrase."""
    from rdkit import Chem

    try:
        unsanitized = Chem.MolFromSmiles(text, sanitize=False)
        if unsanitized is None:
            return "RDKit cannot parse it: check brackets, ring-closure digits and element symbols"
        Chem.SanitizeMol(unsanitized)
    except Exception as exc:  # RDKit raises its own sanitization errors (valence, aromaticity)
        return str(exc).strip().splitlines()[0]
    return "RDKit cannot read it"
