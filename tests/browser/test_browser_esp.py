"""The Density page's ESP surfaces in a real browser: after a DFT reference of water (PBE0/def2-SVP, in a private
cache), the linked DFT | model viewers draw density surfaces coloured red (negative potential, the oxygen side) and
blue (positive, the hydrogens) on one scale, with the colour bar below; saved as test-artifacts/browser-density-esp.png
(the view) and browser-density-esp-page.png (the whole page)."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, AppPage, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("isolated_cache")]

#: In the ESP frame: pixels of the canvas that are clearly red (negative ESP) or clearly blue (positive), per half
#: of the canvas (left viewer: DFT, right viewer: model).
COLOUR_JS = """
() => {
  const c = Array.from(document.querySelectorAll('canvas')).find(x => x.height > 150);
  if (!c) return null;
  const tmp = document.createElement('canvas');
  tmp.width = c.width; tmp.height = c.height;
  const ctx = tmp.getContext('2d');
  ctx.drawImage(c, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const out = {left: {red: 0, blue: 0}, right: {red: 0, blue: 0}};
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const side = ((i / 4) % c.width) < c.width / 2 ? out.left : out.right;
    if (r > 150 && r - b > 50 && r - g > 50) side.red++;
    if (b > 150 && b - r > 50 && b - g > 30) side.blue++;
  }
  return out;
}
"""


def _esp_frame(app_page: AppPage, timeout_s: float = 60.0) -> object:
    """The frame whose document holds the ESP colour bar, once its canvas is drawn."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = app_page.page.evaluate("Date.now()") + 1000 * timeout_s
    while app_page.page.evaluate("Date.now()") < deadline:
        for frame in app_page.page.frames:
            try:
                if frame.evaluate("() => document.body && document.body.innerText.includes('ESP on the')"):
                    colours = frame.evaluate(COLOUR_JS)
                    if colours and colours["left"]["red"] + colours["left"]["blue"] > 200:
                        return frame
            except PlaywrightError:  # frames detach while Streamlit reruns
                continue
        app_page.page.wait_for_timeout(300)
    raise AssertionError("no drawn ESP view")


def test_density_page_esp_surfaces_are_coloured(browser):
    with streamlit_server("streamlit-esp.log") as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            app_page = AppPage(context.new_page(), url)
            app_page.open("/Density?mol=water", timeout_s=120)
            app_page.page.get_by_role("button", name="Compute DFT reference (PBE0/def2-SVP)").click()
            app_page.page.get_by_text("Reference DFT PBE0/def2-SVP ready").wait_for(timeout=120_000)
            app_page.wait_idle(120)
            assert app_page.page.locator('[data-testid="stException"]').count() == 0
            frame = _esp_frame(app_page)
            element = frame.frame_element()
            element.scroll_into_view_if_needed()
            app_page.page.wait_for_timeout(1500)
            colours = frame.evaluate(COLOUR_JS)
            # DFT (left): the oxygen's lone pairs red, the hydrogens blue; the model (right) is coloured too
            assert colours["left"]["red"] > 300 and colours["left"]["blue"] > 300, colours
            assert colours["right"]["red"] + colours["right"]["blue"] > 300, colours
            legend = frame.evaluate("() => document.querySelector('.lsip-colorbar').innerText")
            assert "red negative" in legend and "(V)" in legend
            ARTIFACTS.mkdir(exist_ok=True)
            element.screenshot(path=str(ARTIFACTS / "browser-density-esp.png"))
            app_page.screenshot("browser-density-esp-page")
            assert app_page.external_requests() == []
            assert app_page.page_errors == []
        finally:
            context.close()
