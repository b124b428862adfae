"""AppTest of the app shell: the router, the shared sidebar and the home page (no browser needed).

Whether 3Dmol really draws is checked in tests/browser/; here the iframe's HTML is inspected through its proto.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import py3Dmol
import pytest
from streamlit.testing.v1 import AppTest

from lsip.gallery import gallery_structure
from lsip.ui import common
from lsip.viz import molview

ROOT = Path(__file__).resolve().parents[2]


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


def test_home_shows_the_default_gallery_water_with_the_local_3dmol(home):
    frames = _iframes(home)
    assert len(frames) == 1
    html = frames[0].srcdoc
    assert "/app/static/3Dmol-min.js" in html
    assert "cdn.jsdelivr" not in html and "https://" not in html  # offline: no CDN, no remote asset
    water = gallery_structure("water")  # the sidebar's default structure
    assert f"3\\nH2O\\nO {water.positions[0, 0]:.6f} {water.positions[0, 1]:.6f}" in html
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


def test_every_listed_page_has_its_file_and_every_file_is_listed():
    files = sorted(p.name for p in (ROOT / common.PAGES_DIR).glob("*.py"))
    assert sorted(spec.file for spec in common.PAGES) == files
    assert common.PAGES[0].file == "0_Home.py"
    assert [s.url_path for s in common.PAGES[5:7]] == ["Scan", "Latent_library"]
    assert common.page_path(common.PAGES[5]) == "app_pages/5_Scan.py"


def test_no_legacy_pages_folder():
    """A ``pages/`` folder beside app.py switches Streamlit into its legacy multipage mode for every session that
    starts before the first ``st.navigation`` call: on a cold server, concurrent first requests were drawn
    without the router (no sidebar, ``?mol=`` ignored). The page files live in ``app_pages/`` instead."""
    assert common.PAGES_DIR != "pages"
    assert not (ROOT / "pages").exists()
    assert all((ROOT / common.PAGES_DIR / spec.file).is_file() for spec in common.PAGES)


def test_router_runs_the_page_file_of_each_listed_page(tmp_path):
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(ROOT / common.PAGES_DIR, tmp_path / common.PAGES_DIR)
    (tmp_path / common.PAGES_DIR / "5_Scan.py").write_text(
        "import streamlit as st\nfrom lsip.ui import common\n"
        "common.page_header('Scan')\nst.markdown('scan page marker')\n"
    )
    at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=30).run()
    assert not at.exception
    links = [el.proto for el in at.main if el.type == "page_link"]
    assert len(links) == len(common.PAGES) - 1
    assert any(link.label == "**Scan**" and link.page == "Scan" for link in links)
    at.switch_page(f"{common.PAGES_DIR}/5_Scan.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Scan"]
    assert [m.value for m in at.markdown] == ["scan page marker"]
    # shared sidebar on every page, also on reruns
    at.toggle(key=common.TEACHING_KEY).set_value(True).run()
    assert at.toggle(key=common.TEACHING_KEY).value is True
    assert [m.value for m in at.markdown] == ["scan page marker"]
    assert [s.label for s in at.sidebar.selectbox][:1] == ["Gallery structure"]


def _failing_app() -> None:
    import streamlit as st

    from lsip.ui import common

    def broken() -> None:
        st.markdown("before the error")
        raise ValueError("secret detail /srv/internal/path")

    common.run_page(st.navigation([st.Page(broken, title="Broken", url_path="broken")]), reraise=False)


def test_unexpected_page_error_is_one_line_and_logged(caplog):
    """An exception in a page: a one-line message with its type (no message, path or traceback) in the browser,
    the traceback in the log."""
    at = AppTest.from_function(_failing_app, default_timeout=30)
    with caplog.at_level("ERROR", logger="lsip.ui"):
        at.run()
    assert not at.exception
    assert [m.value for m in at.markdown] == ["before the error"]
    assert len(at.error) == 1 and "ValueError" in at.error[0].value
    assert "secret" not in at.error[0].value and "/srv" not in at.error[0].value
    logged = [r for r in caplog.records if r.name == "lsip.ui"]
    assert logged and logged[0].exc_info and "secret detail" in str(logged[0].exc_info[1])


def test_page_errors_reach_apptest():
    """Under AppTest (``reraise`` by default) the exception still reaches the test, so page tests see it."""
    def app() -> None:
        import streamlit as st

        from lsip.ui import common

        def broken() -> None:
            raise KeyError("boom")

        common.run_page(st.navigation([st.Page(broken, title="Broken", url_path="broken")]))

    at = AppTest.from_function(app, default_timeout=30).run()
    assert len(at.exception) == 1


def test_error_details_are_redacted_in_the_browser():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "type"  # type and a generic line; no message, no traceback
    assert config["server"]["fileWatcherType"] == "none"
    assert "--server.fileWatcherType none" in (ROOT / "scripts" / "run_app.sh").read_text()


@pytest.mark.parametrize(("text", "ext", "expected"), [
    ("water", ".csv", "water.csv"),
    ("../../etc/passwd", ".cube", "etc_passwd.cube"),
    ('x"""; import os; os.system("rm -rf ~")  #', ".py", "x_import_os_os.system_rm_-rf"),
    ("LiF 2.0 Å (trial #3)", "csv", "LiF_2.0_trial_3.csv"),
    ("", ".csv", "structure.csv"),
    ("....", "", "structure"),
    ("-rf --no-preserve-root", "", "rf_--no-preserve-root"),
    ("C:\\Windows\\x..y", ".txt", "C_Windows_x.y.txt"),
    ("a\x00b\nc\u202ed", ".json", "a_b_c_d.json"),
])
def test_safe_file_name(text, ext, expected):
    name = common.safe_file_name(text, ext)
    assert name.startswith(expected) and name.endswith(ext.lstrip(".") or name[-1])
    assert common.safe_file_name(name) == name  # idempotent


