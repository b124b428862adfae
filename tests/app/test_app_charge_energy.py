"""AppTest of the Charge transfer and Energy pages: gallery molecules (incl. charged hydroxide), no structure,
bad paste, teaching mode; the DFT comparison from a cached reference (written into a temporary cache here, no
DFT is run); the waterfall ending at the total; recolouring the 3D view by one energy term."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from apptest_pages import open_and_pick
from streamlit.testing.v1 import AppTest

from lsip import export
from lsip.gallery import gallery_structure
from lsip.reference.flows import charge_flow
from lsip.ui import common, state
from lsip.units import HARTREE_TO_EV

ROOT = Path(__file__).resolve().parents[2]
#: The reproduction downloads every result page ends with (lsip.ui.widgets.reproduction_downloads).
REPRO = ["Extended XYZ", "Settings (JSON)", "Python script"]
CT = "app_pages/2_Charge_transfer.py"
ENERGY = "app_pages/3_Energy.py"


#: Every test sees its own, empty reference cache (never the user's).
pytestmark = pytest.mark.usefixtures("isolated_cache")


def _iframes(at: AppTest) -> list[str]:
    return [el.proto.srcdoc for el in at.main if type(el).__name__ == "UnknownElement" and el.type == "iframe"]


def _plots(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.main
            if type(el).__name__ == "UnknownElement" and el.type == "plotly_chart"]


def _array(value: list | dict) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly's typed-array form {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict):
        shape = [int(k) for k in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value, dtype=float)


def _open(page: str, molecule: str | None = "water") -> AppTest:
    return open_and_pick(page, molecule)


@pytest.fixture(scope="module")
def water_pred(default_model):
    return default_model.predict(gallery_structure("water"))


# ------------------------------------------------------------------------------------------- charge transfer


def test_charge_transfer_water(water_pred):
    at = _open(CT)
    assert [t.value for t in at.title] == ["Charge transfer"]
    ranked = at.dataframe[0].value
    expected = export.flow_records(water_pred, 0.01)
    assert len(ranked) == len(expected) == 2  # H1->O0 and H2->O0 (0.32 e); H1<->H2 cancels to 0 net
    assert list(ranked["acceptor"][:2]) == ["O0", "O0"]
    np.testing.assert_allclose(ranked["net_flow"][:2], [water_pred.charges[1].item()] * 2, atol=1e-8)
    matrix, outflow = _plots(at)
    z = _array(matrix["data"][0]["z"])
    assert z.shape == (3, 3) and z[1, 0] == pytest.approx(water_pred.occupation.max().item())
    assert [s["name"] for s in outflow["data"]] == ["model q", "model channel outflow"]
    np.testing.assert_allclose(outflow["data"][1]["y"], outflow["data"][0]["y"], atol=1e-10)  # neutral: equal
    (html,) = _iframes(at)
    assert html.count("addArrow") == 2 and '"opacity": 0.18' not in html  # arrows, no glyphs
    assert any("No DFT flows to compare" in i.value and "lsip reference" in i.value for i in at.info)
    at.toggle(key="ct_both").set_value(True).run()
    n_ch = int((water_pred.occupation.numpy() >= at.slider(key="ct_threshold").value).sum())
    assert len(at.dataframe[0].value) == n_ch and _iframes(at)[0].count("addArrow") == n_ch
    at.slider(key="ct_threshold").set_value(0.2).run()
    assert len(at.dataframe[0].value) == int((water_pred.occupation.numpy() >= 0.2).sum()) == 2
    assert [b.label for b in at.get("download_button")][-3:] == REPRO
    assert not at.exception


def test_charge_transfer_hydroxide_reservoir():
    at = _open(CT, "hydroxide")
    outflow = _plots(at)[1]
    q, out = (_array(s["y"]) for s in outflow["data"])
    assert q.sum() == pytest.approx(-1.0, abs=1e-8)
    assert (q - out).sum() == pytest.approx(-1.0, abs=1e-8)  # the reservoir carries Q
    assert len(at.dataframe[0].value) == 1  # one pair, H1 -> O0
    assert not at.error and not at.exception


def _cache_fake_reference(structure, charges: dict[str, list[float]], basis: str = "def2-SVP"):
    """Store a reference result for ``structure`` under the key the page looks up (PBE0/``basis``)."""
    from lsip.model.library import default_library
    from lsip.reference.cache import ReferenceCache
    from lsip.reference.driver import ReferenceDFT, ReferenceResult

    drv = ReferenceDFT(structure, library=default_library(), cache=ReferenceCache(), basis=basis)
    n = structure.n_atoms
    res = ReferenceResult(
        symbols=structure.symbols, positions=structure.positions, charge=structure.charge, spin=0, xc="PBE0",
        basis=basis, grid_level=3, unrestricted=False, density_fit=False, n_basis=24, energy=-76.3,
        converged=True, attempts=1, cycles=9, last_delta_e=1e-10, homo_lumo_gap=0.3, spin_square=None,
        dipole=np.zeros(3), charges={k: np.array(v) for k, v in charges.items()},
        latent_weights=np.full((n, 4), 0.25), density_error={"latent": 0.1, "promolecule": 0.2, "model": None},
        electrons_grid=10.0, hirshfeld_i_iterations=5, density_matrix=np.eye(2), compute_time_s=1.0, time_s=1.0,
        key=drv.key())
    drv.cache.put(drv.key(), *res.to_record())


def test_charge_transfer_with_cached_dft_reference(water_pred):
    """Illustrative charges (not a DFT result) exercise the display path; the flow maths is flows.py's own."""
    water = gallery_structure("water")
    q_dft = [-0.70, 0.35, 0.35]
    _cache_fake_reference(water, {"mulliken": [-0.40, 0.20, 0.20], "hirshfeld_i": q_dft})
    at = _open(CT)
    assert not any("No DFT flows" in i.value for i in at.info)
    assert at.selectbox(key="ct_scheme").value == "hirshfeld_i"  # preferred scheme comes first
    assert at.selectbox(key="ct_scheme").options == ["iterative Hirshfeld (Hirshfeld-I)", "Mulliken"]  # plain names
    comparison = at.dataframe[1].value
    flow = charge_flow(water.symbols, water.positions, np.array(q_dft))
    assert sorted(flow.occupation.round(6).tolist()) == [0.35, 0.35]  # O-H bonds carry the H charges
    row = comparison[(comparison["donor"] == "H1") & (comparison["acceptor"] == "O0")]
    assert row["dft_flow"].item() == pytest.approx(0.35, abs=1e-9)
    assert row["model_net_flow"].item() == pytest.approx(water_pred.charges[1].item(), abs=1e-9)
    model_view, dft_view = _iframes(at)
    assert "DFT charge q (e)" in dft_view and "#d9822b" in dft_view and dft_view.count("addArrow") == 2
    keys = [set(re.findall(r"lsip-camera:([\w-]+)", h)) for h in (model_view, dft_view)]
    assert keys[0] == keys[1]  # both views share the camera memory
    bars = _plots(at)[-1]
    assert [s["name"] for s in bars["data"]] == ["model q", "model channel outflow", "DFT q", "DFT flow outflow"]
    at.selectbox(key="ct_scheme").set_value("mulliken").run()
    at.selectbox(key="ct_graph").set_value("model channels").run()
    assert not at.exception and len(_iframes(at)) == 2
    # a second cached level (as the Density page's basis choice makes) is offered as a choice
    _cache_fake_reference(water, {"mulliken": [-0.5, 0.25, 0.25]}, basis="sto-3g")
    at.run()
    assert at.selectbox(key="ct_basis").options == ["PBE0/def2-SVP", "PBE0/sto-3g"]
    at.selectbox(key="ct_basis").set_value("sto-3g").run()
    assert at.selectbox(key="ct_scheme").options == ["Mulliken"]
    assert at.dataframe[1].value["dft_flow"].abs().max() == pytest.approx(0.25, abs=1e-9)
    assert not at.exception


