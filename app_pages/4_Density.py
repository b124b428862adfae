"""Density: the model's decoded density next to the PySCF reference density and the promolecule."""

import csv
import io

import streamlit as st

from lsip.reference import density, molden
from lsip.reference.driver import ReferenceSettings, method_refusal
from lsip.ui import cache, common, dft_progress, links, progress, state, widgets
from lsip.units import HARTREE_TO_EV
from lsip.viz import density_views

common.page_header(
    "Density",
    "The model decodes its latent coordinates into an electron density (ensemble-weighted atomic state "
    "densities). Here it is compared with a **reference DFT density** from PySCF and with the **promolecule** "
    "(neutral free atoms), all evaluated on one grid.",
)

structure, pred = state.require_prediction()
library = cache.library()
teaching = common.teaching_mode()
fs = 17 if teaching else 13
weights = pred.weights.numpy()

with st.expander("Reference settings", expanded=False):
    c1, c2, c3, c4 = st.columns(4)
    basis = c1.selectbox("Basis set", dft_progress.BASIS_CHOICES, key="lsip_density_basis",
                         help="Functional PBE0 (the latent library's). def2-SVP is quick for small molecules.")
    unrestricted = dft_progress.method_selectbox(c2, "lsip_density_method", structure)
    limit = c3.number_input("Time limit (s)", min_value=5, max_value=1800, value=300, step=5,
                            key="lsip_density_limit")
    points = c4.select_slider("Grid points per axis", [24, 32, 40, 48, 56],
                              value=density.DISPLAY_POINTS if structure.n_atoms <= 100 else 24,
                              key="lsip_density_points",
                              help="Display/cube grid (end points included). Large structures start at 24 (the cost "
                                   "grows with atoms x points^3).")
settings = ReferenceSettings(basis=basis, time_limit_s=float(limit), unrestricted=unrestricted)

ref = dft_progress.reference_section(structure, settings, weights)
if ref is None and method_refusal(structure, settings) is not None:
    st.info("No DFT reference with these settings (see above): the viewers below show the model density and the "
            "promolecule only. Choose UKS or automatic under Reference settings.")
elif ref is None and dft_progress.refused(structure, settings):
    st.info("No DFT reference for a structure this size (see above): the viewers below show the model density and "
            "the promolecule only.")
elif ref is None:
    st.info("No DFT reference is shown: the viewers below show the model density and the promolecule only. "
            "Compute the reference above to see the DFT density, the difference density and the errors.")


tables = cache.model(cache.params_json(state.current_parameters())).tables
shapes = [tables.dipole_shapes[tables.index[s]] for s in structure.symbols]
dipoles = pred.atomic_dipoles.numpy()
fields = common.run_guarded(lambda: density.DensityFields(library, structure, weights, ref, dipoles, shapes), "Density")
if fields is None:
    st.stop()
cache_key = cache.density_key(fields, int(points))
with progress.spinner(f"Evaluating the densities on a {int(points)}-point grid"):
    cubes, counts, grid_values = cache.density_grid(fields, int(points))
grid = density.display_grid(structure, int(points))

st.subheader("Isosurfaces")
iso_col, _ = st.columns([2, 3])
iso = iso_col.select_slider("Isovalue (e/Å³)", [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0], value=0.2,
                            key="lsip_density_iso",
                            help=f"= {density.isovalue_to_au(0.2):.4f} e/bohr³ at 0.2 e/Å³ (cube files are in bohr)")
kinds = [k for k in ("dft", "model", "promolecule") if k in cubes]
html, height = density_views.linked_isosurfaces_html(structure, {k: cubes[k] for k in kinds},
                                                     density.isovalue_to_au(iso), height=360, font_size=fs,
                                                     camera_key=f"density-{cache.fingerprint(structure)}")
common.show_molecule(html, height)
spacing = grid.spacing_bohr
if density.grid_counts_electrons(counts["model"], structure.n_electrons, spacing):
    st.caption("Linked viewers: rotating one rotates all. Electrons on the grid: "
               + ", ".join(f"{density.KIND_LABELS[k]} {counts[k]:.3f} e" for k in kinds)
               + f" of {structure.n_electrons} (grid {grid.shape[0]}³, spacing {spacing:.2f} bohr, "
               f"{density.DISPLAY_MARGIN} bohr margin; the regular grid misses part of the tails and core cusps).")
else:  # issue 14.4: a coarse grid's sum over points is no electron count (core cusps fall on or between points)
    st.caption(f"Linked viewers: rotating one rotates all. The display grid ({grid.shape[0]}³ points, spacing "
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
                                       font_size=fs, camera_key=f"density-diff-{cache.fingerprint(structure)}")
    common.show_molecule(mv.html(), mv.total_height)
    st.caption("Red: the model has more electrons than DFT; blue: fewer. "
               f"Integral of the difference on the grid: {counts['difference']:+.3f} e.")

#: Above this many atoms the model's electrostatic potential is computed on request only.
ESP_AUTO_ATOMS = 100
st.subheader("Electrostatic potential on the density surface")
e1, e2, e3 = st.columns([2, 1, 2])
esp_iso = e1.selectbox("Surface", density.ESP_ISOVALUES, index=density.ESP_ISOVALUES.index(density.ESP_ISOVALUE),
                       key="lsip_esp_iso", format_func=lambda v: f"ρ = {v:g} e/bohr³ ({v * density.AU_TO_E_PER_A3:.3f} "
                                                                 "e/Å³)",
                       help="0.002 e/bohr³ is the usual ESP surface (close to the van der Waals surface).")
