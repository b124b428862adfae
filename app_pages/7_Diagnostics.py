"""Diagnostics: physics invariants of the current prediction as pass/fail badges, the solver trace and status,
live model-parameter sliders (stored as overrides for every page) and baseline charge models side by side."""

import streamlit as st

from lsip import diagnostics
from lsip.errors import LSIPError
from lsip.model import baselines
from lsip.model.decoder import as_numpy
from lsip.model.params import available_parameter_sets, default_parameter_set, get_parameters
from lsip.results import compare_sets
from lsip.ui import cache, common, links, progress, state, widgets
from lsip.units import HARTREE_TO_EV
from lsip.viz import diagnostic_views, figures

FD_KEY = "lsip_diag_fd_requested"
BASE_KEY = state.OVERRIDES_BASE_KEY
#: field -> (widget key, label, min, max, step, to display units, from display units, help)
SLIDERS = {
    "kappa": ("diag_kappa", "kappa (coupling constant)", 0.0, 3.0, 0.05, 1.0,
              "beta_AB = kappa S_AB (I_A + I_B)/2: the strength of the charge-transfer resonance."),
    "embedding_scale": ("diag_embedding_scale", "embedding scale", 0.0, 3.0, 0.05, 1.0,
                        "Global factor on the embedding functions F_k(rho_bar)."),
    "electronic_temperature": ("diag_te", "electronic temperature T_e (meV)", 0.0, 200.0, 5.0,
                               HARTREE_TO_EV * 1000.0, "Entropy term -T_e S(w); 0 = off (default)."),
}
OVERLAP_KEY = "diag_overlap_min"
#: Above this many atoms the second parameter set runs only on request.
COMPARE_AUTO_ATOMS = 100
#: Options of the channel-overlap threshold (the parameter set's own value snaps to the nearest one).
OVERLAP_CHOICES = ["1e-05", "3e-05", "1e-04", "3e-04", "1e-03", "3e-03", "1e-02", "3e-02"]


def _reset() -> None:
    st.session_state[state.OVERRIDES_KEY] = {}
    for key in [spec[0] for spec in SLIDERS.values()] + [OVERLAP_KEY]:
        st.session_state.pop(key, None)


common.page_header(
    "Diagnostics",
    "For model debugging: the physics invariants every prediction must satisfy, how the charge-equalization "
    "solver got there, what the model parameters do, and simpler charge models for comparison.",
)
teach = common.teaching_mode()
font = 18 if teach else 13
structure = state.require_structure()
if structure is None:
    st.stop()

# --- live model parameters (drawn first: they decide which prediction is shown) -------------------------
base = common.run_guarded(lambda: get_parameters(st.session_state.get(state.PARAMS_KEY, default_parameter_set())),
                          "Parameter set")
if base is None:
    st.stop()
if st.session_state.get(BASE_KEY) != base.name:  # another parameter set chosen: start from its values
    _reset()
    st.session_state[BASE_KEY] = base.name
current = base.with_(**(st.session_state.get(state.OVERRIDES_KEY) or {}))
with st.expander("Model parameters (live)", expanded=True):
    cols = st.columns(4)
    values = {}
    for col, (field, (key, label, lo, hi, step, scale, help_)) in zip(cols, SLIDERS.items()):
        if key not in st.session_state:
            st.session_state[key] = min(hi, max(lo, round(getattr(current, field) * scale / step) * step))
        chosen = col.slider(label, lo, hi, step=step, key=key, help=help_)
        # the slider's grid may not hold the set's own value (a calibrated kappa of 0.635): the grid point nearest
        # to it stands for the set's value, so opening this page never overrides anything by itself
        values[field] = diagnostics.slider_value(chosen, getattr(base, field), lo, hi, step, scale)
    overlap_options = list(OVERLAP_CHOICES)
    if not any(abs(float(o) / current.channel_overlap_min - 1) < 1e-9 for o in overlap_options):
        overlap_options = sorted([*overlap_options, f"{current.channel_overlap_min:.6g}"], key=float)
    if st.session_state.get(OVERLAP_KEY) not in overlap_options:
        st.session_state[OVERLAP_KEY] = min(overlap_options, key=lambda v: abs(float(v) - current.channel_overlap_min))
    values["channel_overlap_min"] = float(cols[3].select_slider(
        "channel overlap threshold", overlap_options, key=OVERLAP_KEY,
        help="A charge-transfer channel A->B exists while the valence overlap S_AB exceeds this."))
    overrides = diagnostics.parameter_overrides(base, values)
    st.session_state[state.OVERRIDES_KEY] = overrides
    links.sync_to_url()  # the link carries the live parameters
    left, right = st.columns([3, 1])
    if overrides:
        left.warning(f"Live parameters in use on every page: **{overrides['name']}**")
    else:
        left.caption(f"Parameter set **{base.name}** unchanged.")
    right.button("Reset parameters", on_click=_reset, key="diag_reset", disabled=not overrides)
    st.caption("Results are cached per parameter set, so moving a slider back is instant. The overrides apply to "
               "every page until reset.")

