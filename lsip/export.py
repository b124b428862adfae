"""Exports of a model prediction: tables (as records and CSV), extended XYZ, JSON settings, a Python script.

Pure functions (no Streamlit): the app's tables and its download buttons use the same records, so a CSV
always holds exactly the numbers shown on screen. Units at this boundary: eV, angstrom, e, debye
(converted once, through :mod:`lsip.units`); atom indices are 0-based, as in every table and 3D label.

* :func:`atom_records` - per atom: symbol, x/y/z (angstrom), charge, the four state weights, the per-atom
  energy of every term and their sum (eV), the atomic chemical potential mu_A (eV);
* :func:`channel_records` - every directed channel donor -> acceptor: occupation c, coupling beta (eV), distance;
* :func:`flow_records` - channels of one atom pair merged to a net flow, strongest first;
* :func:`pair_records` - short-range pairs with their pair energies per term (eV) and distance;
* :func:`term_records` - the named terms with totals (eV), ending in the total;
* :func:`records_csv`, :func:`extxyz_export`, :func:`settings_json`, :func:`reproduction_script`.

>>> records_csv([{"a": 1, "b": 0.5}])
'a,b\\n1,0.5\\n'
"""

from __future__ import annotations

import csv
import io
import json
import pprint
import re
from dataclasses import asdict
from typing import Any

import numpy as np

from lsip import __version__
from lsip.io import extxyz_text
from lsip.model.decoder import Prediction, as_numpy, term_labels
from lsip.model.flows import net_pair_flows
from lsip.model.library import STATE_LABELS
from lsip.model.params import ModelParameters
from lsip.results import user_units
from lsip.structure import Structure, atom_label
from lsip.units import (
    BOHR_TO_ANGSTROM,
    E_ANGSTROM_TO_DEBYE,
    HARTREE_TO_EV,
)

Record = dict[str, Any]


