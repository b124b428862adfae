"""The app's links: selections and page controls mirrored in the URL query so that a link reproduces a view.

``mol`` (gallery key) or ``smiles``, ``q`` (total charge), ``params`` (parameter set), ``teach``, ``ovr`` (live
Diagnostics parameters) and the page controls of :data:`URL_SETTINGS`. Anything invalid in a hand-edited link is
ignored, so a link can never break a widget; uploaded or pasted structures do not travel in a link.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import streamlit as st

from lsip.diagnostics import overrides_from_url, overrides_to_url
from lsip.gallery import load_gallery
from lsip.io.smiles import MAX_SMILES_LENGTH
from lsip.model.params import available_parameter_sets, default_parameter_set, get_parameters
from lsip.ui.state import (
    CHARGE_KEY,
    DEFAULT_MOLECULE,
    GALLERY_KEY,
    OVERRIDES_BASE_KEY,
    OVERRIDES_KEY,
    PARAMS_KEY,
    SMILES_KEY,
    SOURCE_KEY,
)


@dataclass(frozen=True)
class UrlSetting:
    """A page control mirrored in the URL: its default, type and allowed values (anything else in a URL is
    ignored, so a hand-edited link can never break a widget)."""

    default: object
    options: tuple = ()
    bounds: tuple[float, float] | None = None

    def parse(self, text: str) -> object | None:
        """The value of ``text`` for this setting, or None when it is not a valid value."""
        try:
            if isinstance(self.default, bool):
                value = {"1": True, "0": False}[text]
            elif isinstance(self.default, int):
                value = int(text)
            elif isinstance(self.default, float):
                value = float(text)
            else:
                value = str(text)
        except (KeyError, ValueError):
            return None
        if self.options and value not in self.options:
            return None
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            return None
        return value

    @staticmethod
    def format(value: object) -> str:
        """URL text of a value (booleans as 1/0)."""
        return ("1" if value else "0") if isinstance(value, bool) else str(value)


#: Page controls that travel in the URL next to ``mol``, ``q``, ``params`` and ``teach`` (widget key -> setting).
URL_SETTINGS: dict[str, UrlSetting] = {
    "explore_threshold": UrlSetting(0.01, bounds=(0.0, 0.5)),
    "explore_direction": UrlSetting("net flow", options=("net flow", "both directions")),
    "explore_color": UrlSetting("charge q", options=("charge q", "charge fluctuation")),
    "explore_glyphs": UrlSetting(True),
    "explore_forces": UrlSetting(False),
    "explore_dipoles": UrlSetting(False),
    "ct_threshold": UrlSetting(0.01, bounds=(0.0, 0.5)),
    "ct_both": UrlSetting(False),
    "lsip_density_plane": UrlSetting("xy", options=("xy", "xz", "yz", "atoms")),
    "lsip_scan_points": UrlSetting(30, bounds=(5, 80)),
    "present_slide": UrlSetting(0, bounds=(0, 3)),
}


def keep_page_settings() -> None:
    """Keep the page controls of :data:`URL_SETTINGS` through runs that do not draw them (issue 14.1).

    Streamlit drops a widget's state at the end of a run that does not draw the widget (e.g. Explore while the
    pasted text is still empty), and the widget then came back at its minimum (threshold 0.000, glyphs off).
    Re-assigning the value makes it plain session state, which survives; the widget picks it up again.
    """
    for key in URL_SETTINGS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def url_setting(key: str) -> None:
    """Give the widget ``key`` its default unless the URL or the user already set it; the page then creates
    the widget without a ``value=`` (Streamlit warns when both a default and session state set a widget)."""
    st.session_state.setdefault(key, URL_SETTINGS[key].default)


def sync_from_url() -> None:
    """On the first run of a session, take gallery key, charge, params and teaching mode from the URL."""
    if st.session_state.get("lsip_url_loaded"):
        return
    qp = st.query_params
    gallery = load_gallery()
    if qp.get("mol") in gallery:
        st.session_state[SOURCE_KEY] = "Gallery"
        st.session_state[GALLERY_KEY] = qp["mol"]
        # the molecule comes with the link: its charge is the link's ``q`` (if any), not the gallery default
        st.session_state["lsip_prev_gallery"] = qp["mol"]
        st.session_state[CHARGE_KEY] = int(gallery[qp["mol"]].charge)
    elif qp.get("smiles") and len(qp["smiles"]) <= MAX_SMILES_LENGTH:  # a link to a SMILES-built molecule
        st.session_state[SOURCE_KEY] = "SMILES"
        st.session_state[SMILES_KEY] = qp["smiles"]
        if "q" in qp:  # the link's q is the charge; without one, the SMILES' formal charges are
            st.session_state["lsip_prev_source_token"] = "smiles|" + qp["smiles"].strip()
    if "q" in qp:
        with contextlib.suppress(ValueError):
            st.session_state[CHARGE_KEY] = int(qp["q"])
    if qp.get("params") in available_parameter_sets():
        st.session_state[PARAMS_KEY] = qp["params"]
    if qp.get("teach") == "1":
        st.session_state["lsip_teaching_mode"] = True
    if qp.get("ovr"):  # live parameter overrides of a shared link (only valid live parameters are taken)
        base = get_parameters(st.session_state.get(PARAMS_KEY, default_parameter_set()))
        overrides = overrides_from_url(qp["ovr"], base)
        if overrides:
            st.session_state[OVERRIDES_KEY] = overrides
            st.session_state[OVERRIDES_BASE_KEY] = base.name
    for key, setting in URL_SETTINGS.items():
        value = setting.parse(qp[key]) if key in qp else None
        if value is not None:
            st.session_state[key] = value
    st.session_state["lsip_url_loaded"] = True


def sync_to_url() -> None:
    """Mirror the selections (and live overrides) into the URL; pages that change them after the sidebar call it
    again."""
    qp = {}
    if st.session_state.get(SOURCE_KEY, "Gallery") == "Gallery":
        qp["mol"] = st.session_state.get(GALLERY_KEY, DEFAULT_MOLECULE)
    elif st.session_state.get(SOURCE_KEY) == "SMILES" and str(st.session_state.get(SMILES_KEY, "")).strip():
        qp["smiles"] = str(st.session_state[SMILES_KEY]).strip()
    qp["q"] = str(st.session_state.get(CHARGE_KEY, 0))
    qp["params"] = st.session_state.get(PARAMS_KEY, default_parameter_set())
    if st.session_state.get("lsip_teaching_mode"):
        qp["teach"] = "1"
    overrides = st.session_state.get(OVERRIDES_KEY) or {}
    if overrides and st.session_state.get(OVERRIDES_BASE_KEY, qp["params"]) == qp["params"]:
        qp["ovr"] = overrides_to_url(overrides)
    for key, setting in URL_SETTINGS.items():
        if key in st.session_state and st.session_state[key] != setting.default:
            qp[key] = setting.format(st.session_state[key])
    if dict(st.query_params) != qp:
        st.query_params.from_dict(qp)
