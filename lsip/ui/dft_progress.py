"""Streamlit side of reference-DFT runs: size check, cache look-up, live SCF progress, stop button, errors.

Pages call :func:`reference_section` (one structure) or :func:`run_dft_scan` (a scan); everything else is the
package's reference driver (:mod:`lsip.reference.driver`), whose persistent SQLite cache makes repeated
requests return in milliseconds.

Stopping: the "Stop" button makes Streamlit rerun the script; the rerun request interrupts the running
script at its next progress update (every SCF cycle), so the SCF stops within one cycle. A time limit
(``ReferenceSettings.time_limit_s``) stops it from inside the driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import streamlit as st

from lsip.errors import ConvergenceError, LSIPError
from lsip.reference.driver import (
    METHOD_LABELS,
    METHODS,
    ReferenceDFT,
    ReferenceResult,
    ReferenceSettings,
    SCFProgress,
    canonical_unrestricted,
    method_name,
    method_refusal,
)
from lsip.structure import Structure
from lsip.ui import cache, common

RESULTS_KEY = "lsip_dft_results"
RUNNING_KEY = "lsip_dft_running"
REQUEST_KEY = "lsip_dft_requested"
#: Basis sets offered in the app (PySCF names); def2-SVP is the default.
BASIS_CHOICES: tuple[str, ...] = ("def2-SVP", "sto-3g", "6-31g*", "def2-TZVP", "cc-pVDZ", "aug-cc-pVDZ")


#: Reference methods offered in the app (keys of ``lsip.reference.driver.METHODS``), automatic first.
METHOD_CHOICES: tuple[str, ...] = tuple(METHODS)


def method_selectbox(container: object, key: str, structure: Structure) -> bool | None:
    """A "Kohn-Sham method" select box (automatic / RKS / UKS) in ``container``; returns
    ``ReferenceSettings.unrestricted`` for the choice, None when it is what automatic picks for ``structure``
    (:func:`lsip.reference.driver.canonical_unrestricted`: one cache entry for both)."""
    choice = container.selectbox("Method", METHOD_CHOICES, key=key, format_func=METHOD_LABELS.get,
                                 help="Automatic: RKS for closed shells (every electron paired), UKS for open shells. "
                                      "RKS is refused for an odd electron count or a spin state 2S > 0; UKS of a "
                                      "closed shell is computed and cached separately.")
    return canonical_unrestricted(structure, METHODS[choice])


def level_label(settings: ReferenceSettings) -> str:
    """``"PBE0/def2-SVP"``, prefixed with ``RKS-`` or ``UKS-`` when the method was chosen explicitly."""
    prefix = "" if settings.unrestricted is None else f"{method_name(settings.unrestricted)}-"
    return f"{prefix}{settings.xc}/{settings.basis}"


def progress_line(p: SCFProgress) -> str:
    """One human line for a progress report (energies in hartree, the SCF's own unit)."""
    if p.stage == "analysis":
        return f"SCF converged (E = {p.energy:.8f} Ha); analysing the density ... {p.elapsed_s:.1f} s"
    if p.cycle == 0:
        return f"Setting up the SCF ... estimate ~{p.estimate_s:.0f} s"
    stage = "second attempt, " if p.stage == "retry" else ""
    return (f"SCF {stage}cycle {p.cycle}: E = {p.energy:.8f} Ha, ΔE = {p.delta_e:.1e} Ha, "
            f"elapsed {p.elapsed_s:.1f} s (estimate ~{p.estimate_s:.0f} s)")


def size_check(structure: Structure, settings: ReferenceSettings) -> tuple[int, float] | str:
    """(n_basis, estimated s) or the driver's refusal message (cached per structure and basis)."""
    return cache.reference_size(structure, settings)


def _store_key(driver: ReferenceDFT, model_weights: np.ndarray) -> str:
    digest = hashlib.sha256(np.round(np.asarray(model_weights, dtype=np.float64), 12).tobytes()).hexdigest()[:12]
    return f"{driver.key()}|{digest}"


def _request(skey: str) -> None:
    """Button callback: remember that the reference of ``skey`` was requested."""
    st.session_state[REQUEST_KEY] = skey


def _updater(bar: object, text: object) -> Callable[[SCFProgress], None]:
    def update(p: SCFProgress) -> None:
        frac = 1.0 if p.stage == "analysis" else min(0.95, p.elapsed_s / max(p.estimate_s, 1e-3))
        bar.progress(frac)
        text.markdown(progress_line(p))

    return update


def reference_section(structure: Structure, settings: ReferenceSettings, model_weights: np.ndarray,
                      button_label: str = "Compute DFT reference") -> ReferenceResult | None:
    """Show the DFT status of ``structure`` and return its reference result, or None.

    Order: a result already in this session; the persistent cache (loaded at once, said so); a refusal message
    for systems above the size limits; otherwise a button that runs the SCF with live progress and a Stop
    button. ``model_weights`` (n, 4) fill the model's reconstruction error.
    """
    level = level_label(settings)
    why = method_refusal(structure, settings)
    if why is not None:
        st.warning(f"Reference DFT refused: {why}.")
        return None
    check = size_check(structure, settings)
    if isinstance(check, str):
        st.warning(f"Reference DFT refused: {check}")
        return None
    driver = ReferenceDFT(structure, settings, library=cache.library())
    store = st.session_state.setdefault(RESULTS_KEY, {})
    skey = _store_key(driver, model_weights)
    if skey in store:
        res = store[skey]
        st.caption(f"DFT reference {level}: {'from the persistent cache' if res.cached else 'computed'} "
                   f"(E = {res.energy:.6f} Ha, {res.n_basis} basis functions).")
        return res
    if driver.cache is not None and driver.key() in driver.cache:
        res = _run(driver, model_weights, level)
        if res is not None:
            st.success(f"DFT reference {level} loaded from the persistent cache ({driver.cache.path.name}) in "
                       f"{res.time_s * 1000:.0f} ms (computed originally in {res.compute_time_s:.1f} s).")
        return res
    n_basis, est = check
    if st.session_state.get(RUNNING_KEY) == skey:
        st.warning("The last DFT run was stopped before it finished.")
        st.session_state.pop(RUNNING_KEY, None)
    if st.session_state.get(REQUEST_KEY) != skey:
        st.info(f"No DFT reference yet for this structure at {level} ({n_basis} basis functions, estimated "
                f"~{est:.0f} s).")
    # the click is recorded by a callback (it survives the router's rerun), then consumed here
    if st.session_state.get(REQUEST_KEY) != skey:
        st.button(f"{button_label} ({level})", key="lsip_dft_compute", type="primary", on_click=_request,
                  args=(skey,))
        return None
    st.session_state.pop(REQUEST_KEY, None)
    st.session_state[RUNNING_KEY] = skey
    stop_slot = st.empty()  # the Stop button lives only while the SCF runs (issue 14.4)
    stop_slot.button("Stop", key="lsip_dft_stop", help="Stops the SCF at its next cycle.")
    res = _run(driver, model_weights, level)
    stop_slot.empty()
    st.session_state.pop(RUNNING_KEY, None)
    return res


def refused(structure: Structure, settings: ReferenceSettings) -> bool:
    """Whether a reference calculation of ``structure`` at ``settings`` is above the size limits."""
    return isinstance(size_check(structure, settings), str)


def recompute_button(structure: Structure, settings: ReferenceSettings, model_weights: np.ndarray,
                     label: str = "Recompute the reference") -> ReferenceResult | None:
    """A button that runs the reference again without reading the persistent cache (an older entry lacking what a
    feature needs, e.g. the orbitals of the Molden export); the new result replaces the cache entry and this
    session's copy. Returns it in the run that handles the click, else None."""
    driver = ReferenceDFT(structure, settings, library=cache.library())
    if not request_button(f"{label} ({level_label(settings)})", "lsip_dft_recompute", driver.key()):
        return None
    return _run(driver, model_weights, level_label(settings), use_cache=False)


def _run(driver: ReferenceDFT, model_weights: np.ndarray, level: str, use_cache: bool = True) -> ReferenceResult | None:
    """Run the driver inside an ``st.status`` with a progress bar; show failures as messages."""
    store = st.session_state.setdefault(RESULTS_KEY, {})
    error = None
    with st.status(f"Reference DFT {level} of {driver.structure.formula}", expanded=True) as status:
        bar, text = st.progress(0.0), st.empty()
        driver.progress = _updater(bar, text)
        try:
            res = driver.kernel(model_weights=np.asarray(model_weights, dtype=np.float64), use_cache=use_cache)
        except ConvergenceError as exc:
            error = f"The SCF did not converge: {exc}"
        except LSIPError as exc:
            error = f"Reference DFT failed: {exc}"
        if error is None:
            bar.progress(1.0)
            how = "from the persistent cache" if res.cached else f"in {res.compute_time_s:.1f} s"
            text.markdown(f"Done {how}: E = {res.energy:.8f} Ha after {res.cycles} SCF cycles.")
            status.update(label=f"Reference DFT {level} ready ({how})", state="complete", expanded=False)
        else:
            status.update(label="Reference DFT failed", state="error")
    if error is not None:
        st.error(error)
        return None
    for w in res.warnings:
        st.warning(w)
    store[_store_key(driver, model_weights)] = res
    return res


def request_button(label: str, key: str, token: str) -> bool:
    """A button whose click survives the router's rerun: True once (in the run that handles the click)."""
    pending = st.session_state.get(key + "_requested") == token
    if not pending:
        st.button(label, key=key, on_click=lambda: st.session_state.__setitem__(key + "_requested", token))
        return False
    st.session_state.pop(key + "_requested", None)
    return True


def scan_progress(total: int) -> Callable[[int, SCFProgress], None]:
    """A ``progress(point, SCFProgress)`` callback drawing a bar over ``total`` scan points and the SCF line."""
    bar, text = st.progress(0.0), st.empty()

    def update(k: int, p: SCFProgress) -> None:
        bar.progress(min(1.0, (k + (1.0 if p.stage == "analysis" else 0.5)) / max(total, 1)))
        text.markdown(f"Point {k + 1}/{total}: {progress_line(p)}")

    return update


#: Largest structure whose DFT atomization energy the app computes on request (atoms).
ATOMIZATION_MAX_ATOMS = 20


def atomization_tile(structure: Structure, model_energy_eV: float) -> None:
    """The DFT atomization energy beside the model's (issue 11.5): shown when the reference cache has it,
    computed on request for small structures (PBE0/def2-SVP, the structure and its free atoms, all cached)."""
    from lsip.reference.atomization import cached_atomization, compute_atomization

    settings = ReferenceSettings()
    level = f"{settings.xc}/{settings.basis}"
    result = common.run_guarded(lambda: cached_atomization(structure, settings, cache.library()),
                                "DFT reference")
    if result is None:
        if structure.n_atoms > ATOMIZATION_MAX_ATOMS:
            st.caption(f"DFT atomization energy: not in the reference cache, and {structure.n_atoms} atoms is "
                       f"more than the {ATOMIZATION_MAX_ATOMS} computed on request.")
            return
        check = size_check(structure, settings)
        if isinstance(check, str):
            st.caption(f"DFT atomization energy unavailable: {check}")
            return
        if not st.button(f"Compute the DFT atomization energy ({level}, ~{check[1]:.0f} s + free atoms)",
                         key=f"lsip_atomization_{cache.fingerprint(structure)}"):
            return
        with st.spinner(f"{level} for the structure and its free atoms ..."):
            result = common.run_guarded(lambda: compute_atomization(structure, settings, cache.library()),
                                        "DFT reference")
        if result is None:
            st.warning("The DFT atomization energy could not be computed (an SCF did not converge).")
            return
    st.metric(f"DFT atomization ({result.level})", f"{result.energy_eV:.3f} eV",
              delta=f"model - DFT: {model_energy_eV - result.energy_eV:+.2f} eV", delta_color="off", delta_arrow="off",
              help="E(DFT) - sum of the free neutral atoms (UKS ground states): the same zero as the model's "
                   "energy. From the persistent reference cache" + (" (loaded)." if result.cached else "."))