def _distances_A(pred: Prediction, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """(m,) distances between atoms i and j, angstrom."""
    pos = as_numpy(pred.positions) * BOHR_TO_ANGSTROM
    return np.linalg.norm(pos[np.asarray(i, dtype=int)] - pos[np.asarray(j, dtype=int)], axis=-1)


def headline(pred: Prediction) -> Record:
    """The numbers shown on top of a page, in user units.

    Returns
    -------
    dict with ``energy_eV`` (relative to free neutral atoms), ``dipole_D`` (|mu|, about the centre of mass),
    ``mu_eV`` (global chemical potential), ``converged``, ``iterations``, ``residual_Ha`` (KKT residual),
    ``time_ms``, ``device`` and ``max_force_eV_A`` (largest |F| on any atom).
    """
    u = user_units(pred)
    return {
        "energy_eV": u.energy_eV,
        "dipole_D": u.dipole_D,
        "mu_eV": u.mu_eV,
        "converged": bool(pred.converged),
        "iterations": int(pred.iterations),
        "residual_Ha": float(pred.residual),
        "time_ms": pred.time_s * 1e3,
        "device": pred.device,
        "max_force_eV_A": u.max_force_eV_A,
    }


def atom_records(pred: Prediction) -> list[Record]:
    """One record per atom (user units).

    Keys: ``index``, ``symbol``, ``x_A``, ``y_A``, ``z_A`` (angstrom), ``charge_e`` (q = w+ - w-),
    ``w_cation``, ``w_neutral``, ``w_anion``, ``w_excited``, ``E_<term>_eV`` for every registered term,
    ``E_atom_eV`` (their sum), ``mu_A_eV``, the atomic dipole ``px_eA``, ``py_eA``, ``pz_eA`` (e angstrom) and its
    size ``p_D`` (debye; docs/model.md section 11).
    """
    u = user_units(pred)
    pos, q, w, terms, e_atom, mu = u.positions_A, u.charges_e, u.weights, u.terms_per_atom_eV, u.energies_eV, \
        u.mu_atoms_eV
    rows = []
    for k, sym in enumerate(pred.symbols):
        row: Record = {"index": k, "symbol": sym, "x_A": pos[k, 0], "y_A": pos[k, 1], "z_A": pos[k, 2],
                       "charge_e": q[k]}
        row.update({f"w_{lab}": w[k, s] for s, lab in enumerate(STATE_LABELS)})
        row.update({f"E_{name}_eV": vals[k] for name, vals in terms.items()})
        row["E_atom_eV"] = e_atom[k]
        row["mu_A_eV"] = mu[k]
        row.update({f"p{c}_eA": u.atomic_dipoles_eA[k, i] for i, c in enumerate("xyz")})
        row["p_D"] = float(np.linalg.norm(u.atomic_dipoles_eA[k])) * E_ANGSTROM_TO_DEBYE
        rows.append(row)
    return rows


def channel_records(pred: Prediction) -> list[Record]:
    """Every directed channel, largest occupation first.

    Keys: ``donor``, ``acceptor`` (labels such as ``O0``), ``donor_index``, ``acceptor_index``,
    ``occupation`` (electrons moved donor -> acceptor), ``beta_eV`` (coupling), ``distance_A``.
    """
    d, a = pred.donor.numpy().astype(int), pred.acceptor.numpy().astype(int)
    occ, beta = as_numpy(pred.occupation), as_numpy(pred.beta) * HARTREE_TO_EV
    dist = _distances_A(pred, d, a)
    rows = [{"donor": atom_label(pred.symbols, i), "acceptor": atom_label(pred.symbols, j), "donor_index": int(i),
             "acceptor_index": int(j), "occupation": float(c), "beta_eV": float(b), "distance_A": float(r)}
            for i, j, c, b, r in zip(d, a, occ, beta, dist)]
    return sorted(rows, key=lambda r: -r["occupation"])


def flow_records(pred: Prediction, threshold: float = 0.0) -> list[Record]:
    """Channels of each atom pair merged to a net flow c_AB - c_BA, strongest first.

    Parameters
    ----------
    pred : the prediction.  threshold : leave out pairs whose net flow is below this (e).

    Returns
    -------
    records with ``rank``, ``donor``, ``acceptor`` (labels; the side that gives more is the donor),
    ``net_flow``, ``forward`` (c donor -> acceptor), ``backward`` (c acceptor -> donor), ``distance_A``,
    ``donor_index``, ``acceptor_index``.
    """
    rows = []
    for f in net_pair_flows(pred.donor.tolist(), pred.acceptor.tolist(), pred.occupation.tolist()):
        if f.net < threshold:
            continue
        i, j = f.donor, f.acceptor
        rows.append({"rank": len(rows) + 1, "donor": atom_label(pred.symbols, i),
                     "acceptor": atom_label(pred.symbols, j), "net_flow": f.net, "forward": f.forward,
                     "backward": f.backward, "distance_A": float(_distances_A(pred, np.array([i]), np.array([j]))[0]),
                     "donor_index": i, "acceptor_index": j})
    return rows


def net_outflow(pred: Prediction) -> np.ndarray:
    """(n,) electrons each atom gives away through channels: sum_B c_AB - sum_B c_BA (e).

    Equals the charge q_A up to the reservoir part of a charged system (docs/model.md section 2).
    """
    n = pred.n_atoms
    d, a, c = pred.donor.numpy().astype(int), pred.acceptor.numpy().astype(int), as_numpy(pred.occupation)
    return np.bincount(d, c, minlength=n) - np.bincount(a, c, minlength=n)


def pair_records(pred: Prediction) -> list[Record]:
    """Short-range pairs (i < j within the cut-off) with their pair energies per term (eV).

    The electrostatic pair energy is the short-range part only (penetration + configuration correction):
    the long-ranged point-charge Coulomb energy is reported per atom, not per pair.
    """
    i, j = pred.pair_i.numpy().astype(int), pred.pair_j.numpy().astype(int)
    dist = _distances_A(pred, i, j)
    terms = {k: as_numpy(v) * HARTREE_TO_EV for k, v in pred.pair_terms.items()}
    rows = []
    for p, (a, b) in enumerate(zip(i, j)):
        row: Record = {"i": atom_label(pred.symbols, a), "j": atom_label(pred.symbols, b), "distance_A": float(dist[p])}
        row.update({f"E_{name}_eV": float(v[p]) for name, v in terms.items()})
        row["E_pair_eV"] = float(sum(v[p] for v in terms.values()))
        rows.append(row)
    return rows


def term_records(pred: Prediction) -> list[Record]:
    """Term totals (eV) in registration order, then ``total``; ``residual_eV`` = total - sum of the terms."""
    labels, u = term_labels(), user_units(pred)
    rows = [{"term": k, "label": labels.get(k, k), "energy_eV": v} for k, v in u.terms_eV.items()]
    total = u.energy_eV
    rows.append({"term": "total", "label": "Total", "energy_eV": total})
    rows.append({"term": "residual", "label": "Total - sum of terms",
                 "energy_eV": total - sum(r["energy_eV"] for r in rows[:-1])})
    return rows


def file_stem(structure: Structure) -> str:
    """A safe file-name stem for downloads: the structure's name (or formula), only ``[A-Za-z0-9_-]``.

    >>> import numpy as np
    >>> file_stem(Structure(("H", "H"), np.zeros((2, 3)) + [[0, 0, 0], [0, 0, 0.7]], name="../h 2"))
    'h_2'
    """
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", structure.name or structure.formula).strip("_")[:64].strip("_")
    return stem or "structure"


def records_csv(records: list[Record]) -> str:
    """CSV text of records (header from the first record's keys; floats with full precision)."""
    if not records:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: repr(float(v)) if isinstance(v, float | np.floating) else v for k, v in rec.items()})
    return buf.getvalue()


