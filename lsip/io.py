"""Structure input and output with an explicit format whitelist.

The caller always names the format (:data:`FORMATS`); nothing is guessed from a file's content or name, and
nothing is ever unpickled. Uploaded bytes are written under a server-chosen name into a fresh temporary folder
before a reader sees them (ASE's VASP reader opens sibling files such as POTCAR). Plain XYZ (files and pasted
text) is parsed here, with line numbers in every message; the other formats go through ASE with an explicit
``format=``. ``traj`` is only ASE's ulm-based trajectory format: its magic bytes are checked before ASE opens the
file, so a legacy pickle trajectory is refused without being read.

Total charge: the caller's value, else file metadata (extxyz info or XYZ comment ``charge=`` / ``total_charge=``),
else 0. Spin (2S, unpaired electrons) likewise from ``spin=`` or ``multiplicity=`` (2S + 1), else unspecified.
Every file is checked for size (:data:`DEFAULT_MAX_BYTES`), atom count (:data:`DEFAULT_MAX_ATOMS`), frame count
and atoms closer than :data:`MIN_DISTANCE` angstrom. Positions are in angstrom (the :class:`Structure` boundary).

>>> st = parse_xyz_text("2\\ncharge=0\\nH 0 0 0\\nH 0.741 0 0")
>>> st.formula, st.charge
('H2', 0)
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers as _ASE_NUMBERS

from lsip.errors import StructureError, UnsupportedFormatError
from lsip.structure import ATOMIC_NUMBERS, SYMBOLS_BY_NUMBER, Structure

#: Default atom limit per frame (a 100,000-atom frame is ~6 MB of XYZ text).
DEFAULT_MAX_ATOMS: int = 100_000
#: Default file size limit in bytes (20 MiB, the app's upload limit in .streamlit/config.toml).
DEFAULT_MAX_BYTES: int = 20 * 1024 * 1024
#: Default limit on the number of frames in one file.
DEFAULT_MAX_FRAMES: int = 10_000
#: Atoms closer than this (angstrom) are refused as overlapping (also catches coordinates given in bohr or nm).
MIN_DISTANCE: float = 0.5

Source = str | os.PathLike | bytes | bytearray | BinaryIO
_ULM_MAGIC = b"- of Ulm"
_TRAJ_TAG = b"ASE-Trajectory"
_CONTROL_BYTES = bytes([*(b for b in range(32) if b not in b"\t\n\r\f"), *range(127, 160)])


@dataclass(frozen=True)
class FormatInfo:
    """A whitelisted structure format: the ASE reader name, what to tell users, extensions the UI suggests."""

    name: str
    label: str
    description: str
    extensions: tuple[str, ...]
    ase_format: str
    multi_frame: bool
    binary: bool = False


FORMATS: dict[str, FormatInfo] = {f.name: f for f in (
    FormatInfo("xyz", "XYZ", "XYZ (plain; 'charge=N' on the comment line is honoured)", (".xyz",), "xyz", True),
    FormatInfo("extxyz", "extended XYZ", "extended XYZ (ASE / chemiscope key=value header)", (".extxyz", ".xyz"),
               "extxyz", True),
    FormatInfo("cif", "CIF", "Crystallographic Information File", (".cif",), "cif", True),
    FormatInfo("pdb", "PDB", "Protein Data Bank", (".pdb", ".ent"), "proteindatabank", True),
    FormatInfo("poscar", "POSCAR", "VASP POSCAR / CONTCAR (VASP 5, with element symbols)", (".vasp", ".poscar"),
               "vasp", False),
    FormatInfo("traj", "ASE trajectory", "ASE trajectory (ulm format only; pickle trajectories are refused)",
               (".traj",), "traj", True, binary=True),
)}
#: The explicit file-name table of :func:`format_from_extension` (plain .xyz goes to the extxyz reader, which
#: reads plain XYZ too and keeps a Lattice/pbc header when there is one).
EXTENSION_FORMATS: dict[str, str] = {".xyz": "extxyz", ".extxyz": "extxyz", ".cif": "cif", ".pdb": "pdb",
                                     ".ent": "pdb", ".vasp": "poscar", ".poscar": "poscar", ".traj": "traj"}
_FILE_NAMES = {"xyz": "upload.xyz", "extxyz": "upload.extxyz", "cif": "upload.cif", "pdb": "upload.pdb",
               "poscar": "POSCAR", "traj": "upload.traj"}


def format_from_extension(path: str | os.PathLike) -> str:
    """Map a file name to a whitelisted format name (a convenience for callers such as the CLI).

    Only the name is looked at, through :data:`EXTENSION_FORMATS` (``.xyz`` -> ``extxyz``, names starting
    ``POSCAR``/``CONTCAR`` -> ``poscar``); the reader still receives the format explicitly. Raises
    :class:`UnsupportedFormatError` for anything else.
    """
    p = Path(path)
    if p.name.upper().startswith(("POSCAR", "CONTCAR")):
        return "poscar"
    if p.suffix.lower() in EXTENSION_FORMATS:
        return EXTENSION_FORMATS[p.suffix.lower()]
    raise UnsupportedFormatError(
        f"cannot tell the format of {p.name!r} from its extension; name one of: {', '.join(FORMATS)}")


def _format(fmt: str) -> FormatInfo:
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise UnsupportedFormatError(f"unsupported format {fmt!r}; supported: {', '.join(FORMATS)}")
    return FORMATS[fmt.lower()]


def read_structures(source: Source, fmt: str, *, charge: int | None = None, spin: int | None = None,
                    name: str | None = None, max_atoms: int = DEFAULT_MAX_ATOMS, max_bytes: int = DEFAULT_MAX_BYTES,
                    max_frames: int = DEFAULT_MAX_FRAMES, min_distance: float = MIN_DISTANCE) -> list[Structure]:
    """Read every frame of a structure file in the named format.

    Parameters
    ----------
    source : a path (str or PathLike, never file content), raw bytes (an upload), or a binary file object.
    fmt : one of :data:`FORMATS` (``xyz``, ``extxyz``, ``cif``, ``pdb``, ``poscar``, ``traj``).
    charge, spin : total charge (e) and 2S; override file metadata for every frame.
    name : label for the structures (default: file metadata ``name``, else the file's stem).
    max_atoms, max_bytes, max_frames : size limits; min_distance : overlap threshold, angstrom.

    Returns
    -------
    list of :class:`Structure` (positions in angstrom), one per frame. Raises :class:`UnsupportedFormatError`
    for ``fmt`` outside the whitelist, :class:`StructureError` for empty, oversized, malformed or binary files,
    unknown elements, impossible charge/spin and overlapping atoms.
    """
    spec = _format(fmt)
    data, label = _load_bytes(source, max_bytes)
    if spec.binary:
        _check_ulm(data)
    text = "" if spec.binary else _decode_text(data)
    if spec.name == "xyz":
        frames = _parse_xyz(text, max_atoms=max_atoms, max_frames=max_frames)
    else:
        frames = _read_with_ase(text.encode() if text else data, spec, max_atoms=max_atoms, max_frames=max_frames)
    many = len(frames) > 1
    return [_finish(atoms, f"frame {k + 1}: " if many else "", charge=charge, spin=spin, name=name, fallback=label,
                    max_atoms=max_atoms, min_distance=min_distance) for k, atoms in enumerate(frames)]


def read_structure(source: Source, fmt: str, **kwargs: object) -> Structure:
    """The first (or only) frame of :func:`read_structures` (same arguments)."""
    return read_structures(source, fmt, **kwargs)[0]


def parse_xyz_text(text: str, charge: int | None = None, *, spin: int | None = None, name: str = "pasted",
                   max_atoms: int = DEFAULT_MAX_ATOMS, min_distance: float = MIN_DISTANCE) -> Structure:
    """A structure from pasted XYZ text: a full XYZ block, or bare ``symbol x y z`` lines (angstrom).

    Only the first frame is used. ``charge=N`` on the comment line is honoured unless ``charge`` is given.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > DEFAULT_MAX_BYTES:
        raise StructureError(f"pasted XYZ must be non-empty text under {DEFAULT_MAX_BYTES // 2**20} MiB")
    lines = text.splitlines()
    first = next(line for line in lines if line.strip()).split()
    if first[0].lstrip("+").isdigit() and len(first) < 4:
        atoms = _parse_xyz(text, max_atoms=max_atoms, max_frames=1, first_only=True)[0]
    else:  # bare coordinate block, no count or comment line
        atoms = _parse_atom_block(lines, 0, len(lines), comment="", max_atoms=max_atoms, skip_blank=True)
    return _finish(atoms, "", charge=charge, spin=spin, name=name, fallback="", max_atoms=max_atoms,
                   min_distance=min_distance)


def structure_from_ase(atoms: Atoms, charge: int | None = None, spin: int | None = None,
                       name: str | None = None) -> Structure:
    """Convert ASE ``Atoms`` (angstrom) to a :class:`Structure`, with no geometry checks.

    Charge and spin come from the arguments, else ``atoms.info`` (``charge``/``total_charge``,
    ``spin``/``multiplicity``); the charge else from the rounded sum of ``atoms.get_initial_charges()``, else 0.
    """
    meta_q, meta_s = _charge_spin(atoms.info, "")
    if meta_q is None and "initial_charges" in atoms.arrays:
        meta_q = round(float(np.sum(atoms.get_initial_charges())))
    cell, pbc = None, tuple(bool(p) for p in atoms.pbc)
    if atoms.cell.rank == 3:
        cell = np.array(atoms.cell.array, dtype=np.float64)
    elif any(pbc):
        raise StructureError(f"periodic directions {pbc} need a full 3D cell, got rank {atoms.cell.rank}")
    return Structure(tuple(atoms.get_chemical_symbols()), np.array(atoms.positions, dtype=np.float64),
                     charge=int(charge if charge is not None else (meta_q or 0)),
                     spin=spin if spin is not None else meta_s, cell=cell, pbc=pbc,
                     name=name or str(atoms.info.get("name", "")), info=_clean_info(atoms.info))


def structure_to_ase(structure: Structure) -> Atoms:
    """Convert a :class:`Structure` to ASE ``Atoms``; charge, spin and name go to ``atoms.info``."""
    atoms = Atoms(symbols=list(structure.symbols), positions=structure.positions,
                  cell=structure.cell if structure.cell is not None else np.zeros((3, 3)), pbc=structure.pbc)
    atoms.info.update(_clean_info(structure.info))
    atoms.info["charge"] = int(structure.charge)
    if structure.spin is not None:
        atoms.info["spin"] = int(structure.spin)
    if structure.name:
        atoms.info["name"] = structure.name
    return atoms


def check_structure(structure: Structure, *, max_atoms: int = DEFAULT_MAX_ATOMS,
                    min_distance: float = MIN_DISTANCE) -> None:
    """Raise :class:`StructureError` for too many atoms, impossible charge/spin, or atoms closer than
    ``min_distance`` angstrom (minimum image for periodic structures), naming the closest pair."""
    if structure.n_atoms == 0:
        raise StructureError("the structure has no atoms")
    if structure.n_atoms > max_atoms:
        raise StructureError(f"{structure.n_atoms} atoms is more than the limit of {max_atoms}")
    n_el = structure.n_electrons
    if n_el < 0:
        raise StructureError(f"total charge {structure.charge:+d} leaves {n_el} electrons")
    if structure.spin is not None and (structure.spin < 0 or structure.spin > n_el or (n_el - structure.spin) % 2):
        raise StructureError(f"spin 2S = {structure.spin} is impossible with {n_el} electrons")
    i, j, d = _close_pairs(structure, min_distance)
    if len(d):
        k = int(np.argmin(d))
        a, b = int(i[k]), int(j[k])
        pair = (f"atom {a + 1} ({structure.symbols[a]}) is only {d[k]:.3f} angstrom from its own periodic image"
                if a == b else f"atoms {a + 1} ({structure.symbols[a]}) and {b + 1} ({structure.symbols[b]}) are "
                f"only {d[k]:.3f} angstrom apart")
        raise StructureError(f"{pair} (minimum {min_distance} angstrom; {len(d)} pair(s) too close, counting atoms "
                             "from 1): overlapping or duplicated atoms, or coordinates not in angstrom?")


def write_extxyz(structure: Structure, target: str | os.PathLike | IO[str],
                 per_atom_arrays: dict[str, np.ndarray] | None = None, info: dict | None = None) -> None:
    """Write one frame of extended XYZ (appends a frame when ``target`` is an open text stream).

    Parameters
    ----------
    structure : the structure (angstrom); charge, spin and name go into the header.
    target : a path or a text stream.
    per_atom_arrays : name -> (n,) or (n, k) numeric array (e.g. charges in e, per-atom energies in eV,
        state weights). ASE conventions apply: ``charges`` is written as the column ``charge``, and ASE readers
        return calculator-property arrays (charges, energies, forces) in ``atoms.calc.results``.
    info : extra header entries (numbers, strings, booleans, small arrays).
    """
    atoms = structure_to_ase(structure)
    n = structure.n_atoms
    for key, value in (per_atom_arrays or {}).items():
        arr = np.asarray(value)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or key in ("species", "pos", "positions", "numbers"):
            raise StructureError(f"invalid per-atom array name {key!r}")
        if arr.ndim not in (1, 2) or arr.shape[0] != n or not np.issubdtype(arr.dtype, np.number):
            raise StructureError(f"per-atom array {key!r} must be numeric with shape ({n},) or ({n}, k), "
                                 f"got {arr.dtype} {arr.shape}")
        atoms.arrays[key] = arr.astype(np.float64 if arr.dtype.kind in "fc" else np.int64)
    atoms.info.update(info or {})
    from ase.io import write  # local: keeps `import lsip.io` light

    write(target, atoms, format="extxyz")


def extxyz_text(structure: Structure, per_atom_arrays: dict[str, np.ndarray] | None = None,
                info: dict | None = None) -> str:
    """:func:`write_extxyz` into a string (for download buttons)."""
    buf = io.StringIO()
    write_extxyz(structure, buf, per_atom_arrays, info)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------- helpers


def _load_bytes(source: Source, max_bytes: int) -> tuple[bytes, str]:
    """The raw content (at most ``max_bytes``) and a label (file stem, or "")."""
    label = ""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif hasattr(source, "read"):  # a file object; BytesIO and Streamlit's UploadedFile whatever their position
        data = source.getvalue() if hasattr(source, "getvalue") else source.read(max_bytes + 1)
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        label = Path(str(getattr(source, "name", "") or "")).stem
    elif isinstance(source, str | os.PathLike):
        if isinstance(source, str) and "\n" in source:
            raise StructureError("a str source is a file path; pass file content as bytes, or use parse_xyz_text")
        path = Path(source)
        if not path.is_file():
            raise StructureError(f"no such file: {path}")
        size = path.stat().st_size
        if size > max_bytes:
            raise StructureError(f"{path.name} is {_size(size)}, more than the limit of {_size(max_bytes)}")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
        label = path.stem
    else:
        raise StructureError(f"cannot read a structure from a {type(source).__name__}")
    if len(data) > max_bytes:
        raise StructureError(f"the file is larger than the limit of {_size(max_bytes)}")
    if not data.strip():
        raise StructureError("the file is empty")
    return data, label


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes:,} bytes"


