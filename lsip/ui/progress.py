"""Long work on screen: what is running, for how long, and how far (issue 14.3).

Two tools for the pages:

* :func:`spinner` - a spinner that names the work and counts the elapsed seconds; it appears only after half a
  second, so cached results show no flicker. For work whose amount is unknown (one charge equalization).
* :func:`stored` / :func:`store` - the same store for pages that draw their own live progress.
* :func:`cached_with_progress` - work that reports ``progress(k, n)`` (a scan's points) drawn as a bar with its
  count and elapsed time, its result kept in a process-wide store shared by all sessions (the results are never
  modified after they are made). ``st.cache_data`` cannot serve here: a progress bar made outside a cached
  function cannot be updated from inside it (Streamlit replays a cached function's elements and refuses those of
  outside blocks).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")


@contextmanager
def spinner(what: str) -> Iterator[None]:
    """``with spinner("Running the model on 648 atoms")``: a spinner with the elapsed time."""
    with st.spinner(f"{what} ...", show_time=True):
        yield


class _Store:
    """A small thread-safe LRU of finished results."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _store(name: str, max_entries: int) -> _Store:
    return _Store(max_entries)


def stored(name: str, key: str, max_entries: int = 32) -> Any | None:
    """The result kept under ``key`` in the process-wide store ``name`` (None when there is none): for pages that
    draw their own live progress (the Optimize page's per-step lines) and keep the result with :func:`store`."""
    return _store(name, max_entries).get(key)


def store(name: str, key: str, value: Any, max_entries: int = 32) -> None:
    """Keep ``value`` (never modified afterwards) under ``key`` in the store ``name`` for every session."""
    _store(name, max_entries).put(key, value)


def progress_text(what: str, k: int, n: int, elapsed: float) -> str:
    """The bar's caption: ``Scan: point 3 of 30 (2 s)``."""
    return f"{what}: {k} of {n} ({elapsed:.0f} s)"


def cached_with_progress(name: str, key: str, compute: Callable[[Callable[[int, int], None]], T], what: str,
                         *, max_entries: int = 32) -> T:
    """The stored result under ``key`` in store ``name``, or ``compute(progress)`` with a live bar.

    ``compute`` receives ``progress(k, n)`` to call after step k of n; the bar leaves when the work is done. An
    exception propagates (nothing is stored), so the page's own error handling still applies.
    """
    hit = stored(name, key, max_entries)
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
    store(name, key, value, max_entries)
    return value
