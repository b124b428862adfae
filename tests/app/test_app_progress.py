"""lsip.ui.progress (issue 14.3): long work shows what runs and how far, and its result is kept across runs and
sessions; a failure stores nothing. The Scan page draws its model points through it."""

from __future__ import annotations

import textwrap

import pytest
from apptest_pages import open_app_page
from streamlit.testing.v1 import AppTest

from lsip.ui import progress

SCRIPT = textwrap.dedent("""
    import streamlit as st
    from lsip.ui import progress

    calls = st.session_state.setdefault("calls", [])
    seen = st.session_state.setdefault("seen", [])

    def work(report):
        calls.append(1)
        for k in range(1, 5):
            report(k, 4)
            seen.append(k)
        if st.session_state.get("fail"):
            raise ValueError("boom")
        return {"value": 42}

    try:
        out = progress.cached_with_progress("test-store-" + st.session_state.get("store", "a"), "key-1", work,
                                            "Toy work")
        st.write(f"value {out['value']}")
    except ValueError as exc:
        st.write(f"failed {exc}")
""")


def run(store: str, fail: bool = False) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    at.session_state["store"] = store
    at.session_state["fail"] = fail
    return at.run()


def test_work_runs_once_reports_every_step_and_leaves_no_bar():
    at = run("once")
    assert not at.exception
    assert [m.value for m in at.markdown] == ["value 42"]
    assert at.session_state["seen"] == [1, 2, 3, 4]
    assert not at.get("progress")  # the bar leaves when the work is done
    at.run()  # a rerun in the same session: from the store, no new work
    assert at.session_state["calls"] == [1]
    other = run("once")  # another session: the store is process-wide
    assert other.session_state["calls"] == [] and [m.value for m in other.markdown] == ["value 42"]


def test_a_failure_propagates_and_stores_nothing():
    at = run("fails", fail=True)
    assert [m.value for m in at.markdown] == ["failed boom"]
    assert not at.get("progress")
    again = run("fails", fail=False)
    assert again.session_state["calls"] == [1] and [m.value for m in again.markdown] == ["value 42"]


def test_progress_text_counts_and_times():
    assert progress.progress_text("Model scan", 3, 30, 2.4) == "Model scan: 3 of 30 (2 s)"


@pytest.mark.usefixtures("isolated_cache")
def test_scan_page_keeps_its_model_curve_for_a_second_visit(monkeypatch):
    from lsip.scan import curves as scan_curves

    at = open_app_page("app_pages/5_Scan.py", "h2", timeout=180, lsip_scan_points=6)
    assert not at.exception
    # the same scan again: served from the store, the model is not run again
    def refuse(*args, **kwargs):
        raise AssertionError("the scan was recomputed")

    monkeypatch.setattr(scan_curves, "model_scan", refuse)
    again = open_app_page("app_pages/5_Scan.py", "h2", timeout=180, lsip_scan_points=6)
    assert not again.exception
