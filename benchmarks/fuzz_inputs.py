"""Structure-input fuzzing: a seeded mutation corpus over every accepted format, run case by case in workers.

Usage: python benchmarks/fuzz_inputs.py [--cases 11000] [--seed 0] [--timeout 10] [--workers 2]
       [--lsip-root DIR] [--label after] [--model-max-atoms 64] [--out results/fuzz_inputs.json]

The corpus (:func:`corpus`) starts from the gallery structures and a few crystals written in every format of
``lsip.io.FORMATS`` (xyz, extxyz, cif, pdb, poscar, traj) plus pasted XYZ text, and mutates them: semantic
mutations made on the ASE ``Atoms`` before writing (a fragment moved 7e5 A away, coordinates of 1e200 or NaN,
cells scaled by 0.01 or 1e-9, singular cells, gamma = 360 deg, atomic numbers outside the periodic table, NaN
initial charges, count lines claiming millions of atoms, ...) and textual ones on the written bytes (numbers
replaced by extremes, lines deleted, duplicated or swapped, truncation, garbage, flipped bytes). Generation uses
ASE only, never ``lsip``, so the same corpus runs against any version of the package.

Each case is read with ``lsip.io.read_structures`` (``parse_xyz_text`` for pastes) in a persistent worker
subprocess (``--workers`` of them); an accepted structure with at most ``--model-max-atoms`` atoms is then
predicted by ``LSIPModel(device="cpu")`` (first frame). Outcomes:

* ``structure``: read (and predicted) with every number finite;
* ``error``: an ``lsip.errors.LSIPError`` from the reader or the model (the intended answer to bad input);
* ``traceback``: any other exception;
* ``crash``: the worker died (a signal such as SIGFPE from a native library);
* ``hang``: no answer within ``--timeout`` seconds (the worker is killed and restarted);
* ``nonsense``: an accepted structure with a non-finite field, or a prediction marked converged that
  contains NaN or infinite numbers.

``--lsip-root`` puts another copy of the package first on the workers' ``sys.path`` (e.g. the previous version:
``git archive HEAD lsip | tar -x -C /tmp/lsip_before``) for before/after counts; the results file keeps one
entry per ``--label``. The same corpus drives ``tests/io/test_fuzz_io.py`` (in process).
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import math
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GALLERY = ROOT / "assets" / "gallery"
FORMATS = ("xyz", "extxyz", "cif", "pdb", "poscar", "traj")

#: Numbers a mutation puts in place of a number of the file.
EXTREMES = ("0", "-0", "1e200", "-1e200", "1e308", "1.7976931348623157e308", "-1.7e308", "8e5", "-7e5", "1e-9",
            "0.01", "0.010", "360", "180", "0.0", "-1", "-5", "nan", "NaN", "inf", "-inf", "1e6", "99999999",
            "2147483648", "9" * 50, "9" * 5000, "5000000", "1e-320", "0.5", "1e300", "-0.01", "1e10", "")
#: Count-line replacements (xyz, extxyz).
COUNTS = ("0", "-1", "-2", "5000000", "100001", "2147483648", "9" * 30, "9" * 5000, "1e5", "3.5", "+2", "0x10",
          "1_000", "", "  ")


@dataclass(frozen=True)
class Case:
    """One fuzz input: ``kind`` is ``file`` (read_structures) or ``paste`` (parse_xyz_text)."""

    name: str
    fmt: str
    kind: str
    data: bytes


# ------------------------------------------------------------------------------------------------ base inputs


def _base_atoms() -> list[tuple[str, object]]:
    """(name, ase.Atoms): the gallery (finite) and a few crystals (periodic)."""
    from ase import Atoms
    from ase.build import bulk, molecule
    from ase.io import read

    out: list[tuple[str, object]] = []
    for path in sorted(GALLERY.glob("*.xyz")):
        atoms = read(path, format="extxyz")
        atoms.info = {k: v for k, v in atoms.info.items() if k in ("charge", "spin")}
        out.append((path.stem, atoms))
    out.append(("nacl_rocksalt", bulk("NaCl", "rocksalt", a=5.64)))
    out.append(("si_diamond", bulk("Si", "diamond", a=5.43)))
    out.append(("lif_cubic", bulk("LiF", "rocksalt", a=4.03, cubic=True)))
    water = molecule("H2O")
    water.cell = np.eye(3) * 8.0
    water.pbc = True
    water.center()
    out.append(("water_box", water))
    slab = Atoms("C2", positions=[[0, 0, 5], [1.23, 0.71, 5]], cell=[[2.46, 0, 0], [1.23, 2.13, 0], [0, 0, 12]],
                 pbc=(True, True, False))
    out.append(("graphene_slab", slab))
    return out


def _boxed(atoms: object) -> object:
    """A periodic copy (for CIF and POSCAR): molecules go in a box 8 A larger than their extent."""
    a = atoms.copy()
    if a.cell.rank < 3:
        a.cell = np.diag(np.ptp(a.positions, axis=0) + 8.0)
        a.center()
        a.pbc = True
    return a


def write_bytes(atoms: object, fmt: str) -> bytes:
    """``atoms`` written in ``fmt`` with ASE (plain XYZ by hand, with ``charge=`` on the comment line)."""
    from ase.io import write

    if fmt == "xyz":
        q = atoms.info.get("charge", 0)
        lines = [str(len(atoms)), f"charge={q} fuzz"]
        lines += [f"{s} {float(x)!r} {float(y)!r} {float(z)!r}"
                  for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions)]
        return ("\n".join(lines) + "\n").encode()
    if fmt == "traj":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "a.traj"
            write(path, atoms, format="traj")
            return path.read_bytes()
    buf: io.StringIO | io.BytesIO = io.BytesIO() if fmt == "cif" else io.StringIO()
    if fmt in ("cif", "poscar"):
        atoms = _boxed(atoms)
    ase_fmt = {"extxyz": "extxyz", "cif": "cif", "pdb": "proteindatabank", "poscar": "vasp"}[fmt]
    kwargs = {"direct": True} if fmt == "poscar" and len(atoms) % 2 else {}
    write(buf, atoms, format=ase_fmt, **kwargs)
    value = buf.getvalue()
    return value if isinstance(value, bytes) else value.encode()


NACL_SYMMETRIC_CIF = """data_nacl
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""


