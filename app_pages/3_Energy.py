"""Energy: the decomposition into named terms as a waterfall that ends at the total (residual shown), per-atom
stacked bars, per-pair energies, and a 3D view recoloured by the per-atom energy of a chosen term."""

import streamlit as st

from lsip import export
from lsip.model.decoder import term_labels
from lsip.model.terms import ENERGY_TERMS
from lsip.ui import cache, common, state, widgets
from lsip.units import HARTREE_TO_EV
from lsip.viz import figures
from lsip.viz.latent3d import latent_view

common.page_header(
    "Energy",
    "The model energy (relative to the free neutral atoms) is a sum of named terms; every term is also split "
    "per atom (and, for short-range terms, per pair), so each eV can be traced to the atoms that carry it.",
)
structure, pred = state.require_prediction()
fp = cache.fingerprint(structure)
font = widgets.figure_font()
stem = common.structure_stem(structure)
labels = term_labels()

terms = export.term_records(pred)
total, residual = terms[-2]["energy_eV"], terms[-1]["energy_eV"]
k1, k2, k3 = st.columns(3)
k1.metric("Total energy", f"{total:.4f} eV", help="Relative to the free neutral atoms.")
k2.metric("Sum of the terms", f"{sum(r['energy_eV'] for r in terms[:-2]):.4f} eV")
k3.metric("Residual (total - sum)", f"{residual:.1e} eV", help="Round-off only: the total is the sum of the terms.")
widgets.known_limits_note(pred.params_name)

left, right = st.columns([3, 2], gap="large")
with left:
    widgets.plotly_figure(figures.energy_waterfall(pred, font_size=font), f"{stem}_energy_waterfall", "en_waterfall")
with right:
    st.dataframe([{"term": r["label"], "energy (eV)": r["energy_eV"]} for r in terms], hide_index=True,
                 column_config={"energy (eV)": st.column_config.NumberColumn(format="%+.5f")})
    with st.expander("What the terms are"):
        params = state.current_parameters()
        st.markdown("\n".join(f"- **{t.label}**{'' if t.active(params) else ' (off in this parameter set)'}: "
                               f"{t.meaning}. Formula: `{t.description}`" for t in ENERGY_TERMS.values()))

st.subheader("Per atom")
options = ["total", *pred.terms]
a1, a2 = st.columns([3, 2], gap="large")
with a1:
    widgets.plotly_figure(figures.per_atom_terms(pred, font_size=font), f"{stem}_per_atom_terms", "en_per_atom")
with a2:
    term = st.selectbox("Colour atoms by", options, key="en_term",
                        format_func=lambda k: "Total per-atom energy" if k == "total" else labels.get(k, k))
    values = (sum(pred.terms.values()) if term == "total" else pred.terms[term]).numpy() * HARTREE_TO_EV
    title = "E_atom (all terms)" if term == "total" else labels.get(term, term)
    mv = latent_view(structure, pred, values=values, value_title=title, unit="eV", show_channels=False,
                     show_glyphs=False, height=common.VIEW_HEIGHT, font_size=common.label_font_size(),
                     camera_key=f"energy-{fp}")
    common.show_molecule(mv.html(), mv.total_height)
    st.caption("Red: the term raises this atom's energy; blue: lowers it (eV, range symmetric about zero).")

st.subheader("Per pair")
pairs = export.pair_records(pred)
if pairs:
    st.dataframe(pairs, hide_index=True,
                 column_config={k: st.column_config.NumberColumn(format="%+.4f") for k in pairs[0]
                                if k.startswith("E_")} | {"distance_A": st.column_config.NumberColumn(
                                    "R (Å)", format="%.3f")})
    st.caption("Short-range pairs within the cut-off. The electrostatic column is the short-range part only "
               "(density penetration + configuration correction); the long-ranged point-charge Coulomb energy "
               "is reported per atom, so pair columns need not add up to the term totals.")
else:
    st.caption("No short-range pairs (a single atom or atoms beyond the cut-off).")

st.subheader("Export")
widgets.downloads([
    ("Terms (CSV)", export.records_csv(terms), f"{stem}_energy_terms.csv", "text/csv"),
    ("Per atom (CSV)", lambda: export.records_csv(export.atom_records(pred)), f"{stem}_atoms.csv", "text/csv"),
    ("Per pair (CSV)", lambda: export.records_csv(pairs), f"{stem}_pairs.csv", "text/csv"),
], key="en_dl")

widgets.reproduction_downloads(structure, pred, key="energy_repro")
