"""Tables and figures of the latent library for the Latent library page (no Streamlit).

* :func:`element_table` - computed I, A, excitation, chi, eta of every element next to experiment (eV);
* :func:`state_table` - the four states of one element (configuration, energy, fit quality);
* :func:`gaussian_fit_density` / :func:`fit_overlay` - the s-Gaussian fit against the numerical density;
* :func:`periodic_position` - where an element sits in the periodic table (for a table of buttons);
* :func:`provenance` - the library's level of theory and how it was built, as flat rows.

Experimental data: :mod:`lsip.data.atomic_reference` (NIST ASD, CRC Handbook; sources cited there).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lsip.data.atomic_reference import atomic_reference
from lsip.model.library import STATE_LABELS, AtomicState, LatentLibrary
from lsip.structure import ATOMIC_NUMBERS
from lsip.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV
from lsip.viz.figures import STATE_COLORS

#: |computed - experiment| above which a value is flagged (eV): the test tolerance of docs/library.md.
DEVIATION_FLAG_EV = 0.5
_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "template": "plotly_white"}
#: Group (1-18) of the main-group elements up to Kr that the library may hold; d-block by Z.
_MAIN_GROUP = {1: 1, 2: 2, 13: 13, 14: 14, 15: 15, 16: 16, 17: 17, 18: 18}
_PERIOD_STARTS = (1, 3, 11, 19, 37)


def periodic_position(symbol: str) -> tuple[int, int]:
    """(period, group) of an element with Z <= 36, e.g. ``periodic_position("Cl") == (3, 17)``.

    >>> periodic_position("H"), periodic_position("He"), periodic_position("Ca"), periodic_position("Fe")
    ((1, 1), (1, 18), (4, 2), (4, 8))
    """
    z = ATOMIC_NUMBERS[symbol]
    if z <= 2:
        return 1, 1 if z == 1 else 18
    period = max(k + 1 for k, start in enumerate(_PERIOD_STARTS) if z >= start)
    offset = z - _PERIOD_STARTS[period - 1]  # 0-based position within the period
    if period <= 3:
        return period, offset + 1 if offset < 2 else offset + 11
    return period, offset + 1  # period 4 has all 18 groups


def _ev(x: float | None) -> float | None:
    return None if x is None else float(x) * HARTREE_TO_EV


def _dev(calc: float | None, exp: float | None) -> float | None:
    return None if calc is None or exp is None else calc - exp


def _element_row(library: LatentLibrary, symbol: str) -> dict:
    ent = library.element(symbol)
    ref = atomic_reference(symbol)
    i_c, a_c, x_c = _ev(ent.ionization_energy), _ev(ent.electron_affinity), _ev(ent.excitation_energy)
    i_e, a_e, x_e = ref.ionization_energy_ev, ref.electron_affinity_ev, ref.excitation_energy_ev
    flags = list(ent.flags)
    for name, d in (("I", _dev(i_c, i_e)), ("A", _dev(a_c, a_e)), ("eps", _dev(x_c, x_e))):
        if d is not None and abs(d) > DEVIATION_FLAG_EV:
            flags.append(f"|d{name}| > {DEVIATION_FLAG_EV} eV")
    return {
        "Z": ent.Z, "element": symbol,
        "I (eV)": i_c, "I exp": i_e, "dI": _dev(i_c, i_e),
        "A (eV)": a_c, "A exp": a_e, "dA": _dev(a_c, a_e),
        "eps (eV)": x_c, "eps exp": x_e, "d eps": _dev(x_c, x_e),
        "chi (eV)": 0.5 * (i_c + a_c), "chi exp": None if a_e is None else 0.5 * (i_e + a_e),
        "eta (eV)": i_c - a_c, "eta exp": None if a_e is None else i_e - a_e,
        "excited term (exp)": ref.excited_term or "",
        "flags": ", ".join(flags),
    }


def display_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The element table for the screen: numbers with ``digits`` decimals, missing values as ``-`` (no
    experimental value; Streamlit would print "None"). The CSV keeps the raw numbers.

    >>> display_table(pd.DataFrame({"Z": [1, 4], "A exp": [0.754, None]}))["A exp"].tolist()
    ['0.75', '-']
    """
    out = table.copy()
    for col in out.columns:
        values = list(out[col])
        numeric = all(v is None or (isinstance(v, int | float | np.number) and not isinstance(v, bool))
                      for v in values)
        if col != "Z" and numeric:
            out[col] = ["-" if v is None or v != v else f"{float(v):.{digits}f}" for v in values]
    return out


