"""Optimize geometry: relax the current structure with the model (ASE BFGS or FIRE over LSIPCalculator), with live
progress; energy and largest force per step, the relaxed structure over the start with the start forces, RMSD and
bond lengths against the start and the DFT-relaxed geometry when there is one (docs/optimize.md)."""

import streamlit as st

from lsip import export
from lsip.structure import Structure
from lsip.ui import cache, common, state, widgets
from lsip.viz import relax_views
from lsip.workflows import relax

common.page_header(
    "Optimize",
    "Move the atoms downhill on the model's energy surface until the largest force falls below the threshold. "
    "The result is the model's own minimum: compare it with the DFT-relaxed geometry (when the molecule is in the "
    "validation set) to see how far the model's geometry is from DFT's.",
)

REQUEST_KEY = "lsip_relax_request"
USED_KEY = "lsip_relax_used"
#: Wall-time limit of one relaxation in the app, seconds.
TIME_LIMIT_S = 300.0

if st.session_state.pop(USED_KEY, False):
    st.success("The relaxed structure is now the current structure (sidebar: Paste XYZ); every page uses it.")
structure = state.require_structure()
if structure is None:
    st.stop()
if structure.n_atoms > relax.APP_MAX_ATOMS:
    st.warning(f"{structure.n_atoms} atoms is more than the app relaxes ({relax.APP_MAX_ATOMS}): use "
               "`lsip optimize FILE --optimizer FIRE` on the command line (docs/optimize.md).")
    st.stop()
params = state.current_parameters()
p_json = cache.params_json(params)
widgets.known_limits_note(params.name)
if any(structure.pbc):
    st.info("Periodic structure: the positions are relaxed at the fixed cell (the cell is not optimised).")

for _key, _default in (("lsip_relax_fmax", relax.DEFAULT_FMAX), ("lsip_relax_steps", relax.DEFAULT_MAX_STEPS),
                       ("lsip_relax_optimizer", relax.OPTIMIZERS[0])):
    st.session_state.setdefault(_key, _default)
c1, c2, c3, c4 = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
fmax = c1.number_input("Force threshold fmax (eV/Å)", min_value=0.001, max_value=1.0, step=0.01, format="%.3f",
                       key="lsip_relax_fmax", help="Converged when the largest force on any atom is below this.")
max_steps = int(c2.number_input("Most steps", min_value=1, max_value=1000, step=10, key="lsip_relax_steps"))
optimizer = c3.selectbox("Optimizer", relax.OPTIMIZERS, key="lsip_relax_optimizer",
                         help="BFGS: quasi-Newton, few steps for molecules. FIRE: damped dynamics, robust far from "
                              "a minimum.")
key = f"{cache.fingerprint(structure)}|{p_json}|{fmax:.6g}|{max_steps}|{optimizer}"


def _request(k: str) -> None:
    st.session_state[REQUEST_KEY] = k


c4.button("Run", type="primary", key="lsip_relax_run", on_click=_request, args=(key,), icon=":material/play_arrow:")
if st.session_state.get(REQUEST_KEY) != key:
    st.info("Choose the settings and press **Run**.")
    st.stop()


# kept for every session (lsip.ui.progress); the live run draws its own per-step lines
result = cache.stored("relax", key)
if result is not None:
    st.caption(f"From the cache (computed in {result.elapsed_s:.2f} s).")
else:
    with st.status(f"Relaxing {structure.name or structure.formula} with {optimizer} ...", expanded=True) as status:
        bar = st.progress(0.0, text=f"step 0 of at most {max_steps}")

        def _show(point: relax.RelaxStep) -> None:
            bar.progress(min(1.0, point.step / max_steps), text=f"step {point.step} of at most {max_steps}")
            st.text(f"step {point.step} of at most {max_steps}: E = {point.energy_eV:.6f} eV, "
                    f"max |F| = {point.fmax_eV_A:.4f} eV/Å, elapsed {point.elapsed_s:.2f} s")

        result = common.run_guarded(lambda: relax.relax(
            structure, model=cache.model(p_json), fmax=float(fmax), max_steps=max_steps, optimizer=optimizer,
            progress=_show, time_limit_s=TIME_LIMIT_S), "Optimize")
        ok = result is not None and result.converged
        status.update(label="Relaxation converged" if ok else "Relaxation stopped",
                      state="complete" if ok else "error", expanded=False)
    if result is None:
        st.stop()
    cache.store("relax", key, result)

