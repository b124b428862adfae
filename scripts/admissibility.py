"""Admissibility of a parameter set (docs/calibration.md): relax molecules with the model from their DFT minima and
count those that collapse (two atoms pulled onto each other, :func:`lsip.workflows.relax.relax`'s reason).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/admissibility.py calibrated                 # training side
    OMP_NUM_THREADS=1 .venv/bin/python scripts/admissibility.py PATH.json --side all --json out.json

Prints one line per molecule (converged / stopped and why, RMSD to the DFT minimum, the water angle where there is
one) and a summary; exit status 1 when any molecule collapses. The gallery's water (an experimental geometry, not a
DFT minimum) is added with ``--gallery-water``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from lsip.calibration.dataset import bond_angle, load_split
from lsip.gallery import gallery_structure
from lsip.model.model import LSIPModel
from lsip.model.params import get_parameters, load_parameter_file
from lsip.validation.molecules import available, load
from lsip.workflows.relax import relax


def molecules(side: str) -> list[str]:
    """Validation molecules on ``side`` of the recorded split (``all``: every one)."""
    split = load_split()
    return [m for m in available() if side == "all" or split.get(m, "train") == side]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params", help="a shipped set's name or a parameter-set JSON file")
    parser.add_argument("--side", choices=("train", "test", "all"), default="train")
    parser.add_argument("--gallery-water", action="store_true", help="also relax the gallery's water")
    parser.add_argument("--json", type=Path, default=None, help="write the per-molecule records here")
    args = parser.parse_args(argv)
    params = load_parameter_file(Path(args.params)) if args.params.endswith(".json") else get_parameters(args.params)
    model = LSIPModel(params=params, device="cpu")
    starts = [load(m) for m in molecules(args.side)]
    if args.gallery_water:
        starts.append(gallery_structure("water"))
    records, collapsed = [], 0
    for st in starts:
        res = relax(st, model=model, fmax=0.05, max_steps=300, reference=None)
        bad = "onto each other" in res.reason  # _collapse_reason: closer than lsip.io.MIN_DISTANCE
        collapsed += bad
        rmsd = float(np.sqrt(np.mean(np.sum((res.final.positions - st.positions) ** 2, axis=1))))
        angle = (bond_angle(res.final.positions, 0, 1, 2) if st.symbols[:3] == ("O", "H", "H") and st.n_atoms == 3
                 else None)
        rec = {"name": st.name or st.formula, "converged": res.converged, "collapsed": bad, "reason": res.reason,
               "steps": res.n_steps, "rmsd_from_start_A": rmsd, "water_angle_deg": angle}
        records.append(rec)
        extra = f", H-O-H {angle:.1f} deg" if angle is not None else ""
        state = "converged" if res.converged else f"stopped: {res.reason}"
        print(f"{rec['name']:14s} {state:60.60s} RMSD {rmsd:.3f} A{extra}", flush=True)
    print(f"{params.name}: {collapsed} of {len(starts)} collapsed, "
          f"{sum(r['converged'] for r in records)} converged", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"params": params.name, "side": args.side, "records": records}, indent=1))
    return 1 if collapsed else 0


if __name__ == "__main__":
    sys.exit(main())