def _decode_text(data: bytes) -> str:
    """Text of a text-format file; binary garbage is refused."""
    if b"\x00" in data:
        raise StructureError("the file contains binary data (NUL bytes), not text in the chosen format")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > 0.01 * len(data):
        raise StructureError("the file looks like binary data, not text in the chosen format")
    return data.decode("latin-1")


def _check_ulm(data: bytes) -> None:
    """Accept only ASE's ulm trajectory container; never let a pickle reach ASE."""
    if data[:16] == b"PickleTrajectory" or data[:1] == b"\x80":
        raise StructureError("this is a legacy pickle trajectory; LSIP never unpickles uploaded files. Convert it "
                             "in a trusted environment (ase convert old.traj new.traj) or upload extended XYZ")
    if data[:8] != _ULM_MAGIC:
        raise StructureError("not an ASE trajectory: the file does not start with the ulm magic '- of Ulm'")
    if data[8:24].rstrip(b" ") != _TRAJ_TAG:
        raise StructureError("this ulm file is not an ASE trajectory (tag is not 'ASE-Trajectory')")


def _read_with_ase(data: bytes, spec: FormatInfo, *, max_atoms: int, max_frames: int) -> list[Atoms]:
    """Frames read by ASE's reader for ``spec`` from a server-named file in a fresh temporary folder."""
    from ase.io import iread

    frames: list[Atoms] = []
    line = 1  # first line of the next extxyz frame
    with tempfile.TemporaryDirectory(prefix="lsip-upload-") as tmp:
        path = Path(tmp) / _FILE_NAMES[spec.name]
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for atoms in iread(str(path), index=":", format=spec.ase_format):
                    frames.append(atoms)
                    line += len(atoms) + 2
                    if len(atoms) > max_atoms:
                        raise StructureError(f"frame {len(frames)} has {len(atoms)} atoms, more than the limit "
                                             f"of {max_atoms}")
                    if len(frames) > max_frames:
                        raise StructureError(f"the file has more than {max_frames} frames")
        except StructureError:
            raise
        except Exception as exc:  # ASE raises anything from ValueError to IndexError on bad input
            where = f" (frame {len(frames) + 1})" if frames else ""
            if spec.name == "extxyz":
                where = f" (frame {len(frames) + 1}, which starts on line {line})"
            msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            hint = "; POSCAR needs the element-symbol line (VASP 5)" if spec.name == "poscar" else ""
            raise StructureError(f"not a valid {spec.label} file{where}: {msg}{hint}") from None
    if not frames or not all(len(atoms) for atoms in frames):
        raise StructureError(f"no atoms found in this {spec.label} file")
    return frames


