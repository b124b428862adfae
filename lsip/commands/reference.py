"""``lsip reference``: PySCF reference DFT (energy, dipole, charges, density-encoder weights), cached.

Single structures: ``lsip reference PATH [--charge Q] [--spin S] [--xc XC] [--basis B] [--method auto|rks|uks]
[--json] [--no-cache] [--cube FILE] [--molden FILE]``;
many: ``lsip reference --batch FILE_OR_DIR [--workers N | --scheduler tcp://host:8786]``;
cache maintenance: ``lsip reference --clear-cache``. The JSON keys are documented in ``docs/reference.md``.
The ``density_error_e.model`` entry is the physical encoder's decoded-density error on the same grid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lsip.errors import ConvergenceError, LSIPError
from lsip.model.library import STATE_LABELS
from lsip.structure import Structure
from lsip.units import HARTREE_TO_EV


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reference`` sub-command."""
    p = sub.add_parser("reference", help="reference DFT (PySCF): energy, dipole, charges, latent projection")
    p.add_argument("path", type=Path, nargs="?", help="structure file (every frame is computed)")
    p.add_argument("--format", dest="fmt", default=None, help="xyz, extxyz, cif, pdb, poscar, traj (default: from "
                   "the file extension)")
    p.add_argument("--charge", type=int, default=None, help="total charge (default: from the file, else 0)")
    p.add_argument("--spin", type=int, default=None, help="2S, unpaired electrons (default: from the file, else "
                   "0 or 1 by electron parity)")
    p.add_argument("--xc", default="PBE0", help="functional (PySCF/libxc name, default PBE0)")
    p.add_argument("--basis", default="def2-SVP", help="basis set (default def2-SVP)")
    p.add_argument("--method", choices=("auto", "rks", "uks"), default="auto", help="Kohn-Sham flavour: auto (RKS "
                   "for closed shells, UKS for open shells; default), rks (refused for open shells) or uks")
    p.add_argument("--grid-level", type=int, default=3, help="PySCF grid level 0-9 (default 3)")
    p.add_argument("--max-cycle", type=int, default=100, help="SCF cycles per attempt (default 100)")
    p.add_argument("--time-limit", type=float, default=None, help="stop the SCF after this many seconds")
    p.add_argument("--max-atoms", type=int, default=None, help="raise the atom limit (default 40)")
    p.add_argument("--max-basis", type=int, default=None, help="raise the basis-function limit (default 500)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--cache-path", type=Path, default=None, help="cache database file (default: user cache dir)")
    p.add_argument("--clear-cache", action="store_true", help="delete every cached reference result and exit")
    p.add_argument("--cube", type=Path, default=None, help="also write the DFT density as a cube file (bohr, "
                   "40^3 points, box = atoms + 3 bohr, end points included)")
    p.add_argument("--molden", type=Path, default=None, help="also write the Kohn-Sham orbitals as a Molden file "
                   "(basis, orbital energies and occupations; for Multiwfn, Molden, Jmol)")
    p.add_argument("--batch", type=Path, default=None, metavar="FILE_OR_DIR", help="compute every structure of a "
                   "file or directory, skipping cached ones")
    p.add_argument("--workers", type=int, default=1, help="local worker processes for --batch (default 1)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address for --batch (default: local)")
    p.set_defaults(func=run_reference_command)


def _settings(args: argparse.Namespace) -> object:
    from lsip.reference.driver import ReferenceSettings

    extra = {k: v for k, v in (("max_atoms", args.max_atoms), ("max_basis", args.max_basis)) if v is not None}
    unrestricted = {"auto": None, "rks": False, "uks": True}[getattr(args, "method", "auto")]
    return ReferenceSettings(xc=args.xc, basis=args.basis, grid_level=args.grid_level, max_cycle=args.max_cycle,
                             time_limit_s=args.time_limit, unrestricted=unrestricted, **extra)