esp_unit = e2.radio("Unit", list(density_views.ESP_UNITS), key="lsip_esp_unit", horizontal=True,
                    help="1 hartree/e = 27.211 V (the potential energy of a proton there, in hartree or eV).")
scale = density_views.ESP_UNITS[esp_unit]
esp_range = e3.select_slider("Colour range ±", ["auto", 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], value="auto",
                             key="lsip_esp_range",
                             format_func=lambda v: v if v == "auto" else f"{v / HARTREE_TO_EV * scale:.3g} {esp_unit}",
                             help="auto: the 98th percentile of |ESP| on both surfaces, one scale for both.")
esp_kinds = [k for k in ("dft", "model") if k in grid_values]
esp_ready = set()
model_token = f"{cache_key}|{esp_iso}|model"
model_done = st.session_state.setdefault("lsip_esp_model_done", set())
if structure.n_atoms <= ESP_AUTO_ATOMS or model_token in model_done or dft_progress.request_button(
        f"Compute the model electrostatic potential ({structure.n_atoms} atoms)", "lsip_esp_model", model_token):
    model_done.add(model_token)  # large structures: on request (water_216: ~20 s)
    esp_ready.add("model")
if "dft" in esp_kinds:  # the DFT ESP costs (points near the surface) x (AO pairs): ask first when it is slow
    esp_cost = density.dft_esp_seconds(density.band_points(grid_values["dft"], esp_iso), ref.n_basis)
    done = st.session_state.setdefault("lsip_esp_done", set())
    esp_token = f"{cache_key}|{esp_iso}"
    if esp_token in done or esp_cost <= density.DFT_ESP_AUTO_SECONDS or dft_progress.request_button(
            f"Compute the DFT electrostatic potential (~{esp_cost:.0f} s)", "lsip_esp_compute", esp_token):
        done.add(esp_token)
        esp_ready.add("dft")
esp = {}
with progress.spinner("Evaluating the electrostatic potential near the surface"):
    for kind in esp_kinds:
        if kind in esp_ready:
            esp[kind] = common.run_guarded(lambda k=kind: cache.esp_map(k, fields, grid_values, int(points),
                                                                        float(esp_iso)), "Electrostatic potential")
esp = {k: v for k, v in esp.items() if v is not None}
if esp:
    limit_au = density.esp_colour_limit([v[1] for v in esp.values()]) if esp_range == "auto" \
        else float(esp_range) / HARTREE_TO_EV
    html, height = density_views.esp_surfaces_html(
        structure, {k: cubes[k] for k in esp}, {k: v[0] for k, v in esp.items()}, float(esp_iso), limit_au,
        esp_unit, height=360, font_size=fs, camera_key=f"density-esp-{cache.fingerprint(structure)}")
    common.show_molecule(html, height)
    ranges = "; ".join(f"{density.KIND_LABELS[k]} {v[1].min() * scale:+.3g} to {v[1].max() * scale:+.3g} {esp_unit}"
                       for k, v in esp.items() if len(v[1]))
    st.caption(f"Electrostatic potential of the nuclei and the electrons (a proton's potential energy there) on each "
               f"density's own ρ = {esp_iso:g} e/bohr³ isosurface, one colour scale ±{limit_au * scale:.3g} "
               f"{esp_unit}: **red negative** (electron-rich: lone pairs, π clouds, anions), white zero, **blue "
               f"positive** (electron-poor: acidic H, cations). Range on the surface: {ranges}. The model's ESP is "
               "that of its decoded density (spherical atomic states and dipolar lobes, exact potentials); the DFT "
               "one that of the reference density matrix.")
    if "dft" in esp_kinds and "dft" not in esp:
        st.caption("The DFT electrostatic potential is computed on request (button above).")
    if teaching:
        st.info("Look for: red where a positive ion or a hydrogen-bond donor would like to sit, blue where a "
                "negative one would. Spherical model atoms can only give an atom-centred picture; lone pairs and "
                "π clouds come from the DFT density.")
elif "dft" not in esp_ready:
    st.info("The DFT electrostatic potential is computed on request (button above).")

st.subheader("Slice through a plane")
c1, c2, c3 = st.columns([1, 1, 2])
links.url_setting("lsip_density_plane")
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
with progress.spinner(f"Evaluating the densities in the {plane} plane"):
    sl = common.run_guarded(lambda: cache.density_slice(fields, int(points), plane, atoms), "Slice")
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
if ref is not None:
    if molden.has_orbitals(ref):
        text = common.run_guarded(lambda: cache.molden_file(ref), "Molden export")
        if text is not None:
            st.download_button(f"Kohn-Sham orbitals {dft_progress.level_label(settings)} (.molden)", text,
                               file_name=common.safe_file_name(f"{common.structure_stem(structure)}_dft", ".molden"),
                               mime="chemical/x-molden", key="lsip_density_molden")
            st.caption("Molden file of the reference (basis, orbital energies in hartree, occupations; bohr): for "
                       "Multiwfn, Molden, Jmol or IboView.")
    else:
        st.info(f"Molden export: {molden.RECOMPUTE_MESSAGE}.")
        if dft_progress.recompute_button(structure, settings, weights, "Recompute the reference for Molden"):
            st.rerun()

widgets.reproduction_downloads(structure, pred, key="density_repro")