def test_safe_file_name_is_capped_and_never_empty():
    import re

    for text in ("a" * 5000, "é" * 300, "/" * 50, "", " ", ".", "..", "\u00a0", "%2e%2e%2f" * 40):
        name = common.safe_file_name(text, ".csv")
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.csv", name), (text, name)
        assert len(name) <= common.MAX_FILE_STEM + 4 and ".." not in name
    assert common.safe_file_name("", "", default="") == "download"
    assert common.download_file_name("../" + "x" * 500 + "_atoms.csv").endswith(".csv")
    assert common.download_file_name("water_settings.json") == "water_settings.json"


def test_download_names_use_the_sanitised_structure_name():
    """An uploaded file's comment line becomes the structure name; it reaches download names only sanitised."""
    import numpy as np

    from lsip.structure import Structure

    evil = Structure(("H", "H"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]),
                     name='../../"""evil" name' + "x" * 200)
    stem = common.structure_stem(evil)
    assert stem.startswith("evil_name") and len(stem) <= common.MAX_STRUCTURE_STEM
    assert common.structure_stem(Structure(("H", "H"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]))) == "H2"


def test_a_reader_bug_in_the_sidebar_is_one_line_and_logged(monkeypatch, caplog):
    """A non-LSIPError from a reader (a bug): one line in the sidebar with the type, the traceback in the log;
    the page still runs (no structure)."""
    from lsip.ui import sources, state

    def broken_reader(text: str) -> None:
        raise TypeError("secret detail /srv/internal/path")

    monkeypatch.setattr(sources, "parse_xyz_text", broken_reader)
    monkeypatch.setattr(common, "_in_apptest", lambda: False)  # the server's behaviour, not the test's re-raise
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state[state.SOURCE_KEY] = "Paste XYZ"
    at.session_state["lsip_paste_text"] = "1\nx\nH 0 0 0\n"
    with caplog.at_level("ERROR", logger="lsip.ui"):
        at.run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "unexpected error (TypeError)" in errors[0], errors
    assert "secret" not in errors[0] and "/srv" not in errors[0]
    assert any(r.exc_info and "secret detail" in str(r.exc_info[1]) for r in caplog.records if r.name == "lsip.ui")
    assert [t.value for t in at.title] == ["LSIP Explorer"]  # the page itself still runs