def _read(path: Path, args: argparse.Namespace) -> list[Structure]:
    from lsip.io import format_from_extension, read_structures

    fmt = args.fmt or format_from_extension(path)
    return read_structures(path, fmt, charge=args.charge, spin=args.spin)


def run_reference_command(args: argparse.Namespace) -> int:
    """Entry of ``lsip reference``."""
    from lsip.reference.cache import ReferenceCache

    cache = ReferenceCache(args.cache_path)
    if args.clear_cache:
        n = cache.clear()
        print(f"removed {n} cached reference result(s) from {cache.path}")
        return 0
    if args.batch is not None:
        return _run_batch(args, cache)
    if args.path is None:
        raise LSIPError("give a structure file, --batch FILE_OR_DIR or --clear-cache")
    return _run_single(args, None if args.no_cache else cache)


def _progress_printer(enabled: bool) -> object:
    def show(p: object) -> None:
        if p.stage == "analysis":
            print(f"\r  analysing the density ({p.elapsed_s:.1f} s)        ", end="", file=sys.stderr, flush=True)
        elif p.cycle > 0:
            print(f"\r  {p.stage} cycle {p.cycle:3d}  E = {p.energy:.8f} Eh  dE = {p.delta_e:+.1e}  "
                  f"{p.elapsed_s:.1f} s (estimate {p.estimate_s:.0f} s)", end="", file=sys.stderr, flush=True)

    return show if enabled else None


def _model_weights(structure: object) -> object:
    """The physical encoder's (n, 4) weights for the ``model`` density error, or None if the model cannot run."""
    from lsip.errors import LSIPError
    from lsip.model.model import LSIPModel

    try:
        pred = LSIPModel(device="cpu").predict(structure, forces=False, raise_on_failure=False)
    except LSIPError as exc:
        print(f"warning: no model density error: {exc}", file=sys.stderr)
        return None
    return pred.weights.numpy() if pred.converged else None


def _run_single(args: argparse.Namespace, cache: object) -> int:
    from dataclasses import replace

    from lsip.reference.driver import ReferenceDFT, canonical_unrestricted

    structures = _read(args.path, args)
    settings = _settings(args)
    show = sys.stderr.isatty() and not args.json
    outputs, status = [], 0
    for st in structures:
        # an explicit --method equal to what automatic picks shares the automatic cache entry (as in the app)
        frame_settings = replace(settings, unrestricted=canonical_unrestricted(st, settings.unrestricted))
        drv = ReferenceDFT(st, frame_settings, cache=cache if cache is not None else False,
                           progress=_progress_printer(show))
        try:
            weights = _model_weights(st)
            res = drv.kernel(model_weights=weights)
            if getattr(args, "molden", None) is not None and res.cached and res.mo_coeff is None:
                print("note: the cached result holds no molecular orbitals (an older cache entry); recomputing it "
                      "for the Molden file", file=sys.stderr)
                res = drv.kernel(model_weights=weights, use_cache=False)
        except ConvergenceError as exc:
            res, status = exc.result, 1
            print(f"lsip reference: error: {exc}", file=sys.stderr)
        finally:
            if show:
                print(file=sys.stderr)
        for w in res.warnings:
            print(f"warning: {w}", file=sys.stderr)
        outputs.append(res.to_dict())
        if args.cube is not None and res.converged:
            _write_cube(res, _numbered(args.cube, len(outputs), len(structures)))
        if getattr(args, "molden", None) is not None and res.converged:
            status = max(status, _write_molden(res, _numbered(args.molden, len(outputs), len(structures))))
        if not args.json:
            _print_table(outputs[-1])
    if args.json:
        print(json.dumps(outputs[0] if len(outputs) == 1 else outputs, indent=1))
    return status


def _numbered(path: Path, k: int, n: int) -> Path:
    """``path`` itself for one frame, ``stem-k.suffix`` for frame k of several."""
    return path if n == 1 else path.with_name(f"{path.stem}-{k}{path.suffix}")


