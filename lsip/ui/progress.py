"""Long work on screen: what is running, for how long, and how far (issue 14.3).

Two tools for the pages:

* :func:`spinner` - a spinner that names the work and counts the elapsed seconds; it appears only after half a
  second, so cached results show no flicker. For work whose amount is unknown (one charge equalization).
* :func:`cached_with_progress` - work that reports ``progress(k, n)`` (a scan's points) drawn as a bar with its
  count and elapsed time, its result kept in the process-wide store of :mod:`lsip.ui.cache` (shared by all
  sessions; the results are never modified after they are made). ``st.cache_data`` cannot serve here: a
  progress bar made outside a cached function cannot be updated from inside it (Streamlit replays a cached
  function's elements and refuses those of outside blocks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st

from lsip.ui import cache

T = TypeVar("T")


@contextmanager
def spinner(what: str) -> Iterator[None]:
    """``with spinner("Running the model on 648 atoms")``: a spinner with the elapsed time."""
    with st.spinner(f"{what} ...", show_time=True):
        yield


def progress_text(what: str, k: int, n: int, elapsed: float) -> str:
    """The bar's caption: ``Scan: point 3 of 30 (2 s)``."""
    return f"{what}: {k} of {n} ({elapsed:.0f} s)"


def cached_with_progress(name: str, key: str, compute: Callable[[Callable[[int, int], None]], T], what: str,
                         *, max_entries: int = 32) -> T:
    """The stored result under ``key`` in store ``name``, or ``compute(progress)`` with a live bar.

    ``compute`` receives ``progress(k, n)`` to call after step k of n; the bar leaves when the work is done. An
    exception propagates (nothing is stored), so the page's own error handling still applies.
    """
    hit = cache.stored(name, key, max_entries)
    if hit is not None:
        return hit
    t0 = time.perf_counter()
    bar = st.progress(0.0, text=f"{what} ...")

    def report(k: int, n: int) -> None:
        bar.progress(min(max(k / max(n, 1), 0.0), 1.0), text=progress_text(what, k, n, time.perf_counter() - t0))

    try:
        value = compute(report)
    finally:
        bar.empty()
    cache.store(name, key, value, max_entries)
    return value
