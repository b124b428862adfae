"""Markdown tables and matplotlib plots (PNG) of a validation report from :func:`lsip.validation.run.run_validation`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_UNITS = {"charges": "e", "dipole_D": "D", "energy_eV": "eV", "density_error_e": "e"}


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def statistics_table(report: dict, groups: tuple[str, ...] = ("all", "ionic", "covalent", "ion", "complex",
                                                          "test")) -> str:
    """Markdown table: one row per comparison, MAE (RMSE, max) per group, and the worst cases overall."""
    cols = " | ".join(f"{g} MAE / RMSE / max (n)" for g in groups)
    head = f"| comparison | unit | {cols} | worst (pred vs ref) |"
    lines = [head, "|" + "---|" * (len(groups) + 3)]
    for label, entry in report["statistics"].items():
        cells = []
        for g in groups:
            s = entry.get(g, {"n": 0})
            cells.append("-" if not s["n"] else f"{_fmt(s['mae'])} / {_fmt(s['rmse'])} / {_fmt(s['max'])} ({s['n']})")
        worst = "; ".join(f"{w['label']} {w['pred']:.2f} vs {w['ref']:.2f}" for w in entry["all"]["worst"])
        lines.append(f"| {label} | {_UNITS[entry['quantity']]} | " + " | ".join(cells) + f" | {worst} |")
    return "\n".join(lines)


def molecule_table(report: dict) -> str:
    """Markdown table per molecule: dipoles, energies, density errors, most negative charge (model vs HI)."""
    lines = ["| entry | cat. | Q | dipole model / EEQ / DFT (D) | E model / DFT atomization (eV) | "
             "density error promol. / model (e) | q(min) model / EEQ / HI |", "|---|---|---|---|---|---|---|"]
    for r in report["molecules"]:
        d, e, de, ch = r["dipole_D"], r["energy_eV"], r["density_error_e"], r["charges"]
        k = int(np.argmin(ch.get("dft_hirshfeld_i", ch["model"])))
        q_hi = ch.get("dft_hirshfeld_i", [None] * len(ch["model"]))[k]
        lines.append(
            f"| {r['name']} | {r['category']} | {r['total_charge']:+d} | {_fmt(d['model'], 2)} / {_fmt(d['eeq'], 2)} / "
            f"{_fmt(d['dft'], 2)} | {_fmt(e['model'], 2)} / {_fmt(e['dft_atomization'], 2)} | "
            f"{_fmt(de.get('promolecule'), 2)} / {_fmt(de.get('model'), 2)} | "
            f"{r['symbols'][k]}{k}: {ch['model'][k]:.2f} / {ch['eeq'][k]:.2f} / {_fmt(q_hi, 2)} |")
    return "\n".join(lines)


def scan_table(report: dict) -> str:
    """Markdown table of the charge on atom i at the shortest, equilibrium-like and largest distance."""
    lines = ["| scan | R (A) | q_i model | q_i QEq | q_i EEQ | q_i RKS HI | q_i UKS HI | <S^2> UKS | "
             "E model / RKS / UKS (eV) |", "|---|---|---|---|---|---|---|---|---|"]
    for sc in report["scans"]:
        i = sc["atoms"][0]
        for p in (sc["points"][1], sc["points"][-1]):
            c, e = p["charges"], p["energy_eV"]
            lines.append(
                f"| {sc['name']} ({sc['symbols'][i]}{i}) | {p['distance_A']:.2f} | {c['model'][i]:.3f} | "
                f"{c['qeq'][i]:.3f} | {c['eeq'][i]:.3f} | {c['rks_hirshfeld_i'][i]:.3f} | "
                f"{c['uks_hirshfeld_i'][i]:.3f} | {_fmt(p['uks_spin_square'], 2)} | "
                f"{_fmt(e['model'], 2)} / {_fmt(e['rks'], 2)} / {_fmt(e['uks'], 2)}"
                + "".join(f" ({k.upper()} unphysical)" for k in p.get("dft_unphysical", [])) + " |")
    bad = [f"{sc['name']} at {p['distance_A']:.2f} A ({', '.join(k.upper() for k in p['dft_unphysical'])})"
           for sc in report["scans"] for p in sc["points"] if p.get("dft_unphysical")]
    if bad:
        lines += ["", "DFT points on an unphysical SCF solution (> +20 eV above the free atoms; left out of the "
                  "plots): " + "; ".join(bad) + "."]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The whole report as markdown (settings, statistics, per-molecule table, scans)."""
    s = report["settings"]
    return "\n\n".join([
        f"# LSIP validation ({s['xc']}/{s['basis']}{', quick' if s['quick'] else ''})",
        f"{report['n_molecules']} entries, elements {' '.join(report['elements'])}; runtime "
        f"{report['runtime_s']:.0f} s.",
        "## Statistics (prediction - reference)", statistics_table(report),
        "## Per entry", molecule_table(report), "## Dissociation curves", scan_table(report)])


