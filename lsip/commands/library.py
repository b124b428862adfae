"""``lsip library build`` and ``lsip library show``: compute the latent library with PySCF, inspect it."""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from lsip.errors import UnsupportedElementError
from lsip.model.library import (
    DEFAULT_LIBRARY_PATH,
    STATE_LABELS,
    ElementEntry,
    LatentLibrary,
    load_library,
    save_library,
)
from lsip.units import HARTREE_TO_EV


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``library build`` and ``library show``."""
    p = sub.add_parser("library", help="build or inspect the latent library (atomic states from PySCF)")
    lsub = p.add_subparsers(dest="library_command", required=True)
    b = lsub.add_parser("build", help="compute the library with PySCF (a few minutes for 17 elements)")
    b.add_argument("--elements", default=None,
                   help="comma-separated symbols (default: H,Li,Be,B,C,N,O,F,Na,Mg,Al,Si,P,S,Cl,K,Ca)")
    b.add_argument("--xc", default="pbe0", help="PySCF functional (default pbe0)")
    b.add_argument("--basis", default="def2-tzvppd", help="PySCF basis for every element (default def2-tzvppd)")
    b.add_argument("--no-diffuse-s", dest="diffuse_s", action="store_false",
                   help="do not add the extra diffuse s shell per element")
    b.add_argument("--occupation", choices=["integer", "spherical"], default="integer",
                   help="energies/densities from integer (default) or fractional spherical occupations")
    b.add_argument("--grid-level", type=int, default=4, help="PySCF XC grid level (default 4)")
    b.add_argument("--out", type=Path, default=DEFAULT_LIBRARY_PATH,
                   help=f"output file (default {DEFAULT_LIBRARY_PATH})")
    b.set_defaults(func=run_build)
    s = lsub.add_parser("show", help="print the library: computed vs experimental I, A, excitation energies")
    s.add_argument("--element", default=None, help="show one element's states")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--path", type=Path, default=None, help="library file (default: the shipped one)")
    s.set_defaults(func=run_show)


def run_build(args: argparse.Namespace) -> int:
    """Build the library and write it to ``args.out``."""
    from lsip.reference.library_build import DEFAULT_ELEMENTS, build_library

    elements = tuple(e.strip() for e in args.elements.split(",") if e.strip()) if args.elements else DEFAULT_ELEMENTS
    t0 = time.perf_counter()
    command = ["lsip", "library", "build", "--elements", ",".join(elements), "--xc", args.xc, "--basis", args.basis,
               "--occupation", args.occupation, "--grid-level", str(args.grid_level)]
    if not args.diffuse_s:
        command.append("--no-diffuse-s")
    library = build_library(elements, xc=args.xc, basis=args.basis, progress=print, diffuse_s=args.diffuse_s,
                            occupation=args.occupation, grid_level=args.grid_level, command=shlex.join(command))
    path = save_library(library, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - t0:.1f} s")
    print(format_table(library))
    return 0


def _ev(value: float | None) -> float | None:
    return None if value is None else round(value * HARTREE_TO_EV, 4)


def _experiment(symbol: str) -> dict:
    try:
        from lsip.data.atomic_reference import atomic_reference

        ref = atomic_reference(symbol)
    except (KeyError, ImportError):
        return {"I_eV": None, "A_eV": None, "excitation_eV": None}
    return {"I_eV": ref.ionization_energy_ev, "A_eV": ref.electron_affinity_ev,
            "excitation_eV": ref.excitation_energy_ev, "anion_unbound": ref.anion_unbound}


def element_to_dict(entry: ElementEntry) -> dict:
    """JSON-ready summary of one element (energies in eV, zeta in bohr^-1)."""
    states = {}
    for label in STATE_LABELS:
        st = entry.states[label]
        states[label] = {"n_electrons": st.n_electrons, "energy_eV": _ev(st.energy), "energy_hartree": st.energy,
                         "configuration": st.configuration, "spin": st.spin, "fit_error": st.fit_error,
                         "n_gaussians": len(st.gauss_exponents), "converged": st.converged,
                         "sphericity": st.sphericity}
    return {"Z": entry.Z, "I_eV": _ev(entry.ionization_energy), "A_eV": _ev(entry.electron_affinity),
            "excitation_eV": _ev(entry.excitation_energy), "chi_eV": _ev(entry.electronegativity),
            "eta_eV": _ev(entry.hardness), "zeta_bohr": round(entry.decay_exponent, 5), "flags": list(entry.flags),
            "experiment": _experiment(entry.symbol), "states": states}


def library_to_dict(library: LatentLibrary, symbols: list[str] | None = None) -> dict:
    """``{"level": ..., "elements": {symbol: element_to_dict(...)}}`` for ``symbols`` (default all)."""
    symbols = symbols if symbols is not None else library.symbols
    return {"level": library.level, "elements": {s: element_to_dict(library.element(s)) for s in symbols}}


def _fmt(value: float | None, width: int = 7) -> str:
    return f"{value:{width}.2f}" if value is not None else " " * (width - 1) + "-"


def format_table(library: LatentLibrary) -> str:
    """Human table: computed (experimental) I, A and excitation energies in eV, chi, eta, zeta, flags."""
    lv = library.level
    lines = [f"level: {lv.get('xc')}/{lv.get('basis')} {lv.get('basis_extra', '')}  (pyscf {lv.get('pyscf_version')},"
             f" {lv.get('date')})",
             f"{'el':2s} {'I':>7s} {'I exp':>7s} {'A':>7s} {'A exp':>7s} {'eps':>7s} {'eps exp':>7s} "
             f"{'chi':>7s} {'eta':>7s} {'zeta':>6s}  flags"]
    for sym in library.symbols:
        d = element_to_dict(library.element(sym))
        x = d["experiment"]
        lines.append(f"{sym:2s} {_fmt(d['I_eV'])} {_fmt(x['I_eV'])} {_fmt(d['A_eV'])} {_fmt(x['A_eV'])} "
                     f"{_fmt(d['excitation_eV'])} {_fmt(x['excitation_eV'])} {_fmt(d['chi_eV'])} {_fmt(d['eta_eV'])} "
                     f"{d['zeta_bohr']:6.3f}  {','.join(d['flags'])}")
    lines.append("energies in eV (experiment: NIST ASD / CRC, see lsip/data/atomic_reference.py); zeta in 1/bohr")
    return "\n".join(lines)


def format_element(library: LatentLibrary, symbol: str) -> str:
    """Human table of one element's states."""
    d = element_to_dict(library.element(symbol))
    lines = [f"{symbol} (Z={d['Z']}) flags: {', '.join(d['flags']) or 'none'}",
             f"{'state':8s} {'N':>3s} {'2S':>3s} {'E / eV':>14s} {'G':>3s} {'fit err/e':>9s} {'sphericity':>10s}  "
             "configuration"]
    for label, st in d["states"].items():
        lines.append(f"{label:8s} {st['n_electrons']:3d} {st['spin']:3d} {st['energy_eV']:14.4f} "
                     f"{st['n_gaussians']:3d} {st['fit_error']:9.4f} {st['sphericity']:10.1e}  {st['configuration']}")
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    """Print the library as a table or JSON."""
    library = load_library(args.path)
    symbols = None
    if args.element is not None:
        if args.element not in library.elements:
            raise UnsupportedElementError(f"element {args.element!r} is not in the library "
                                          f"(available: {', '.join(library.symbols)})")
        symbols = [args.element]
    if args.json:
        print(json.dumps(library_to_dict(library, symbols), indent=1, sort_keys=False))
    elif symbols:
        print(format_element(library, symbols[0]))
    else:
        print(format_table(library))
    return 0
