"""lsip.reference.cache: the SQLite store of reference results (no pickle, WAL, atomic entries, damage recovery)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from lsip.errors import LSIPError
from lsip.reference.cache import ReferenceCache, cache_key, default_cache_path

ROOT = Path(__file__).resolve().parents[2]


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "dm": rng.normal(size=(5, 5)),
        "dm_uks": rng.normal(size=(2, 3, 3)).astype(np.float32),
        "transposed": np.arange(12.0).reshape(3, 4).T,  # not C-contiguous
        "ints": np.array([1, -2, 3], dtype=np.int64),
        "flags": np.array([True, False]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 4)),
    }


def test_round_trip_is_exact_and_survives_restart(tmp_path):
    path = tmp_path / "deep" / "dir" / "ref.sqlite"  # missing directories are created
    cache = ReferenceCache(path)
    arrays = _arrays()
    cache.put("k1", {"energy": -1.5, "symbols": ["H", "H"], "gap": None}, arrays)
    again = ReferenceCache(path).get("k1")  # a new instance, as after a restart
    assert again is not None
    scalars, got = again
    assert scalars == {"energy": -1.5, "symbols": ["H", "H"], "gap": None}
    assert set(got) == set(arrays)
    for name, a in arrays.items():
        assert got[name].dtype == a.dtype and got[name].shape == a.shape
        np.testing.assert_array_equal(got[name], a)
    assert got["dm"].flags.writeable  # a copy, not a view of the database buffer
    assert "k1" in cache and "other" not in cache and len(cache) == 1
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_replace_delete_clear(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    cache.put("a", {"v": 1}, {"x": np.ones(3)})
    cache.put("a", {"v": 2}, {"y": np.zeros(2)})  # replacing drops the old arrays
    scalars, arrays = cache.get("a")
    assert scalars["v"] == 2 and set(arrays) == {"y"}
    cache.put("b", {}, {})
    assert cache.keys() == ["a", "b"]
    cache.delete("a")
    assert cache.get("a") is None and len(cache) == 1
    assert cache.clear() == 1 and len(cache) == 0
    cache.put("c", {}, {"z": np.ones(1)})
    assert cache.get("c") is not None


def test_pickle_free(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    with pytest.raises(LSIPError, match="numeric"):
        cache.put("obj", {}, {"o": np.array([{"a": 1}], dtype=object)})
    cache.put("ok", {}, {"x": np.ones(2)})
    with sqlite3.connect(tmp_path / "c.sqlite") as con:  # an entry tampered into an object dtype is refused
        con.execute("UPDATE arrays SET dtype='|O' WHERE key='ok'")
    with pytest.warns(RuntimeWarning, match="undecodable"):
        assert cache.get("ok") is None
    assert "ok" not in cache


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_file_is_moved_aside(tmp_path, damage):
    path = tmp_path / "c.sqlite"
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        cache = ReferenceCache(path)
        for i in range(30):
            cache.put(f"k{i}", {"i": i}, {"x": np.random.default_rng(i).normal(size=500)})
        with sqlite3.connect(path) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\xff" * 4000 + data[4100:len(data) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = ReferenceCache(path)
        assert cache.get("k3") is None
        cache.put("new", {"ok": True}, {"x": np.ones(2)})
        assert cache.get("new")[0] == {"ok": True}
    assert any("damaged" in str(w.message) for w in caught)
    assert list(tmp_path.glob("c.sqlite.corrupt-*"))


_KILLED_WRITER = """
import os, sys
import numpy as np
from lsip.reference.cache import ReferenceCache

cache = ReferenceCache(sys.argv[1])
cache.put("good", {"n": 1}, {"x": np.arange(4.0)})

class DieBeforeCommit:
    def __init__(self, con):
        self.con = con
    def execute(self, sql, *args):
        if sql == "COMMIT":
            os.kill(os.getpid(), 9)
        return self.con.execute(sql, *args)
    def executemany(self, sql, rows):
        return self.con.executemany(sql, rows)

with cache._connect() as con:
    cache._put(DieBeforeCommit(con), "partial", "{}", [("x", "<f8", "[1000000]", bytes(8_000_000))])
"""


def test_killed_writer_leaves_no_partial_entry(tmp_path):
    path = tmp_path / "c.sqlite"
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], cwd=ROOT, capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    cache = ReferenceCache(path)
    assert cache.get("partial") is None
    assert cache.keys() == ["good"]
    np.testing.assert_array_equal(cache.get("good")[1]["x"], np.arange(4.0))
    cache.put("after", {}, {"y": np.ones(3)})
    assert len(cache) == 2


def test_concurrent_readers_and_writer(tmp_path):
    cache = ReferenceCache(tmp_path / "c.sqlite")
    cache.put("seed", {"i": -1}, {"x": np.zeros(10)})
    errors, seen = [], []

    def writer():
        try:
            for i in range(25):
                ReferenceCache(tmp_path / "c.sqlite").put(f"k{i}", {"i": i}, {"x": np.full(2000, float(i))})
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    def reader():
        try:
            for _ in range(60):
                keys = ReferenceCache(tmp_path / "c.sqlite").keys()
                for key in keys:
                    hit = cache.get(key)
                    if hit is not None:  # a committed entry is always complete
                        assert hit[1]["x"].shape in ((10,), (2000,))
                        seen.append(key)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(cache) == 26 and seen


def test_key_and_default_path(isolated_cache, monkeypatch):
    assert cache_key({"a": 1, "b": [1.0, 2.0]}) == cache_key({"b": [1.0, 2.0], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    assert default_cache_path() == isolated_cache / "reference.sqlite"
    monkeypatch.delenv("LSIP_CACHE_DIR")
    assert default_cache_path().name == "reference.sqlite" and "lsip" in str(default_cache_path())
