"""A persistent SQLite cache of reference results: scalars as JSON, arrays as raw bytes (never pickle).

Location: ``$LSIP_CACHE_DIR/reference.sqlite`` if that variable is set, else
``platformdirs.user_cache_dir("lsip")/reference.sqlite``; any path can be given instead.

Schema (``schema_version`` 1)::

    results(key TEXT PRIMARY KEY, created REAL, scalars TEXT)          -- scalars: a JSON object
    arrays(key TEXT, name TEXT, dtype TEXT, shape TEXT, data BLOB)     -- PRIMARY KEY (key, name)
    timings(method TEXT, xc TEXT, n_basis INTEGER, threads INTEGER, seconds REAL, created REAL)

``timings`` holds measured wall times of computed (not cached) runs, per method and basis-function count
(:meth:`ReferenceCache.record_timing`); the scan-time estimate is fitted to them
(:mod:`lsip.reference.timing`). The table was added without a schema-version change: ``CREATE TABLE IF NOT
EXISTS`` adds it to older files, which read and write as before.

An array is restored with ``np.frombuffer(data, dtype).reshape(shape)`` (dtype restricted to numeric and bool).

Safety: the database runs in WAL mode, so readers never block the writer and see only committed entries;
each entry is written in one ``BEGIN IMMEDIATE`` transaction, so a writer killed mid-way leaves no partial
entry. Each operation opens its own short-lived connection (safe across threads and processes; a busy
database is waited on for up to ``timeout`` seconds). A file that is not a valid SQLite database (corrupt,
truncated) is moved aside to ``<name>.corrupt-<time>`` with a warning and a fresh cache is created; an entry
whose arrays do not decode is deleted and treated as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lsip.errors import LSIPError
from lsip.model.library import LatentLibrary

SCHEMA_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, created REAL NOT NULL, scalars TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS arrays (key TEXT NOT NULL, name TEXT NOT NULL, dtype TEXT NOT NULL, "
    "shape TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (key, name))",
    "CREATE TABLE IF NOT EXISTS timings (method TEXT NOT NULL, xc TEXT NOT NULL, n_basis INTEGER NOT NULL, "
    "threads INTEGER NOT NULL, seconds REAL NOT NULL, created REAL NOT NULL)",
)
#: Measurements kept per (method, xc, n_basis, threads); older ones are dropped.
TIMINGS_KEPT = 50
_ALLOWED_KINDS = "biuf"  # bool, int, unsigned, float


def default_cache_path() -> Path:
    """``$LSIP_CACHE_DIR/reference.sqlite`` or the per-user cache directory's ``lsip/reference.sqlite``."""
    root = os.environ.get("LSIP_CACHE_DIR")
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("lsip", appauthor=False)
    return Path(root) / "reference.sqlite"


