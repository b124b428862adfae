"""Latent library: per element, the computed atomic states against experiment, radial basis densities, the
Gaussian fits used for analytic Coulomb integrals, embedding functions, and how the library was built.

Needs no structure: everything comes from the shipped library (``cache.library()``).
"""

import json

import pandas as pd
import streamlit as st

from lsip.model.library import STATE_LABELS, STATE_SYMBOLS
from lsip.structure import ATOMIC_NUMBERS, SYMBOLS_BY_NUMBER
from lsip.ui import cache, common, state
from lsip.viz import figures, library_views

ELEMENT_KEY = "lsip_library_element"

common.page_header(
    "Latent library",
    "The model's dictionary: for every element, the **cation, neutral, anion and excited** atom computed once "
    "with PySCF at one level of theory. Their energies give the ionization energy I, electron affinity A and "
    "excitation energy; their spherical densities are the basis the model builds molecules from.",
)
teach = common.teaching_mode()
font = 18 if teach else 13
library = common.run_guarded(cache.library, "Cannot load the latent library")
if library is None:
    st.stop()

level = library.level
st.caption(f"Level of theory: **{str(level.get('xc', '?')).upper()} / {level.get('basis', '?')}**, "
           f"PySCF {level.get('pyscf_version', '?')}, built {str(level.get('date', '?'))[:10]} in "
           f"{float(level.get('build_time_s', 0.0)):.0f} s. Energies on this page in eV.")
if teach:
    st.info("**I** = E(cation) - E(neutral): the cost of removing an electron.  **A** = E(neutral) - E(anion): "
            "the energy released when an electron is added.  Their mean **chi** is the Mulliken "
            "electronegativity, their difference **eta** the chemical hardness. Electrons flow from atoms with "
            "low chi to atoms with high chi until the chemical potentials are equal.")

# --- all elements against experiment -------------------------------------------------------------------
st.subheader("All elements: computed vs experiment")
table = library_views.element_table(library)
st.dataframe(library_views.display_table(table), hide_index=True, width="stretch")
st.caption(f"d = computed - experiment (eV); flagged above {library_views.DEVIATION_FLAG_EV} eV. Experiment: "
           "I from NIST ASD, A from the CRC Handbook (-: the anion is unbound in reality), excitation from "
           "NIST ASD levels. Unbound anions stay in the library with a flag.")
st.download_button("Download table (CSV)", table.to_csv(index=False).encode(), "lsip-library-elements.csv",
                   "text/csv", key="lib_csv")

# --- element selector: a periodic table of buttons ------------------------------------------------------
symbols = library.symbols
loaded = state.current_structure()
in_structure = [] if loaded is None else sorted({s for s in loaded.symbols if s in symbols}, key=ATOMIC_NUMBERS.get)
# the page follows the loaded structure: a new structure selects its heaviest element (the user's pick stays
# until the structure changes)
structure_token = None if loaded is None else cache.fingerprint(loaded)
if st.session_state.get("lsip_library_structure") != structure_token and in_structure:
    st.session_state["lsip_library_structure"] = structure_token
    st.session_state[ELEMENT_KEY] = in_structure[-1]
if st.session_state.get(ELEMENT_KEY) not in symbols:
    st.session_state[ELEMENT_KEY] = "O" if "O" in symbols else symbols[0]


def _select(symbol: str) -> None:
    st.session_state[ELEMENT_KEY] = symbol


st.subheader("Element")
if in_structure:
    st.caption(f"In the loaded structure ({loaded.formula}): {', '.join(in_structure)}.")
max_z = max(ATOMIC_NUMBERS[s] for s in symbols)
last_period = library_views.periodic_position(SYMBOLS_BY_NUMBER[max_z])[0]
rows: dict[int, dict[int, str]] = {}
for z in range(1, max_z + 1):
    period, group = library_views.periodic_position(SYMBOLS_BY_NUMBER[z])
    rows.setdefault(period, {})[group] = SYMBOLS_BY_NUMBER[z]
if last_period <= 3:  # complete the last period up to its noble gas so the table keeps its shape
    rows[last_period].setdefault(18, SYMBOLS_BY_NUMBER[{1: 2, 2: 10, 3: 18}[last_period]])
