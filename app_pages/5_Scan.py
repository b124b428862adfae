"""Scan: stretch a bond or pull two fragments apart; energy, charges, channels and terms against distance."""

import numpy as np
import streamlit as st

from lsip.errors import LSIPError
from lsip.gallery import load_gallery
from lsip.reference.driver import ReferenceSettings
from lsip.scan import curves as scan_curves
from lsip.scan.path import dissociation_range
from lsip.ui import cache, common, dft_progress, links, progress, state
from lsip.units import HARTREE_TO_EV
from lsip.viz import latent3d, molview, scan_views

#: Above this many atoms a scan runs on request (the page stays usable at once).
SCAN_AUTO_ATOMS = 100

common.page_header(
    "Scan",
    "Move one atom (with its fragment) along the line from atom I to atom J and follow the model, warm-started "
    "from point to point. QEq and EEQ baselines show the dissociation catastrophe of quadratic charge models: "
    "their charges stay fractional when the fragments are far apart.",
)

structure = state.require_structure()
if structure is None:
    st.stop()
if structure.n_atoms < 2:
    st.info("A scan needs at least two atoms.")
    st.stop()
teaching = common.teaching_mode()
fs = 17 if teaching else 13
fp = cache.fingerprint(structure)
labels = [f"{s}{k}" for k, s in enumerate(structure.symbols)]
entry = None
if st.session_state.get(state.SOURCE_KEY, "Gallery") == "Gallery":
    entry = load_gallery().get(st.session_state.get(state.GALLERY_KEY, state.DEFAULT_MOLECULE))
i0, j0 = entry.scan_bond if entry is not None and entry.scan_bond else (0, 1)
if teaching and entry is not None and entry.story:
    st.info(entry.story)

c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
i = c1.selectbox("Atom I (fixed)", range(structure.n_atoms), index=i0, format_func=lambda k: labels[k],
                 key=f"lsip_scan_i_{fp}")
j = c2.selectbox("Atom J (moves)", range(structure.n_atoms), index=j0, format_func=lambda k: labels[k],
                 key=f"lsip_scan_j_{fp}")
if i == j:
    st.error("Pick two different atoms.")
    st.stop()
lo, hi = dissociation_range(cache.model(cache.params_json(state.current_parameters())), structure, i, j)
r_min, r_max = c3.slider("Distance range (Å)", 0.35, 30.0, (lo, hi), step=0.05,
                         key=f"lsip_scan_range_{fp}_{i}_{j}")
links.url_setting("lsip_scan_points")
n_points = c4.slider("Points", 5, 80, key="lsip_scan_points")
if r_max - r_min < 0.05:
    st.error("The distance range is empty: move the two ends of the slider apart.")
    st.stop()
distances = np.linspace(r_min, r_max, n_points)
p_json = cache.params_json(state.current_parameters())


scan_key = f"{fp}|{i}|{j}|{r_min:.4f}|{r_max:.4f}|{n_points}|{p_json}"
if structure.n_atoms > SCAN_AUTO_ATOMS and cache.stored("scan", scan_key) is None:
    # a large structure: one charge equalization per point (seconds each), so the scan waits for a click
    st.info(f"{structure.n_atoms} atoms: the scan solves the whole structure at each of its {n_points} points. "
            "Choose the atoms, the range and the points above, then run it.")
    if not dft_progress.request_button(f"Run the scan ({n_points} points)", "lsip_scan_run", scan_key):
        st.stop()
curves = common.run_guarded(lambda: progress.cached_with_progress(
    "scan", scan_key, lambda report: scan_curves.model_scan(cache.model(p_json), structure, i, j, distances,
                                                            progress=report),
    f"Model scan of {structure.formula}, points done"), "Scan")
if curves is None:
    st.stop()
model = cache.model(p_json)
if not curves.converged.all():
    bad = ", ".join(f"{r:.2f}" for r in curves.distances[~curves.converged])
    st.warning(f"Charge equalization did NOT converge at R = {bad} Å: those points are not solutions.")

with st.expander("Reference DFT curve (small systems only)", expanded=False):
    basis = st.selectbox("Basis set", dft_progress.BASIS_CHOICES, key="lsip_scan_basis")
    settings = ReferenceSettings(basis=basis, time_limit_s=120.0)
    store = st.session_state.setdefault("lsip_scan_dft", {})
    dkey = f"{scan_key}|{basis}"
    if dkey not in store:
        try:
            est = scan_curves.dft_scan_estimate(curves, settings)
        except LSIPError as exc:
            est, refusal = None, str(exc)
        if est is None:
            st.warning(f"Reference DFT refused: {refusal}")
        else:
            cached = est.all_cached
            st.caption(f"{len(curves.structures)} points at PBE0/{basis} (RKS and broken-symmetry UKS each, plus "
                       f"the separated fragments), {est.detail}"
                       + (" (all points are in the persistent cache)." if cached else "; each point is cached."))
            if st.session_state.get("lsip_scan_dft_running") == dkey:
                st.warning("The last DFT scan was stopped before it finished; the points computed so far are in "
                           "the persistent cache and load at once next time.")
                st.session_state.pop("lsip_scan_dft_running", None)
            if cached or dft_progress.request_button("Compute DFT curve", "lsip_scan_dft_go", dkey):
                if not cached:  # a click reruns the script, which interrupts the SCF at its next cycle
                    st.button("Stop", key="lsip_scan_dft_stop", help="Stops the SCF at its next cycle.")
                    st.session_state["lsip_scan_dft_running"] = dkey
                with st.status("Reference DFT along the scan", expanded=True) as status:
                    result = common.run_guarded(lambda: scan_curves.add_dft(
                        curves, settings, progress=dft_progress.scan_progress(len(curves.structures) + 1)),
                        "DFT scan")
                    status.update(label="DFT curve ready" if result is not None else "DFT scan failed",
                                  state="complete" if result is not None else "error", expanded=False)
                st.session_state.pop("lsip_scan_dft_running", None)
                if result is not None:
                    store[dkey] = result
    if dkey in store:
        curves = store[dkey]
        frags = " + ".join(f.label for f in curves.dft_fragments)
        st.caption(f"DFT ({curves.dft_level}): at each point the lowest of RKS and broken-symmetry UKS (checked "
                   f"for SCF stability); energies relative to the separately computed fragments ({frags}), so 0 is "
                   "the separated limit; Hirshfeld charges. Red crosses mark points that are not drawn.")
        flagged = [k for k, f in enumerate(curves.dft_flags) if f]
        if flagged:
            st.dataframe([{"R (Å)": round(float(curves.distances[k]), 3), "method": curves.dft_method[k],
                           "why not drawn": curves.dft_flags[k]} for k in flagged], hide_index=True)
        for note in curves.dft_notes:
            st.warning(note)

