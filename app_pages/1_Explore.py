"""Explore: the structure in 3D coloured by charge, channels as arrows, state-weight glyphs, headline numbers,
per-atom table and exports (CSV, extended XYZ, JSON settings, a Python script). Teaching mode adds the gallery
story and a predict-then-reveal question."""

import streamlit as st

from lsip import export, gallery
from lsip.gallery import teaching
from lsip.ui import cache, common, dft_progress, links, state, widgets
from lsip.viz.latent3d import latent_view
from lsip.viz.molview import molecule_view

common.page_header(
    "Explore",
    "Atoms are coloured by their charge (red: lost electrons, blue: gained), green arrows show charge-transfer "
    "channels from donor to acceptor (thicker = more electrons moved), halos show ionic character "
    "(w+ + w-) and orange rings a populated excited state. Hover an atom for its numbers.",
)
structure, pred = state.require_prediction()

fp = cache.fingerprint(structure)
teach = common.teaching_mode()
source, gallery_key = widgets.structure_source()
labels = [f"{s}{k}" for k, s in enumerate(structure.symbols)]

story = gallery.gallery_story(gallery_key) if teach else None
if story:
    st.info(f"**{gallery.gallery_title(gallery_key)}** - {story}", icon=":material/school:")


def _reveal(key: str, value: bool) -> None:
    st.session_state[key] = value


hidden = False
reveal_key = f"explore_revealed_{fp}"
if teach and st.toggle("Predict, then reveal", value=True, key="explore_predict",
                       help="Hide the charges until you have made a guess."):
    guess = st.selectbox("Which atom is the most negative?", range(structure.n_atoms), index=None,
                         format_func=lambda k: labels[k], key=f"explore_guess_{fp}", placeholder="choose an atom")
    if not st.session_state.get(reveal_key, False):
        hidden = True
        st.button("Reveal the charges", disabled=guess is None, on_click=_reveal, args=(reveal_key, True),
                  type="primary")
    else:
        if guess is not None:
            correct, message = teaching.judge_negative_guess(structure.symbols, pred.charges.numpy(), guess)
            (st.success if correct else st.warning)(message)
        st.button("Ask again", on_click=_reveal, args=(reveal_key, False))

c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 2, 2])
for _key in ("explore_threshold", "explore_direction", "explore_color", "explore_glyphs", "explore_forces",
             "explore_dipoles"):
    links.url_setting(_key)
threshold = c1.slider("Channel threshold (e)", 0.0, 0.5, step=0.005, format="%.3f", key="explore_threshold",
                      help="Draw channels that move at least this many electrons.")
direction = c2.radio("Channels", ["net flow", "both directions"], key="explore_direction",
                     help="Net: one arrow per pair (c_AB - c_BA). Both: c_AB and c_BA as two offset arrows.")
color_by = c3.radio("Colour atoms by", ["charge q", "charge fluctuation"], key="explore_color",
                    help="Charge fluctuation w+ + w-: ionic character of an atom's bonds even where q = 0.")
glyphs = c4.toggle("State-weight glyphs", key="explore_glyphs")
periodic = structure.cell is not None and any(structure.pbc)
show_cell = c4.toggle("Periodic cell", value=True, key="explore_cell",
                      help="Draw the edges of the periodic cell (a large cell can dwarf a small molecule).") \
    if periodic else False
show_forces = c5.toggle("Force arrows", key="explore_forces",
                        help="One arrow per atom along its force; the longest is 1.2 Å, the others to scale. "
                             "Hover an arrow for |F| in eV/Å.")
show_dipoles = c5.toggle("Atomic dipoles", key="explore_dipoles",
                         help="One purple arrow per atom along its atomic dipole (the shift of its electron cloud, "
                              "from - to +: polarized by the atoms it is not bonded to, plus the lone pairs of N, O, "
                              "F, P, S, Cl, whose arrows point from the lone pairs towards the bonds), starting at the "
                              "atom's surface; the longest is 1 Å, the others to scale. Hover for |p| in debye.")

left, right = st.columns([3, 2], gap="large")
# the numbers first: the right column is sent before the 3D view, which the browser takes longest to draw
with right:
    widgets.headline_metrics(pred, charged=structure.charge != 0)
    dft_progress.atomization_tile(structure, export.headline(pred)["energy_eV"])
    st.markdown(f"**{structure.formula}**, {structure.n_atoms} atoms, total charge Q = {structure.charge:+d} e")
    if not hidden:
        widgets.reference_comparison(structure, pred, gallery_key if source == "gallery" else None)
        n_shown = len(export.flow_records(pred, threshold)) if direction == "net flow" else \
            sum(r["occupation"] >= threshold for r in export.channel_records(pred))
        st.caption(f"{n_shown} channel arrow(s) at threshold {threshold:.3f} e; see the Charge transfer page "
                   "for the full list.")

with left:
    if hidden:
        mv = molecule_view(structure, labels=labels, font_size=common.label_font_size(), height=common.VIEW_HEIGHT,
                           camera_key=f"explore-{fp}", show_cell=show_cell)
        st.caption("Element colours (O red, H white, ...) until you reveal the charges.")
    else:
        fluct = color_by == "charge fluctuation"
        mv = latent_view(
            structure, pred, values=pred.charge_fluctuation.numpy() if fluct else None,
            value_title="charge fluctuation w+ + w-" if fluct else "charge q", unit="" if fluct else "e",
            channel_threshold=threshold, both_directions=direction == "both directions", show_glyphs=glyphs,
            height=common.VIEW_HEIGHT, font_size=common.label_font_size(), camera_key=f"explore-{fp}",
            labels=teaching.atom_labels_with_charges(structure.symbols, pred.charges.numpy()) if teach else None,
            vmin=0.0 if fluct else None,
            vmax=max(float(pred.charge_fluctuation.max()), 1e-3) if fluct else None, show_forces=show_forces,
            show_dipoles=show_dipoles, show_cell=show_cell)
    if structure.n_atoms > 200:
        st.caption(f"Drawing {structure.n_atoms} atoms in 3D takes the browser a few seconds.")
    common.show_molecule(mv.html(), mv.total_height)

if hidden:
    st.caption("The per-atom table and the exports appear once the charges are revealed.")
    st.stop()

st.subheader("Per-atom charges and state weights")
records = export.atom_records(pred)
shown = ["index", "symbol", "charge_e", "w_cation", "w_neutral", "w_anion", "w_excited", "p_D", "E_atom_eV",
         "mu_A_eV"]
st.dataframe([{k: r[k] for k in shown} for r in records], hide_index=True,
             column_config={k: st.column_config.NumberColumn(format="%.4f", help=widgets.COLUMN_HELP.get(k))
                            for k in shown[2:]})
st.caption("q = w+ - w- (e, positive = electrons lost). Weights: probabilities of the cation, neutral, anion and "
           "excited state of each atom. E_atom: sum of the per-atom energy terms (eV); mu_A: atomic chemical "
           "potential (eV).")

st.subheader("Export")
stem = common.structure_stem(structure)
widgets.downloads([
    ("Atoms (CSV)", lambda: export.records_csv(records), f"{stem}_atoms.csv", "text/csv"),
    ("Channels (CSV)", lambda: export.records_csv(export.channel_records(pred)), f"{stem}_channels.csv", "text/csv"),
    *widgets.reproduction_items(structure, pred),
], key="explore_dl")
st.caption("The script rebuilds this structure and prints the same energy and charges through the `lsip` API. "
           "The page URL reproduces gallery structure, charge and parameter set.")