# -------------------------------------------------------------------------------------------------- mutations


def _semantic(atoms: object, rng: np.random.Generator, fmt: str) -> tuple[str, object] | None:
    """A mutated copy of ``atoms`` (or None when the mutation does not apply to ``fmt``)."""
    from ase.geometry import cellpar_to_cell

    a = atoms.copy()
    n = len(a)
    kind = rng.choice(["far", "scale_pos", "coord", "cell_scale", "cell_singular", "cellpar", "duplicate",
                       "numbers", "initial_charges", "info_charge", "pbc", "many", "single"])
    if kind == "far":
        k = int(rng.integers(1, max(2, n)))
        axis = int(rng.integers(3))
        a.positions[k:, axis] += float(rng.choice([7e5, 8e5, 1e6, 3e6, 1e4, 2e4, 1e5]))
    elif kind == "scale_pos":
        a.positions *= float(rng.choice([1e300, 1e200, 1e-3, 0.01, 1e6, 1e150]))
    elif kind == "coord":
        a.positions[_pick(rng, n), int(rng.integers(3))] = float(
            rng.choice([1e200, 1e308, -1e308, np.nan, np.inf, 1.7e308, 1e7, -1e5]))
    elif kind in ("cell_scale", "cell_singular", "cellpar"):
        a = _boxed(a)
        if kind == "cell_scale":
            a.set_cell(a.cell.array * float(rng.choice([0.01, 1e-9, 0.010, 1e6, 1e300, 0.1])),
                       scale_atoms=bool(rng.integers(2)))
        elif kind == "cell_singular":
            cell = a.cell.array.copy()
            cell[1] = cell[0]
            a.set_cell(cell)
        else:
            par = list(a.cell.cellpar())
            which = int(rng.integers(6))
            par[which] = float(rng.choice([0.01, 1e-9, 360.0, 180.0, 0.0, 1e6] if which < 3 else
                                          [0.01, 360.0, 180.0, 0.0, 179.99, 1.0, 200.0]))
            try:
                with np.errstate(all="ignore"):
                    a.set_cell(cellpar_to_cell(par))
            except Exception:
                return None
    elif kind == "duplicate":
        a = a + a
    elif kind == "numbers":
        if fmt != "traj":
            return None
        a.numbers[_pick(rng, n)] = int(rng.choice([0, 119, 200, 255, 1000, 37, 92]))
    elif kind == "initial_charges":
        if fmt not in ("extxyz", "traj"):
            return None
        q = np.zeros(n)
        q[_pick(rng, n)] = float(rng.choice([np.nan, np.inf, 1e300, -1e300, 0.5]))
        a.set_initial_charges(q)
    elif kind == "info_charge":
        if fmt not in ("extxyz", "xyz", "traj"):
            return None
        a.info["charge"] = rng.choice([1e300, -1e30, 2.5, 10**40, -(10**40), 1000])
    elif kind == "pbc":
        a = _boxed(a)
        a.pbc = tuple(bool(x) for x in rng.integers(0, 2, 3))
    elif kind == "many":
        a = a.repeat((int(rng.integers(1, 8)), int(rng.integers(1, 8)), int(rng.integers(1, 8)))) \
            if a.cell.rank == 3 else a
    elif kind == "single":
        a = a[:1]
    return str(kind), a


