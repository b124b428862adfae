"""Small Streamlit widgets shared by the Explore, Charge transfer and Energy pages.

* :func:`structure_source` - where the current structure comes from (gallery key or upload/paste);
* :func:`downloads` - a row of download buttons that do not rerun the page;
* :func:`reproduction_downloads` - extended XYZ, settings JSON and a Python script for the current structure;
* :func:`plotly_figure` - a plotly chart with a PNG toolbar button and a JSON download of the figure;
* :func:`headline_metrics` - energy, dipole, mu and solver status of a prediction;
* :func:`figure_font` - plotly font size (larger in teaching mode).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import plotly.graph_objects as go
import streamlit as st

from lsip import export
from lsip.data.experiment import experimental_dipole_for
from lsip.model.decoder import Prediction
from lsip.structure import Structure, hill_formula
from lsip.ui import common, state
from lsip.viz.figures import FIGURE_FONT


def structure_source() -> tuple[str, str | None]:
    """("gallery" | "upload" | "paste" | "smiles", gallery key or None) of the current structure."""
    source = st.session_state.get(state.SOURCE_KEY, "Gallery")
    if source == "Gallery":
        return "gallery", st.session_state.get(state.GALLERY_KEY, state.DEFAULT_MOLECULE)
    return {"Upload": "upload", "SMILES": "smiles"}.get(source, "paste"), None


def figure_font() -> int:
    """Font size of plotly figures (pixels): larger in teaching mode."""
    return FIGURE_FONT[common.teaching_mode()]


#: A download's contents, or a function that makes them when the button is clicked (nothing built in advance).
DownloadData = str | bytes | Callable[[], str | bytes]


def downloads(items: Sequence[tuple[str, DownloadData, str, str]], key: str) -> None:
    """One download button per ``(label, data, file_name, mime)`` in a row; clicking does not rerun the page.
    ``data`` may be a function: Streamlit calls it on the click (large CSVs are not built on every run)."""
    cols = st.columns(len(items))
    for k, (col, (label, data, file_name, mime)) in enumerate(zip(cols, items)):
        with col:
            st.download_button(label, data, file_name=common.download_file_name(file_name), mime=mime,
                               key=f"{key}_{k}", on_click="ignore", icon=":material/download:")


def reproduction_items(structure: Structure, pred: Prediction) -> list[tuple[str, DownloadData, str, str]]:
    """(label, data, file name, mime) of the extended XYZ (per-atom arrays), the settings JSON and the Python
    script that reproduces the numbers through the ``lsip`` API, for the current structure and parameters."""
    stem = common.structure_stem(structure)
    source, gallery_key = structure_source()
    params = state.current_parameters()
    return [
        ("Extended XYZ", lambda: export.extxyz_export(structure, pred), f"{stem}_lsip.extxyz", "chemical/x-xyz"),
        ("Settings (JSON)", export.settings_json(structure, params, source=source, gallery_key=gallery_key,
                                                 overrides=st.session_state.get(state.OVERRIDES_KEY)),
         f"{stem}_settings.json", "application/json"),
        ("Python script", export.reproduction_script(structure, params, f"{stem}_lsip.py"), f"{stem}_lsip.py",
         "text/x-python"),
    ]


def reproduction_downloads(structure: Structure, pred: Prediction, key: str) -> None:
    """An expander with :func:`reproduction_items` as download buttons (the pages other than Explore)."""
    with st.expander("Reproduce: extended XYZ, settings, Python script"):
        downloads(reproduction_items(structure, pred), key=key)
        st.caption("The script rebuilds this structure and prints the same energy and charges through the "
                   "`lsip` API; the page URL reproduces gallery structure, charge and parameter set.")


#: Largest figure JSON (characters) offered as a download; bigger ones (e.g. a 600-atom channel matrix) are not.
MAX_FIGURE_JSON = 2_000_000


def plotly_figure(fig: go.Figure, name: str, key: str) -> None:
    """Show ``fig``; PNG comes from the chart toolbar's camera button, the figure JSON from a download button."""
    name = common.safe_file_name(name, default="figure")
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}}
    st.plotly_chart(fig, key=key, config=config)
    text = fig.to_json()
    if len(text) > MAX_FIGURE_JSON:
        st.caption(f"PNG: camera icon in the chart's toolbar. (Figure JSON not offered: {len(text) / 1e6:.1f} MB; "
                   "the CSV exports below hold the same numbers.)")
        return
    st.download_button("Figure (plotly JSON)", text, file_name=f"{name}.json", mime="application/json",
                       key=f"{key}_json", on_click="ignore", icon=":material/download:",
                       help="PNG: camera icon in the chart's toolbar. The JSON opens with plotly.io.read_json.")


