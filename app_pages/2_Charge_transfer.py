"""Charge transfer: the channel network (ranked list, donor x acceptor matrix, net flow per atom, 3D network)
and, when a cached DFT reference exists, the DFT-derived minimum-norm flows side by side. No DFT runs here."""

import streamlit as st

from lsip import export
from lsip.reference import transfer
from lsip.reference.driver import ReferenceSettings
from lsip.ui import cache, common, dft_progress, links, state, widgets
from lsip.viz import figures, transfer_views
from lsip.viz.latent3d import latent_view

common.page_header(
    "Charge transfer",
    "A channel A -> B moves c_AB electrons from donor A to acceptor B; an atom's charge is what it gives "
    "minus what it receives (plus a reservoir share for charged systems). The net flow of a pair is "
    "c_AB - c_BA.",
)
structure, pred = state.require_prediction()
fp = cache.fingerprint(structure)
font = widgets.figure_font()
stem = common.structure_stem(structure)

c1, c2 = st.columns([3, 2])
links.url_setting("ct_threshold")
links.url_setting("ct_both")
threshold = c1.slider("Threshold (e)", 0.0, 0.5, step=0.005, format="%.3f", key="ct_threshold",
                      help="List and draw channels moving at least this many electrons.")
both = c2.toggle("Both directions", key="ct_both",
                 help="Show c_AB and c_BA separately instead of the net flow c_AB - c_BA.")

flows = export.flow_records(pred, threshold)
channels = [r for r in export.channel_records(pred) if r["occupation"] >= threshold]
left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("Strongest channels")
    if both:
        st.dataframe(channels, hide_index=True,
                     column_order=["donor", "acceptor", "occupation", "beta_eV", "distance_A"],
                     column_config={"occupation": st.column_config.NumberColumn("c (e)", format="%.4f"),
                                    "beta_eV": st.column_config.NumberColumn("beta (eV)", format="%.3f"),
                                    "distance_A": st.column_config.NumberColumn("R (Å)", format="%.3f")})
    else:
        st.dataframe(flows, hide_index=True,
                     column_order=["rank", "donor", "acceptor", "net_flow", "forward", "backward", "distance_A"],
                     column_config={k: st.column_config.NumberColumn(format="%.4f")
                                    for k in ("net_flow", "forward", "backward")}
                     | {"distance_A": st.column_config.NumberColumn("R (Å)", format="%.3f")})
    n_all = len(pred.donor) if both else len(export.flow_records(pred))
    st.caption(f"{len(channels) if both else len(flows)} of {n_all} {'channels' if both else 'atom pairs'} "
               f"at or above {threshold:.3f} e.")
with right:
    st.subheader("Channel network")
    mv = latent_view(structure, pred, channel_threshold=threshold, both_directions=both, show_glyphs=False,
                     height=common.VIEW_HEIGHT, font_size=common.label_font_size(), camera_key=f"ct-{fp}")
    common.show_molecule(mv.html(), mv.total_height)

m1, m2 = st.columns(2, gap="large")
with m1:
    widgets.plotly_figure(figures.channel_matrix(pred, font_size=font), f"{stem}_channel_matrix", "ct_matrix")
with m2:
    series = transfer.outflow_series(pred)
    widgets.plotly_figure(figures.charges_bar(structure.symbols, series, "Charge and channel outflow per atom (e)",
                                              font_size=font), f"{stem}_net_flow", "ct_outflow")
    st.caption("Channel outflow = sum_B c_AB - sum_B c_BA. It equals q except for the reservoir share of a "
               "charged system's total charge.")

st.subheader("Compared with DFT")
references, why = transfer.cached_references(structure, cache.library(), dft_progress.BASIS_CHOICES)
result = None
if len(references) > 1:
    result = references[st.selectbox("DFT level", list(references), key="ct_basis",
                                     format_func=lambda b: f"PBE0/{b}")]
elif references:
    result = next(iter(references.values()))
if result is None and dft_progress.refused(structure, ReferenceSettings()):
    st.info(f"No DFT flows to compare: {why}. A reference calculation of a structure this size is beyond this "
            "machine's limits (the Density page says which).", icon=":material/info:")
elif result is None:
    st.info(f"No DFT flows to compare: {why}. Compute a reference on the **Density** page, or from a shell: "
            f"`lsip reference {stem}.xyz --charge {structure.charge}` (PBE0/def2-SVP; the result is cached). "
            "This page only reads the cache; it never starts a DFT run.", icon=":material/info:")
elif not transfer.available_schemes(result):
    st.warning(f"The cached {result.xc}/{result.basis} reference holds no atomic charges to compare.")
else:
    schemes = transfer.available_schemes(result)
    s1, s2 = st.columns(2)
    scheme = s1.selectbox("DFT charges", schemes, key="ct_scheme", format_func=transfer.scheme_label,
                          help="How the DFT density is split into atoms. Iterative Hirshfeld (default) is nearly "
                               "independent of the basis; plain Hirshfeld pulls charges towards zero; Mulliken and "
                               "Löwdin depend on the basis; 'density encoder' projects the DFT density on the latent "
                               "states, like the model's own charges.")
    graph = s2.selectbox("Flow graph", transfer.GRAPHS, key="ct_graph",
                         help="Minimum-norm flow on covalent bonds, or on the pairs that carry model channels.")
    flow = transfer.dft_flow(structure, pred, result.charges[scheme], graph)
    st.caption(f"{result.xc}/{result.basis} reference, cached; minimum-norm flow reproducing the "
               f"{transfer.scheme_label(scheme)} charges (reservoir, i.e. net fragment charge: "
               f"{abs(flow.reservoir).sum():.3f} e in total).")
    comparison = transfer.comparison_records(pred, flow, threshold)
    v1, v2 = st.columns(2, gap="large")
    with v1:
        st.markdown("**Pair flows, model vs DFT** (e; negative = opposite direction)")
        st.dataframe(comparison, hide_index=True,
                     column_config={k: st.column_config.NumberColumn(format="%+.4f")
                                    for k in ("model_net_flow", "dft_flow")})
    with v2:
        st.markdown(f"**DFT flow ({transfer.scheme_label(scheme)} charges)** - orange arrows; the model network is "
                    "above")
        dv = transfer_views.flow_view(structure, flow, threshold=threshold, height=common.VIEW_HEIGHT,
                                      font_size=common.label_font_size(), camera_key=f"ct-{fp}")
        common.show_molecule(dv.html(), dv.total_height)
    widgets.plotly_figure(figures.charges_bar(structure.symbols, transfer.outflow_series(pred, flow),
                                              "Model vs DFT: charges and flow outflow per atom (e)", font_size=font),
                          f"{stem}_model_vs_dft_flow", "ct_compare")
    widgets.downloads([("Model vs DFT flows (CSV)", export.records_csv(comparison), f"{stem}_flows_vs_dft.csv",
                        "text/csv")], key="ct_dl_dft")

st.subheader("Export")
widgets.downloads([
    ("Net flows (CSV)", lambda: export.records_csv(export.flow_records(pred)), f"{stem}_net_flows.csv", "text/csv"),
    ("Channels (CSV)", lambda: export.records_csv(export.channel_records(pred)), f"{stem}_channels.csv",
     "text/csv"),
], key="ct_dl")

widgets.reproduction_downloads(structure, pred, key="charge_transfer_repro")
