"""Evaluate: the model and the EEQ/QEq baselines against an uploaded data set with reference energies, forces,
charges and dipoles; parity plots, per-frame errors and a structure map whose frames open in Explore.

Layout only: reading and comparing is :mod:`lsip.workflows.evaluate`, the figures :mod:`lsip.viz.evaluate_views`.
The data set lives in ``st.session_state["lsip_evaluate_data"]`` (``{"name": str, "data": bytes}``; set by the
uploader's callback, or by a test), so it survives a visit to Explore; it is read in the format chosen on the page.
"""

import hashlib
import json

import streamlit as st

from lsip.export import records_csv
from lsip.io import DEFAULT_MAX_BYTES, FORMATS
from lsip.paths import EVALUATE_EXAMPLE
from lsip.results import json_safe
from lsip.structure import Structure
from lsip.ui import cache, common, sources, state
from lsip.viz import evaluate_views
from lsip.workflows import evaluate

DATA_KEY = "lsip_evaluate_data"
UPLOAD_KEY = "lsip_evaluate_file"
FORMAT_KEY = "lsip_evaluate_format"
FRAME_KEY = "lsip_evaluate_frame"
OPEN_KEY = "lsip_evaluate_open"
UPLOAD_COUNT_KEY = "lsip_evaluate_uploads"

common.page_header(
    "Evaluate",
    "Upload a data set with reference energies, forces, charges and dipoles (extended XYZ as ASE writes it) and "
    "see how the model, and the EEQ and QEq charge models, compare: summary errors, parity plots, errors per "
    "frame, and a map of the frames coloured by error. Any frame opens in Explore.",
)

if st.session_state.pop(OPEN_KEY, False):
    st.switch_page(common.page_path(next(s for s in common.PAGES if s.title == "Explore")))


def _take_upload(key: str) -> None:
    """Uploader callback: keep the uploaded bytes (or forget them when the file is removed)."""
    up = st.session_state.get(key)
    if up is None:
        st.session_state.pop(DATA_KEY, None)
        return
    st.session_state[DATA_KEY] = {"name": up.name, "data": up.getvalue()}


def _forget() -> None:
    """Button callback: drop the data set and empty the uploader (a new uploader key)."""
    st.session_state.pop(DATA_KEY, None)
    st.session_state[UPLOAD_COUNT_KEY] = st.session_state.get(UPLOAD_COUNT_KEY, 0) + 1


def _load_example() -> None:
    """Button callback: the built-in example data set (docs/evaluate.md), read like an upload."""
    st.session_state[DATA_KEY] = {"name": EVALUATE_EXAMPLE.name, "data": EVALUATE_EXAMPLE.read_bytes()}
    st.session_state[FORMAT_KEY] = "extxyz"


def _open_in_explore(structure: Structure, token: str) -> None:
    """Button callback: make the frame the current structure (like an upload) and go to Explore."""
    st.session_state[state.SOURCE_KEY] = "Upload"
    sources.take_structure(structure, token)
    st.session_state[OPEN_KEY] = True


c1, c2 = st.columns([1, 2])
fmt = c1.radio("Format (chosen explicitly, never guessed)", evaluate.EVALUATION_FORMATS, key=FORMAT_KEY,
               format_func=lambda k: FORMATS[k].description)
upload_key = f"{UPLOAD_KEY}_{st.session_state.get(UPLOAD_COUNT_KEY, 0)}"
c2.file_uploader("Data set", key=upload_key, on_change=_take_upload, args=(upload_key,),
                 type=sorted({e.lstrip(".") for f in evaluate.EVALUATION_FORMATS for e in FORMATS[f].extensions}),
                 help=f"At most {evaluate.APP_MAX_FRAMES} frames and {evaluate.APP_MAX_TOTAL_ATOMS:,} atoms in all, "
                      f"{DEFAULT_MAX_BYTES / 2**20:.0f} MiB; read as data, never executed or unpickled.")
st.caption("Reference properties are read where ASE puts them: `energy=` (eV) and `dipole=` (e Å) in the header, "
           "`forces` (eV/Å) and `charge` (e) columns, or `initial_charges`. Energies on another zero (total "
           "energies) are compared after a per-element offset fitted by least squares (docs/evaluate.md).")

dataset = st.session_state.get(DATA_KEY)
if not dataset:
    st.info("No data set yet: upload an extended XYZ file with reference properties (for larger sets: "
            "`lsip evaluate FILE.extxyz`), or try the example.")
    st.button("Load the example data set", key="lsip_evaluate_example", on_click=_load_example,
              icon=":material/science:", help=evaluate.EXAMPLE_DESCRIPTION)
    st.stop()
name, data = str(dataset.get("name", "data set")), bytes(dataset.get("data", b""))
c1, c2 = st.columns([4, 1])
c1.caption(f"Data set: {name} ({len(data) / 1024:,.0f} KiB), kept while you visit other pages.")
c2.button("Forget it", key="lsip_evaluate_forget", on_click=_forget, help="Remove the data set from this session.")
if len(data) > DEFAULT_MAX_BYTES:
    st.error(f"{name!r} is {len(data) / 2**20:.1f} MiB; the limit is {DEFAULT_MAX_BYTES / 2**20:.0f} MiB.")
    st.stop()
