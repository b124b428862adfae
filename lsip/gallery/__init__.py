"""The curated structure gallery shipped in ``assets/gallery`` (index.json + one extended XYZ file per entry).

The geometries are experimental bond lengths, G2/S22 reference geometries, RDKit/MMFF94 conformers or simple
constructions (``scripts/make_gallery.py`` says which, per entry); none is DFT-relaxed. Positions in angstrom.

>>> st = gallery_structure("nacl")
>>> st.formula, st.charge, round(float(abs(st.positions[1, 0] - st.positions[0, 0])), 3)
('ClNa', 0, 2.361)
>>> load_gallery()["hydroxide"].charge
-1
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lsip import paths
from lsip.errors import StructureError
from lsip.io import read_structure
from lsip.structure import Structure

#: Folder holding ``index.json`` and the structure files.
GALLERY_DIR: Path = paths.GALLERY_DIR
#: Categories in display order.
CATEGORIES: tuple[str, ...] = ("teaching", "molecules", "complexes", "larger")


@dataclass(frozen=True)
class GalleryEntry:
    """One gallery structure as listed in ``index.json``.

    Attributes
    ----------
    key : identifier (also the file stem and the ``Structure.name``).
    title, description : for menus and captions.
    category : one of :data:`CATEGORIES`.
    file : file name inside :data:`GALLERY_DIR` (extended XYZ).
    formula, n_atoms : Hill formula and atom count.
    charge : total charge, e. spin : 2S (0 for every closed-shell entry).
    story : a teaching paragraph (what to look at), or None.
    scan_bond : suggested (I, J) atom pair (0-based) for a bond / fragment scan (J's fragment moves), or None.
    source : where the geometry comes from.
    """

    key: str
    title: str
    category: str
    file: str
    formula: str
    n_atoms: int
    charge: int
    spin: int
    description: str
    story: str | None
    scan_bond: tuple[int, int] | None
    source: str

    @property
    def path(self) -> Path:
        """Absolute path of the structure file."""
        return GALLERY_DIR / self.file


@lru_cache(maxsize=1)
def _index() -> dict[str, GalleryEntry]:
    path = GALLERY_DIR / "index.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StructureError(f"cannot read the gallery index {path}: {exc}") from None
    entries = {}
    for item in raw["entries"]:
        scan = tuple(int(i) for i in item["scan_bond"]) if item.get("scan_bond") else None
        entries[item["key"]] = GalleryEntry(
            key=item["key"], title=item["title"], category=item["category"], file=item["file"],
            formula=item["formula"], n_atoms=int(item["n_atoms"]), charge=int(item["charge"]),
            spin=int(item.get("spin", 0)), description=item["description"], story=item.get("story"),
            scan_bond=scan, source=item["source"])
    return entries


def load_gallery() -> dict[str, GalleryEntry]:
    """All gallery entries by key, in index order (teaching first). The index is read once and cached."""
    return dict(_index())


def gallery_entries(category: str | None = None) -> list[GalleryEntry]:
    """Entries of one category (or all), in index order."""
    if category is not None and category not in CATEGORIES:
        raise StructureError(f"unknown gallery category {category!r}; choose from {', '.join(CATEGORIES)}")
    return [e for e in _index().values() if category is None or e.category == category]


def gallery_story(key: str | None) -> str | None:
    """The teaching story of gallery entry ``key`` (None for no entry, an unknown key or no story)."""
    if not key:
        return None
    try:
        entry = load_gallery().get(key)
    except StructureError:
        return None
    return entry.story if entry is not None else None


def gallery_title(key: str | None) -> str | None:
    """Title of gallery entry ``key``, or None."""
    try:
        entry = load_gallery().get(key or "")
    except StructureError:
        return None
    return entry.title if entry is not None else None


@lru_cache(maxsize=64)
def _structure(key: str) -> Structure:
    entries = _index()
    if key not in entries:
        raise StructureError(f"unknown gallery structure {key!r}; choose from {', '.join(entries)}")
    entry = entries[key]
    return read_structure(entry.path, "extxyz", charge=entry.charge, spin=entry.spin, name=key)


def gallery_structure(key: str) -> Structure:
    """The structure of gallery entry ``key`` (a fresh copy; positions in angstrom, charge from the index)."""
    st = _structure(key)
    return st.with_positions(st.positions.copy())
