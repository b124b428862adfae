"""Charge-transfer comparison: model channels next to DFT-derived minimum-norm flows (numbers only: the 3D view
of a DFT flow is :func:`lsip.viz.transfer_views.flow_view`).

The DFT side is read from the reference cache only (:func:`cached_reference`); this module never runs DFT (PySCF
is imported, through the driver, only when a cached reference is looked up). DFT charges (Hirshfeld, Hirshfeld-I,
Mulliken, meta-Lowdin or density-encoder) are turned into channel flows with
:func:`lsip.reference.flows.minimum_norm_flow` on either the covalent bond graph or the model's own channel pairs,
and compared pair by pair with the model's net flows c_AB - c_BA.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lsip.errors import LSIPError
from lsip.export import flow_records, net_outflow
from lsip.model.decoder import Prediction
from lsip.model.library import LatentLibrary
from lsip.reference.flows import ChargeFlow, bond_pairs, minimum_norm_flow
from lsip.structure import Structure, atom_label

#: Preferred order of DFT charge schemes (first available is the default): Hirshfeld-I first, as it is nearly
#: basis-independent and not biased towards neutral atoms like plain Hirshfeld.
SCHEME_ORDER = ("hirshfeld_i", "hirshfeld", "density_encoder", "meta_lowdin", "mulliken")
#: Plain names of the charge schemes (the data keys stay as they are in the reference results and the JSON).
SCHEME_LABELS: dict[str, str] = {"hirshfeld_i": "iterative Hirshfeld (Hirshfeld-I)", "hirshfeld": "Hirshfeld",
                                 "density_encoder": "density encoder (latent states)", "meta_lowdin": "meta-Löwdin",
                                 "mulliken": "Mulliken"}


def scheme_label(scheme: str) -> str:
    """The plain name of a charge scheme key (the key itself when unknown)."""
    return SCHEME_LABELS.get(scheme, scheme)


#: Graphs the DFT flow can be placed on.
GRAPHS = ("bonds", "model channels")


def cached_reference(structure: Structure, library: LatentLibrary | None = None, cache: Any = None,
                     settings: Any = None) -> tuple[Any | None, str]:
    """The cached reference result of ``structure`` with the given settings, without computing anything.

    Parameters
    ----------
    structure : the structure with its total charge.
    library : the latent library (part of the cache key); default: the shipped one.
    cache : a :class:`lsip.reference.cache.ReferenceCache`; default: the default cache file.
    settings : :class:`lsip.reference.driver.ReferenceSettings`; default: the defaults of ``lsip reference``.

    Returns
    -------
    (result or None, message): the message says why there is none (not computed yet, or the reference
    module or cache is unavailable).
    """
    try:
        from lsip.reference.cache import ReferenceCache
        from lsip.reference.driver import ReferenceDFT, ReferenceResult, ReferenceSettings
    except ImportError as exc:  # PySCF missing: the page still works without the DFT side
        return None, f"the reference DFT module is unavailable ({exc})"
    try:
        drv = ReferenceDFT(structure, settings or ReferenceSettings(), library=library,
                           cache=cache if cache is not None else ReferenceCache())
        hit = drv.cache.get(drv.key())
    except (LSIPError, OSError) as exc:
        return None, f"the reference cache cannot be read ({exc})"
    if hit is None:
        s = drv.settings
        return None, f"no cached {s.xc}/{s.basis} reference for this structure and total charge yet"
    return ReferenceResult.from_record(*hit), "cached"


def cached_references(structure: Structure, library: LatentLibrary | None = None,
                      bases: Sequence[str] = ("def2-SVP",), cache: Any = None) -> tuple[dict[str, Any], str]:
    """Cached PBE0 references of ``structure`` in each of ``bases`` (default settings otherwise).

    Returns
    -------
    ({basis: result} for the bases found, in the order given; a message when none is found).
    """
    try:
        from lsip.reference.driver import ReferenceSettings
    except ImportError as exc:  # PySCF missing: the page still works without the DFT side
        return {}, f"the reference DFT module is unavailable ({exc})"
    found, problems = {}, []
    for basis in dict.fromkeys(bases):
        result, msg = cached_reference(structure, library, cache, ReferenceSettings(basis=basis))
        if result is not None:
            found[basis] = result
        elif msg.startswith("the reference"):  # the cache itself failed, not just a miss
            problems.append(msg)
    why = problems[0] if problems else \
        f"no cached PBE0 reference ({', '.join(dict.fromkeys(bases))}) for this structure and charge yet"
    return found, "" if found else why


def available_schemes(result: Any) -> list[str]:
    """Charge schemes present in a reference result, in :data:`SCHEME_ORDER` (others after)."""
    names = list(getattr(result, "charges", {}) or {})
    return [s for s in SCHEME_ORDER if s in names] + [s for s in names if s not in SCHEME_ORDER]


def model_pairs(pred: Prediction) -> tuple[np.ndarray, np.ndarray]:
    """Undirected pairs (i < j) that carry a model channel."""
    pairs = {(min(d, a), max(d, a)) for d, a in zip(pred.donor.tolist(), pred.acceptor.tolist())}
    arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def dft_flow(structure: Structure, pred: Prediction, charges: np.ndarray, graph: str = "bonds") -> ChargeFlow:
    """Minimum-norm flow of DFT ``charges`` (e) on the bond graph or on the model's channel pairs."""
    if graph not in GRAPHS:
        raise LSIPError(f"graph must be one of {', '.join(GRAPHS)}, not {graph!r}")
    pairs = bond_pairs(structure.symbols, structure.positions) if graph == "bonds" else model_pairs(pred)
    return minimum_norm_flow(np.asarray(charges, dtype=np.float64), pairs)


def comparison_records(pred: Prediction, flow: ChargeFlow, threshold: float = 0.0) -> list[dict[str, Any]]:
    """Pairs with a model net flow or a DFT flow above ``threshold`` (e), strongest first.

    Each record: ``donor``, ``acceptor`` (model direction where the model has a flow, else the DFT one),
    ``model_net_flow`` and ``dft_flow`` (e, positive along donor -> acceptor; negative = opposite direction).
    """
    sym = pred.symbols
    model = {(r["donor_index"], r["acceptor_index"]): r["net_flow"] for r in flow_records(pred)}
    dft = {(int(d), int(a)): float(c) for d, a, c in zip(flow.donor, flow.acceptor, flow.occupation)}
    rows, seen = [], set()
    for (d, a), m in [*model.items(), *((k, 0.0) for k in dft)]:
        key = (min(d, a), max(d, a))
        if key in seen:
            continue
        seen.add(key)
        f = dft.get((d, a), 0.0) - dft.get((a, d), 0.0)
        if max(abs(m), abs(f)) < threshold:
            continue
        rows.append({"donor": atom_label(sym, d), "acceptor": atom_label(sym, a), "model_net_flow": m, "dft_flow": f})
    return sorted(rows, key=lambda r: -max(abs(r["model_net_flow"]), abs(r["dft_flow"])))


def outflow_series(pred: Prediction, flow: ChargeFlow | None = None) -> dict[str, np.ndarray]:
    """Per-atom series for a bar chart: model charge, model channel outflow and (if given) the DFT ones (e)."""
    out = {"model q": pred.charges.numpy(), "model channel outflow": net_outflow(pred)}
    if flow is not None:
        out["DFT q"] = flow.charges
        out["DFT flow outflow"] = flow.net_outflow()
    return out