params = state.current_parameters()
p_json = cache.params_json(params)
use_baselines = st.toggle("EEQ and QEq baselines (charges and dipoles)", value=True, key="lsip_evaluate_baselines")


digest = hashlib.sha256(data).hexdigest()
result = cache.evaluation(data, p_json, use_baselines, fmt, name)
if isinstance(result, str):
    st.error(f"Cannot evaluate {name!r}: {result}")
    st.stop()

teaching = common.teaching_mode()
fs = 17 if teaching else 13
fit = result.energy_fit
m1, m2, m3, m4 = st.columns(4)
m1.metric("Frames", len(result.frames))
m2.metric("Failed frames", result.n_failed)
m3.metric("Parameter set", result.params, help="Chosen in the sidebar.")
m4.metric("Time", f"{result.time_s:.1f} s")
st.info(fit.message, icon=":material/functions:")
if result.n_failed:
    failed = [r for r in result.frames if not r.ok]
    st.warning(f"{len(failed)} frame(s) could not be evaluated and are left out of the errors (each with its "
               "message below and in the per-frame table).")
    with st.expander("Failed frames", expanded=len(failed) <= 5):
        st.dataframe([{"frame": r.frame, "formula": r.formula, "message": r.message} for r in failed],
                     hide_index=True)

st.subheader("Summary")
st.dataframe(evaluate_views.summary_table(result), hide_index=True)
offsets = evaluate_views.offsets_table(result)
if offsets is not None:
    with st.expander("Fitted energy offsets per element"):
        st.dataframe(offsets, hide_index=True)
        st.caption(f"E_ref ≈ E_model + Σ n_el c_el; mean |E_ref − E_model| before the fit {fit.raw_mae_eV:.4g} eV.")

st.subheader("Parity")
for row in (("energy", "forces"), ("charges", "dipole")):
    cols = st.columns(2)
    for col, quantity in zip(cols, row):
        col.plotly_chart(evaluate_views.parity_figure(result, quantity, fs), key=f"lsip_evaluate_parity_{quantity}")

st.subheader("Structure map")
errors = [k for k in evaluate.ERROR_COLUMNS if any(r.errors.get(k) is not None for r in result.frames)]
frames_with_structure = [r for r in result.frames if r.structure is not None]
if errors:
    color_by = st.selectbox("Colour by", errors, key="lsip_evaluate_color",
                            format_func=lambda k: f"{evaluate.ERROR_COLUMNS[k][0]} ({evaluate.ERROR_COLUMNS[k][1]})")
    event = st.plotly_chart(evaluate_views.map_figure(result, color_by, fs), key="lsip_evaluate_map",
                            on_select="rerun", selection_mode="points")
    picked = evaluate_views.selected_frame(getattr(event, "selection", None))
    if picked is not None and picked != st.session_state.get("lsip_evaluate_picked"):
        st.session_state["lsip_evaluate_picked"] = picked  # a new click on the map chooses the frame below
        if any(r.frame == picked for r in frames_with_structure):
            st.session_state[FRAME_KEY] = picked
    st.caption("Each point is a frame: the first two principal components of a simple descriptor (element "
               "fractions, number of atoms, histogram of interatomic distances). Click a point to choose it below.")
if frames_with_structure:
    numbers = [r.frame for r in frames_with_structure]
    if st.session_state.get(FRAME_KEY) not in numbers:
        st.session_state[FRAME_KEY] = numbers[0]
    c1, c2 = st.columns([3, 1])
    chosen = c1.selectbox("Frame", numbers, key=FRAME_KEY, format_func=lambda k: (
        f"frame {k}: {result.frame(k).formula}" + ("" if result.frame(k).ok else " (failed)")))
    frame = result.frame(chosen)
    c2.button("Open frame in Explore", key="lsip_evaluate_open_button", on_click=_open_in_explore,
              args=(frame.structure, f"evaluate|{digest}|{chosen}"), icon=":material/view_in_ar:")

st.subheader("Errors per frame")
st.dataframe(evaluate_views.frames_table(result), hide_index=True)
stem = common.safe_file_name(name.rsplit(".", 1)[0], default="dataset", max_len=60)
d1, d2 = st.columns(2)
d1.download_button("Per-frame errors (CSV)", records_csv(evaluate.frame_records(result)),
                   file_name=common.safe_file_name(f"evaluate_{stem}", ".csv"), mime="text/csv",
                   key="lsip_evaluate_csv")
d2.download_button("Summary and frames (JSON)",
                   json.dumps(json_safe(evaluate.evaluation_to_dict(result)), indent=1, allow_nan=False),
                   file_name=common.safe_file_name(f"evaluate_{stem}", ".json"), mime="application/json",
                   key="lsip_evaluate_json")
st.caption("Energies in eV (per atom: eV/atom), forces in eV/Å, charges in e, dipoles in D. Dipoles are compared "
           "for neutral frames only (a charged frame's dipole depends on its origin). PNG export of a figure: the "
           "camera icon of its toolbar.")
