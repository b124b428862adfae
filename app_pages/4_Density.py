"""Density: the model's decoded density next to the PySCF reference density and the promolecule."""

import csv
import hashlib
import io

import numpy as np
import streamlit as st

from lsip.reference import density
from lsip.reference.driver import ReferenceSettings
from lsip.ui import common, dft_progress, progress, state, widgets
from lsip.viz import density_views

common.page_header(
    "Density",
    "The model decodes its latent coordinates into an electron density (ensemble-weighted atomic state "
    "densities). Here it is compared with a **reference DFT density** from PySCF and with the **promolecule** "
    "(neutral free atoms), all evaluated on one grid.",
)

structure, pred = state.require_prediction()
library = state.get_library()
teaching = common.teaching_mode()
fs = 17 if teaching else 13
weights = pred.weights.numpy()

with st.expander("Reference settings", expanded=False):
    c1, c2, c3 = st.columns(3)
    basis = c1.selectbox("Basis set", dft_progress.BASIS_CHOICES, key="lsip_density_basis",
                         help="Functional PBE0 (the latent library's). def2-SVP is quick for small molecules.")
    limit = c2.number_input("Time limit (s)", min_value=5, max_value=1800, value=300, step=5,
                            key="lsip_density_limit")
    points = c3.select_slider("Grid points per axis", [24, 32, 40, 48, 56], value=density.DISPLAY_POINTS,
                              key="lsip_density_points", help="Display/cube grid (end points included).")
settings = ReferenceSettings(basis=basis, time_limit_s=float(limit))

ref = dft_progress.reference_section(structure, settings, weights)
if ref is None and dft_progress.refused(structure, settings):
    st.info("No DFT reference for a structure this size (see above): the viewers below show the model density and "
            "the promolecule only.")
elif ref is None:
    st.info("No DFT reference is shown: the viewers below show the model density and the promolecule only. "
            "Compute the reference above to see the DFT density, the difference density and the errors.")


@st.cache_data(show_spinner=False, max_entries=16)
def grid_cubes(key: str, _fields: density.DensityFields, n_points: int) -> tuple[dict, dict, dict]:
    """Cube texts, electron counts on the grid and the grid of every available density (cached by key)."""
    grid = density.display_grid(_fields.structure, n_points)
    vals = density.grid_densities(_fields, grid)
    cubes = {k: density.density_cube_text(grid, v, _fields.structure, k) for k, v in vals.items()}
    return cubes, {k: density.integrate(v, grid) for k, v in vals.items()}, {"shape": grid.shape}


tables = state.get_model(state.params_json(state.current_parameters())).tables
shapes = [tables.dipole_shapes[tables.index[s]] for s in structure.symbols]
dipoles = pred.atomic_dipoles.numpy()
fields = common.run_guarded(lambda: density.DensityFields(library, structure, weights, ref, dipoles, shapes), "Density")
if fields is None:
    st.stop()
wkey = hashlib.sha256(np.round(weights, 12).tobytes() + np.round(dipoles, 12).tobytes()).hexdigest()[:12]
cache_key = f"{state.fingerprint(structure)}|{wkey}|{ref.key if ref is not None else '-'}|{points}"
with progress.spinner(f"Evaluating the densities on a {int(points)}-point grid"):
    cubes, counts, info = grid_cubes(cache_key, fields, int(points))
grid = density.display_grid(structure, int(points))

st.subheader("Isosurfaces")
iso_col, _ = st.columns([2, 3])
iso = iso_col.select_slider("Isovalue (e/Å³)", [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0], value=0.2,
                            key="lsip_density_iso",
                            help=f"= {density.isovalue_to_au(0.2):.4f} e/bohr³ at 0.2 e/Å³ (cube files are in bohr)")
kinds = [k for k in ("dft", "model", "promolecule") if k in cubes]
html, height = density_views.linked_isosurfaces_html(structure, {k: cubes[k] for k in kinds},
                                                     density.isovalue_to_au(iso), height=360, font_size=fs,
                                                     camera_key=f"density-{state.fingerprint(structure)}")
common.show_molecule(html, height)
spacing = grid.spacing_bohr
if density.grid_counts_electrons(counts["model"], structure.n_electrons, spacing):
    st.caption("Linked viewers: rotating one rotates all. Electrons on the grid: "
               + ", ".join(f"{density.KIND_LABELS[k]} {counts[k]:.3f} e" for k in kinds)
               + f" of {structure.n_electrons} (grid {info['shape'][0]}³, spacing {spacing:.2f} bohr, "
               f"{density.DISPLAY_MARGIN} bohr margin; the regular grid misses part of the tails and core cusps).")