def _pick(rng: np.random.Generator, n: int) -> int:
    """A random index below ``n`` (0 when ``n`` <= 1)."""
    return int(rng.integers(n)) if n > 1 else 0


def _numbers_in(text: str) -> list[tuple[int, int]]:
    import re

    return [m.span() for m in re.finditer(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)]


def _textual(data: bytes, rng: np.random.Generator, fmt: str) -> tuple[str, bytes]:
    """A textual (or, for traj, byte-level) mutation of ``data``."""
    if fmt == "traj":
        b = bytearray(data)
        kind = rng.choice(["flip", "truncate", "overwrite", "insert", "double"])
        if kind == "flip":
            for _ in range(int(rng.integers(1, 8))):
                b[_pick(rng, len(b))] = int(rng.integers(256))
        elif kind == "truncate":
            b = b[: _pick(rng, len(b))]
        elif kind == "overwrite":
            word = np.array([rng.choice([1e300, np.nan, np.inf, -1e308, 1e-320, 0.0])]).tobytes() \
                if rng.integers(2) else np.array([rng.choice([2**40, -1, 2**62, 5_000_000])], np.int64).tobytes()
            at = _pick(rng, len(b) - 8)
            b[at:at + 8] = word
        elif kind == "insert":
            at = _pick(rng, len(b))
            b[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        else:
            b = b + b
        return f"bytes_{kind}", bytes(b)
    text = data.decode("latin-1")
    lines = text.split("\n")
    kind = str(rng.choice(["number", "numbers", "line_scale", "delete", "duplicate", "swap", "truncate", "garbage",
                           "count", "concat", "flip", "repeat_block", "blank"]))
    if kind in ("number", "numbers"):
        spans = _numbers_in(text)
        if spans:
            chosen = sorted({int(k) for k in rng.integers(len(spans), size=1 if kind == "number" else 4)},
                            reverse=True)
            for k in chosen:
                s, e = spans[k]
                text = text[:s] + str(rng.choice(EXTREMES)) + text[e:]
    elif kind == "line_scale":
        k = _pick(rng, len(lines))
        f = float(rng.choice([0.01, 1e-9, 1e6, 1e300, -1.0, 0.0, 1e-3]))

        def scaled(tok: str) -> str:
            try:
                return repr(float(tok) * f)
            except ValueError:
                return tok

        lines[k] = " ".join(scaled(t) for t in lines[k].split())
        text = "\n".join(lines)
    elif kind == "delete":
        del lines[_pick(rng, len(lines))]
        text = "\n".join(lines)
    elif kind == "duplicate":
        k = _pick(rng, len(lines))
        lines[k:k] = [lines[k]] * int(rng.choice([1, 2, 10, 1000]))
        text = "\n".join(lines)
    elif kind == "swap":
        i, j = _pick(rng, len(lines)), _pick(rng, len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        text = "\n".join(lines)
    elif kind == "truncate":
        text = text[: _pick(rng, len(text))]
    elif kind == "garbage":
        at = _pick(rng, len(text))
        junk = rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8).tobytes().decode("latin-1") \
            if rng.integers(2) else " ".join(str(rng.choice(EXTREMES)) for _ in range(int(rng.integers(1, 6))))
        text = text[:at] + junk + text[at:]
    elif kind == "count":
        k = next((i for i, line in enumerate(lines) if line.strip()), 0)
        lines[k] = str(rng.choice(COUNTS))
        text = "\n".join(lines)
    elif kind == "concat":
        text = text + text
    elif kind == "flip":
        chars = list(text)
        for _ in range(int(rng.integers(1, 6))):
            chars[_pick(rng, len(chars))] = chr(int(rng.integers(32, 127)))
        text = "".join(chars)
    elif kind == "repeat_block":
        k = _pick(rng, len(lines))
        lines[k:k] = lines[k:k + 3] * int(rng.choice([100, 1000, 10000]))
        text = "\n".join(lines)
    else:
        k = _pick(rng, len(lines))
        lines.insert(k, "")
        text = "\n".join(lines)
    return kind, text.encode("latin-1")


def _special_cases() -> list[Case]:
    """Hand-written cases of the reliability review (large pastes, symmetric CIF, claimed counts)."""
    rng = np.random.default_rng(12345)
    grid = np.stack(np.meshgrid(*[np.arange(47) * 1.5] * 3, indexing="ij"), -1).reshape(-1, 3)[:100_000]
    big = "".join(f"H {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in grid + 0.01 * rng.random(grid.shape))
    paste_100k = f"100000\nbig paste\n{big}"
    cases = [
        Case("paste_100k_atoms_12MiB", "xyz", "paste", (paste_100k + " " * (12 * 2**20 - len(paste_100k))).encode()),
        Case("paste_3MiB", "xyz", "paste", big[: 3 * 2**20].rsplit("\n", 1)[0].encode()),
        Case("claims_5M_extxyz", "extxyz", "file", b"5000000\n\nH 0 0 0\nH 0 0 0.74\n"),
        Case("claims_5M_xyz", "xyz", "file", b"5000000\n\nH 0 0 0\nH 0 0 0.74\n"),
        Case("count_5000_digits", "xyz", "file", ("9" * 5000 + "\n\nH 0 0 0\n").encode()),
        Case("count_5000_digits_extxyz", "extxyz", "file", ("9" * 5000 + "\n\nH 0 0 0\n").encode()),
        Case("nacl_symmetric_cif", "cif", "file", NACL_SYMMETRIC_CIF.encode()),
        Case("poscar_counts_1e9", "poscar", "file", b"x\n1.0\n5 0 0\n0 5 0\n0 0 5\nH\n1000000000\nDirect\n0 0 0\n"),
        Case("poscar_negative_scale", "poscar", "file", b"x\n-1.0\n5 0 0\n0 5 0\n0 0 5\nH\n1\nDirect\n0 0 0\n"),
    ]
    sites = "".join(f"H{k} H {x:.5f} {y:.5f} {z:.5f}\n" for k, (x, y, z) in enumerate(rng.random((2000, 3))))
    for group in ("'P 1'", "'F m -3 m'"):
        cif = NACL_SYMMETRIC_CIF.replace("'F m -3 m'", group).replace("225", "1" if "P" in group else "225")
        cif = cif.replace("5.64", "150.0").split("Na1")[0] + sites
        cases.append(Case(f"cif_2000_sites_{group.strip(chr(39)).replace(' ', '')}", "cif", "file", cif.encode()))
    return cases


@functools.lru_cache(maxsize=1)
def _written_bases() -> list[tuple[str, str, object, bytes]]:
    """(name, format, atoms, bytes) of every base structure in every format (mutations copy the atoms)."""
    return [(name, fmt, atoms, write_bytes(atoms, fmt)) for name, atoms in _base_atoms() for fmt in FORMATS]


def corpus(n_cases: int, seed: int = 0, *, unmutated: bool = True) -> Iterator[Case]:
    """``n_cases`` deterministic fuzz cases: the special cases, the unmutated bases (unless ``unmutated`` is
    False), then mutations of the bases."""
    rng = np.random.default_rng(seed)
    written = _written_bases()
    count = 0
    for case in _special_cases():
        if count >= n_cases:
            return
        count += 1
        yield case
    for name, fmt, _, data in written if unmutated else []:
        if count >= n_cases:
            return
        count += 1
        yield Case(f"{name}.{fmt}", fmt, "file", data)
    small = [w for w in written if len(w[2]) <= 64]
    while count < n_cases:
        name, fmt, atoms, data = small[_pick(rng, len(small))] if rng.random() < 0.8 else \
            written[_pick(rng, len(written))]
        r = rng.random()
        label = ""
        if r < 0.3:
            mutated = _semantic(atoms, rng, fmt)
            if mutated is None:
                continue
            label, new = mutated
            try:
                with np.errstate(all="ignore"):
                    data = write_bytes(new, fmt)
            except Exception:
                continue
            if rng.random() < 0.3 and fmt != "traj":
                label2, data = _textual(data, rng, fmt)
                label += "+" + label2
        else:
            for _ in range(1 if r < 0.8 else int(rng.integers(2, 5))):
                lab, data = _textual(data, rng, fmt)
                label += ("+" if label else "") + lab
        kind = "file"
        if fmt == "xyz" and rng.random() < 0.25:
            kind = "paste"
        count += 1
        yield Case(f"{count}:{name}.{fmt}:{label}", fmt, kind, data)


# --------------------------------------------------------------------------------------------- running a case


def _finite_structure(st: object) -> bool:
    arrays = [np.asarray(st.positions, dtype=float)]
    if st.cell is not None:
        arrays.append(np.asarray(st.cell, dtype=float))
    numbers = [v for v in st.info.values() if isinstance(v, float)]
    return all(bool(np.isfinite(a).all()) for a in arrays) and all(math.isfinite(v) for v in numbers) and \
        isinstance(st.charge, int | np.integer)


def _finite_json(obj: object) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite_json(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return all(_finite_json(v) for v in obj)
    return True


def run_case(case: Case, model: object | None = None, model_max_atoms: int = 64) -> dict:
    """Read one case (and predict its first frame with ``model`` when given and small); the outcome dict."""
    from lsip.errors import LSIPError
    from lsip.io import parse_xyz_text, read_structures

    t0 = time.perf_counter()
    out: dict = {"name": case.name[:200], "fmt": case.fmt, "kind": case.kind}
    try:
        if case.kind == "paste":
            structures = [parse_xyz_text(case.data.decode("latin-1"))]
        else:
            structures = read_structures(case.data, case.fmt)
        out["n_atoms"] = structures[0].n_atoms
        if not all(_finite_structure(s) for s in structures):
            out["outcome"] = "nonsense"
            out["detail"] = "non-finite structure field"
        else:
            out["outcome"] = "structure"
            if model is not None and structures[0].n_atoms <= model_max_atoms:
                from lsip.results import prediction_to_dict

                pred = model.predict(structures[0], raise_on_failure=False)
                d = prediction_to_dict(pred)
                out["predicted"] = True
                out["converged"] = bool(d["converged"])
                if d["converged"] and not _finite_json(d):
                    out["outcome"] = "nonsense"
                    out["detail"] = "converged prediction with non-finite numbers"
    except LSIPError as exc:
        out["outcome"] = "error"
        out["type"] = type(exc).__name__
        out["message"] = str(exc)[:300]
    except Exception as exc:  # the defect this harness counts
        out["outcome"] = "traceback"
        out["type"] = type(exc).__name__
        out["message"] = str(exc)[:300]
    out["time_s"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------- worker processes


def _worker(model_mode: bool, model_max_atoms: int) -> None:
    """Read cases (JSON lines on stdin), answer outcomes (JSON lines on stdout)."""
    import lsip

    model = None
    if model_mode:
        import torch

        torch.set_num_threads(1)
        from lsip.model.model import LSIPModel

        model = LSIPModel(device="cpu")
    print(json.dumps({"ready": True, "lsip": str(Path(lsip.__file__).parent)}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        case = Case(msg["name"], msg["fmt"], msg["kind"], base64.b64decode(msg["data"]))
        print(json.dumps(run_case(case, model, model_max_atoms)), flush=True)


class _Worker:
    def __init__(self, args: argparse.Namespace) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="0")
        if args.lsip_root:
            env["PYTHONPATH"] = str(Path(args.lsip_root).resolve()) + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--model-max-atoms",
               str(args.model_max_atoms)] + ([] if args.no_model else ["--model"])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True, text=True)
        ready = json.loads(self._readline(300.0) or "{}")
        if not ready.get("ready"):
            raise RuntimeError("fuzz worker did not start")
        self.lsip = ready["lsip"]

    def _readline(self, timeout: float) -> str | None:
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if r else None

    def run(self, case: Case, timeout: float) -> dict:
        msg = {"name": case.name, "fmt": case.fmt, "kind": case.kind, "data": base64.b64encode(case.data).decode()}
        t0 = time.perf_counter()
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self._readline(timeout)
        except (BrokenPipeError, OSError):
            line = ""
        base = {"name": case.name[:200], "fmt": case.fmt, "kind": case.kind}
        if line is None:
            self.kill()
            return {**base, "outcome": "hang", "time_s": time.perf_counter() - t0}
        if not line:
            rc = self.proc.wait()
            return {**base, "outcome": "crash", "detail": f"worker exit code {rc}"
                    + (f" ({signal.Signals(-rc).name})" if rc < 0 else ""), "time_s": time.perf_counter() - t0}
        return json.loads(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None


def run_corpus(args: argparse.Namespace) -> dict:
    """Every case of the corpus through ``args.workers`` workers; the summary and the notable cases."""
    cases = list(corpus(args.cases, args.seed))
    todo: queue.Queue = queue.Queue()
    for k, c in enumerate(cases):
        todo.put((k, c))
    results: list[dict | None] = [None] * len(cases)
    roots: set[str] = set()
    done = [0]
    lock = threading.Lock()
    t_start = time.perf_counter()

    def loop() -> None:
        worker = _Worker(args)
        roots.add(worker.lsip)
        while True:
            try:
                k, case = todo.get_nowait()
            except queue.Empty:
                break
            if not worker.alive():
                worker = _Worker(args)
            res = worker.run(case, args.timeout)
            if res["outcome"] in ("hang", "crash"):
                worker = _Worker(args)
            results[k] = res
            with lock:
                done[0] += 1
                if done[0] % 500 == 0:
                    print(f"  {done[0]}/{len(cases)} cases, {time.perf_counter() - t_start:.0f} s", flush=True)
        worker.kill()

    threads = [threading.Thread(target=loop) for _ in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = [r for r in results if r is not None]
    counts = Counter(r["outcome"] for r in rows)
    by_format = {f: dict(Counter(r["outcome"] for r in rows if r["fmt"] == f)) for f in FORMATS}
    times = np.array([r["time_s"] for r in rows])
    notable = [r for r in rows if r["outcome"] in ("traceback", "crash", "hang", "nonsense")]
    tb_types = Counter(f"{r.get('type', r['outcome'])}: {r.get('message', r.get('detail', ''))[:80]}"
                       for r in notable)
    return {
        "label": args.label,
        "lsip_package": sorted(roots),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cases": len(rows),
        "seed": args.seed,
        "timeout_s": args.timeout,
        "model_max_atoms": None if args.no_model else args.model_max_atoms,
        "counts": {k: counts.get(k, 0) for k in ("structure", "error", "traceback", "crash", "hang", "nonsense")},
        "predicted": sum(1 for r in rows if r.get("predicted")),
        "by_format": by_format,
        "time_s": {"total": time.perf_counter() - t_start, "median_case": float(np.median(times)),
                   "p99_case": float(np.percentile(times, 99)), "max_case": float(times.max())},
        "slowest": sorted(({"name": r["name"], "outcome": r["outcome"], "time_s": r["time_s"]} for r in rows),
                          key=lambda r: -r["time_s"])[:10],
        "defect_kinds": dict(tb_types.most_common(40)),
        "defects": notable[:300],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=11_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--workers", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    ap.add_argument("--lsip-root", default=None, help="directory holding another copy of the lsip package")
    ap.add_argument("--label", default="after")
    ap.add_argument("--no-model", action="store_true", help="read only; do not predict accepted structures")
    ap.add_argument("--model", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model-max-atoms", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "results" / "fuzz_inputs.json"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.model, args.model_max_atoms)
        return
    summary = run_corpus(args)
    print(json.dumps({k: summary[k] for k in ("label", "lsip_package", "cases", "counts", "time_s")}, indent=1))
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.setdefault("runs", {})[args.label] = summary
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(previous, indent=1))


if __name__ == "__main__":
    main()