def _parse_xyz(text: str, *, max_atoms: int, max_frames: int, first_only: bool = False) -> list[Atoms]:
    """Frames of a plain XYZ text: count line, comment line, ``symbol x y z [ignored columns]`` lines."""
    lines = text.splitlines()
    frames: list[Atoms] = []
    k = 0
    while not (first_only and frames):
        while k < len(lines) and not lines[k].strip():
            k += 1
        if k >= len(lines):
            break
        if len(frames) >= max_frames:
            raise StructureError(f"line {k + 1}: the file has more than {max_frames} frames")
        tokens = lines[k].split()
        if not tokens[0].lstrip("+").isdigit():
            raise StructureError(f"line {k + 1}: expected the number of atoms of frame {len(frames) + 1}, "
                                 f"got {lines[k].strip()[:60]!r}")
        n = int(tokens[0])
        if n == 0:
            raise StructureError(f"line {k + 1}: frame {len(frames) + 1} declares 0 atoms")
        if n > max_atoms:
            raise StructureError(f"line {k + 1}: {n} atoms is more than the limit of {max_atoms}")
        if k + 2 + n > len(lines):
            raise StructureError(f"frame {len(frames) + 1} declares {n} atoms on line {k + 1} but the file ends "
                                 f"after {max(0, len(lines) - k - 2)} atom line(s)")
        frames.append(_parse_atom_block(lines, k + 2, k + 2 + n, comment=lines[k + 1], max_atoms=max_atoms))
        k += 2 + n
    if not frames:
        raise StructureError("the file is empty")
    return frames