def test_charge_transfer_no_structure_bad_paste_teaching():
    at = _open(CT, None)
    at.toggle(key=common.TEACHING_KEY).set_value(True).run()
    assert _plots(at)[0]["layout"]["font"]["size"] == 18  # larger figure fonts in teaching mode
    assert '\\"fontSize\\": 18' in _iframes(at)[0]
    at.sidebar.radio(key=state.SOURCE_KEY).set_value("Paste XYZ").run()
    assert any("No structure yet" in i.value for i in at.info) and not _plots(at)
    at.sidebar.text_area(key="lsip_paste_text").set_value("1\nx\nH 0 0\n").run()
    assert not at.exception and at.sidebar.error and not _iframes(at)


def test_charge_transfer_reads_a_real_reference(water_pred):
    """A real PBE0/def2-SVP run of water (~1.5 s, into the temporary cache) is found and compared by the page."""
    from lsip.reference.driver import ReferenceDFT

    water = gallery_structure("water")
    ref = ReferenceDFT(water).kernel()
    q = ref.charges["hirshfeld_i"]
    assert q[0] < -0.3 and q[1] == pytest.approx(q[2], abs=1e-3)  # O negative, the H equivalent
    at = _open(CT)
    assert at.selectbox(key="ct_scheme").value == "hirshfeld_i"
    comparison = at.dataframe[1].value
    dft = dict(zip(zip(comparison["donor"], comparison["acceptor"]), comparison["dft_flow"]))
    # bond graph (a tree): each O-H bond carries q_H, up to the reservoir share of sum(q) ~ 1e-7 (grid round-off)
    assert dft[("H1", "O0")] == pytest.approx(q[1], abs=1e-6)
    assert any("PBE0/def2-SVP reference" in c.value for c in at.caption)
    assert not at.exception


