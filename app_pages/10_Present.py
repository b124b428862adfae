"""Present: the current structure for a projector, one idea per screen: the molecule with its charges, where the
electrons went, the energy, the dipole. Large auto-oriented 3D views, big labels and fonts, Previous / Next."""

import numpy as np
import streamlit as st

from lsip import gallery
from lsip.ui import cache, common, state, widgets
from lsip.viz import present

SLIDE_KEY = "present_slide"
SLIDES = present.SLIDES

common.page_header("Present", "One idea per screen, for a projector, about the structure chosen in the sidebar.")
structure, pred = state.require_prediction()
fp = cache.fingerprint(structure)
source, gallery_key = widgets.structure_source()
camera = f"present-{fp}"  # one camera for every slide: a rotation made on one slide carries to the next


def _go(step: int) -> None:
    st.session_state[SLIDE_KEY] = min(max(int(st.session_state.get(SLIDE_KEY, 0)) + step, 0), len(SLIDES) - 1)


slide_no = min(max(int(st.session_state.get(SLIDE_KEY, 0)), 0), len(SLIDES) - 1)
st.session_state[SLIDE_KEY] = slide_no
slide = SLIDES[slide_no]

prev_col, middle, next_col = st.columns([1, 5, 1], vertical_alignment="center")
prev_col.button("Previous", key="present_prev", icon=":material/arrow_back:", on_click=_go, args=(-1,),
                disabled=slide_no == 0, width="stretch")
next_col.button("Next", key="present_next", icon=":material/arrow_forward:", on_click=_go, args=(1,),
                disabled=slide_no == len(SLIDES) - 1, width="stretch")
title = gallery.gallery_title(gallery_key) if source == "gallery" else None
with middle:
    st.markdown(f"## {slide.title}")
    st.markdown(f"**Slide {slide_no + 1} of {len(SLIDES)}** · {title or structure.formula} · "
                f"{structure.n_atoms} atoms")

if slide.key == "molecule":
    st.markdown("### Each atom is coloured by its charge: red atoms gave electrons away, blue atoms took them in.")
    mv, note = present.molecule_slide_view(structure, pred, camera_key=camera)
    common.show_molecule(mv.html(), mv.total_height)
    st.caption("Labels: atom (element and number) and its charge q in units of the electron charge e. Drag to "
               "turn the molecule.")
    if note:
        st.info(note, icon=":material/label:")
    story = gallery.gallery_story(gallery_key) if common.teaching_mode() else None
    if story:
        with st.expander("The story of this molecule"):
            st.markdown(story)

elif slide.key == "transfer":
    st.markdown("### Electrons flow along the green arrows, from the atom that gives to the atom that takes; "
                "a thicker arrow carries more.")
    mv = present.transfer_slide_view(structure, pred, camera_key=camera)
    left, right = st.columns([3, 1], gap="large")
    with left:
        common.show_molecule(mv.html(), mv.total_height)
    with right:
        flows = present.largest_flows(pred)
        if flows:
            for donor, acceptor, moved in flows:
                st.metric(f"{donor} → {acceptor}", f"{moved:.2f} e")
            st.caption("The largest net flows: electrons moved from the first atom to the second.")
        else:
            st.metric("Electrons moved", "none")
            st.caption("No pair of atoms exchanges more than 0.01 e: the atoms keep their electrons.")

elif slide.key == "energy":
    numbers = present.energy_numbers(pred)
    st.markdown(f"### {present.energy_sentence(numbers['total_eV'])}")
    k1, k2 = st.columns(2)
    k1.metric("Energy", f"{numbers['total_eV']:.2f} eV", help="Relative to the free neutral atoms.")
    if structure.n_atoms > 1:
        k2.metric("Per atom", f"{numbers['per_atom_eV']:.2f} eV")
    st.plotly_chart(present.energy_slide_figure(pred), key="present_waterfall",
                    config={"displaylogo": False, "toImageButtonOptions": {
                        "format": "png", "filename": f"{common.structure_stem(structure)}_energy", "scale": 2}})
    with st.expander("Known limits of this parameter set"):
        widgets.known_limits_note(pred.params_name)

else:  # dipole
    periodic = any(structure.pbc)
    size = float(np.linalg.norm(present.dipole_vector_D(pred)))
    st.markdown(f"### {present.dipole_sentence(size, periodic)}")
    left, right = st.columns([3, 1], gap="large")
    with left:
        mv = present.dipole_slide_view(structure, pred, camera_key=camera)
        common.show_molecule(mv.html(), mv.total_height)
    with right:
        if not periodic:
            st.metric("Model", f"{size:.2f} D")
            refs = present.reference_dipoles(structure, gallery_key if source == "gallery" else None)
            for ref in refs:
                st.metric(ref.label, f"{ref.value_D:.2f} D", help=ref.source)
            if not refs:
                st.caption("No reference value stored for this structure (experiment or DFT).")
            else:
                st.caption("Where the numbers come from: " + "; ".join(f"{r.label}: {r.source}" for r in refs) + ".")
            if structure.charge != 0:
                st.caption("A charged structure's dipole depends on the origin; here it is the centre of mass.")
