"""Relax the validation geometries (``assets/validation/*.xyz``) at the reference level, PBE0/def2-SVP.

The starting geometries come from ``scripts/make_validation_set.py`` (RDKit ETKDG + MMFF94/UFF, experimental
distances for the hand-built salts). This script relaxes each one with PySCF (RKS for closed shells, the
settings of :class:`lsip.reference.driver.ReferenceSettings`: PBE0, def2-SVP, grid level 3) and the geomeTRIC
optimizer (default convergence: max gradient 4.5e-4 Eh/bohr, RMS 3e-4, energy change 1e-6 Eh), then rewrites
the coordinates in place, appending the relaxation to the ``source`` of the comment line, and records per
structure the energy change, the largest displacement and the number of steps in ``relaxation.json``.

geomeTRIC is *not* a project dependency (only this one-off script needs it)::

    .venv/bin/pip install geometric==1.1.1
    OMP_NUM_THREADS=2 .venv/bin/python scripts/relax_validation_set.py [name ...]
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from lsip.units import HARTREE_TO_EV

DIR = Path(__file__).resolve().parents[1] / "assets" / "validation"
LEVEL = "PBE0/def2-SVP"
TAG = f"relaxed {LEVEL} (PySCF + geomeTRIC)"


def relax(path: Path) -> dict:
    """Relax one xyz file in place; returns its record for ``relaxation.json``."""
    from pyscf import dft, gto
    from pyscf.geomopt.geometric_solver import kernel

    lines = path.read_text().splitlines()
    n = int(lines[0])
    comment = lines[1]
    charge = int(re.search(r"charge=(-?\d+)", comment).group(1))
    spin = int(re.search(r"spin=(\d+)", comment).group(1))
    symbols = [ln.split()[0] for ln in lines[2:2 + n]]
    pos0 = np.array([[float(x) for x in ln.split()[1:4]] for ln in lines[2:2 + n]])
    mol = gto.M(atom=list(zip(symbols, pos0.tolist())), basis="def2-svp", charge=charge, spin=spin,
                unit="Angstrom", verbose=0)
    mf = (dft.RKS(mol) if spin == 0 else dft.UKS(mol))
    mf.xc, mf.grids.level, mf.conv_tol = "pbe0", 3, 1e-9
    t0 = time.perf_counter()
    e0 = mf.kernel()
    steps = []
    converged, mol_eq = kernel(mf, maxsteps=100, callback=lambda env: steps.append(1))
    if not converged:
        raise RuntimeError(f"{path.name}: geometry optimisation did not converge in 100 steps")
    mf_eq = (dft.RKS(mol_eq) if spin == 0 else dft.UKS(mol_eq))
    mf_eq.xc, mf_eq.grids.level, mf_eq.conv_tol = "pbe0", 3, 1e-9
    e1 = mf_eq.kernel()
    if not mf_eq.converged:
        raise RuntimeError(f"{path.name}: SCF at the relaxed geometry did not converge")
    pos1 = mol_eq.atom_coords(unit="Angstrom")
    # remove the rigid translation before measuring the largest displacement
    disp = np.linalg.norm((pos1 - pos1.mean(0)) - (pos0 - pos0.mean(0)), axis=1).max()
    if 'source="' in comment:
        new_comment = re.sub(r'source="([^"]*)"', lambda m: f'source="{m.group(1).split("; relaxed")[0]}; {TAG}"',
                             comment)
    else:
        new_comment = f'{comment} source="{TAG}"'
    body = [f"{s:<2s} {x:13.6f} {y:13.6f} {z:13.6f}" for s, (x, y, z) in zip(symbols, pos1)]
    path.write_text("\n".join([str(n), new_comment, *body]) + "\n")
    return {"energy_start_Eh": float(e0), "energy_relaxed_Eh": float(e1),
            "delta_E_eV": float(e1 - e0) * HARTREE_TO_EV, "max_displacement_A": float(disp),
            "gradient_calls": len(steps), "time_s": round(time.perf_counter() - t0, 1)}


def main(names: list[str]) -> None:
    """Relax ``names`` (default: every file not yet relaxed) and update ``relaxation.json``."""
    log_path = DIR / "relaxation.json"
    log = json.loads(log_path.read_text()) if log_path.is_file() else {"level": LEVEL, "structures": {}}
    paths = [DIR / f"{n}.xyz" for n in names] if names else sorted(DIR.glob("*.xyz"))
    for path in paths:
        if not names and TAG in path.read_text().splitlines()[1]:
            continue
        rec = relax(path)
        log["structures"][path.stem] = rec
        log_path.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")
        print(f"{path.stem:12s} dE {rec['delta_E_eV']:+8.4f} eV  max disp {rec['max_displacement_A']:.3f} A  "
              f"{rec['gradient_calls']:3d} gradients  {rec['time_s']:6.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