# 18 narrow columns: the buttons drop their side padding so two-letter symbols are not cut to "B." or "N."
st.html('<style>[class*="st-key-lib_el_"] button {padding-left: 0; padding-right: 0; min-width: 0;}'
        '[class*="st-key-lib_el_"] button p {font-size: 0.85rem; overflow: visible;}</style>')
for period in sorted(rows):
    cols = st.columns(18, gap="small")
    for group, sym in sorted(rows[period].items()):
        cols[group - 1].button(sym, key=f"lib_el_{sym}", disabled=sym not in symbols, width="stretch",
                               type="primary" if sym == st.session_state[ELEMENT_KEY] else "secondary",
                               on_click=_select, args=(sym,),
                               help=None if sym in symbols else f"{sym} is not in this library")
symbol = st.session_state[ELEMENT_KEY]
entry = library.element(symbol)

st.markdown(f"### {symbol} (Z = {entry.Z})" + (f" - flags: `{', '.join(entry.flags)}`" if entry.flags else ""))
st.dataframe(library_views.state_table(library, symbol), hide_index=True, width="stretch",
             column_config={"E (Ha)": st.column_config.NumberColumn(format="%.6f"),
                            "E - E0 (eV)": st.column_config.NumberColumn(format="%.3f"),
                            "fit error (e)": st.column_config.NumberColumn(format="%.4f"),
                            "sphericity": st.column_config.NumberColumn(format="%.1e")})

tab_rad, tab_fit, tab_emb = st.tabs(["Radial densities", "Gaussian fits", "Embedding functions"])
with tab_rad:
    log_axes = st.toggle("Logarithmic r axis", value=True, key="lib_log_axes",
                         help="A log axis shows core shells and the valence tail together.")
    st.plotly_chart(figures.radial_densities(library, symbol, log_axes=log_axes, font_size=font),
                    key="lib_radial")
    if teach:
        st.caption("The anion's density reaches furthest out, the cation's is the most compact: adding an "
                   "electron makes an atom bigger.")
    if entry.core is not None and entry.core.n_electrons:
        st.caption(f"Dashed: {symbol}'s frozen core ({entry.core.shells}), the same in every state. Every electron "
                   "of a neighbour that enters it pays the core wall (docs/model.md section 10.10).")
    radial = pd.DataFrame({"r (bohr)": library.r_grid} | {f"rho {lab} (bohr^-3)": entry.states[lab].radial_density
                                                          for lab in STATE_LABELS})
    if entry.core is not None:
        radial["rho core (bohr^-3)"] = entry.core.radial_density
    st.download_button(f"Download {symbol} radial densities (CSV)", radial.to_csv(index=False).encode(),
                       f"lsip-library-{symbol}-radial.csv", "text/csv", key="lib_radial_csv")
with tab_fit:
    fit_state = st.radio("State", list(STATE_LABELS), horizontal=True, key="lib_fit_state",
                         format_func=lambda lab: f"{lab} ({STATE_SYMBOLS[lab]})")
    if entry.states[fit_state].n_electrons == 0:
        st.info(f"{symbol} {fit_state} has no electrons: nothing to fit.")
    else:
        st.plotly_chart(library_views.fit_overlay(library, symbol, fit_state, log_axes=log_axes, font_size=font),
                        key="lib_fit")
    st.caption("Each state's density is fitted by normalised s-Gaussians with non-negative coefficients, so "
               "Coulomb integrals between atoms are analytic (erf). Fit error = integral of |fit - rho| over "
               "space, in electrons (column in the table above).")
with tab_emb:
    st.plotly_chart(figures.embedding_functions(library, symbol, font_size=font), key="lib_embedding")
    st.caption("F_k(rho_bar): non-additive Thomas-Fermi kinetic + LDA exchange-correlation energy of the state "
               "density placed in a uniform background density rho_bar (docs/model.md section 3, term `embedding`).")
st.caption("PNG of any figure: the camera icon in the figure's toolbar.")

with st.expander("Level of theory and provenance"):
    st.dataframe(library_views.provenance(library), hide_index=True, width="stretch")
    st.download_button("Download level of theory with SCF diagnostics (JSON)",
                       json.dumps(level, indent=2, sort_keys=True).encode(), "lsip-library-level.json",
                       "application/json", key="lib_level_json")