_META = re.compile(r"(?<![\w])(charge|total_charge|spin|multiplicity)\s*[=:]\s*([+-]?\d+(?:\.\d*)?)",
                   re.IGNORECASE)


def _parse_atom_block(lines: list[str], start: int, stop: int, *, comment: str, max_atoms: int,
                      skip_blank: bool = False) -> Atoms:
    symbols, coords = [], []
    for k in range(start, stop):
        parts = lines[k].split()
        if not parts and skip_blank:
            continue
        if len(parts) < 4:
            raise StructureError(f"line {k + 1}: expected 'symbol x y z', got {lines[k].strip()[:60]!r}")
        symbols.append(_symbol(parts[0], f"line {k + 1}: "))
        try:
            coords.append([float(p) for p in parts[1:4]])
        except ValueError:
            raise StructureError(f"line {k + 1}: coordinates are not numbers: {' '.join(parts[1:4])[:60]!r}") \
                from None
        if len(symbols) > max_atoms:
            raise StructureError(f"more than the limit of {max_atoms} atoms")
    if not symbols:
        raise StructureError("no atoms found")
    atoms = Atoms(symbols=symbols, positions=np.array(coords, dtype=np.float64))
    atoms.info.update({m.group(1).lower(): m.group(2) for m in _META.finditer(comment)})
    if comment.strip():
        atoms.info["comment"] = comment.strip()[:500]
    return atoms


