"""``lsip calibrate``: fit a named parameter set to the package's own PySCF data (docs/calibration.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from lsip.calibration.dataset import SPLIT_FILE, write_split
from lsip.calibration.fit import assess, calibrate, load_data, write_parameter_set
from lsip.calibration.report import markdown_report
from lsip.errors import LSIPError
from lsip.model.params import PARAM_DIR, ModelParameters, get_parameters, load_parameter_file

#: Where the report of a calibration is written (one markdown and one JSON file per parameter set).
REPORT_DIR = Path("docs") / "calibration"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``calibrate``."""
    p = sub.add_parser("calibrate", help="fit a parameter set to PBE0/def2-SVP data the package generates "
                                         "(recorded train/test split; docs/calibration.md)")
    p.add_argument("--name", default="calibrated", help="name of the parameter set (default: calibrated)")
    p.add_argument("--generate", action="store_true",
                   help="run the reference DFT the cache lacks (about 10 minutes on 2 cores from empty)")
    p.add_argument("--write-split", action="store_true", help=f"rewrite the recorded split ({SPLIT_FILE.name})")
    p.add_argument("--max-iterations", type=int, default=60,
                   help="cap on the optimizer's own evaluations of the training set (scipy's max_nfev); every "
                        "Jacobian adds one evaluation per fitted parameter (~27) on top (measured: 12 -> 90 "
                        "evaluations in all, 240 -> 300)")
    p.add_argument("--assess", action="store_true",
                   help="no fit: measure the existing set --name on the split and rewrite its report and provenance")
    p.add_argument("--start", default=None,
                   help="start the fit from a shipped set's values, or from a set's JSON file (default: the fixed "
                        "defaults); recorded in the report")
    p.add_argument("--fix", action="append", default=[], metavar="FIELD=VALUE",
                   help="an experiment: keep a parameter-set field at this value during the fit (e.g. "
                        "pauli_two_sided=true); recorded in the report")
    p.add_argument("--params-dir", type=Path, default=PARAM_DIR, help="where the parameter set is written")
    p.add_argument("--report-dir", type=Path, default=REPORT_DIR, help="where the report is written")
    p.set_defaults(func=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    """Entry of ``lsip calibrate``."""
    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    fixed = parse_fixed(args.fix)  # before the data is loaded: a typo fails at once
    if args.write_split:
        write_split()
        say(f"wrote {SPLIT_FILE}")
    entries = load_data(compute=args.generate, progress=say)
    if args.assess:  # keep the fit's record (commit, optimizer) from the existing report
        given = get_parameters(args.name)
        old = args.report_dir / f"{args.name}.json"
        keep = ("cost", "evaluations", "optimizer", "status", "seconds", "start")
        meta = {k: v for k, v in json.loads(old.read_text()).items() if k in keep} if old.is_file() else None
        params, report = assess(args.name, given, entries, meta=meta, fitted_git=given.fitted_to.get("git"))
    else:
        start = (None if not args.start else load_parameter_file(Path(args.start)) if args.start.endswith(".json")
                 else get_parameters(args.start))
        ckpt = args.params_dir / f"{args.name}.checkpoint.json"

        def checkpoint(params: ModelParameters, cost: float, evaluation: int) -> None:
            write_parameter_set(replace(params, fitted_to={"checkpoint": True, "cost": cost,
                                                           "evaluation": evaluation}), ckpt)

        params, report = calibrate(args.name, entries, max_nfev=args.max_iterations, progress=say, start=start,
                                   fixed=fixed, checkpoint=checkpoint)
    write_parameter_set(params, args.params_dir / f"{args.name}.json")
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / f"{args.name}.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (args.report_dir / f"{args.name}.md").write_text(markdown_report(report) + "\n")
    say(f"wrote {args.params_dir / (args.name + '.json')} and {args.report_dir / (args.name + '.md')}")
    print(markdown_report(report, per_entry=False))
    return 0


def parse_fixed(items: list[str]) -> dict[str, object]:
    """``["pauli_two_sided=true", "pairing_decay=2.5"]`` -> field values (booleans and numbers), checked against
    :class:`ModelParameters`.

    >>> parse_fixed(["pauli_two_sided=true", "pairing_decay=2.5"])
    {'pauli_two_sided': True, 'pairing_decay': 2.5}
    """
    known = {f.name: f.type for f in fields(ModelParameters)}
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in known:
            raise LSIPError(f"--fix {item!r}: expected FIELD=VALUE with a ModelParameters field")
        if raw.lower() in ("true", "false"):
            out[key] = raw.lower() == "true"
        else:
            try:
                out[key] = float(raw)
            except ValueError:
                raise LSIPError(f"--fix {item!r}: the value is not a number or true/false") from None
    return out
