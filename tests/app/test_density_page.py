"""AppTest of app_pages/4_Density.py: model-only view, a tiny DFT run (H2, def2-SVP) that hits the persistent cache
the second time, the size refusal, bad input and teaching mode; the ESP surfaces (model and DFT on one colour scale),
the Molden download (and the recompute message for an older cache entry without orbitals), the RKS/UKS choice.
Drawing is checked in tests/browser/."""

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
    assert len(frames) == 2  # linked model + promolecule viewers, the model's ESP surface; no difference view
    html = frames[0].srcdoc
    assert "createViewerGrid" in html and html.count("addVolumetricData") == 2
    assert "model (decoded)" in html and "promolecule" in html and ">DFT<" not in html
    esp = frames[1].srcdoc  # the model's ESP on its own density surface, RWB on a symmetric range, app's 3Dmol
    assert esp.count("addVolumetricData") == 1 and '"voldata"' in esp and '"gradient": "rwb"' in esp
    assert "/app/static/3Dmol-min.js" in esp and "red negative" in esp and ">DFT<" not in esp
    assert any("red negative" in c.value and "blue" in c.value and " V" in c.value for c in at.caption)
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
    assert len(frames) == 3  # linked DFT/model/promolecule + signed difference + ESP surfaces
    assert frames[0].srcdoc.count("addVolumetricData") == 3 and ">DFT<" in frames[0].srcdoc
    assert frames[1].srcdoc.count("addVolumetricData") == 2  # red positive and blue negative lobes
    esp = frames[2].srcdoc  # DFT and model ESP side by side, one colour range
    assert esp.count("addVolumetricData") == 2 and ">DFT<" in esp and "model (decoded)" in esp
    assert esp.count('"volscheme": {"gradient": "rwb"') == 2
    assert len(at.get("dataframe")) == 1 and len(charts(at)) == 3  # slice, weights, errors
    assert "lsip_dft_stop" not in [b.key for b in at.button]  # issue 14.4: no Stop button once the SCF is done
    labels = [b.label for b in at.get("download_button")]
    assert len(labels) == 9 and "Kohn-Sham orbitals PBE0/def2-SVP (.molden)" in labels  # CSV, 4 cubes, Molden, repro
    assert any("Reconstruction error" in m.value for m in at.markdown)
    # a new session: the same reference comes from the persistent SQLite cache, no button needed
    again = open_page("h2")
    assert any("loaded from the persistent cache" in s.value for s in again.success)
    assert len(iframes(again)) == 3 and "lsip_dft_compute" not in [b.key for b in again.button]


def test_too_large_system_is_refused_with_the_drivers_message():
    xyz = "41\nfar apart\n" + "".join(f"H {3.0 * k:.1f} 0 0\n" for k in range(41))
    at = open_page(None, lsip_source="Paste XYZ", lsip_paste_text=xyz)
    msgs = [w.value for w in at.warning]
    assert any("Reference DFT refused" in m and "limited to 40 atoms" in m for m in msgs), msgs
    assert len(iframes(at)) == 2  # the model density and its ESP are still shown
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


OH_XYZ = "2\nOH radical\nO 0 0 0\nH 0 0 0.97\n"


def test_method_choice_refuses_rks_for_a_radical_and_runs_uks():
    at = open_page(None, lsip_source="Paste XYZ", lsip_paste_text=OH_XYZ, lsip_density_method="RKS")
    msgs = [w.value for w in at.warning]
    assert any("Reference DFT refused: RKS" in m and "odd number of electrons (9)" in m for m in msgs), msgs
    assert any("No DFT reference with these settings" in i.value for i in at.info)
    assert "lsip_dft_compute" not in [b.key for b in at.button] and len(iframes(at)) == 2  # model views + model ESP
    at.selectbox(key="lsip_density_method").set_value("UKS").run()  # what automatic runs for a radical
    assert [b.label for b in at.button] == ["Compute DFT reference (PBE0/def2-SVP)"]
    at.button(key="lsip_dft_compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    esp = iframes(at)[-1].srcdoc
    assert esp.count("addVolumetricData") == 2 and ">DFT<" in esp
    assert "Kohn-Sham orbitals PBE0/def2-SVP (.molden)" in [b.label for b in at.get("download_button")]
    at.radio(key="lsip_esp_unit").set_value("hartree/e").run()
    assert "(hartree/e)" in iframes(at)[-1].srcdoc
    assert any("red negative" in c.value and "hartree/e" in c.value for c in at.caption)


def test_slow_dft_esp_waits_for_its_button(monkeypatch):
    from lsip.reference import density

    monkeypatch.setattr(density, "dft_esp_seconds", lambda n_points, n_basis: 100.0)
    at = open_page("h2")
    at.button(key="lsip_dft_compute").click().run()
    assert not at.exception
    assert "Compute the DFT electrostatic potential (~100 s)" in [b.label for b in at.button]
    esp = iframes(at)[-1].srcdoc
    assert esp.count("addVolumetricData") == 1 and ">DFT<" not in esp  # the model's ESP meanwhile
    at.button(key="lsip_esp_compute").click().run()
    assert not at.exception and iframes(at)[-1].srcdoc.count("addVolumetricData") == 2
    at.selectbox(key="lsip_esp_iso").set_value(0.001).run()  # another surface: another band, asked again
    assert "lsip_esp_compute" in [b.key for b in at.button]


def test_old_cache_entry_asks_to_recompute_for_molden():
    from lsip.gallery import gallery_structure
    from lsip.reference.cache import ReferenceCache
    from lsip.reference.driver import ReferenceDFT

    cache = ReferenceCache()  # the isolated cache of this test
    res = ReferenceDFT(gallery_structure("h2"), cache=cache).kernel()
    scalars, arrays = res.to_record()
    cache.put(res.key, scalars, {k: v for k, v in arrays.items() if not k.startswith("mo_")})
    at = open_page("h2")
    assert any("loaded from the persistent cache" in s.value for s in at.success)
    assert any("recompute to export Molden" in i.value for i in at.info)
    assert not any(b.label.endswith("(.molden)") for b in at.get("download_button"))
    at.button(key="lsip_dft_recompute").click().run()
    assert not at.exception and not at.error
    assert any(b.label.endswith("(.molden)") for b in at.get("download_button"))
    assert "mo_coeff" in cache.get(res.key)[1]


def test_uks_of_a_closed_shell_is_its_own_reference():
    at = open_page("water", lsip_density_method="UKS")
    assert [b.label for b in at.button] == ["Compute DFT reference (UKS-PBE0/def2-SVP)"]
    at.selectbox(key="lsip_density_method").set_value("RKS").run()  # = automatic for water: one cache entry
    assert [b.label for b in at.button] == ["Compute DFT reference (PBE0/def2-SVP)"]