params = state.current_parameters()
p_json = cache.params_json(params)
pred = state.current_prediction(structure)
if pred is None:
    st.stop()


# --- invariants -----------------------------------------------------------------------------------------
st.subheader(f"Physics invariants: {structure.name or structure.formula} ({structure.n_atoms} atoms, "
             f"Q = {structure.charge:+d})")
check_key = f"{cache.fingerprint(structure)}:{p_json}"
requested = st.session_state.setdefault(FD_KEY, set())
st.button("Run finite-difference force check (slower: 8 extra solves)", key="diag_run_fd",
          on_click=requested.add, args=(check_key,), disabled=check_key in requested)
include_slow = check_key in requested
with progress.spinner(f"Checking the physics invariants of {structure.formula}"):
    results = common.run_guarded(
        lambda: cache.physics_checks(structure, pred, p_json, include_slow), "Diagnostics")
if results is None:
    st.stop()
n_pass = sum(r.passed is True for r in results)
n_fail = sum(r.passed is False for r in results)
n_skip = sum(r.skipped for r in results)
st.markdown(f"**{n_pass} passed, {n_fail} failed, {n_skip} skipped**"
            + ("" if include_slow else " - finite-difference forces not run yet (button above)."))
for r in results:
    c1, c2 = st.columns([1, 5])
    if r.skipped:
        c1.badge("skipped", color="gray", icon=":material/remove:")
    elif r.passed:
        c1.badge("pass", color="green", icon=":material/check:")
    else:
        c1.badge("FAIL", color="red", icon=":material/close:")
    value = "n/a" if r.skipped else f"{r.value:.2e}"
    c2.markdown(f"**{r.name}** - value {value} (tolerance {r.tolerance:.0e})")
    c2.caption(r.detail + (f"  \n*Why:* {diagnostics.EXPLANATIONS.get(r.name, '')}" if teach else ""))
st.download_button("Download checks (CSV)", diagnostic_views.checks_table(results).to_csv(index=False).encode(),
                   "lsip-diagnostics.csv", "text/csv", key="diag_csv")

# --- continuity along a bond ----------------------------------------------------------------------------
st.subheader("Continuity along a bond")
st.caption(f"Re-solves the model at 0.005 Å steps over ±{diagnostics.CONTINUITY_HALF_WIDTH} Å around the current "
           "length of a chosen bond: a potential must have no energy or charge step and forces equal to the "
           "energy's slope (the Scan page's verdict runs the same check over its whole range).")
if structure.n_atoms >= 2:
    labels = [f"{s}{k}" for k, s in enumerate(structure.symbols)]
    b1, b2, b3 = st.columns([1, 1, 2])
    bi = b1.selectbox("Atom I", range(structure.n_atoms), format_func=lambda k: labels[k], key="diag_cont_i")
    bj = b2.selectbox("Atom J (moves)", range(structure.n_atoms), index=1, format_func=lambda k: labels[k],
                      key="diag_cont_j")
    if b3.button("Check continuity", key="diag_cont_go", disabled=bi == bj):
        with progress.spinner("Fine scan along the bond (continuity check)"):
            cont = common.run_guarded(lambda: diagnostics.bond_continuity(cache.model(p_json), structure,
                                                                          bi, bj), "Continuity")
        if cont is not None:
            c = st.columns(3)
            c[0].metric("Largest energy step", f"{cont.energy_step_eV:.2e} eV")
            c[1].metric("Largest charge step", f"{cont.charge_step:.2e} e")
            c[2].metric("Force vs slope", f"{cont.force_mismatch_eV:.2e} eV",
                        help="Largest |E(k+1) - E(k) + (F(k) + F(k+1))/2 dR| over neighbouring points.")
            (st.success if cont.passed else st.error)(cont.message)

