"""Structure input and output with an explicit format whitelist.

The caller always names the format (:data:`FORMATS`); nothing is guessed from a file's content or name, and
nothing is ever unpickled. Uploaded bytes are written under a server-chosen name into a fresh temporary folder
before a reader sees them (ASE's VASP reader opens sibling files such as POTCAR). Plain XYZ (files and pasted
text) is parsed here, with line numbers in every message; the other formats go through ASE with an explicit
``format=``. ``traj`` is only ASE's ulm-based trajectory format: its magic bytes are checked before ASE opens the
file, so a legacy pickle trajectory is refused without being read.

Total charge: the caller's value, else file metadata (extxyz info or XYZ comment ``charge=`` / ``total_charge=``),
else 0. Spin (2S, unpaired electrons) likewise from ``spin=`` or ``multiplicity=`` (2S + 1), else unspecified.
Every file is checked for size (:data:`DEFAULT_MAX_BYTES`; pasted text :data:`MAX_PASTE_BYTES`), atom count
(:data:`DEFAULT_MAX_ATOMS`), frame count and atoms closer than :data:`MIN_DISTANCE` angstrom; the geometry (extent,
coordinates, cell) by :func:`lsip.structure.validate_geometry`. Counts a file claims (XYZ count lines, POSCAR
atom counts, CIF sites times symmetry operations) are checked *before* a reader acts on them, so every read takes
time bounded by the size limits; the limits, their messages and measured worst-case times are in docs/limits.md.
Positions are in angstrom (the :class:`Structure` boundary).

>>> st = parse_xyz_text("2\\ncharge=0\\nH 0 0 0\\nH 0.741 0 0")
>>> st.formula, st.charge
('H2', 0)
"""

from __future__ import annotations

import io
import math
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
from ase.data import chemical_symbols as _ASE_SYMBOLS

from lsip.errors import StructureError, UnsupportedFormatError
from lsip.structure import (
    ATOMIC_NUMBERS,
    MAX_CELL_LENGTH,
    MIN_CELL_ANGLE,
    MIN_CELL_WIDTH,
    SYMBOLS_BY_NUMBER,
    Structure,
)

#: Default atom limit per frame: what the model solves in reasonable time and memory (20,001 atoms in 16 s and
#: 2.5 GB in docs/benchmarks.md); docs/limits.md.
DEFAULT_MAX_ATOMS: int = 25_000
#: Default file size limit in bytes (20 MiB, the app's upload limit in .streamlit/config.toml).
DEFAULT_MAX_BYTES: int = 20 * 1024 * 1024
#: Size limit of pasted XYZ text (:func:`parse_xyz_text`), bytes as UTF-8: 2 MiB holds ~40,000 atom lines.
MAX_PASTE_BYTES: int = 2 * 1024 * 1024
#: Default limit on the number of frames in one file.
DEFAULT_MAX_FRAMES: int = 10_000
#: Atoms closer than this (angstrom) are refused as overlapping (also catches coordinates given in bohr or nm).
MIN_DISTANCE: float = 0.5
#: CIF blocks whose space group has more than the identity are expanded by ASE in time quadratic in the sites:
#: at most this many sites per block ...
MAX_CIF_SYMMETRY_SITES: int = 300
#: ... and at most this many candidate positions (sites x symmetry operations) in all blocks of a file.
MAX_CIF_SYMMETRY_CANDIDATES: int = 25_000
#: Most columns an extended XYZ ``Properties=`` header may declare (ASE builds one converter per column first).
MAX_EXTXYZ_COLUMNS: int = 1_000
#: Most periodic images per axis the close-contact check looks at (min_distance up to 3 cell widths).
_MAX_IMAGE_RANGE: int = 3

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
    frames, label = read_frames(source, fmt, max_atoms=max_atoms, max_bytes=max_bytes, max_frames=max_frames)
    many = len(frames) > 1
    return [checked_structure(atoms, f"frame {k + 1}: " if many else "", charge=charge, spin=spin, name=name,
                              fallback=label, max_atoms=max_atoms, min_distance=min_distance)
            for k, atoms in enumerate(frames)]


