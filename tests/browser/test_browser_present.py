"""The Present page and the animated scan in a real browser: the 3D views draw with their labels, Next moves to the
next slide, the scan's animation really plays (its caption and the marker on its curve change), no page errors,
nothing fetched from outside. Screenshots: test-artifacts/browser-present*.png, browser-scan-play.png."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def _exceptions(app_page) -> list[str]:
    return app_page.page.locator('[data-testid="stException"]').all_inner_texts()


def _next(app_page) -> None:
    app_page.page.get_by_role("button", name="Next").click()
    app_page.wait_idle(60)


def test_present_water_draws_a_labelled_molecule(app_page):
    app_page.page.set_viewport_size({"width": 1400, "height": 1250})  # a whole slide on the screenshot
    app_page.open("/Present?mol=water", timeout_s=120)
    assert app_page.page.locator("h1").first.inner_text().strip() == "Present"
    stats = app_page.wait_for_molecule(min_drawn=5000, timeout_s=60)
    assert stats["height"] >= 500 and stats["drawn"] < 0.95 * stats["total"], stats
    app_page.page.wait_for_timeout(500)
    app_page.screenshot("browser-present")
    assert _exceptions(app_page) == [], _exceptions(app_page)
    # the other slides: charge-transfer arrows and the dipole are 3D views too, the energy a waterfall
    for title, name, drawn in (("Where the electrons went", "transfer", True), ("The energy", "energy", False),
                               ("The dipole", "dipole", True)):
        _next(app_page)
        assert app_page.page.get_by_text(title, exact=True).count() >= 1, title
        if drawn:
            app_page.wait_for_molecule(min_drawn=5000, timeout_s=60)
        else:
            app_page.page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        app_page.page.wait_for_timeout(500)
        app_page.screenshot(f"browser-present-{name}")
        assert _exceptions(app_page) == [], (title, _exceptions(app_page))
    assert app_page.external_requests() == []
    assert app_page.page_errors == []


def test_scan_animation_plays(app_page):
    app_page.open("/Scan?mol=lif&lsip_scan_points=8", timeout_s=180)
    app_page.page.get_by_text("Play the scan in 3D").click()
    app_page.wait_idle(120)
    stats = app_page.wait_for_molecule(min_drawn=1500, timeout_s=60)
    frame = stats["frame"]
    seen_captions, seen_marks = set(), set()
    for _ in range(16):  # 8 frames at 400 ms: several frames within 3 s
        seen_captions.add(frame.evaluate("() => document.querySelector('.lsip-frame-caption').textContent"))
        seen_marks.add(frame.evaluate("() => document.querySelector('.lsip-marker').getAttribute('cx')"))
        app_page.page.wait_for_timeout(200)
    assert len(seen_captions) >= 3 and all(c.startswith("R = ") for c in seen_captions), seen_captions
    assert len(seen_marks) >= 3, seen_marks
    app_page.screenshot("browser-scan-play")
    assert _exceptions(app_page) == []
    assert app_page.external_requests() == []
    assert app_page.page_errors == []