def _symbol(token: str, where: str) -> str:
    """A canonical element symbol from a symbol (any case) or an atomic number."""
    if token.isdigit():
        sym = SYMBOLS_BY_NUMBER.get(int(token))
        if sym is None:
            raise StructureError(f"{where}atomic number {token} is outside the elements LSIP knows (1-36)")
        return sym
    sym = token[:1].upper() + token[1:].lower()
    if sym in ATOMIC_NUMBERS:
        return sym
    if sym in _ASE_NUMBERS and sym != "X":
        raise StructureError(f"{where}element {sym} (Z = {_ASE_NUMBERS[sym]}) is beyond krypton; LSIP knows H-Kr")
    raise StructureError(f"{where}unknown element symbol {token[:20]!r}")


def _charge_spin(info: dict, where: str) -> tuple[int | None, int | None]:
    """(charge, 2S) from metadata keys, or None where absent."""
    lower = {str(k).lower(): v for k, v in info.items()}
    charge = next((_integer(lower[k], k, where) for k in ("charge", "total_charge") if k in lower), None)
    spin = _integer(lower["spin"], "spin", where) if "spin" in lower else None
    if spin is None and "multiplicity" in lower:
        mult = _integer(lower["multiplicity"], "multiplicity", where)
        if mult is not None:
            if mult < 1:
                raise StructureError(f"{where}multiplicity must be >= 1, got {mult}")
            spin = mult - 1
    return charge, spin