def _write_molden(res: object, path: Path) -> int:
    """Write the Molden file of ``res``; 0, or 1 with a message when the result has no orbitals (old cache)."""
    from lsip.reference.molden import MoldenUnavailable, write_molden

    try:
        write_molden(res, path)
    except MoldenUnavailable as exc:
        print(f"lsip reference: error: no Molden file {path}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _write_cube(res: object, path: Path) -> None:
    from lsip.io.cube import write_cube
    from lsip.reference.grids import cube_grid_for, density_on_cube

    st, mol = res.structure(), res.mole()
    grid = cube_grid_for(st)
    values = density_on_cube(mol, res.density_matrix, grid)
    write_cube(path, grid, values, st.numbers, mol.atom_coords(),
               comment=f"DFT density {res.xc}/{res.basis} of {st.formula}")
    print(f"wrote {path}", file=sys.stderr)


def _print_table(r: dict) -> None:
    cached = " (cached)" if r["cached"] else ""
    print(f"{r['formula']}: Q = {r['total_charge']:+d}, 2S = {r['spin']}, {r['xc']}/{r['basis']} "
          f"({r['n_basis']} basis functions){cached}")
    if not r["converged"]:
        print("  SCF NOT converged")
        return
    print(f"  energy {r['energy_eV']:.6f} eV, dipole {r['dipole_D']:.4f} D, HOMO-LUMO gap "
          f"{r['homo_lumo_gap_eV'] or float('nan'):.3f} eV, {r['time_s']:.2f} s")
    names = [k for k in ("hirshfeld", "hirshfeld_i", "mulliken", "meta_lowdin", "density_encoder")
             if k in r["charges_e"]]
    print("  " + f"{'atom':>6}" + "".join(f"{n[:11]:>12}" for n in names)
          + ("".join(f"{'w' + s[:4]:>8}" for s in STATE_LABELS) if r["latent_weights"] else ""))
    for i, sym in enumerate(r["symbols"]):
        line = f"  {sym + str(i):>6}" + "".join(f"{r['charges_e'][n][i]:12.4f}" for n in names)
        if r["latent_weights"]:
            line += "".join(f"{r['latent_weights'][s][i]:8.4f}" for s in STATE_LABELS)
        print(line)
    err = r["density_error_e"]
    if err["latent"] is not None:
        print(f"  density error |rho - rho_DFT| (e): latent {err['latent']:.4f}, promolecule {err['promolecule']:.4f}"
              + (f", model {err['model']:.4f}" if err["model"] is not None else ""))


def _run_batch(args: argparse.Namespace, cache: object) -> int:
    from lsip.reference.batch import collect_structures, run_batch

    structures = collect_structures(args.batch, lambda p: _read(p, args))
    report = run_batch(structures, _settings(args), cache, workers=args.workers, scheduler=args.scheduler,
                       progress=not args.json)
    rows = [{"index": it.index, "name": it.name, "formula": it.formula, "status": it.status,
             "energy_eV": None if it.energy is None else it.energy * HARTREE_TO_EV, "time_s": it.time_s,
             "error": it.error} for it in report.items]
    if args.json:
        print(json.dumps({"n_structures": len(rows), "cached": report.count("cached"),
                          "computed": report.count("computed"), "failed": report.count("failed"),
                          "wall_s": report.wall_s, "items": rows}, indent=1))
    else:
        for row in rows:
            e = f"{row['energy_eV']:.6f} eV" if row["energy_eV"] is not None else row["error"]
            print(f"  {row['index']:4d} {row['name']:<24} {row['status']:<9} {e}")
        print(f"{len(rows)} structures: {report.count('cached')} cached, {report.count('computed')} computed, "
              f"{report.count('failed')} failed in {report.wall_s:.1f} s")
    return 1 if report.count("failed") else 0