def extxyz_export(structure: Structure, pred: Prediction) -> str:
    """Extended XYZ of the structure with the prediction as per-atom arrays and header entries.

    Per-atom arrays: ``charges`` (e; ASE writes the column ``charge``), ``weights`` (n, 4: cation, neutral,
    anion, excited), ``energies`` (E_atom, eV), ``E_<term>`` (eV), ``mu_A`` (eV), ``charge_fluctuation``,
    ``forces`` (eV/angstrom). Header: ``energy`` (eV), ``dipole`` (3-vector, e angstrom), ``dipole_D``,
    ``mu_eV``, ``converged``, ``lsip_params``. ASE reads ``energy``, ``forces``, ``charges`` and ``dipole`` back
    as calculator results (``ase.io.read(f).get_potential_energy()``, ``.get_forces()``, ``.get_charges()``).
    """
    u = user_units(pred)
    arrays: dict[str, np.ndarray] = {
        "charges": u.charges_e, "weights": u.weights, "energies": u.energies_eV, "mu_A": u.mu_atoms_eV,
        "charge_fluctuation": as_numpy(pred.charge_fluctuation), "forces": u.forces_eV_A,
    }
    arrays.update({f"E_{k}": v for k, v in u.terms_per_atom_eV.items()})
    info = {"energy": u.energy_eV, "dipole": u.dipole_eA, "dipole_D": u.dipole_D, "mu_eV": u.mu_eV,
            "converged": bool(pred.converged), "lsip_params": pred.params_name or "first-principles",
            "lsip_version": __version__}
    return extxyz_text(structure, arrays, info)


def settings_json(structure: Structure, params: ModelParameters, *, source: str = "gallery",
                  gallery_key: str | None = None, overrides: dict | None = None) -> str:
    """JSON of everything that determines the numbers: structure, total charge, parameters and overrides.

    Parameters
    ----------
    structure : the structure (positions in angstrom are included, so uploads are reproducible too).
    params : the parameter set actually used (overrides already applied).
    source : "gallery", "upload", "paste" or "smiles".  gallery_key : the gallery entry, if any.
    overrides : parameter fields changed from the named set (Diagnostics sliders).
    """
    data = {
        "lsip_version": __version__, "source": source, "gallery_key": gallery_key,
        "total_charge": int(structure.charge), "params_name": params.name, "params": asdict(params),
        "overrides": dict(overrides or {}),
        "structure": {"symbols": list(structure.symbols), "positions_A": structure.positions.tolist(),
                      "charge": int(structure.charge), "name": structure.name},
    }
    return json.dumps(data, indent=2, sort_keys=False, default=float)