#: What each shipped set is known to get wrong (first-principles: docs/validation.md, scripts/revalidate_model.py
#: on the 58 validation molecules after issue 11; calibrated: docs/calibration/calibrated.md, test split). Shown
#: beside every energy while it holds.
KNOWN_LIMITS = {
    "first-principles": (
        "**Known limits of the first-principles set** (docs/validation.md, 73 molecules): covalent molecules come "
        "out unbound (atomization energies off by 16.4 eV on average, e.g. CO2 +15.6 eV where DFT gives -17.2), "
        "hydrogen bonds are overbound, bond lengths from scans are too long, dipoles are off by 1.06 D on "
        "average. Charges (0.20 e from Hirshfeld-I) and ionic bonds (2.5 eV) are its strengths. The calibrated "
        "set (sidebar, the default) binds every molecule (docs/calibration.md)."
    ),
    "calibrated": (
        "**Known limits of the calibrated set** (docs/calibration.md, held-out molecules): atomization energies "
        "are off by 0.45 eV per atom on average (N2, CO, CO2, CH4, HF 1-4 eV too weakly bound; BeO, CaO "
        "overbound); bond lengths from scans by 0.09 A (X-H bonds of HF, H2O, NH3 0.05-0.1 A too long; C-Cl "
        "0.45 A, K-Cl 0.25 A, C-F and C-O 0.1 A too short); bond angles by 7 degrees (CH4 right, water relaxes "
        "to 117 instead of 104, H2S and PH3 too open); hydrogen bonds too weak (water dimer not bound at the DFT "
        "distance); dipoles are off by 0.54 D (lone-pair and induced dipoles included; CO too large, ionic "
        "molecules too small), charges by 0.16 e from Hirshfeld-I, forces at DFT minima by 1.8 eV/A RMS. It binds "
        "every held-out molecule and relaxes the 73 validation molecules without collapse."
    ),
}


#: Plain-words help of the per-atom table columns (hover a column header).
COLUMN_HELP: dict[str, str] = {
    "charge_e": "Atomic charge q = w+ - w-: electrons given away (positive) or taken up (negative).",
    "w_cation": "How much of the atom is in its cation state (one electron given away).",
    "w_neutral": "How much of the atom is its neutral free atom.",
    "w_anion": "How much of the atom is in its anion state (one electron taken up).",
    "w_excited": "How much of the atom is in its excited (promoted) state, incoherently.",
    "p_D": "Size of the atomic dipole: how far the atom's electron cloud is shifted off its nucleus, in debye "
           "(polarized by its neighbours, plus the lone pairs of N, O, F, P, S, Cl pointing away from their bonds).",
    "E_atom_eV": "The atom's share of the total energy (every term's per-atom part, summed).",
    "mu_A_eV": "The atom's own chemical potential μ_A: the energy gained per electron added to this atom. Atoms joined "
               "by charge-transfer channels share one value at equalization; the headline μ is their average.",
}


def known_limits_note(params_name: str) -> None:
    """A visible note on the active parameter set's known failures (nothing for sets without a note)."""
    note = KNOWN_LIMITS.get(params_name or "first-principles")
    if note:
        st.warning(note, icon=":material/report:")