if result.converged:
    st.success(f"Converged in {result.n_steps} steps ({result.elapsed_s:.2f} s): the largest force is "
               f"{result.fmax_eV_A[-1]:.4f} eV/Å (threshold {result.fmax:g}).")
else:
    st.warning(f"Not converged: {result.reason}. The results below are for the last geometry reached.")
if not result.trajectory:
    st.stop()
for note in result.notes:
    st.caption(note)

ref = result.reference
m = st.columns(4)
m[0].metric("Energy change", f"{result.energy_change_eV:+.4f} eV", help="Final minus start model energy.")
m[1].metric("Largest force", f"{result.fmax_eV_A[-1]:.4f} eV/Å",
            delta=f"{result.fmax_eV_A[-1] - result.fmax_eV_A[0]:+.3f} from the start", delta_color="inverse")
m[2].metric("RMSD to the start", f"{result.rmsd_to_start_A:.4f} Å",
            help="After the best rotation and translation" + (" (translation only: periodic)." if result.periodic
                                                              else "."))
if ref is not None:
    m[3].metric("RMSD to DFT-relaxed", f"{result.rmsd_to_reference_A:.4f} Å",
                help=f"Model-relaxed vs {ref.label}, after the best rotation and translation.")
    is_minimum = ref.start_rmsd_A < 0.02
    st.caption(f"DFT-relaxed geometry: {ref.label}" + (", atoms matched to this structure's order" if ref.reordered
                                                        else "") + f"; it lies {ref.start_rmsd_A:.4f} Å from the "
               "start. " + ("The start is (nearly) the DFT minimum, so the RMSD to the start measures how far the "
                            "model moves a DFT minimum." if is_minimum else
                            "Compare the model-relaxed geometry with it in the table."))
else:
    st.caption("No DFT-relaxed geometry of this molecule in the validation set (assets/validation/): the "
               "comparison is with the start only.")

widgets.plotly_figure(relax_views.trajectory_figure(result, widgets.figure_font()),
                      f"{common.structure_stem(structure)}_relaxation", key="lsip_relax_fig")
left, right = st.columns([3, 2])
with left:
    common.py3dmol_iframe(relax_views.relaxed_view(result, height=400, font_size=common.label_font_size(),
                                                   camera_key=f"relax-{cache.fingerprint(structure)}"))
    st.caption("Model-relaxed structure (element colours), laid onto the faint grey start by the best rotation; "
               "green arrows: the forces on the start atoms (longest 1.2 Å, the others to scale).")
with right:
    st.dataframe(relax_views.bond_rows(result), hide_index=True)
    st.caption(f"Bonded: closer than {relax.BOND_SCALE} x the sum of covalent radii in any of the geometries.")
    with st.expander("Forces per atom"):
        st.dataframe(relax_views.force_rows(result), hide_index=True)

stem = common.structure_stem(structure)
trajectory_csv = export.records_csv([{"step": s.step, "energy_eV": s.energy_eV, "fmax_eV_A": s.fmax_eV_A,
                                      "elapsed_s": s.elapsed_s} for s in result.trajectory])
widgets.downloads([("Relaxed structure (extended XYZ)", relax.relaxed_extxyz(result), f"{stem}_relaxed.extxyz",
                    "chemical/x-xyz"),
                   ("Trajectory (CSV)", trajectory_csv, f"{stem}_relaxation.csv", "text/csv")], key="lsip_relax_dl")


def _use(final: Structure, params_name: str) -> None:
    """Make ``final`` the current structure of every page: the sidebar's pasted XYZ."""
    st.session_state[state.SOURCE_KEY] = "Paste XYZ"
    st.session_state["lsip_paste_text"] = relax.xyz_text(final, f"relaxed with LSIP ({params_name})")
    st.session_state[USED_KEY] = True


st.button("Use the relaxed structure", key="lsip_relax_use", on_click=_use, args=(result.final, result.params_name),
          disabled=result.periodic, icon=":material/check:",
          help="Periodic structures: download the extended XYZ and upload it (pasted XYZ has no cell)."
          if result.periodic else "It replaces the current structure on every page (as pasted XYZ).")