# --------------------------------------------------------------------------------------------------- energy


def test_energy_water_waterfall_pairs_and_recolouring(water_pred):
    at = _open(ENERGY)
    metrics = {m.label: m.value for m in at.metric}
    total = water_pred.energy * HARTREE_TO_EV
    assert metrics["Total energy"] == f"{total:.4f} eV"
    assert float(metrics["Residual (total - sum)"].split()[0]) < 1e-9
    waterfall, per_atom = _plots(at)
    trace = waterfall["data"][0]
    assert trace["measure"][-1] == "total" and trace["y"][-1] == pytest.approx(total, abs=1e-12)
    assert sum(trace["y"][:-1]) == pytest.approx(total, abs=1e-9)  # the bars end exactly at the total
    assert "residual" in waterfall["layout"]["title"]["text"]
    assert {s["name"] for s in per_atom["data"]} >= {"State (ensemble) energy", "Electrostatics", "Embedding"}
    pairs = at.dataframe[1].value
    assert len(pairs) == len(water_pred.pair_i) == 3
    assert pairs["distance_A"][0] == pytest.approx(0.958, abs=2e-3)  # O0-H1, experimental r_e
    (html,) = _iframes(at)
    assert "E_atom (all terms) (eV)" in html and "addArrow" not in html
    keys = set(re.findall(r"lsip-camera:([\w-]+)", html))
    at.selectbox(key="en_term").set_value("electrostatic").run()
    (html2,) = _iframes(at)
    assert "Electrostatics (eV)" in html2 and set(re.findall(r"lsip-camera:([\w-]+)", html2)) == keys
    es = water_pred.terms["electrostatic"].numpy() * HARTREE_TO_EV
    m = np.abs(es).max()
    assert f"{m:+.3g}" in html2  # the colour bar spans the term's symmetric range
    assert [b.label for b in at.get("download_button")][-6:] == [
        "Terms (CSV)", "Per atom (CSV)", "Per pair (CSV)", *REPRO]
    assert not at.exception


def test_energy_hydroxide_teaching_and_no_structure():
    at = _open(ENERGY, "hydroxide")
    assert at.metric[0].value.endswith("eV") and not at.error
    at.toggle(key=common.TEACHING_KEY).set_value(True).run()
    assert _plots(at)[0]["layout"]["font"]["size"] == 18
    at.sidebar.radio(key=state.SOURCE_KEY).set_value("Paste XYZ").run()
    assert any("No structure yet" in i.value for i in at.info) and not at.metric
    at.sidebar.text_area(key="lsip_paste_text").set_value("O 0 0 0\nO 0 0 0.01\n").run()  # overlapping atoms
    assert not at.exception and at.sidebar.error and not _plots(at)


def test_charge_transfer_does_not_send_a_too_large_structure_to_the_density_page():
    """Issue 14.4: for a structure above the reference limits the page says so instead of pointing to Density."""
    xyz = "41\nfar apart\n" + "".join(f"H {3.0 * k:.1f} 0 0\n" for k in range(41))
    from apptest_pages import open_app_page

    at = open_app_page("app_pages/2_Charge_transfer.py", None, lsip_source="Paste XYZ", lsip_paste_text=xyz)
    infos = [i.value for i in at.info]
    assert any("beyond this machine's limits" in m for m in infos), infos
    assert not any("Compute a reference on the **Density** page" in m for m in infos)