verdict = cache.stored("scan_verdict", scan_key)  # two fragment solves: once per scan, not once per rerun
if verdict is None:
    with progress.spinner("Solving the separated fragments for the dissociation verdict"):
        verdict = scan_curves.dissociation_verdict(curves, model)
    cache.store("scan_verdict", scan_key, verdict)
reveal = True
if teaching:
    st.radio("Predict first: at the largest distance the moving fragment will carry ...",
             ["no charge (neutral)", "a fractional charge", "a whole ion's charge"], key="lsip_scan_guess",
             index=None)
    reveal = st.toggle("Reveal the answer", key="lsip_scan_reveal")
if reveal:
    if verdict.passed:
        st.badge("Dissociates correctly: integer fragment charges, separated-fragment energy", icon=":material/check:",
                 color="green")
    elif verdict.integer_charges:
        st.badge("Integer fragment charges, but the fragments still interact", icon=":material/warning:",
                 color="orange")
    else:
        st.badge("Does NOT dissociate to integer fragment charges", icon=":material/close:", color="red")
    st.markdown(verdict.message)

k_default = int(np.argmin(np.abs(curves.distances - np.linalg.norm(structure.positions[j] - structure.positions[i]))))
k = st.select_slider("Scan point", list(range(len(curves.distances))), value=k_default,
                     format_func=lambda m: f"{curves.distances[m]:.2f} Å", key=f"lsip_scan_point_{scan_key}")
marker = float(curves.distances[k])
left, right = st.columns([2, 3])
with left:
    play = st.toggle("Play the scan in 3D", key="lsip_scan_play",
                     help="Play every point of the scan as an animation, back and forth, atoms coloured by their "
                          "charge at each point; the red dot on the small curve under it follows the point shown.")
    if play:
        n_frames = len(curves.structures)
        energies_eV = curves.energy * HARTREE_TO_EV
        frame_captions = [
            f"R = {curves.distances[m]:.2f} Å · E = {energies_eV[m]:+.3f} eV · q({labels[i]}) = "
            f"{curves.charges[m, i]:+.3f} e · q({labels[j]}) = {curves.charges[m, j]:+.3f} e"
            f"{'' if curves.converged[m] else ' (NOT converged)'}" for m in range(n_frames)]
        anim = molview.animated_scan_view(
            curves.structures, curves.charges, distances=curves.distances, energies=energies_eV,
            captions=frame_captions, height=380, font_size=common.label_font_size(),
            interval_ms=int(min(max(4000 / n_frames, 80), 400)))
        common.py3dmol_iframe(anim)
        st.caption(f"{n_frames} points played back and forth; colours: charge q (e) at each point on one scale for "
                   f"the whole scan. Moving atoms: {', '.join(labels[m] for m in curves.moved)}. Pause with the "
                   "button under the view.")
    else:
        pred = curves.predictions[k]
        mv = latent3d.latent_view(curves.structures[k], pred, height=380, font_size=common.label_font_size(),
                                  camera_key=f"scan-{fp}")
        common.py3dmol_iframe(mv)
        st.caption(f"R = {marker:.3f} Å: E = {pred.energy * HARTREE_TO_EV:+.4f} eV, "
                   f"q({labels[i]}) = {float(pred.charges[i]):+.4f} e, "
                   f"q({labels[j]}) = {float(pred.charges[j]):+.4f} e"
                   f"{'' if pred.converged else ' (NOT converged)'}. Moving atoms: "
                   f"{', '.join(labels[m] for m in curves.moved)}.")
with right:
    st.plotly_chart(scan_views.energy_figure(curves, marker, fs), key="lsip_scan_energy")
c1, c2 = st.columns(2)
c1.plotly_chart(scan_views.fragment_charge_figure(curves, marker, fs), key="lsip_scan_fragment")
c2.plotly_chart(scan_views.atom_charges_figure(curves, marker, fs), key="lsip_scan_atoms")
c1, c2 = st.columns(2)
c1.plotly_chart(scan_views.channels_figure(curves, marker, fs), key="lsip_scan_channels")
c2.plotly_chart(scan_views.terms_figure(curves, marker, fs), key="lsip_scan_terms")
if curves.eeq_error:
    st.caption(curves.eeq_error)
st.download_button("All curves (CSV)", scan_curves.curves_csv(curves),
                   file_name=common.safe_file_name(
                       f"scan_{common.structure_stem(structure)}_{labels[i]}-{labels[j]}", ".csv"),
                   mime="text/csv", key="lsip_scan_csv")
st.caption("Energies in eV (model: relative to free neutral atoms), distances in Å, charges in e. PNG export of "
           "a figure: the camera icon of its toolbar.")
