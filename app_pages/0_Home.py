"""Home: what LSIP Explorer is, the pages it offers, and the structure chosen in the sidebar in 3D (element colours;
water at a textbook geometry when nothing is loaded)."""


import numpy as np
import streamlit as st

from lsip.structure import Structure
from lsip.ui import cache, common, state
from lsip.viz.molview import molecule_view

#: Water at a textbook geometry (O-H 0.958 A, H-O-H 104.5 deg), in the xy plane so 3Dmol (looking down -z)
#: shows the bent shape straight away.
WATER = Structure(
    ("O", "H", "H"),
    np.array([[0.0, 0.0, 0.0], [0.7575, 0.5865, 0.0], [-0.7575, 0.5865, 0.0]]),
    name="water",
)

common.page_header(
    "LSIP Explorer",
    "A **latent-space interatomic potential** whose latent space is *built*, not learned: it comes from "
    "atomic DFT and exact constraints, so every number the model produces can be traced to atoms.",
)

left, right = st.columns([3, 2], gap="large")
with left:
    st.markdown(
        """
- **Latent library** - for every element, the cation, neutral, anion and an excited state computed once
  with PySCF: their energies and spherical densities.
- **Physical encoder** - maps a geometry and total charge to latent coordinates (per-atom state weights and
  charge-transfer channel occupations between atoms) by chemical-potential equalization.
- **Decoder** - turns the latent coordinates into named energy terms, forces, charges, a dipole and an
  electron density.
- **Density encoder** - fits the same latent coordinates to a DFT density: the reference the physical
  encoder is judged against.
        """
    )
    st.subheader("Pages")
    for spec in common.PAGES[1:]:
        # page links are one line (longer labels are cut off): the summary goes below as a caption
        st.page_link(common.page_path(spec), label=f"**{spec.title}**", icon=spec.icon)
        st.caption(spec.summary)
    st.caption("Units on screen: eV, Å, e, debye. Charges are positive when an atom has lost electrons.")
with right:
    shown = state.current_structure() or WATER
    title = shown.name if shown.name and shown.name != "pasted" else shown.formula
    st.markdown(f"**{title}** ({shown.formula}, from the sidebar) - drag to rotate, scroll to zoom, hover an atom.")
    view = molecule_view(shown, height=360, font_size=common.label_font_size(),
                         camera_key=f"home-{cache.fingerprint(shown)}")
    common.py3dmol_iframe(view)
    st.caption("Atoms here have their usual element colours (O red, H white): no model result is shown. "
               "On the other pages atoms are coloured by what the model computes, e.g. charges in Explore.")
