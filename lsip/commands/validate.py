"""``lsip validate``: the model and the QEq/EEQ baselines against reference DFT (docs/validation.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lsip.model.model import LSIPModel
from lsip.reference.cache import ReferenceCache
from lsip.validation.report import markdown, plot_all, statistics_table
from lsip.validation.run import run_validation


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``validate``."""
    p = sub.add_parser("validate", help="measure model and baselines against reference DFT (docs/validation.md)")
    p.add_argument("--quick", action="store_true", help="4 molecules, a 2-point H2 scan, STO-3G (CI, < 1 min)")
    p.add_argument("--out", type=Path, default=None,
                   help="write validation.json, validation.md and PNG plots into this folder")
    p.add_argument("--basis", default=None, help="reference basis (default def2-SVP; sto-3g with --quick)")
    p.add_argument("--json", action="store_true", help="print the full JSON report instead of the summary table")
    p.add_argument("--params", default="first-principles",
                   help="parameter set of the model (first-principles, or a calibrated set: docs/calibration.md)")
    p.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Entry of ``lsip validate``: run, print a summary (or JSON), optionally write report files."""
    report = run_validation(quick=args.quick, basis=args.basis, cache=ReferenceCache(),
                            model=LSIPModel(params=args.params, device="cpu"),
                            log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "validation.json").write_text(json.dumps(report, indent=1, default=float))
        (args.out / "validation.md").write_text(markdown(report) + "\n")
        plot_all(report, args.out)
    if args.json:
        print(json.dumps(report, indent=1, default=float))
    else:
        s = report["settings"]
        print(f"LSIP validation, {s['xc']}/{s['basis']}: {report['n_molecules']} entries, "
              f"{report['runtime_s']:.1f} s")
        print(statistics_table(report, groups=("all", "ionic", "covalent", "test")))
    ok = all(r["dft_converged"] for r in report["molecules"])
    return 0 if ok else 1
