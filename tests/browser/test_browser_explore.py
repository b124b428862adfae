"""Explore, Charge transfer and Energy in a real browser: the 3D canvases are drawn (offline), with screenshots
in test-artifacts/ (browser-explore.png, browser-explore-teaching.png, browser-charge-transfer.png,
browser-energy.png, browser-energy-3d.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

pytestmark = pytest.mark.browser


#: Counts pixels of the diverging map's ends in every canvas of a frame: blue (#2166ac, negative charge) and
#: salmon/red (#f4a582 .. #b2182b, positive charge).
COLOUR_JS = """
() => Array.from(document.querySelectorAll('canvas')).filter(c => c.width > 0).map(c => {
  const tmp = document.createElement('canvas'); tmp.width = c.width; tmp.height = c.height;
  const ctx = tmp.getContext('2d'); ctx.drawImage(c, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let blue = 0, warm = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 2] > 120 && d[i] < 70 && d[i + 1] > 60 && d[i + 1] < 150) blue++;
    if (d[i] > 150 && d[i + 2] < 140 && d[i] - d[i + 2] > 60 && d[i] - d[i + 1] > 40) warm++;
  }
  return {blue: blue, warm: warm};
})
"""


def _colours(stat: dict) -> dict:
    return stat["frame"].evaluate(COLOUR_JS)[stat["index"]]


def _check_offline(app_page) -> None:
    assert app_page.external_requests() == []
    assert app_page.page_errors == []


def test_explore_draws_water_coloured_by_charge(app_page):
    """Water on Explore: atoms on the diverging map (H positive -> dark red #b2182b, O negative -> blue),
    channel arrows and glyph halos: thousands of drawn pixels, a clear red share, never a filled canvas."""
    app_page.open("Explore?mol=water&q=0")
    assert app_page.page.get_by_role("heading", name="Explore").count() == 1
    stats = app_page.wait_for_molecule(min_drawn=2000)
    app_page.page.wait_for_timeout(500)  # let the arrows and the colour bar settle before the screenshot
    app_page.screenshot("browser-explore")
    assert stats["drawn"] >= 2000, stats
    colours = _colours(stats)
    assert colours["blue"] >= 300, colours  # O (q = -0.65 e) at the blue end of the map
    assert colours["warm"] >= 300, colours  # the two H (q = +0.32 e) salmon
    assert stats["drawn"] < 0.9 * stats["total"], stats
    assert app_page.page.get_by_text("Per-atom charges and state weights").count() == 1
    _check_offline(app_page)


def test_explore_teaching_mode_hides_charges_until_revealed(app_page):
    """Teaching mode from the URL: the hydroxide story is shown and atoms keep element colours (O Jmol red)
    until a guess is revealed."""
    app_page.open("Explore?mol=hydroxide&q=-1&teach=1")
    assert app_page.page.get_by_text("A total charge Q = -1 has to be shared", exact=False).count() == 1
    stats = app_page.wait_for_molecule(min_drawn=2000)
    app_page.page.wait_for_timeout(500)
    app_page.screenshot("browser-explore-teaching")
    assert stats["red"] >= 100, stats  # O in element red (#ff0d0d), not yet on the charge map
    assert _colours(stats)["blue"] < 50, stats
    assert app_page.page.get_by_role("button", name="Reveal the charges").is_disabled()
    _check_offline(app_page)


def test_charge_transfer_draws_the_network(app_page):
    app_page.open("Charge_transfer?mol=nacl&q=0")
    stats = app_page.wait_for_molecule(min_drawn=2000)
    app_page.page.wait_for_timeout(500)
    app_page.screenshot("browser-charge-transfer")
    assert stats["red"] >= 100, stats  # Na+ in dark red
    _check_offline(app_page)


def test_energy_draws_atoms_coloured_by_term(app_page):
    app_page.open("Energy?mol=hydroxide&q=-1")
    stats = app_page.wait_for_molecule(min_drawn=2000)
    app_page.page.wait_for_timeout(500)
    app_page.screenshot("browser-energy")
    for _ in range(3):  # a late rerun may replace the 3D iframe between two looks: take the current one
        try:
            stats["frame"].frame_element().scroll_into_view_if_needed()
            break
        except PlaywrightError as exc:
            if "detached" not in str(exc):
                raise
            app_page.wait_idle(60)
            stats = app_page.wait_for_molecule(min_drawn=2000)
    app_page.page.wait_for_timeout(500)
    app_page.screenshot("browser-energy-3d")
    colours = _colours(stats)
    assert colours["blue"] + colours["warm"] >= 300, colours  # atoms on the diverging map (per-atom energy)
    assert stats["drawn"] < 0.9 * stats["total"], stats
    _check_offline(app_page)


def test_png_button_downloads_the_drawn_view(app_page, tmp_path):
    """The "PNG" button of a 3D view downloads a real PNG of the drawn canvas (3Dmol's pngURI), offline."""
    app_page.open("Explore?mol=water&q=0")
    stats = app_page.wait_for_molecule(min_drawn=2000)
    button = stats["frame"].locator("button.lsip-png")
    assert button.count() == 1
    with app_page.page.expect_download(timeout=15_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "lsip-view.png"
    path = tmp_path / "view.png"
    download.save_as(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, len(data)
    _check_offline(app_page)


def test_explore_shows_the_model_beside_dft_and_experiment(app_page):
    """Issue 14 (teacher): water's comparison table opens and shows the stored DFT and experimental values next to
    the model's (screenshot browser-explore-comparison.png)."""
    app_page.open("Explore?mol=water")
    app_page.wait_idle()
    header = app_page.page.get_by_text("Model against DFT and experiment").first
    header.scroll_into_view_if_needed()
    header.click()
    app_page.page.get_by_text("q X: mean charge of element X", exact=False).first.wait_for(timeout=30_000)
    table = app_page.page.locator('[data-testid="stExpander"]').filter(has_text="Model against DFT").first
    table.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
    app_page.screenshot("browser-explore-comparison")
    text = table.inner_text()
    assert "PBE0/def2-SVP" in text and "gas-phase dipole" in text
    _check_offline(app_page)
