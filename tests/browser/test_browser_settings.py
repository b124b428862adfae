"""Issue 14.1: page settings survive a change of the structure source (a real browser: Streamlit drops the state of
widgets that a run does not draw, which AppTest does not reproduce)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

WATER = "3\nwater\nO 0 0 0\nH 0.757 0.586 0\nH -0.757 0.586 0\n"


def _threshold(app_page) -> str:
    main = app_page.page.locator('[data-testid="stMainBlockContainer"]')
    return main.locator('[data-testid="stSliderThumbValue"]').first.inner_text()


def test_explore_settings_survive_switching_to_pasted_xyz(app_page):
    app_page.open("Explore?mol=water", timeout_s=120)
    app_page.wait_for_molecule(min_drawn=1500, timeout_s=60)
    assert _threshold(app_page) == "0.010"
    sidebar = app_page.page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Paste XYZ").click()
    app_page.wait_idle(60)
    area = sidebar.locator("textarea")
    area.fill(WATER)
    area.press("Control+Enter")
    app_page.wait_idle(120)
    app_page.wait_for_molecule(min_drawn=1500, timeout_s=60)
    assert _threshold(app_page) == "0.010"
    assert "explore_threshold" not in app_page.page.url and "explore_glyphs" not in app_page.page.url
    checked = app_page.page.locator('[data-testid="stMainBlockContainer"] input[role="switch"]').first
    assert checked.is_checked()  # the state-weight glyphs stay on


def test_a_planar_molecule_is_shown_face_on(app_page):
    """Issue 14.9: water given in the yz plane (edge-on to the default camera, it looked linear) is turned onto its
    principal axes: its drawing is wider than tall (H...H across the screen), not a vertical line."""
    app_page.open("Explore?mol=water", timeout_s=120)
    app_page.wait_for_molecule(min_drawn=1500, timeout_s=60)
    sidebar = app_page.page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Paste XYZ").click()
    app_page.wait_idle(60)
    area = sidebar.locator("textarea")
    area.fill("3\nwater in the yz plane\nO 0 0 0.117\nH 0 0.757 -0.469\nH 0 -0.757 -0.469\n")
    area.press("Control+Enter")
    app_page.wait_idle(120)
    stat = app_page.wait_for_molecule(min_drawn=1500, timeout_s=60)
    x0, y0, x1, y1 = stat["bbox"]
    assert (x1 - x0) > 1.3 * (y1 - y0), stat["bbox"]
    app_page.screenshot("explore-water-yz-face-on")


def _pick(app_page, label: str, option: str) -> None:
    """Choose ``option`` in the sidebar selectbox labelled ``label``."""
    sidebar = app_page.page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text=label).get_by_role("combobox").click()
    app_page.page.get_by_role("option").filter(has_text=option).first.click()
    app_page.page.wait_for_timeout(300)
    app_page.wait_idle(60)


def test_a_refused_upload_leaves_no_stale_result(app_page, tmp_path):
    """Issue 14.2: upload a CIF (CO in a box), switch the format to plain XYZ and offer a PDB: the uploader refuses it
    and the page asks for a structure instead of showing the CO results as current."""
    import ase.io
    from ase import Atoms

    cif, pdb = tmp_path / "co.cif", tmp_path / "water.pdb"
    ase.io.write(cif, Atoms("CO", positions=[[5, 5, 4.44], [5, 5, 5.56]], cell=[10, 10, 10], pbc=True))
    ase.io.write(pdb, Atoms("OH2", positions=[[0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]]))
    app_page.open("Explore?mol=water", timeout_s=120)
    sidebar = app_page.page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Upload", exact=True).click()
    app_page.wait_idle(60)
    _pick(app_page, "Format", "Crystallographic Information File")
    sidebar.locator('input[type="file"]').set_input_files(str(cif))
    app_page.wait_idle(120)
    main = app_page.page.locator('[data-testid="stMainBlockContainer"]')
    assert main.get_by_text("2 atoms, total charge").count() == 1  # CO is current
    _pick(app_page, "Format", "XYZ (plain")
    sidebar.locator('input[type="file"]').set_input_files(str(pdb))
    app_page.wait_idle(60)
    app_page.screenshot("upload-refused-no-stale-result")
    assert main.get_by_text("2 atoms, total charge").count() == 0  # no stale CO result
    assert main.get_by_text("No structure yet").count() == 1