_SCRIPT = '''"""Reproduce the LSIP Explorer numbers for {formula} (generated by lsip {version}).

Run with the lsip package installed: python {file_name}
Positions are in angstrom; the model works in atomic units and prints eV, e and debye.
The structure's name is NAME below.
"""

import numpy as np

from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.results import user_units
from lsip.structure import Structure

NAME = {name}
SYMBOLS = {symbols}
POSITIONS_A = np.array({positions})
TOTAL_CHARGE = {charge}
PARAMS = ModelParameters(**{params})

structure = Structure(SYMBOLS, POSITIONS_A, charge=TOTAL_CHARGE, name=NAME)
model = LSIPModel(params=PARAMS, device="cpu")  # device="auto" uses a CUDA GPU when there is one
pred = model.predict(structure, raise_on_failure=False)
result = user_units(pred)  # eV, angstrom, e, debye

print(f"converged {{pred.converged}} iterations {{pred.iterations}} residual_Ha {{pred.residual:.3e}}")
print(f"energy_eV {{result.energy_eV:.10f}}")
print(f"dipole_D {{result.dipole_D:.10f}}")
print(f"mu_eV {{result.mu_eV:.10f}}")
for name, value in result.terms_eV.items():
    print(f"term_eV {{name}} {{value:.10f}}")
for k, (symbol, q) in enumerate(zip(pred.symbols, result.charges_e.tolist())):
    print(f"charge_e {{k}} {{symbol}} {{q:+.10f}}")
'''


def reproduction_script(structure: Structure, params: ModelParameters, file_name: str = "lsip_reproduce.py") -> str:
    """Python source that rebuilds ``structure`` inline and prints the model's numbers through the lsip API.

    Floats are written with ``repr`` (exact round trip), so the script reproduces the app to round-off.
    Nothing user-provided enters the code except through ``repr()``: the structure's name (from a file's comment
    line) is a ``repr`` string constant, the docstring holds only the Hill formula (element symbols and digits)
    and a sanitised file name.
    Output lines: ``converged ...``, ``energy_eV E``, ``dipole_D D``, ``mu_eV mu``, ``term_eV NAME E`` per term
    and ``charge_e K SYMBOL q`` per atom.
    """
    positions = pprint.pformat([[float(x) for x in row] for row in structure.positions], width=100)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", file_name).strip("._")[:80] or "lsip_reproduce.py"
    return _SCRIPT.format(
        formula=structure.formula, version=__version__, file_name=safe_name,
        symbols=repr(tuple(structure.symbols)), positions=positions, charge=int(structure.charge),
        params=pprint.pformat(asdict(params), width=100, sort_dicts=False), name=repr(structure.name),
    )


def parse_script_output(text: str) -> Record:
    """Read the printed lines of :func:`reproduction_script` back into numbers (for tests and checks).

    Returns
    -------
    dict with ``energy_eV``, ``dipole_D``, ``mu_eV``, ``terms_eV`` (name -> eV), ``charges_e`` (list) and
    ``converged``.
    """
    out: Record = {"terms_eV": {}, "charges_e": []}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] in ("energy_eV", "dipole_D", "mu_eV"):
            out[parts[0]] = float(parts[1])
        elif parts[0] == "term_eV":
            out["terms_eV"][parts[1]] = float(parts[2])
        elif parts[0] == "charge_e":
            out["charges_e"].append(float(parts[3]))
        elif parts[0] == "converged":
            out["converged"] = parts[1] == "True"
    return out
