"""AppTest of the app shell: the router, the shared sidebar and the home page (no browser needed).

Whether 3Dmol really draws is checked in tests/browser/; here the iframe's HTML is inspected through its proto.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import py3Dmol
import pytest
from streamlit.testing.v1 import AppTest

from lsip.ui import common
from lsip.viz import molview

ROOT = Path(__file__).resolve().parents[1]


def _iframes(at: AppTest) -> list:
    return [el.proto for el in at.main if type(el).__name__ == "UnknownElement" and el.type == "iframe"]


@pytest.fixture
def home() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_home_explains_the_app(home):
    assert [t.value for t in home.title] == ["LSIP Explorer"]
    text = " ".join(m.value for m in home.markdown)
    for concept in ("Latent library", "Physical encoder", "Decoder", "Density encoder"):
        assert concept in text
    for spec in common.PAGES[1:]:  # every page is described, available or not
        assert spec.title in text or any(spec.title in str(el.proto) for el in home.main)


def test_home_shows_water_with_the_local_3dmol(home):
    frames = _iframes(home)
    assert len(frames) == 1
    html = frames[0].srcdoc
    assert "/app/static/3Dmol-min.js" in html
    assert "cdn.jsdelivr" not in html and "https://" not in html  # offline: no CDN, no remote asset
    assert "3\\nH2O\\nO 0.000000 0.000000 0.000000\\nH 0.757500 0.586500" in html
    assert "lsip-colorbar" not in html  # element colours only: no value legend on the demo
    assert '"color":' not in html.replace(" ", "")  # no per-atom value colours either


def test_teaching_mode_enlarges_labels(home):
    assert '\\"fontSize\\": 12' in _iframes(home)[0].srcdoc
    home.toggle(key=common.TEACHING_KEY).set_value(True).run()
    assert not home.exception
    assert home.toggle(key=common.TEACHING_KEY).value is True
    assert '\\"fontSize\\": 18' in _iframes(home)[0].srcdoc


def test_views_must_load_the_local_3dmol():
    with pytest.raises(ValueError, match=r"/app/static/3Dmol-min\.js"):
        common.py3dmol_iframe(py3Dmol.view())  # py3Dmol's default loads 3Dmol.js from a CDN
    with pytest.raises(ValueError, match=r"/app/static/3Dmol-min\.js"):
        common.show_molecule(py3Dmol.view().write_html(), 300)
    assert "loadScriptAsync('/app/static/3Dmol-min.js')" in molview.new_view(300, viewergrid=(1, 2)).write_html()


def test_available_pages_follow_the_files(tmp_path):
    (tmp_path / "pages").mkdir()
    for name in ("0_Home.py", "5_Scan.py", "notes.py", "scan.py"):
        (tmp_path / "pages" / name).write_text("")
    assert [s.file for s in common.available_pages(tmp_path)] == ["0_Home.py", "5_Scan.py"]
    assert common.available_pages(ROOT)[0].file == "0_Home.py"
    assert [s.url_path for s in common.PAGES[5:7]] == ["Scan", "Latent_library"]


def test_router_includes_a_page_dropped_into_pages(tmp_path):
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    (tmp_path / "pages").mkdir()
    shutil.copy(ROOT / "pages" / "0_Home.py", tmp_path / "pages" / "0_Home.py")
    (tmp_path / "pages" / "5_Scan.py").write_text(
        "import streamlit as st\nfrom lsip.ui import common\n"
        "common.page_header('Scan')\nst.markdown('scan page marker')\n"
    )
    at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=30).run()
    assert not at.exception
    links = [el.proto for el in at.main if el.type == "page_link"]
    assert len(links) == 1 and links[0].label == "**Scan**" and links[0].page == "Scan"
    at.switch_page("pages/5_Scan.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Scan"]
    assert [m.value for m in at.markdown] == ["scan page marker"]
    # shared sidebar on every page, also on AppTest reruns (which run the page file directly until
    # common.ensure_router() reruns through app.py)
    at.toggle(key=common.TEACHING_KEY).set_value(True).run()
    assert at.toggle(key=common.TEACHING_KEY).value is True
    assert [m.value for m in at.markdown] == ["scan page marker"]
