"""Helpers shared by the page AppTests: open a page of the real app (URL query + session state preset) and
pick the unknown elements (iframes, plotly charts) that AppTest exposes only through their protos."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_app_page(page: str, mol: str | None, timeout: float = 120, **session: object) -> AppTest:
    """Run ``app.py`` (with ``?mol=`` when given and ``session`` preset), switch to ``page``, assert no exception."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    if mol:
        at.query_params["mol"] = mol
    for k, v in session.items():
        at.session_state[k] = v
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_and_pick(page: str, molecule: str | None, timeout: float = 60) -> AppTest:
    """Run ``app.py`` on its defaults, switch to ``page`` and pick ``molecule`` in the sidebar's gallery (as a
    user does, not by URL); assert no exception."""
    from lsip.ui import state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout).run()
    at.switch_page(page).run()
    if molecule is not None and molecule != at.sidebar.selectbox(key=state.GALLERY_KEY).value:
        at.sidebar.selectbox(key=state.GALLERY_KEY).set_value(molecule).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def elements(at: AppTest, kind: str) -> list:
    """Protos of the main-area elements of ``kind`` (e.g. ``"iframe"``, ``"plotly_chart"``)."""
    return [el.proto for el in at.main if type(el).__name__ == "UnknownElement" and el.type == kind]