def read_frames(source: Source, fmt: str, *, max_atoms: int = DEFAULT_MAX_ATOMS, max_bytes: int = DEFAULT_MAX_BYTES,
                max_frames: int = DEFAULT_MAX_FRAMES) -> tuple[list[Atoms], str]:
    """The frames of a structure file as ASE ``Atoms`` (with whatever properties the file carries) and a label
    (the file's stem, or ""), read with every safety check of :func:`read_structures` (format whitelist, size
    and count limits checked before ASE sees the text, no pickle) but not yet checked as structures: for readers
    of reference data (:mod:`lsip.workflows.evaluate`), followed by :func:`checked_structure` per frame."""
    spec = _format(fmt)
    data, label = _load_bytes(source, max_bytes)
    if spec.binary:
        _check_ulm(data)
    text = "" if spec.binary else _decode_text(data)
    if spec.name == "xyz":
        return _parse_xyz(text, max_atoms=max_atoms, max_frames=max_frames), label
    if spec.name == "extxyz":
        _prescan_extxyz(text, max_atoms=max_atoms, max_frames=max_frames)
    elif spec.name == "poscar":
        _prescan_poscar(text, max_atoms=max_atoms)
    return _read_with_ase(text.encode() if text else data, spec, max_atoms=max_atoms, max_frames=max_frames), label


def read_structure(source: Source, fmt: str, **kwargs: object) -> Structure:
    """The first (or only) frame of :func:`read_structures` (same arguments)."""
    return read_structures(source, fmt, **kwargs)[0]


def parse_xyz_text(text: str, charge: int | None = None, *, spin: int | None = None, name: str = "pasted",
                   max_atoms: int = DEFAULT_MAX_ATOMS, min_distance: float = MIN_DISTANCE) -> Structure:
    """A structure from pasted XYZ text: a full XYZ block, or bare ``symbol x y z`` lines (angstrom).

    Only the first frame is used. ``charge=N`` on the comment line is honoured unless ``charge`` is given.
    Text over :data:`MAX_PASTE_BYTES` (UTF-8) is refused before it is parsed (docs/limits.md).
    """
    if not isinstance(text, str) or not text.strip():
        raise StructureError("pasted XYZ must be non-empty text")
    if len(text) > MAX_PASTE_BYTES or len(text.encode("utf-8", "replace")) > MAX_PASTE_BYTES:
        raise StructureError(f"pasted XYZ is larger than the limit of {_size(MAX_PASTE_BYTES)}; upload it as a "
                             "file instead")
    lines = text.splitlines()
    first = next(line for line in lines if line.strip()).split()
    if first[0].lstrip("+").isdigit() and len(first) < 4:
        atoms = _parse_xyz(text, max_atoms=max_atoms, max_frames=1, first_only=True)[0]
    else:  # bare coordinate block, no count or comment line
        atoms = _parse_atom_block(lines, 0, len(lines), comment="", max_atoms=max_atoms, skip_blank=True)
    return checked_structure(atoms, "", charge=charge, spin=spin, name=name, fallback="", max_atoms=max_atoms,
                   min_distance=min_distance)