def _integer(value: object, key: str, where: str) -> int | None:
    if value is None or isinstance(value, bool | np.bool_):  # a bare word "charge" in a free-text comment
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StructureError(f"{where}{key} = {str(value)[:40]!r} is not a number") from None
    if not number.is_integer():
        raise StructureError(f"{where}{key} = {number} must be an integer")
    return int(number)


def _clean_info(info: dict) -> dict:
    """JSON-serialisable scalars of ASE metadata (at most 32 entries, strings cut to 500 characters)."""
    out: dict = {}
    for key, value in info.items():
        if len(out) >= 32:
            break
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool | int | float):
            out[str(key)] = value
        elif isinstance(value, str):
            out[str(key)] = value[:500]
    return out


def _finish(atoms: Atoms, where: str, *, charge: int | None, spin: int | None, name: str | None, fallback: str,
            max_atoms: int, min_distance: float) -> Structure:
    """Atoms -> checked Structure, with messages prefixed by ``where`` (e.g. 'frame 3: ')."""
    for sym in sorted(set(atoms.get_chemical_symbols())):
        _symbol(sym, where)
    try:
        st = structure_from_ase(atoms, charge=charge, spin=spin, name=name or str(atoms.info.get("name") or fallback))
        check_structure(st, max_atoms=max_atoms, min_distance=min_distance)
    except StructureError as exc:
        raise StructureError(f"{where}{exc}") from None
    return st


def _close_pairs(structure: Structure, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, d) for atom pairs (or an atom and its periodic image) closer than ``cutoff`` angstrom."""
    if structure.cell is not None and any(structure.pbc):
        from ase.neighborlist import neighbor_list

        i, j, d = neighbor_list("ijd", structure_to_ase(structure), cutoff, self_interaction=False)
        keep = i <= j
        return i[keep], j[keep], d[keep]
    from scipy.spatial import cKDTree

    pairs = cKDTree(structure.positions).query_pairs(cutoff, output_type="ndarray")
    d = np.linalg.norm(structure.positions[pairs[:, 0]] - structure.positions[pairs[:, 1]], axis=1)
    return pairs[:, 0], pairs[:, 1], d
