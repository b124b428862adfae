"""Batch reference calculations: many structures, cached results skipped, local processes or a Dask cluster.

Each job runs :class:`~lsip.reference.driver.ReferenceDFT` without a cache in a worker and returns the result
as a (scalars, arrays) record; the calling process alone writes the cache, so workers need not share its
file system (Dask workers need ``lsip`` and its latent library installed). Jobs run in local processes
(``concurrent.futures`` with the ``spawn`` start method) by default, or on the Dask cluster whose scheduler
address is given (``distributed.Client(address)``). Local workers get ``OMP_NUM_THREADS`` = cores / workers
unless the variable is already set. A failed structure is reported and the batch goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from lsip.errors import LSIPError
from lsip.reference.cache import ReferenceCache
from lsip.structure import Structure


@dataclass(frozen=True)
class BatchItem:
    """Outcome of one structure: status ``"cached"``, ``"computed"`` or ``"failed"``."""

    index: int
    name: str
    formula: str
    status: str
    energy: float | None = None
    converged: bool | None = None
    time_s: float = 0.0
    error: str = ""


@dataclass
class BatchReport:
    """All outcomes, in input order once the batch is done."""

    items: list[BatchItem] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        """Number of items with ``status``."""
        return sum(1 for it in self.items if it.status == status)


def collect_structures(path: str | Path, reader: Callable[[Path], list[Structure]]) -> list[Structure]:
    """All structures of a file (every frame) or of every readable file in a directory (sorted by name).

    Parameters
    ----------
    path : file or directory.
    reader : reads one file into structures (e.g. ``lsip.io.read_structures`` with the format from the name).
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        out: list[Structure] = []
        for f in files:
            try:
                out.extend(reader(f))
            except LSIPError as exc:
                print(f"skipping {f.name}: {exc}", file=sys.stderr)
        if not out:
            raise LSIPError(f"no readable structure files in {p}")
        return out
    if p.is_file():
        return reader(p)
    raise LSIPError(f"no such file or directory: {p}")


def _init_worker(threads: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def compute_record(structure: Structure, settings: object) -> tuple[dict, dict]:
    """Worker job: one reference calculation, returned as a cache record (raises on failure)."""
    from lsip.reference.driver import ReferenceDFT

    res = ReferenceDFT(structure, settings, cache=False).kernel(raise_on_failure=True)
    return res.to_record()


def _label(st: Structure, i: int) -> str:
    return st.name or f"{st.formula}#{i}"


def _submit_all(structures: list[Structure], todo: list[int], settings: object, workers: int,
                scheduler: str | None) -> tuple[dict[object, int], Callable[[], None], Iterator]:
    """Submit the jobs; return futures -> index, a closer and an as-completed iterator."""
    if scheduler:
        try:
            from distributed import Client
            from distributed import as_completed as dask_completed
        except ImportError as exc:
            raise LSIPError("a Dask scheduler needs the 'distributed' package (pip install lsip[batch])") from exc
        client = Client(scheduler)
        futs = {client.submit(compute_record, structures[i], settings, pure=False): i for i in todo}
        return futs, client.close, dask_completed(list(futs))
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))
    futs = {pool.submit(compute_record, structures[i], settings): i for i in todo}
    return futs, lambda: pool.shutdown(wait=True, cancel_futures=True), as_completed(futs)


def run_batch(structures: list[Structure], settings: object | None = None, cache: ReferenceCache | None = None,
              *, workers: int = 1, scheduler: str | None = None, progress: bool = True) -> BatchReport:
    """Compute the reference results of ``structures``, skipping those already in ``cache``.

    Parameters
    ----------
    structures : the systems.
    settings : :class:`~lsip.reference.driver.ReferenceSettings` (default settings when None).
    cache : where results are looked up and stored (default cache file when None).
    workers : local worker processes (ignored with ``scheduler``).
    scheduler : Dask scheduler address such as ``tcp://host:8786``; None: local processes.
    progress : show a tqdm progress bar on stderr.

    Returns
    -------
    BatchReport
    """
    from tqdm import tqdm

    from lsip.reference.driver import ReferenceDFT, ReferenceResult, ReferenceSettings

    t0 = time.perf_counter()
    settings = settings or ReferenceSettings()
    cache = cache if cache is not None else ReferenceCache()
    items: dict[int, BatchItem] = {}
    keys, todo = {}, []
    for i, st in enumerate(structures):
        keys[i] = ReferenceDFT(st, settings, cache=False).key()
        hit = cache.get(keys[i])
        if hit is None:
            todo.append(i)
        else:
            items[i] = BatchItem(i, _label(st, i), st.formula, "cached", hit[0].get("energy"), True)
    if todo:
        futs, close, done = _submit_all(structures, todo, settings, max(1, workers), scheduler)
        bar = tqdm(total=len(todo), desc="reference DFT", unit="structure", file=sys.stderr, disable=not progress)
        try:
            for fut in done:
                i, st = futs[fut], structures[futs[fut]]
                items[i] = _finish(fut, i, st, keys[i], cache, ReferenceResult)
                bar.update(1)
        finally:
            bar.close()
            close()
    return BatchReport([items[i] for i in range(len(structures))], time.perf_counter() - t0)


def _finish(fut: Future, i: int, st: Structure, key: str, cache: ReferenceCache, result_cls: type) -> BatchItem:
    try:
        scalars, arrays = fut.result()
    except Exception as exc:  # any worker failure is reported per structure
        return BatchItem(i, _label(st, i), st.formula, "failed", error=f"{type(exc).__name__}: {exc}")
    res = result_cls.from_record(scalars, arrays)
    cache.put(key, scalars, arrays)
    return BatchItem(i, _label(st, i), st.formula, "computed", res.energy, res.converged, res.compute_time_s)