def structure_from_ase(atoms: Atoms, charge: int | None = None, spin: int | None = None,
                       name: str | None = None) -> Structure:
    """Convert ASE ``Atoms`` (angstrom) to a :class:`Structure`: the geometry checks every Structure gets
    (:func:`lsip.structure.validate_geometry`), no size or close-contact checks (:func:`check_structure`).

    Charge and spin come from the arguments, else ``atoms.info`` (``charge``/``total_charge``,
    ``spin``/``multiplicity``); the charge else from the rounded sum of ``atoms.get_initial_charges()``, else 0.
    """
    meta_q, meta_s = _charge_spin(atoms.info, "")
    if meta_q is None and "initial_charges" in atoms.arrays:
        total = float(np.sum(atoms.get_initial_charges()))
        if not math.isfinite(total) or abs(total) > 10 * max(1, len(atoms)):
            raise StructureError(f"the per-atom initial charges sum to {total:.3g}, not a total charge (NaN, "
                                 "infinite or impossibly large values in the charge column)")
        meta_q = round(total)
    cell, pbc = None, tuple(bool(p) for p in atoms.pbc)
    if atoms.cell.rank == 3:
        cell = np.array(atoms.cell.array, dtype=np.float64)
    elif any(pbc):
        raise StructureError(f"periodic directions {pbc} need a full 3D cell, got rank {atoms.cell.rank}")
    return Structure(_symbols_of(atoms, ""), np.array(atoms.positions, dtype=np.float64),
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
    ``min_distance`` angstrom (minimum image for periodic structures), naming the closest pair.

    The geometry itself (extent, cell) was checked when the :class:`Structure` was made; the close-contact search
    is O(n log n) in time and O(n) in memory whatever the input (docs/limits.md).
    """
    if structure.n_atoms == 0:
        raise StructureError("the structure has no atoms")
    if structure.n_atoms > max_atoms:
        raise StructureError(f"{structure.n_atoms} atoms is more than the limit of {max_atoms}")
    n_el = structure.n_electrons
    if n_el < 0:
        raise StructureError(f"total charge {structure.charge:+d} leaves {n_el} electrons")
    if n_el > 2 * (n_el + structure.charge):
        raise StructureError(f"total charge {structure.charge:+d} would more than double the "
                             f"{n_el + structure.charge} electrons of the neutral structure")
    if structure.spin is not None and (structure.spin < 0 or structure.spin > n_el or (n_el - structure.spin) % 2):
        raise StructureError(f"spin 2S = {structure.spin} is impossible with {n_el} electrons")
    close = _closest_contact(structure, min_distance)
    if close is not None:
        a, b, d, count = close
        pair = (f"atom {a + 1} ({structure.symbols[a]}) is only {d:.3f} angstrom from its own periodic image"
                if a == b else f"atoms {a + 1} ({structure.symbols[a]}) and {b + 1} ({structure.symbols[b]}) are "
                f"only {d:.3f} angstrom apart")
        raise StructureError(f"{pair} (minimum {min_distance} angstrom; {count} pair(s) too close, counting atoms "
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
                reader = _iread_cif(path, max_atoms) if spec.name == "cif" else \
                    iread(str(path), index=":", format=spec.ase_format)
                for atoms in reader:
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
        n = _count(tokens[0], max_atoms, f"line {k + 1}: ")
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
        raise StructureError(f"{where}element {sym} (Z = {_ASE_NUMBERS[sym]}) {BEYOND_KRYPTON}")
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
        if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
            out[str(key)] = value
        elif isinstance(value, str):
            out[str(key)] = value[:500]
    return out


def checked_structure(atoms: Atoms, where: str = "", *, charge: int | None = None, spin: int | None = None,
                      name: str | None = None, fallback: str = "", max_atoms: int = DEFAULT_MAX_ATOMS,
                      min_distance: float = MIN_DISTANCE) -> Structure:
    """ASE ``Atoms`` -> a checked :class:`Structure` (elements, size, charge and spin, close contacts), messages
    prefixed by ``where`` (e.g. 'frame 3: '); ``charge``/``spin`` override the file's metadata, ``name`` its
    name (``fallback`` when it has none)."""
    _symbols_of(atoms, where)
    try:
        st = structure_from_ase(atoms, charge=charge, spin=spin, name=name or str(atoms.info.get("name") or fallback))
        check_structure(st, max_atoms=max_atoms, min_distance=min_distance)
    except StructureError as exc:
        raise StructureError(f"{where}{exc}") from None
    return st


def _closest_contact(structure: Structure, cutoff: float) -> tuple[int, int, float, int] | None:
    """(i, j, d, count): the closest pair of atoms (i == j: an atom and its own periodic image) if it is closer
    than ``cutoff`` angstrom, with the number of such pairs; None when no pair is that close.

    Nearest-neighbour queries on a KD-tree (O(n log n) time, O(n) memory, whatever the input: 25,000 atoms on one
    point do not produce 3e8 pairs); periodic structures are wrapped into the cell and searched over the images
    within ``cutoff`` (one per side for cells at least ``cutoff`` wide, at most :data:`_MAX_IMAGE_RANGE`).
    """
    from scipy.spatial import cKDTree

    pos = structure.positions
    n = len(pos)
    shifts = np.zeros((1, 3))
    if structure.cell is not None and any(structure.pbc):
        cell = structure.cell
        periodic = np.array(structure.pbc)
        frac = np.linalg.solve(cell.T, pos.T).T
        frac[:, periodic] -= np.floor(frac[:, periodic])
        pos = frac @ cell
        widths = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        reach = np.where(periodic, np.ceil(cutoff / widths), 0).astype(int)
        if reach.max() > _MAX_IMAGE_RANGE:
            raise StructureError(f"min_distance {cutoff} angstrom is more than {_MAX_IMAGE_RANGE} times the cell "
                                 f"width {widths.min():.3g} angstrom")
        grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1).reshape(-1, 3)
        # half of the images: the pair (i, j + s) is the pair (j, i - s)
        first = np.argmax(grid != 0, axis=1)
        half = grid[np.take_along_axis(grid, first[:, None], 1)[:, 0] > 0]
        shifts = np.concatenate([shifts, half @ cell])
    tree = cKDTree(pos)
    best: tuple[float, int, int] | None = None
    count = 0
    for k, shift in enumerate(shifts):
        if k == 0:
            if n < 2:
                continue
            d, j = tree.query(pos, k=2, distance_upper_bound=cutoff)
            first_is_self = j[:, 0] == np.arange(n)  # not always: duplicated atoms tie at distance 0
            d = np.where(first_is_self, d[:, 1], d[:, 0])
            j = np.where(first_is_self, j[:, 1], j[:, 0])
        else:
            d, j = tree.query(pos + shift, k=1, distance_upper_bound=cutoff)
        hit = np.nonzero(d < cutoff)[0]
        if not len(hit):
            continue
        m = hit[int(np.argmin(d[hit]))]
        if best is None or d[m] < best[0]:
            best = (float(d[m]), int(min(m, j[m])), int(max(m, j[m])))
        other = cKDTree(pos + shift) if k else tree
        pairs = int(tree.count_neighbors(other, np.nextafter(cutoff, 0.0)))
        count += (pairs - n) // 2 if k == 0 else pairs
    if best is None:
        return None
    return best[1], best[2], best[0], count


def _count(token: str, max_atoms: int, where: str) -> int:
    """An atom count from a count line, refusing absurd ones before anything is allocated or looped over."""
    digits = token.strip().lstrip("+")
    if len(digits) > 12:
        raise StructureError(f"{where}a count of {len(digits)} digits is more than the limit of {max_atoms} atoms")
    n = int(digits)
    if n > max_atoms:
        raise StructureError(f"{where}{n} atoms is more than the limit of {max_atoms}")
    return n


_NEWLINES = re.compile(r"\r\n|\r|\n")


def _prescan_extxyz(text: str, *, max_atoms: int, max_frames: int) -> None:
    """Check every count line of an extended XYZ text before ASE reads it (ASE first skips ``n`` lines per frame,
    one ``readline`` each, so a count line claiming 5,000,000 atoms loops for seconds). Mirrors ASE's frame scan:
    frames end at the first blank count line; ``VEC`` lines follow a frame. Malformed count lines are left to
    ASE's own message."""
    lines = _NEWLINES.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    k = frames = 0
    while k < len(lines) and lines[k].strip():
        token = lines[k].strip()
        if len(token) <= 12:
            try:
                n = int(token)
            except ValueError:
                return
        elif token.lstrip("+-").isdigit():
            n = max_atoms + 1
        else:
            return
        where = f"line {k + 1}: frame {frames + 1} "
        if n < 0:
            raise StructureError(f"{where}declares {n} atoms")
        if n > max_atoms:
            raise StructureError(f"{where}declares {token[:20]}{'...' if len(token) > 20 else ''} atoms, more than "
                                 f"the limit of {max_atoms}")
        if k + 2 + n > len(lines):
            raise StructureError(f"frame {frames + 1} declares {n} atoms on line {k + 1} but the file ends after "
                                 f"{max(0, len(lines) - k - 2)} atom line(s)")
        _check_properties(lines[k + 1], f"line {k + 2}: ")
        frames += 1
        if frames > max_frames:
            raise StructureError(f"line {k + 1}: the file has more than {max_frames} frames")
        k += 2 + n
        while k < len(lines) and lines[k].lstrip().startswith("VEC"):
            k += 1


_PROPERTIES = re.compile(r"(?<![\w])properties\s*=\s*\"?([^\"\s]*)", re.IGNORECASE)


def _check_properties(comment: str, where: str) -> None:
    """Refuse a ``Properties=name:type:count:...`` header declaring more than :data:`MAX_EXTXYZ_COLUMNS` columns
    (``pos:R:5000000`` kept ASE busy for minutes before it read a line); malformed ones are left to ASE."""
    match = _PROPERTIES.search(comment)
    if not match:
        return
    total = 0
    for count in match.group(1).split(":")[2::3]:
        if not count.isdigit():
            return
        total += int(count) if len(count) <= 9 else MAX_EXTXYZ_COLUMNS + 1
        if total > MAX_EXTXYZ_COLUMNS:
            raise StructureError(f"{where}the Properties header declares more than {MAX_EXTXYZ_COLUMNS} columns "
                                 f"({match.group(1)[:60]!r})")


def _prescan_poscar(text: str, *, max_atoms: int) -> None:
    """Check the atom counts of a POSCAR before ASE builds a list of that many symbols."""
    lines = _NEWLINES.split(text)
    if len(lines) < 6:
        return
    counts = lines[5].split()
    if counts and not counts[0].lstrip("+-").isdigit() and len(lines) > 6:
        counts = lines[6].split()  # VASP 5: the element line comes first
    total = 0
    for token in counts:
        if "!" in token:
            break
        body = token[1:] if token[:1] in "+-" else token
        if not body.isdigit():
            return  # ASE reports the malformed line
        n = _count(body, max_atoms, "POSCAR atom counts: ")
        if token.startswith("-") and n:
            raise StructureError(f"POSCAR atom counts: negative count {token[:20]}")
        total += n
        if total > max_atoms:
            raise StructureError(f"POSCAR atom counts: {total} atoms is more than the limit of {max_atoms}")


def _iread_cif(path: Path, max_atoms: int) -> list[Atoms]:
    """ASE's CIF reading (``ase.io.cif``: same blocks, same defaults as ``iread(format="cif")``) with the cell and
    the cost of the symmetry expansion checked first.

    ASE expands the asymmetric unit in time quadratic in the sites (1,000 sites in P 1 take ~9 s), so: cell
    parameters are checked before anything is built (finite, lengths in [MIN_CELL_WIDTH, MAX_CELL_LENGTH], angles
    strictly inside (MIN_CELL_ANGLE, 180 - MIN_CELL_ANGLE)); a block whose only symmetry operation is the identity
    is taken as listed, wrapped into the cell (what ASE's expansion yields for distinct sites, in O(n log n)),
    except that coincident (disordered) sites in a block of at most :data:`MAX_CIF_SYMMETRY_SITES` sites are merged
    by ASE as before (in larger blocks they are refused as overlapping atoms); other blocks may have at most
    :data:`MAX_CIF_SYMMETRY_SITES` sites and all blocks together at most :data:`MAX_CIF_SYMMETRY_CANDIDATES`
    sites x operations.
    """
    from ase.io.cif import parse_cif

    frames: list[Atoms] = []
    candidates = 0
    for block in parse_cif(str(path)):
        if not block.has_structure():
            continue
        where = f"data block {block.name[:40]!r}: "
        cellpar = block.get_cellpar()
        if cellpar is not None:
            _check_cellpar(cellpar, where)
        n_sites = len(block.get_symbols())
        if n_sites > max_atoms:
            raise StructureError(f"{where}{n_sites} atom sites is more than the limit of {max_atoms}")
        if cellpar is None:
            frames.append(block.get_atoms())
            continue
        try:
            with np.errstate(all="ignore"):
                cell = block.get_cell().array
        except (AssertionError, ValueError, ArithmeticError):
            cell = np.full((3, 3), np.nan)
        if not (np.isfinite(cell).all() and abs(np.linalg.det(cell)) > 0):
            raise StructureError(f"{where}the cell parameters {[round(float(v), 6) for v in cellpar]} do not form "
                                 "a cell (the three angles are incompatible)")
        spacegroup = block.get_spacegroup(True)
        ops = spacegroup.get_symop()
        trivial = len(ops) == 1 and np.allclose(ops[0][0], np.eye(3)) and np.allclose(np.asarray(ops[0][1]) % 1, 0)
        atoms = block.get_unsymmetrized_structure() if trivial else None
        if atoms is not None:
            frac = atoms.get_scaled_positions(wrap=False) % 1.0
            if n_sites <= MAX_CIF_SYMMETRY_SITES and not (np.isfinite(frac).all() and _distinct_sites(frac)):
                atoms = None  # coincident (disordered) sites: ASE merges them by occupancy, below
        if atoms is not None:  # larger blocks with coincident sites are refused as overlapping atoms later
            atoms.set_scaled_positions(frac)
            atoms.pbc = True
            atoms.info["unit_cell"] = "conventional"
        else:
            candidates += n_sites * len(ops)
            if n_sites > MAX_CIF_SYMMETRY_SITES or candidates > MAX_CIF_SYMMETRY_CANDIDATES:
                raise StructureError(f"{where}{n_sites} atom sites with {len(ops)} symmetry operations is too "
                                     f"large to expand (at most {MAX_CIF_SYMMETRY_SITES} sites and "
                                     f"{MAX_CIF_SYMMETRY_CANDIDATES:,} sites x operations per file); write the "
                                     "structure out in P 1 or as extended XYZ")
            atoms = block.get_atoms()
        frames.append(atoms)
    return frames


def _distinct_sites(frac: np.ndarray, symprec: float = 1e-3) -> bool:
    """Whether no two fractional positions coincide within ``symprec`` per component, modulo 1 (the test of ASE's
    ``Spacegroup.equivalent_sites``), by a periodic KD-tree instead of ASE's O(n^2) loop."""
    from scipy.spatial import cKDTree

    tree = cKDTree(np.clip(frac, 0.0, np.nextafter(1.0, 0.0)), boxsize=1.0)
    return not len(tree.query_pairs(symprec, p=np.inf, output_type="ndarray"))


def _check_cellpar(cellpar: list, where: str) -> None:
    """CIF cell lengths and angles, before ASE builds a cell from them (docs/limits.md)."""
    try:
        values = [float(v) for v in cellpar]
    except (TypeError, ValueError):
        raise StructureError(f"{where}cell parameters {[str(v)[:20] for v in cellpar]} are not numbers") from None
    names = ("a", "b", "c", "alpha", "beta", "gamma")
    for name, value in zip(names[:3], values[:3]):
        if not MIN_CELL_WIDTH <= value <= MAX_CELL_LENGTH:
            raise StructureError(f"{where}cell length {name} = {value:.6g} angstrom is outside [{MIN_CELL_WIDTH}, "
                                 f"{MAX_CELL_LENGTH:.0e}] angstrom")
    for name, value in zip(names[3:], values[3:]):
        if not MIN_CELL_ANGLE < value < 180.0 - MIN_CELL_ANGLE:
            raise StructureError(f"{where}cell angle {name} = {value:.6g} deg is outside ({MIN_CELL_ANGLE:g}, "
                                 f"{180 - MIN_CELL_ANGLE:g}) deg")


#: The one wording of an element beyond the readable range; the model's own limit is its latent library
#: (:meth:`lsip.model.library.LatentLibrary.check_symbols`, same wording of what to do next).
BEYOND_KRYPTON = ("is beyond krypton: structure files may hold H to Kr, and the model computes the elements of its "
                  "latent library (`lsip library show`, the Latent library page)")


def _symbols_of(atoms: Atoms, where: str) -> tuple[str, ...]:
    """Element symbols of ASE atoms, refusing atomic numbers outside H-Kr (and outside the periodic table) with
    a StructureError instead of ASE's IndexError."""
    numbers = np.asarray(atoms.numbers)
    for z in sorted({int(z) for z in numbers}):
        if z not in SYMBOLS_BY_NUMBER:
            if 0 < z < len(_ASE_SYMBOLS) and _ASE_SYMBOLS[z] != "X":
                raise StructureError(f"{where}element {_ASE_SYMBOLS[z]} (Z = {z}) {BEYOND_KRYPTON}")
            raise StructureError(f"{where}atomic number {z} is not an element LSIP knows (1-36)")
    return tuple(SYMBOLS_BY_NUMBER[int(z)] for z in numbers)