# --- solver ---------------------------------------------------------------------------------------------
st.subheader("Solver")
m = st.columns(5)
m[0].metric("Status", "converged" if pred.converged else "NOT converged")
m[1].metric("Iterations", pred.iterations)
m[2].metric("KKT residual (Ha)", f"{pred.residual:.1e}", help=f"tolerance {params.tol:.0e} Ha")
m[3].metric("mu (eV)", f"{pred.mu * HARTREE_TO_EV:.3f}")
m[4].metric("Time (ms)", f"{pred.time_s * 1000:.0f}")
st.caption(f"Projected L-BFGS on the latent coordinates ({pred.device}): "
           + ("KKT residual below tolerance." if pred.converged else "stopped ABOVE the tolerance.")
           + " Active bounds: " + (", ".join(f"{k} = {v}" for k, v in pred.active_bounds.items()) or "none")
           + f". Parameter set: {pred.params_name}.")
if pred.trace:
    st.plotly_chart(diagnostic_views.solver_trace_figure(pred.trace, params.tol, font_size=font), key="diag_trace")
else:
    st.info("The solver recorded no iterations (the starting point was already converged).")

# --- baselines ------------------------------------------------------------------------------------------
st.subheader("Baseline charge models")
series = {"LSIP": as_numpy(pred.charges)}
dipoles = {"LSIP": diagnostic_views.dipole_debye(as_numpy(pred.dipole))}
for name, func in (("QEq", lambda: baselines.qeq_charges(structure, cache.library())),
                   ("EEQ", lambda: baselines.eeq_charges(structure))):
    try:
        res = func()
    except (LSIPError, RuntimeError, ValueError) as exc:
        st.warning(f"{name} baseline unavailable: {exc}")
        continue
    series[name] = as_numpy(res.charges)
    dipoles[name] = diagnostic_views.dipole_debye(as_numpy(res.dipole))
left, right = st.columns([3, 2])
with left:
    st.plotly_chart(figures.charges_bar(structure.symbols, series, title="LSIP vs baseline charges (e)",
                                        font_size=font), key="diag_charges")
with right:
    table = diagnostic_views.baseline_table(structure.symbols, series)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%+.3f") for c in table.columns[1:]})
    st.markdown("Dipole |mu| (D, point charges): " + ", ".join(f"{k} {v:.2f}" for k, v in dipoles.items()))
    st.download_button("Download charges (CSV)", table.to_csv(index=False).encode(), "lsip-baseline-charges.csv",
                       "text/csv", key="diag_charges_csv")
st.caption("QEq: quadratic model with the library's chi and eta (Rappe & Goddard 1991); EEQ: Caldeweyher et al. "
           "2019 parameters via tad-multicharge. Both keep fractional charges on separated fragments.")

# --- two parameter sets -----------------------------------------------------------------------------------
st.subheader("Two parameter sets side by side")
others = [n for n in available_parameter_sets() if n != base.name] or [base.name]
other = st.selectbox("Compare with", others, key="diag_compare_set",
                     help="The same structure and total charge with another parameter set (without live overrides).")
other_pred = None
if structure.n_atoms <= COMPARE_AUTO_ATOMS or st.button(
        f"Run {other} on these {structure.n_atoms} atoms", key="diag_compare_go",
        help="A second charge equalization of the whole structure (not run automatically for large structures)."):
    with progress.spinner(f"Equalizing charges with {other}"):
        other_pred = common.run_guarded(lambda: cache.prediction(structure, get_parameters(other)),
                                        f"Parameter set {other}")
if other_pred is not None:
    rows, atom_rows = compare_sets(pred, other_pred, f"A: {params.name}", f"B: {other}")
    left, right = st.columns([3, 2])
    left.dataframe(rows, hide_index=True, width="stretch",
                   column_config={c: st.column_config.NumberColumn(format="%+.4f") for c in list(rows[0])[1:]})
    right.dataframe(atom_rows, hide_index=True, width="stretch",
                    column_config={c: st.column_config.NumberColumn(format="%+.3f") for c in list(atom_rows[0])[1:]})
    if not other_pred.converged:
        st.warning(f"Charge equalization did NOT converge with {other}: its column is not a solution.")

widgets.reproduction_downloads(structure, pred, key="diagnostics_repro")
