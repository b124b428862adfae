"""Write the Evaluate page's built-in example data set (``assets/evaluate/example.extxyz``; docs/evaluate.md).

Every frame is a PBE0/def2-SVP calculation made here through the reference cache (``lsip reference``): total
energy (eV), analytic forces (eV/Å, PySCF nuclear gradient restarted from the cached density matrix), Hirshfeld-I
charges (e) and the dipole (e Å), written the way ``ase.io.write(..., format="extxyz")`` writes a
``SinglePointCalculator``: so the file is what an ML-potential developer would upload, and ``ase.io.read`` gives the
properties back. The frames: relaxed validation molecules (neutral and ionic, small and larger) and an O-H stretch of
water (0.75-1.35 R_e), so the parity plots span a range and the structure map has a cluster and a path.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/make_evaluate_example.py   # ~3 minutes from an empty cache
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import ase.io
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from lsip.io import structure_to_ase
from lsip.paths import EVALUATE_EXAMPLE
from lsip.reference.driver import ReferenceDFT, ReferenceSettings
from lsip.reference.grids import build_mole, make_scf
from lsip.scan.path import scan_structures
from lsip.structure import Structure
from lsip.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV
from lsip.validation.molecules import load

MOLECULES = ("h2o", "nh3", "ch4", "hf", "ch2o", "ch3oh", "hcn", "co2", "lif", "nacl", "hcl", "c2h4", "h2s",
             "ethanol")
STRETCH_FACTORS = (0.75, 0.88, 1.0, 1.15, 1.35)


def frames() -> list[Structure]:
    """The example's structures, in file order."""
    out = [load(m) for m in MOLECULES]
    water = load("h2o")
    r0 = float(np.linalg.norm(water.positions[1] - water.positions[0]))
    stretched, _ = scan_structures(water, 0, 1, np.array(STRETCH_FACTORS) * r0)
    return out + [s for s, f in zip(stretched, STRETCH_FACTORS, strict=True) if f != 1.0]


def labelled(structure: Structure, settings: ReferenceSettings) -> ase.Atoms:
    """One frame with its DFT energy, forces, Hirshfeld-I charges and dipole (SinglePointCalculator)."""
    ref = ReferenceDFT(structure, settings).kernel()
    mol = build_mole(structure, settings.basis, ref.spin)
    unrestricted = bool(ref.unrestricted)
    mf = make_scf(mol, settings.xc, settings.grid_level, settings.conv_tol, settings.max_cycle, unrestricted,
                  bool(ref.density_fit))
    mf.kernel(dm0=ref.density_matrix)
    if not mf.converged:
        raise RuntimeError(f"SCF restart of {structure.formula} did not converge")
    gradient = np.asarray(mf.nuc_grad_method().kernel())  # hartree / bohr
    atoms = structure_to_ase(structure)
    atoms.info["charge"] = structure.charge
    atoms.calc = SinglePointCalculator(
        atoms, energy=float(mf.e_tot) * HARTREE_TO_EV,
        forces=-gradient * HARTREE_TO_EV / BOHR_TO_ANGSTROM,
        charges=np.asarray(ref.charges["hirshfeld_i"], float),
        dipole=np.asarray(ref.dipole, float) * BOHR_TO_ANGSTROM)
    return atoms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EVALUATE_EXAMPLE)
    args = parser.parse_args(argv)
    settings = ReferenceSettings()
    images = []
    for st in frames():
        images.append(labelled(st, settings))
        print(f"{st.formula:10s} E = {images[-1].get_potential_energy():.4f} eV", file=sys.stderr)
    buf = io.StringIO()
    ase.io.write(buf, images, format="extxyz")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(buf.getvalue())
    print(f"wrote {len(images)} frames to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