else:  # issue 14.4: a coarse grid's sum over points is no electron count (core cusps fall on or between points)
    st.caption(f"Linked viewers: rotating one rotates all. The display grid ({info['shape'][0]}³ points, spacing "
               f"{spacing:.2f} bohr) is too coarse to count electrons (core cusps fall on or between points); the "
               f"model holds exactly {structure.n_electrons} electrons.")
if teaching:
    st.info("Look for: where does the model put more or fewer electrons than DFT? A covalent bond piles up "
            "density between atoms, which spherical atomic states cannot do exactly.")

if "difference" in cubes:
    st.subheader("Difference density (model − DFT)")
    d_col, _ = st.columns([2, 3])
    diso = d_col.select_slider("Difference isovalue (± e/Å³)", [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
                               value=0.02, key="lsip_density_diso")
    mv = density_views.difference_view(structure, cubes["difference"], density.isovalue_to_au(diso), height=380,
                                       font_size=fs, camera_key=f"density-diff-{state.fingerprint(structure)}")
    common.show_molecule(mv.html(), mv.total_height)
    st.caption("Red: the model has more electrons than DFT; blue: fewer. "
               f"Integral of the difference on the grid: {counts['difference']:+.3f} e.")

st.subheader("Slice through a plane")
c1, c2, c3 = st.columns([1, 1, 2])
state.url_setting("lsip_density_plane")
plane = c1.radio("Plane", ["xy", "xz", "yz", "atoms"], key="lsip_density_plane",
                 format_func=lambda p: "through 3 atoms" if p == "atoms" else f"{p} (centre)")
options = [k for k in ("difference", "dft", "model", "promolecule", "model_minus_promolecule")
           if k in fields.kinds or k == "model_minus_promolecule"]
quantity = c2.selectbox("Quantity", options, key="lsip_density_quantity",
                        format_func=lambda k: density.KIND_LABELS[k])
labels = [f"{s}{k}" for k, s in enumerate(structure.symbols)]
atoms = None
if plane == "atoms":
    chosen = c3.multiselect("Three atoms", labels, default=labels[:3], max_selections=3, key="lsip_density_atoms")
    atoms = tuple(labels.index(a) for a in chosen)
sl = common.run_guarded(lambda: density.slice_densities(fields, grid, plane, atoms), "Slice")
if sl is not None:
    st.plotly_chart(density_views.slice_figure(sl, quantity, font_size=fs), key="lsip_density_slice")
    st.caption("Positive densities on a log scale; differences on a red/blue scale clipped at the 99.5th "
               "percentile. PNG export: the camera icon of the figure's toolbar.")

if ref is not None:
    st.subheader("Per-atom integrated differences")
    diffs = common.run_guarded(lambda: density.per_atom_differences(fields), "Per-atom differences")
    if diffs is not None:
        rows = diffs.rows()
        st.dataframe(rows, hide_index=True)
        st.caption("Integrals on the DFT's molecular grid, split into Becke cells (PySCF's own partition) and "
                   "by Hirshfeld weights (neutral library atoms). dN > 0: the model puts more electrons on that "
                   f"atom than DFT. The |model − DFT| column sums to the model's total error "
                   f"{diffs.becke_abs_model.sum():.3f} e.")
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        st.download_button("Per-atom differences (CSV)", buf.getvalue(), file_name="density_per_atom.csv",
                           mime="text/csv", key="lsip_density_csv")
    c1, c2 = st.columns(2)
    if ref.latent_weights is not None:
        c1.plotly_chart(density_views.weights_comparison(structure.symbols, weights, ref.latent_weights, fs),
                        key="lsip_density_weights")
    c2.plotly_chart(density_views.reconstruction_errors(ref.density_error, fs), key="lsip_density_errors")
    err = ref.density_error
    if err.get("latent") is not None:
        st.markdown(f"**Reconstruction error** ∫|ρ − ρ_DFT| d³r: density-encoder latent fit "
                    f"{err['latent']:.3f} e, model {err['model']:.3f} e, promolecule {err['promolecule']:.3f} e "
                    f"(of {structure.n_electrons} electrons).")

st.subheader("Downloads")
cols = st.columns(len(cubes))
for col, (kind, text) in zip(cols, cubes.items()):
    col.download_button(f"{density.KIND_LABELS[kind]} (.cube)", text,
                        file_name=common.safe_file_name(f"{common.structure_stem(structure)}_{kind}", ".cube"),
                        mime="chemical/x-cube",
                        key=f"lsip_density_cube_{kind}")
st.caption("All cubes share one grid (bohr, e/bohr³, both box end points included), so they can be "
           "subtracted point by point.")

widgets.reproduction_downloads(structure, pred, key="density_repro")