def element_table(library: LatentLibrary) -> pd.DataFrame:
    """One row per element (atomic-number order): computed I, A, eps, chi = (I+A)/2, eta = I-A in eV next to
    experiment, deviations computed - experiment, and flags (library flags, deviations above
    :data:`DEVIATION_FLAG_EV`). Experimental A is empty where the anion is unbound in reality."""
    return pd.DataFrame([_element_row(library, s) for s in library.symbols])


def state_table(library: LatentLibrary, symbol: str) -> pd.DataFrame:
    """The four states of ``symbol``: label, configuration, N, 2S, E (hartree), E - E(neutral) (eV),
    number of Gaussians, fit error (electrons), SCF converged, sphericity."""
    ent = library.element(symbol)
    e0 = ent.states["neutral"].energy
    rows = []
    for lab in STATE_LABELS:
        st = ent.states[lab]
        rows.append({"state": lab, "configuration": st.configuration or "(no electrons)", "N": st.n_electrons,
                     "2S": st.spin, "E (Ha)": st.energy, "E - E0 (eV)": (st.energy - e0) * HARTREE_TO_EV,
                     "Gaussians": len(st.gauss_coefficients), "fit error (e)": st.fit_error,
                     "converged": st.converged, "sphericity": st.sphericity})
    return pd.DataFrame(rows)


def gaussian_fit_density(state: AtomicState, r: np.ndarray) -> np.ndarray:
    """rho_fit(r) = sum_g c_g (a_g / pi)^(3/2) exp(-a_g r^2) on radii ``r`` (bohr); returns (n_r,) bohr^-3."""
    r = np.asarray(r, dtype=np.float64)
    c = np.asarray(state.gauss_coefficients, dtype=np.float64)
    a = np.asarray(state.gauss_exponents, dtype=np.float64)
    if c.size == 0:
        return np.zeros_like(r)
    return ((a / np.pi) ** 1.5 * c * np.exp(-np.outer(r * r, a))).sum(axis=1)


def fit_overlay(library: LatentLibrary, symbol: str, state: str, log_axes: bool = True,
                font_size: int = 13) -> go.Figure:
    """4 pi r^2 rho(r) of one state: numerical (solid) vs Gaussian fit (dashed) and their difference (dotted),
    e / bohr against r in angstrom; the title carries the stored fit error."""
    st = library.element(symbol).states[state]
    r = np.asarray(library.r_grid)
    shell = 4 * np.pi * r**2
    rho = np.asarray(st.radial_density)
    fit = gaussian_fit_density(st, r)
    x = r * BOHR_TO_ANGSTROM
    fig = go.Figure()
    fig.add_scatter(x=x, y=shell * rho, name="numerical (DFT)", mode="lines",
                    line={"color": STATE_COLORS[state], "width": 3})
    fig.add_scatter(x=x, y=shell * fit, name=f"fit ({len(st.gauss_coefficients)} Gaussians)", mode="lines",
                    line={"color": "#222", "dash": "dash"})
    fig.add_scatter(x=x, y=shell * (fit - rho), name="fit - numerical", mode="lines",
                    line={"color": "#9467bd", "dash": "dot"})
    fig.update_layout(title=f"{symbol} {state}: Gaussian fit, error integral |fit - rho| = {st.fit_error:.4f} e",
                      xaxis_title="r / angstrom", yaxis_title="4 pi r^2 rho / (e / bohr)",
                      font={"size": font_size}, **_LAYOUT)
    if log_axes:
        fig.update_xaxes(type="log", range=[-3, 1.2])
    else:
        fig.update_xaxes(range=[0, 4])
    return fig


def provenance(library: LatentLibrary) -> pd.DataFrame:
    """The library's ``level`` as rows (key, value) without the per-state SCF diagnostics (nested dicts are
    written as JSON)."""
    rows = []
    for key, value in library.level.items():
        if key == "diagnostics":
            continue
        rows.append({"key": key, "value": value if isinstance(value, str | int | float) else json.dumps(value)})
    return pd.DataFrame(rows, columns=["key", "value"]).astype({"value": str})
