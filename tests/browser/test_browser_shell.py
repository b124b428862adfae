"""The app shell in a real browser: the home page loads offline and its 3Dmol view really draws water."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def test_vendored_3dmol_is_served(app_server):
    """/app/static/3Dmol-min.js is byte for byte the vendored 3Dmol.js 2.5.5 (static/ -> assets/vendor/)."""
    import urllib.request

    vendor = Path(__file__).resolve().parents[2] / "assets" / "vendor"
    with urllib.request.urlopen(f"{app_server}/app/static/3Dmol-min.js", timeout=10) as resp:
        body = resp.read()
        content_type = resp.headers["Content-Type"]
    assert "javascript" in content_type  # served as script (nosniff would block text/plain)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256((vendor / "3Dmol-min.js").read_bytes()).hexdigest()
    assert "3dmol v2.5.5" in (vendor / "3Dmol-min.js.LICENSE.txt").read_text()
    assert "BSD-3-Clause" in (vendor / "LICENSE").read_text()


def test_home_draws_water_offline(app_page):
    """The demo molecule is drawn (non-background pixels, red oxygen) and nothing is fetched from outside."""
    app_page.open()
    assert app_page.page.get_by_role("heading", name="LSIP Explorer").count() == 1
    stats = app_page.wait_for_molecule(min_drawn=2000)
    app_page.screenshot("browser-home")
    # water at 360 px: O and two H as balls and sticks cover several thousand pixels; O is Jmol red (#ff0d0d)
    assert stats["drawn"] >= 2000, stats
    assert stats["red"] >= 200, stats
    assert stats["drawn"] < 0.9 * stats["total"], stats  # not a uniformly filled canvas either
    assert any(url.endswith("/app/static/3Dmol-min.js") for url in app_page.requests)
    assert app_page.external_requests() == []
    assert app_page.page_errors == []


def test_hover_shows_an_atom_label(app_page):
    """Hovering the oxygen draws 3Dmol's dark hover label ("O0") over the canvas."""
    app_page.open()
    stats = app_page.wait_for_molecule(min_drawn=2000)
    assert stats["red_center"] is not None, stats
    before = stats["dark"]
    app_page.hover(stats, stats["red_center"])
    deadline = app_page.page.evaluate("Date.now()") + 10_000
    after = before
    while after < before + 100 and app_page.page.evaluate("Date.now()") < deadline:
        app_page.page.wait_for_timeout(200)
        after = app_page.stats_of(stats)["dark"]
    app_page.screenshot("browser-home-hover")
    assert after >= before + 100, (before, after)


def test_home_has_its_own_address(app_page):
    """Issue 14.11: /Home opens the Home page (no "Page not found" dialog), like "/" does."""
    app_page.open("Home")
    assert app_page.page.get_by_role("heading", name="LSIP Explorer").count() == 1
    assert app_page.page.get_by_text("Page not found").count() == 0
    assert app_page.page_errors == []
