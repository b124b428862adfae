"""AppTest of app_pages/4_Density.py: model-only view, a tiny DFT run (H2, def2-SVP) that hits the persistent cache
the second time, the size refusal, bad input and teaching mode. Drawing is checked in tests/browser/."""

from __future__ import annotations

import pytest
from apptest_pages import elements, open_app_page
from streamlit.testing.v1 import AppTest

from lsip.ui import common

PAGE = "app_pages/4_Density.py"


pytestmark = pytest.mark.usefixtures("isolated_cache")


def open_page(mol: str | None = "water", **state) -> AppTest:
    return open_app_page(PAGE, mol, **state)


def iframes(at: AppTest) -> list:
    return elements(at, "iframe")


def charts(at: AppTest) -> list:
    return elements(at, "plotly_chart")


def test_model_only_without_reference():
    at = open_page("water")
    assert [t.value for t in at.title] == ["Density"]
    assert any("No DFT reference is shown" in i.value for i in at.info)
    # a fine enough grid counts the electrons (water on 40^3 points: within 2 % of its 10)
    assert any("Electrons on the grid" in c.value and "of 10" in c.value for c in at.caption)
    frames = iframes(at)
    assert len(frames) == 1  # linked model + promolecule viewers; no difference view without DFT
    html = frames[0].srcdoc
    assert "createViewerGrid" in html and html.count("addVolumetricData") == 2
    assert "model (decoded)" in html and "promolecule" in html and ">DFT<" not in html
    assert len(charts(at)) == 1  # the slice
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["model (decoded) (.cube)", "promolecule (.cube)", "Extended XYZ", "Settings (JSON)",
                      "Python script"]
    assert [b.label for b in at.button] == ["Compute DFT reference (PBE0/def2-SVP)"]


def test_h2_reference_runs_then_comes_from_the_cache():
    at = open_page("h2")
    at.button(key="lsip_dft_compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    status = [el for el in at.main if type(el).__name__ == "Status"]
    assert len(status) == 1 and status[0].label.startswith("Reference DFT PBE0/def2-SVP ready (in ")
    assert "SCF cycles" in status[0].children[1].value  # the progress line ends with the cycle count
    frames = iframes(at)
    assert len(frames) == 2  # linked DFT/model/promolecule + signed difference
    assert frames[0].srcdoc.count("addVolumetricData") == 3 and ">DFT<" in frames[0].srcdoc
    assert frames[1].srcdoc.count("addVolumetricData") == 2  # red positive and blue negative lobes
    assert len(at.get("dataframe")) == 1 and len(charts(at)) == 3  # slice, weights, errors
    assert "lsip_dft_stop" not in [b.key for b in at.button]  # issue 14.4: no Stop button once the SCF is done
    assert len(at.get("download_button")) == 8  # per-atom CSV + 4 cubes + extxyz, settings, script
    assert any("Reconstruction error" in m.value for m in at.markdown)
    # a new session: the same reference comes from the persistent SQLite cache, no button needed
    again = open_page("h2")
    assert any("loaded from the persistent cache" in s.value for s in again.success)
    assert len(iframes(again)) == 2 and "lsip_dft_compute" not in [b.key for b in again.button]


def test_too_large_system_is_refused_with_the_drivers_message():
    xyz = "41\nfar apart\n" + "".join(f"H {3.0 * k:.1f} 0 0\n" for k in range(41))
    at = open_page(None, lsip_source="Paste XYZ", lsip_paste_text=xyz)
    msgs = [w.value for w in at.warning]
    assert any("Reference DFT refused" in m and "limited to 40 atoms" in m for m in msgs), msgs
    assert len(iframes(at)) == 1  # the model density is still shown
    # issue 14.4: no invitation to compute what was just refused; a coarse grid is not passed off as a count
    assert not any("Compute the reference above" in i.value for i in at.info)
    assert any("for a structure this size" in i.value for i in at.info)
    assert any("too coarse to count electrons" in c.value and "exactly 41 electrons" in c.value for c in at.caption)


def test_no_structure_and_bad_paste():
    at = open_page(None, lsip_source="Paste XYZ", lsip_paste_text="")
    assert any("No structure yet" in i.value for i in at.info) and not iframes(at)
    bad = open_page(None, lsip_source="Paste XYZ", lsip_paste_text="2\n\nH 0 0 0\nXx 0 0 1\n")
    assert bad.error and not iframes(bad)


def test_plane_through_atoms_and_teaching_mode():
    at = open_page("water", **{common.TEACHING_KEY: True})
    assert "font: 17px" in iframes(at)[0].srcdoc  # larger titles in teaching mode
    assert any("Look for" in i.value for i in at.info)
    at.radio(key="lsip_density_plane").set_value("atoms").run()
    assert not at.exception and len(charts(at)) == 1
    at.multiselect(key="lsip_density_atoms").set_value(["O0", "H1"]).run()  # two atoms: a clear message
    assert any("three different atom indices" in e.value for e in at.error)