def _parity(ax: object, xs: np.ndarray, ys: np.ndarray, label: str) -> None:
    ax.scatter(ys, xs, s=10, alpha=0.7, label=label)


def plot_all(report: dict, out_dir: Path) -> list[Path]:
    """Write parity plots (charges, dipoles, energies) and scan plots as PNG; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lsip.validation.run import matched_pairs

    out_dir.mkdir(parents=True, exist_ok=True)
    mols, paths = report["molecules"], []
    panels = (("charges", "dft_hirshfeld_i", ("model", "qeq", "eeq", "gfn2", "dft_density_encoder"), "charge (e)"),
              ("dipole_D", "dft", ("model", "qeq", "eeq", "gfn2"), "dipole (D)"),
              ("energy_eV", "dft_atomization", ("model",), "energy rel. to free atoms (eV)"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, (quantity, ref, preds, unit) in zip(axes, panels):
        for p in preds:
            x, y, _ = matched_pairs(mols, quantity, p, ref)
            if len(x):
                _parity(ax, x, y, p)
        lim = ax.get_xlim()
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlabel(f"DFT {ref} {unit}")
        ax.set_ylabel(f"predicted {unit}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "parity.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    for sc in report["scans"]:
        paths.append(_plot_scan(plt, sc, out_dir))
    return paths


def _plot_scan(plt: object, sc: dict, out_dir: Path) -> Path:
    i = sc["atoms"][0]
    r = [p["distance_A"] for p in sc["points"]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    def shown(p: dict, key: str, value: float | None) -> float:
        """NaN for missing values and for DFT points flagged as unphysical SCF solutions."""
        return np.nan if value is None or key.split("_")[0] in p.get("dft_unphysical", []) else value

    for key, style in (("model", "o-"), ("qeq", "s--"), ("eeq", "^--"), ("rks_hirshfeld_i", "x:"),
                       ("uks_hirshfeld_i", "d-")):
        a1.plot(r, [shown(p, key, p["charges"][key][i]) for p in sc["points"]], style, label=key)
    for key, style in (("model", "o-"), ("rks", "x:"), ("uks", "d-")):
        a2.plot(r, [shown(p, key, p["energy_eV"][key]) for p in sc["points"]], style, label=key)
    a1.set_ylabel(f"charge on {sc['symbols'][i]}{i} (e)")
    a2.set_ylabel("energy rel. to free atoms (eV)")
    for a in (a1, a2):
        a.set_xlabel("R (A)")
        a.legend(fontsize=7)
    fig.suptitle(sc["name"])
    fig.tight_layout()
    name = "scan_" + "".join(c for c in sc["name"].split(" ")[0].lower() if c.isalnum()) + ".png"
    fig.savefig(out_dir / name, dpi=70)
    plt.close(fig)
    return out_dir / name