def headline_metrics(pred: Prediction, charged: bool = False, per_row: int = 2) -> None:
    """Energy (eV), dipole (D), chemical potential (eV), solver status and the largest force as ``st.metric``
    tiles, ``per_row`` tiles to a row (2 fits a side column without truncating the numbers), then the known
    limits of the parameter set."""
    h = export.headline(pred)
    dip_help = ("Molecular dipole moment: the atomic charges times their positions about the centre of mass, plus "
                "the atomic dipoles (the shift of each atom's electron cloud, lone pairs included).")
    if charged:
        dip_help += " For a charged system it depends on that origin."
    tiles = [
        ("Energy", f"{h['energy_eV']:.3f} eV" if abs(h["energy_eV"]) < 1000 else f"{h['energy_eV']:.1f} eV",
         "Total energy relative to the free neutral atoms (sum of the terms)"
         + (f"; {h['energy_eV'] / pred.n_atoms:.3f} eV per atom." if pred.n_atoms > 1 else ".")),
        ("Dipole", f"{h['dipole_D']:.3f} D", dip_help),
        ("Chemical potential μ", f"{h['mu_eV']:.3f} eV",
         "The energy gained per electron added to the structure (μ = dE/dN, minus the electronegativity), averaged "
         "over the atoms. At equalization electrons have no reason to move between atoms joined by a charge-transfer "
         "channel; the per-atom values μ_A in the table differ where no channel joins two atoms, or where an atom's "
         "weights sit at a limit (a fully ionized atom)."),
        ("Solver", "converged" if h["converged"] else "NOT converged",
         "Whether the charges and weights were solved to tolerance: the largest remaining force on any latent "
         "coordinate (the 'residual') is below the set's tolerance. Solver: projected L-BFGS."),
        ("Largest force", f"{h['max_force_eV_A']:.2f} eV/Å",
         "Largest |F| on any atom. Near zero at a minimum of this model; at a DFT-relaxed geometry it measures how "
         "far the model's minimum is from DFT's (turn on the force arrows in the 3D view to see where)."),
    ]
    exp = None if charged else experimental_dipole_for(hill_formula(pred.symbols), 0)
    if exp is not None:
        tiles[1] = ("Dipole", f"{h['dipole_D']:.3f} D", dip_help + f" Experiment for gas-phase {exp.molecule} at "
                    f"equilibrium: {exp.value_D:.3f} D ({exp.source}).")
    for start in range(0, len(tiles), per_row):
        for col, (label, value, help_text) in zip(st.columns(per_row), tiles[start:start + per_row]):
            if label == "Dipole" and exp is not None:
                col.metric(label, value, help=help_text, delta_color="off", delta_arrow="off",
                           delta=f"experiment {exp.value_D:.2f} D ({'symmetry' if exp.value_D == 0 else 'gas'})")
            else:
                col.metric(label, value, help=help_text)
    st.caption(f"Solver: {h['iterations']} iterations · residual {h['residual_Ha']:.1e} Ha (how far from equalized) · "
               f"{h['time_ms']:.0f} ms · device {h['device']} · parameters {pred.params_name or 'first-principles'}")
    known_limits_note(pred.params_name)



def reference_comparison(structure: Structure, pred: Prediction, gallery_key: str | None) -> None:
    """The model beside DFT (validation set) and experiment where this molecule is known (an expander; nothing
    otherwise): atomization energy, dipole, mean charge per element."""
    from lsip.viz.present import REFERENCE_MATCH_A, VALIDATION_LEVEL, comparison_rows

    h = export.headline(pred)
    rows = comparison_rows(structure, h["energy_eV"], h["dipole_D"], pred.charges.numpy(), gallery_key)
    if not rows:
        return
    with st.expander("Model against DFT and experiment", expanded=common.teaching_mode(),
                     icon=":material/compare_arrows:"):
        columns = [c for c in ("model", "DFT", "experiment") if any(r[c] is not None for r in rows)]
        shown = [{"quantity": f"{r['quantity'].replace('charge of ', 'q ').replace(' (mean)', '')} ({r['unit']})",
                  **{"exp." if c == "experiment" else c: "-" if r[c] is None else f"{r[c]:.2f}" for c in columns}}
                 for r in rows]
        st.dataframe(shown, hide_index=True)
        st.caption(f"DFT: {VALIDATION_LEVEL} at the molecule's DFT-relaxed geometry (the validation set, "
                   f"docs/validation.md; this structure's distances are within {REFERENCE_MATCH_A} Å of it), "
                   "charges Hirshfeld-I averaged per element. Experiment: gas-phase dipole. The model is evaluated "
                   "at the structure shown. -: not known. q X: mean charge of element X; exp.: experiment.")