def cache_key(inputs: dict) -> str:
    """SHA-256 hex digest of the canonical JSON of ``inputs`` (sorted keys, compact separators)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


_FINGERPRINTS: dict[tuple[int, tuple[str, ...]], str] = {}


def library_fingerprint(library: LatentLibrary, symbols: tuple[str, ...]) -> str:
    """Digest of the library's level and the radial densities of ``symbols`` (part of the cache key).

    The transitions of the polarization channel (docs/model.md section 11), the valence s-p dipoles (11.1) and the
    core densities (section 10.10) do not enter a reference result (the density encoder projects onto the state
    densities only), so they are left out: adding them keeps the cache."""
    elements = tuple(sorted(set(symbols)))
    fp_key = (id(library), elements)
    if fp_key not in _FINGERPRINTS:
        h = hashlib.sha256(json.dumps({k: str(v) for k, v in library.level.items()
                                       if k not in ("diagnostics", "transitions", "cores", "sp_dipoles")},
                                      sort_keys=True).encode())
        h.update(np.ascontiguousarray(library.r_grid).tobytes())
        for s in elements:
            if s in library.elements:
                for st in library.elements[s].states.values():
                    h.update(np.ascontiguousarray(st.radial_density).tobytes())
        _FINGERPRINTS[fp_key] = h.hexdigest()[:16]
    return _FINGERPRINTS[fp_key]


def _encode(arr: np.ndarray) -> tuple[str, str, bytes]:
    a = np.asarray(arr)
    a = a if a.flags.c_contiguous else a.copy(order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if a.dtype.kind not in _ALLOWED_KINDS:
        raise LSIPError(f"cannot cache an array of dtype {a.dtype} (numeric arrays only)")
    return a.dtype.str, json.dumps(list(a.shape)), a.tobytes()


def _decode(dtype: str, shape: str, data: bytes) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind not in _ALLOWED_KINDS:
        raise ValueError(f"dtype {dtype} not allowed")
    return np.frombuffer(data, dtype=dt).reshape(tuple(json.loads(shape))).copy()


def resolve_cache(cache: object) -> ReferenceCache | None:
    """The cache a caller means: None or True -> the default cache file, a :class:`ReferenceCache` -> itself,
    anything else (False) -> no cache (the driver's convention)."""
    if cache is None or cache is True:
        return ReferenceCache()
    return cache if isinstance(cache, ReferenceCache) else None


class ReferenceCache:
    """Key -> (scalars, arrays) store in one SQLite file (see the module docstring).

    Parameters
    ----------
    path : database file; default :func:`default_cache_path`.
    timeout : seconds to wait for a lock held by another writer.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.timeout = float(timeout)
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self._initialise()
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            yield con
        finally:
            con.close()

    def _initialise(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LSIPError(f"cannot create the cache directory {self.path.parent}: {exc}") from exc
        for attempt in (0, 1):
            try:
                con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
                try:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.execute("PRAGMA synchronous=NORMAL")
                    for stmt in _SCHEMA:
                        con.execute(stmt)
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    version = con.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()[0]
                finally:
                    con.close()
                if version != str(SCHEMA_VERSION):
                    raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
                self._ready = True
                return
            except sqlite3.OperationalError as exc:  # locked, no permission, ...: not a damaged file
                raise LSIPError(f"reference cache {self.path} is unusable: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                if attempt:
                    raise LSIPError(f"reference cache {self.path} is unusable: {exc}") from exc
                self._quarantine(exc)

    def _quarantine(self, exc: Exception) -> None:
        """Move a damaged database (and its WAL/SHM side files) aside and start afresh."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        warnings.warn(f"reference cache {self.path} is damaged ({exc}); moved to {aside.name}, starting a new one",
                      RuntimeWarning, stacklevel=3)
        if self.path.exists():
            self.path.replace(aside)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.unlink()
        self._ready = False

    def _guard(self, func: Callable[..., Any], *args: object) -> Any:
        """Run ``func(con, *args)``; on a damaged database quarantine it and retry once."""
        try:
            with self._connect() as con:
                return func(con, *args)
        except sqlite3.OperationalError as exc:
            raise LSIPError(f"reference cache {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            self._quarantine(exc)
            with self._connect() as con:
                return func(con, *args)

    def get(self, key: str) -> tuple[dict, dict[str, np.ndarray]] | None:
        """The entry of ``key`` as (scalars, arrays), or None when absent or undecodable."""
        return self._guard(self._get, key)

    def _get(self, con: sqlite3.Connection, key: str) -> tuple[dict, dict[str, np.ndarray]] | None:
        con.execute("BEGIN")
        try:
            row = con.execute("SELECT scalars FROM results WHERE key=?", (key,)).fetchone()
            rows = con.execute("SELECT name, dtype, shape, data FROM arrays WHERE key=?", (key,)).fetchall()
        finally:
            con.execute("COMMIT")
        if row is None:
            return None
        try:
            scalars = json.loads(row[0])
            arrays = {name: _decode(dt, shape, data) for name, dt, shape, data in rows}
        except (ValueError, TypeError) as exc:
            warnings.warn(f"dropping undecodable cache entry {key[:12]}: {exc}", RuntimeWarning, stacklevel=4)
            self._delete(con, key)
            return None
        return scalars, arrays

    def put(self, key: str, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
        """Store (replace) an entry atomically."""
        encoded = [(name, *_encode(a)) for name, a in arrays.items()]
        text = json.dumps(scalars, sort_keys=True, allow_nan=True)
        self._guard(self._put, key, text, encoded)

    @staticmethod
    def _put(con: sqlite3.Connection, key: str, text: str, encoded: list) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("DELETE FROM arrays WHERE key=?", (key,))
            con.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, time.time(), text))
            con.executemany("INSERT INTO arrays VALUES (?, ?, ?, ?, ?)", [(key, *e) for e in encoded])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @staticmethod
    def _delete(con: sqlite3.Connection, key: str) -> None:
        con.execute("BEGIN IMMEDIATE")
        con.execute("DELETE FROM arrays WHERE key=?", (key,))
        con.execute("DELETE FROM results WHERE key=?", (key,))
        con.execute("COMMIT")

    def delete(self, key: str) -> None:
        """Remove one entry (no error when absent)."""
        self._guard(self._delete, key)

    def __contains__(self, key: str) -> bool:
        return bool(self._guard(lambda con: con.execute("SELECT 1 FROM results WHERE key=?", (key,)).fetchone()))

    def __len__(self) -> int:
        return int(self._guard(lambda con: con.execute("SELECT COUNT(*) FROM results").fetchone()[0]))

    def keys(self) -> list[str]:
        """All keys, oldest first."""
        return [r[0] for r in self._guard(lambda con: con.execute(
            "SELECT key FROM results ORDER BY created").fetchall())]

    def record_timing(self, method: str, n_basis: int, seconds: float, *, xc: str = "", threads: int = 1) -> None:
        """Store one measured wall time (s) of ``method`` on ``n_basis`` functions (keeps the last
        :data:`TIMINGS_KEPT` per method, functional, size and thread count)."""
        if not np.isfinite(seconds) or seconds < 0:
            return
        row = (method, xc.lower(), int(n_basis), int(threads), float(seconds), time.time())

        def _record(con: sqlite3.Connection) -> None:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO timings VALUES (?, ?, ?, ?, ?, ?)", row)
            con.execute("DELETE FROM timings WHERE rowid IN (SELECT rowid FROM timings WHERE method=? AND xc=? "
                        "AND n_basis=? AND threads=? ORDER BY created DESC LIMIT -1 OFFSET ?)",
                        (*row[:4], TIMINGS_KEPT))
            con.execute("COMMIT")

        self._guard(_record)

    def timings(self, method: str, *, xc: str | None = None, threads: int | None = None) -> list[tuple[int, float]]:
        """Measured (n_basis, seconds) of ``method``, oldest first; optionally of one functional / thread count."""
        sql, args = "SELECT n_basis, seconds FROM timings WHERE method=?", [method]
        if xc is not None:
            sql, args = sql + " AND xc=?", [*args, xc.lower()]
        if threads is not None:
            sql, args = sql + " AND threads=?", [*args, int(threads)]
        rows = self._guard(lambda con: con.execute(sql + " ORDER BY created", args).fetchall())
        return [(int(n), float(t)) for n, t in rows]

    def clear(self) -> int:
        """Delete every entry and timing record and compact the file; return how many entries were removed."""
        def _clear(con: sqlite3.Connection) -> int:
            con.execute("BEGIN IMMEDIATE")
            n = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            con.execute("DELETE FROM arrays")
            con.execute("DELETE FROM results")
            con.execute("DELETE FROM timings")
            con.execute("COMMIT")
            con.execute("VACUUM")
            return int(n)

        return int(self._guard(_clear))