@pytest.mark.parametrize("page", ["app_pages/4_Density.py", "app_pages/5_Scan.py", "app_pages/1_Explore.py"])
def test_download_names_of_an_uploaded_structure_are_sanitised(monkeypatch, page):
    """An upload's name (user text) reaches every download file name of a page only through safe_file_name."""
    import numpy as np
    import streamlit as st
    from apptest_pages import open_app_page
    from streamlit.delta_generator import DeltaGenerator

    from lsip.structure import Structure
    from lsip.ui import state

    names: list[str] = []
    original = DeltaGenerator.download_button

    def recording(self, label, data, file_name=None, *args, **kwargs):
        names.append(file_name)
        return original(self, label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: recording(st._main, *a, **k))
    evil = Structure(("H", "H"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]),
                     name='../../.ssh/x"""; import os #' + " " * 10 + "y" * 300)
    open_app_page(page, None, **{state.SOURCE_KEY: "Upload", state.UPLOADED_KEY: evil, state.CHARGE_KEY: 0})
    assert names, "no download button recorded"
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) and ".." not in name, name
        assert len(name) <= common.MAX_FILE_STEM + 8, name
    assert any("ssh_x_import_os_y" in name for name in names), names


FORMATE = ("5\ncharge=-1 formate\nC 0.0 0.0 0.0\nO 1.25 0.0 0.0\nO -0.62 1.08 0.0\nH -0.55 -0.95 0.0\n"
           "H 0 0 3.0\n")


def test_a_pasted_structure_brings_its_own_charge_and_the_user_may_change_it():
    """The file's charge is the charge (issue 12.1): a pasted XYZ with charge=-1 shows Q = -1 in the sidebar
    and in the prediction; the user can change it; a gallery pick afterwards brings the gallery charge."""
    from lsip.io import parse_xyz_text
    from lsip.ui import state

    assert parse_xyz_text(FORMATE).charge == -1
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.sidebar.radio(key=state.SOURCE_KEY).set_value("Paste XYZ").run()
    at.sidebar.text_area(key="lsip_paste_text").input(FORMATE).run()
    assert not at.exception
    assert at.session_state[state.CHARGE_KEY] == -1
    at.switch_page("app_pages/1_Explore.py").run()
    assert any("total charge Q = -1 e" in m.value for m in at.markdown)
    at.sidebar.number_input(key=state.CHARGE_KEY).set_value(0).run()  # the user's choice sticks
    assert at.session_state[state.CHARGE_KEY] == 0
    assert any("total charge Q = +0 e" in m.value for m in at.markdown)
    at.sidebar.radio(key=state.SOURCE_KEY).set_value("Gallery").run()
    at.sidebar.selectbox(key=state.GALLERY_KEY).set_value("hydroxide").run()
    assert at.session_state[state.CHARGE_KEY] == -1
    at.sidebar.selectbox(key=state.GALLERY_KEY).set_value("water").run()
    assert at.session_state[state.CHARGE_KEY] == 0


def test_sidebar_names_the_active_parameter_set_and_what_it_was_fitted_to():
    from lsip.model.params import available_parameter_sets, default_parameter_set, describe, get_parameters

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="lsip_params").value == default_parameter_set()
    captions = [c.value for c in at.sidebar.caption]
    assert describe(get_parameters(default_parameter_set())) in captions
    at.sidebar.selectbox(key="lsip_params").set_value("first-principles").run()
    assert "first-principles: nothing fitted; atomic DFT data only (docs/model.md)" in [c.value for c in
                                                                                         at.sidebar.caption]
    assert "first-principles" in available_parameter_sets()


def test_home_shows_the_structure_chosen_in_the_sidebar():
    """Issue 14.11: the Home page's 3D view is the sidebar's structure, not always water."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["mol"] = "nacl"
    at.run()
    assert not at.exception
    assert any("**nacl** (ClNa, from the sidebar)" in m.value for m in at.markdown)
    at.sidebar.selectbox(key="lsip_gallery_key").set_value("water").run()
    assert any("**water** (H2O, from the sidebar)" in m.value for m in at.markdown)
