"""Presentation mode (app_pages/10_Present.py, lsip/viz/present.py) and the animated scan
(lsip.viz.molview.animated_scan_view, the "Play the scan in 3D" toggle of app_pages/5_Scan.py).

Drawing in a real browser: tests/browser/test_browser_present.py."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from apptest_pages import elements, open_app_page
from streamlit.testing.v1 import AppTest

from lsip.gallery import gallery_story, gallery_structure
from lsip.model.model import LSIPModel
from lsip.model.params import default_parameter_set
from lsip.structure import Structure
from lsip.ui import common
from lsip.viz import molview, present

PAGE = "app_pages/10_Present.py"
TITLES = [s.title for s in present.SLIDES]


@pytest.fixture(scope="module")
def model() -> LSIPModel:
    return LSIPModel(params=default_parameter_set(), device="cpu")


# ------------------------------------------------------------------------------------------ helpers (no app)


def test_charge_labels_use_element_index_and_a_true_minus_sign():
    assert present.format_charge(-0.5651) == "\u22120.57 e"
    assert present.format_charge(0.2826) == "+0.28 e"
    assert present.format_charge(-0.001) == "0.00 e"  # no "-0.00"
    labels, note = present.charge_labels(("O", "H", "H"), [-0.5651, 0.2826, 0.2826])
    assert labels == ["O0 \u22120.57 e", "H1 +0.28 e", "H2 +0.28 e"] and note == ""


def test_large_structures_label_only_the_most_charged_atoms():
    q = np.linspace(-0.5, 0.4, 100)
    symbols = ("O",) * 100
    labels, note = present.charge_labels(symbols, q)
    shown = [k for k, text in enumerate(labels) if text]
    assert len(shown) == present.LARGE_STRUCTURE_LABELS and "100 atoms" in note and "most charged" in note
    assert 0 in shown and max(np.abs(q)[k] for k in range(100) if k not in shown) <= min(np.abs(q)[shown])
    assert present.element_labels(symbols) == [""] * 100
    assert present.element_labels(("O", "H")) == ["O0", "H1"]


def test_reference_dipoles_come_from_stored_data_only():
    water = gallery_structure("water")
    refs = {r.label: r for r in present.reference_dipoles(water, "water")}
    assert refs["Experiment"].value_D == 1.8546  # CRC Handbook (lsip.data.experiment)
    dft = json.loads(present.VALIDATION_REPORT.read_text())
    h2o = next(m for m in dft["molecules"] if m["name"] == "h2o")
    assert refs["DFT (PBE0/def2-SVP)"].value_D == pytest.approx(h2o["dipole_D"]["dft"])
    assert "'h2o'" in refs["DFT (PBE0/def2-SVP)"].source
    # another charge is another molecule: neither the experiment nor the DFT value applies
    assert present.reference_dipoles(water.with_charge(1), "water") == []
    # a distorted water is not the validation molecule, and has no gallery key
    bent = Structure(water.symbols, water.positions * 1.3)
    assert present.reference_dipoles(bent, None) == []
    assert present.experimental_dipole("kcl", gallery_structure("kcl")).value_D == 10.269
    assert present.experimental_dipole("benzene", gallery_structure("benzene")).value_D == 0.0  # by symmetry
    assert present.experimental_dipole("glycine", gallery_structure("glycine")) is None  # no value stored


def test_model_beside_dft_and_experiment_where_the_molecule_is_known(model):
    """Explore's comparison: the gallery water (experimental geometry) is the validation h2o within 0.1 A; the DFT
    numbers are the stored ones, in any atom order; an unknown or distorted molecule gets no rows."""
    water = gallery_structure("water")
    pred = model.predict(water)
    h2o = next(m for m in json.loads(present.VALIDATION_REPORT.read_text())["molecules"] if m["name"] == "h2o")
    rows = {r["quantity"]: r for r in present.comparison_rows(water, -1.0, 1.5, pred.charges.numpy(), "water")}
    assert rows["atomization energy"]["DFT"] == pytest.approx(h2o["energy_eV"]["dft_atomization"])
    assert rows["atomization energy"]["model"] == -1.0
    assert rows["dipole |μ|"]["DFT"] == pytest.approx(h2o["dipole_D"]["dft"])
    assert rows["dipole |μ|"]["experiment"] == 1.8546
    q_dft = h2o["charges"]["dft_hirshfeld_i"]
    assert rows["charge of O (mean)"]["DFT"] == pytest.approx(q_dft[0])
    assert rows["charge of H (mean)"]["DFT"] == pytest.approx((q_dft[1] + q_dft[2]) / 2)
    assert rows["charge of H (mean)"]["model"] == pytest.approx(float(pred.charges[1:].mean()))
    # the same molecule with its atoms in another order is still recognised
    order = [1, 0, 2]
    shuffled = Structure(tuple(water.symbols[k] for k in order), water.positions[order])
    assert present.dft_reference(shuffled).name == "h2o"
    # not known: a distorted water, a charged water, a structure outside the validation set
    assert present.comparison_rows(Structure(water.symbols, water.positions * 1.3), 0.0, 0.0, np.zeros(3)) == []
    assert present.dft_reference(water.with_charge(1)) is None
    glycine = gallery_structure("glycine")
    assert present.comparison_rows(glycine, 0.0, 0.0, np.zeros(glycine.n_atoms), "glycine") == []


def test_explore_shows_the_comparison_for_water_and_not_for_glycine():
    at = open_app_page("app_pages/1_Explore.py", "water")
    exp = [e for e in at.expander if e.label == "Model against DFT and experiment"]
    assert len(exp) == 1
    table = exp[0].dataframe[0].value
    assert "q O (e)" in table["quantity"].tolist()
    assert list(table.columns) == ["quantity", "model", "DFT", "exp."]
    assert table["exp."].tolist()[:2] == ["-", "1.85"]  # no experimental atomization stored; the dipole is
    at = open_app_page("app_pages/1_Explore.py", "glycine")
    assert not [e for e in at.expander if e.label == "Model against DFT and experiment"]


def test_dipole_arrow_points_from_the_negative_to_the_positive_side(model):
    water = gallery_structure("water")
    pred = model.predict(water)
    mu = present.dipole_vector_D(pred)
    start, end = present.dipole_arrow(water, mu)
    h_mid = water.positions[1:].mean(axis=0)
    # O is negative, the H atoms positive: the arrow's head is nearer the H atoms than its tail
    assert np.linalg.norm(end - h_mid) < np.linalg.norm(start - h_mid)
    assert np.allclose((start + end) / 2, present.mass_centre(water))
    assert present.dipole_arrow(water, np.array([0.0, 0.0, 0.01])) is None
    html = present.dipole_slide_view(water, pred).html()
    assert "addArrow" in html and f"molecular dipole {np.linalg.norm(mu):.2f} D" in html


# ------------------------------------------------------------------------------------------- the page


def _open(mol: str) -> AppTest:
    return open_app_page(PAGE, mol, timeout=180)


def _heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("## "))[3:]


def _counter(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Slide "))


def _click(at: AppTest, key: str) -> None:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.usefixtures("isolated_cache")
def test_water_slides_step_forward_and_back(model):
    at = _open("water")
    assert _heading(at) == TITLES[0] and _counter(at).startswith("**Slide 1 of 4**")
    assert at.button(key="present_prev").disabled
    (frame,) = elements(at, "iframe")
    html = frame.srcdoc
    assert molview.JS_URL in html and f"height: {present.VIEW_HEIGHT}px" in html
    # every atom labelled "O0 −0.57 e" with the model's charge, as the page formats it
    labels, _ = present.charge_labels(("O", "H", "H"), model.predict(gallery_structure("water")).charges.numpy())
    for label in labels:
        assert f"addLabel({molview.js_json(label)}" in html
    assert re.search(r'addLabel\("O0 \\u2212\d\.\d\d e"', html)
    assert html.count(".addLabel(\"") == 3 and '"fontSize": 22' in html
    seen = [_heading(at)]
    for k in range(1, len(TITLES)):
        _click(at, "present_next")
        seen.append(_heading(at))
        assert _counter(at).startswith(f"**Slide {k + 1} of 4**")
    assert seen == TITLES
    assert at.button(key="present_next").disabled
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Experiment"] == "1.85 D" and "DFT (PBE0/def2-SVP)" in metrics and metrics["Model"].endswith(" D")
    _click(at, "present_prev")
    assert _heading(at) == TITLES[2] and _counter(at).startswith("**Slide 3 of 4**")
    assert len(elements(at, "plotly_chart")) == 1  # the waterfall
    assert {m.label for m in at.metric} >= {"Energy", "Per atom"}
    _click(at, "present_prev")
    assert _heading(at) == TITLES[1] and "addArrow" in elements(at, "iframe")[0].srcdoc
    assert not at.error


@pytest.mark.usefixtures("isolated_cache")
def test_teaching_mode_adds_the_gallery_story_on_the_first_slide():
    at = open_app_page(PAGE, "water", timeout=180, **{common.TEACHING_KEY: True})
    assert [e.label for e in at.expander] == ["The story of this molecule"]
    assert any(m.value == gallery_story("water") for m in at.markdown)


@pytest.mark.usefixtures("isolated_cache")
def test_ammonium_goes_through_every_slide():
    at = _open("ammonium")
    assert _heading(at) == TITLES[0] and len(elements(at, "iframe")) == 1
    for _ in TITLES[1:]:
        _click(at, "present_next")
    assert _heading(at) == TITLES[-1]
    assert any("centre of mass" in c.value for c in at.caption)  # a charged structure's dipole needs an origin
    assert not at.error


@pytest.mark.usefixtures("isolated_cache")
def test_648_atoms_label_only_a_few_atoms_and_say_so():
    at = _open("water_216")
    assert any("648 atoms: only the 12 most charged atoms are labelled" in i.value for i in at.info)
    (frame,) = elements(at, "iframe")
    assert frame.srcdoc.count(".addLabel(\"") == present.LARGE_STRUCTURE_LABELS
    for _ in TITLES[1:]:
        _click(at, "present_next")
    assert any(c.value.startswith("No reference value stored") for c in at.caption)
    assert not at.error


# ------------------------------------------------------------------------------------------- animated scan


def _frames_xyz(html: str) -> str:
    start = html.index("addModelsAsFrames(") + len("addModelsAsFrames(")
    text, _ = json.JSONDecoder().raw_decode(html, start)
    return text


def _count_xyz_frames(xyz: str) -> int:
    lines, count = xyz.splitlines(), 0
    while lines:
        n = int(lines[0])
        lines = lines[n + 2:]
        count += 1
    return count


def test_animated_view_has_one_model_per_frame_and_loads_the_local_3dmol():
    base = gallery_structure("lif")
    frames = [Structure(base.symbols, base.positions + np.array([[0.0, 0.0, 0.0], [0.3 * k, 0.0, 0.0]]))
              for k in range(7)]
    q = np.array([[0.8 - 0.1 * k, -0.8 + 0.1 * k] for k in range(7)])
    captions = [f"R = {k} </script><b>" for k in range(7)]
    anim = molview.animated_scan_view(frames, q, distances=np.arange(7.0), energies=np.sin(np.arange(7.0)),
                                      captions=captions, interval_ms=150)
    html = anim.html()
    assert anim.n_frames == 7 and _count_xyz_frames(_frames_xyz(html)) == 7
    assert html.count("addModelsAsFrames(") == 1
    assert 'animate({"loop": "backAndForth", "interval": 150})' in html
    assert f"loadScriptAsync('{molview.JS_URL}')" in html and "cdn" not in html.lower() and "https://" not in html
    colors = json.loads(re.search(r"var lsipColors = (\[.*?\]\]);", html).group(1))
    assert len(colors) == 7 and all(len(c) == 2 for c in colors)
    assert colors[0] == molview.diverging_colors(q[0], -0.8, 0.8)  # one colour range for the whole scan
    assert 'data-frames="7"' in html and html.count('class="lsip-marker"') == 1
    assert "</script><b>" not in html.split("<script>", 1)[1].split("</script>", 1)[0]  # captions are escaped
    assert anim.total_height == anim.height + molview.LEGEND_HEIGHT + anim.footer_height
    with pytest.raises(ValueError, match="same atoms"):
        molview.animated_scan_view([base, gallery_structure("water")])
    with pytest.raises(ValueError, match="shape"):
        molview.animated_scan_view(frames, q[:3])
    with pytest.raises(ValueError, match="both"):
        molview.animated_scan_view(frames, distances=np.arange(7.0))


@pytest.mark.usefixtures("isolated_cache")
def test_scan_page_plays_the_scan_in_3d():
    at = open_app_page("app_pages/5_Scan.py", "lif", timeout=180, lsip_scan_points=6)
    assert "addModelsAsFrames" not in elements(at, "iframe")[0].srcdoc  # off by default: the single point
    at.toggle(key="lsip_scan_play").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    (frame,) = elements(at, "iframe")
    assert _count_xyz_frames(_frames_xyz(frame.srcdoc)) == 6 and molview.JS_URL in frame.srcdoc
    assert any(c.value.startswith("6 points played back and forth") for c in at.caption)
    assert len(elements(at, "plotly_chart")) == 5 and not at.error


def test_the_slide_travels_in_the_link():
    """A link opens the Present page on its slide (``present_slide``, 0-based); a bad value is ignored."""
    from apptest_pages import open_app_page

    from lsip.ui.links import URL_SETTINGS

    at = open_app_page("app_pages/10_Present.py", "water")
    at.button(key=next(b.key for b in at.button if "Next" in b.label)).click().run()
    assert at.query_params["present_slide"] == "1"
    assert any("Slide 2 of 4" in m.value for m in at.markdown)
    assert URL_SETTINGS["present_slide"].parse("3") == 3 and URL_SETTINGS["present_slide"].parse("9") is None
