"""AppTest of app_pages/5_Scan.py: a gallery dissociation (LiF) with its verdict, figures and 3D view; the DFT curve
behind its button (H2, STO-3G, cached the second time); bad input (same atom twice, a single atom, bad paste);
teaching mode's predict-then-reveal. Drawing is checked in tests/browser/test_browser_pages.py."""

from __future__ import annotations

import re

import pytest
from apptest_pages import elements, open_app_page
from streamlit.testing.v1 import AppTest

from lsip.gallery import gallery_structure, load_gallery
from lsip.ui import cache, common, state

PAGE = "app_pages/5_Scan.py"


pytestmark = pytest.mark.usefixtures("isolated_cache")


def open_page(mol: str | None = "lif", **session) -> AppTest:
    return open_app_page(PAGE, mol, timeout=180, **session)


def verdict_text(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "the model's fragments carry" in m.value)


def test_lif_dissociates_to_neutral_atoms_while_qeq_stays_fractional():
    at = open_page("lif", lsip_scan_points=12)
    text = verdict_text(at)
    q = [float(x) for x in re.findall(r"carry ([-+][\d.e+-]+) e and ([-+][\d.e+-]+) e", text)[0]]
    assert max(abs(x) for x in q) < 1e-6 and "(integer within" in text
    qeq = float(re.search(r"QEq leaves ([\d.]+) e", text).group(1))
    assert qeq > 1e-3  # the dissociation catastrophe of the quadratic baseline
    assert len(elements(at, "plotly_chart")) == 5  # energy, fragment charge, atom charges, channels, terms
    (frame,) = elements(at, "iframe")
    assert "/app/static/3Dmol-min.js" in frame.srcdoc
    # the caption under the 3D view reports the point shown; the default point is the input bond length
    cap = next(c.value for c in at.caption if c.value.startswith("R = "))
    assert re.match(r"R = 1\.\d+ Å", cap)
    assert [b.label for b in at.get("download_button")] == ["All curves (CSV)"]
    assert not at.error


def test_dft_curve_runs_behind_its_button_and_then_comes_from_the_cache():
    at = open_page("h2", lsip_scan_points=5, lsip_scan_basis="sto-3g")
    assert not any(c.value.startswith("DFT (") for c in at.caption)  # no reference before the click
    next(b for b in at.button if b.label == "Compute DFT curve").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("DFT (PBE0/sto-3g)") for c in at.caption)
    # a fresh session finds every point in the persistent cache and shows the curve without a click
    again = open_page("h2", lsip_scan_points=5, lsip_scan_basis="sto-3g")
    assert any("all points are in the persistent cache" in c.value for c in again.caption)
    assert any(c.value.startswith("DFT (PBE0/sto-3g)") for c in again.caption)


def test_same_atom_single_atom_and_bad_paste_are_messages():
    at = open_page("lif")
    fp = cache.fingerprint(gallery_structure("lif"))
    at.selectbox(key=f"lsip_scan_j_{fp}").set_value(0).run()
    assert any("Pick two different atoms" in e.value for e in at.error) and not at.exception
    one = open_page(None, **{state.SOURCE_KEY: "Paste XYZ", "lsip_paste_text": "1\natom\nNa 0 0 0\n"})
    assert any("at least two atoms" in i.value for i in one.info) and not one.exception
    bad = open_page(None, **{state.SOURCE_KEY: "Paste XYZ", "lsip_paste_text": "2\nx\nXx 0 0 0\nH 0 0 1\n"})
    assert bad.error and not bad.exception and not elements(bad, "plotly_chart")


def test_teaching_mode_hides_the_verdict_until_revealed():
    at = open_page("nacl", **{common.TEACHING_KEY: True, "lsip_scan_points": 8})
    story = load_gallery()["nacl"].story
    assert story and any(i.value == story for i in at.info)  # the gallery's teaching story
    assert not any("the model's fragments carry" in m.value for m in at.markdown)
    at.radio(key="lsip_scan_guess").set_value("no charge (neutral)").run()
    at.toggle(key="lsip_scan_reveal").set_value(True).run()
    assert "(integer within" in verdict_text(at) and not at.exception


def test_a_large_structure_scans_only_on_request(monkeypatch):
    """Issue 14.5 (648 atoms usable at once): the Scan page of water_216 shows its controls and a Run button; the
    scan (one equalization of the whole cluster per point) does not start by itself."""
    from lsip.scan import curves as scan_curves

    def refuse(*args, **kwargs):
        raise AssertionError("the scan started without a click")

    monkeypatch.setattr(scan_curves, "model_scan", refuse)
    at = open_page("water_216", lsip_scan_points=5)
    assert any("648 atoms: the scan solves the whole structure" in i.value for i in at.info)
    assert any(b.label == "Run the scan (5 points)" for b in at.button)
