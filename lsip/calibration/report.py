"""Markdown report of a calibration: train and test errors side by side (docs/calibration.md)."""

from __future__ import annotations

#: (key of :func:`lsip.calibration.fit.summary`, label, unit) in report order.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("atomization_mae", "atomization energy", "eV/atom"),
    ("scan_mae", "bond-scan energies (relative)", "eV"),
    ("bond_length_mae", "equilibrium bond length from scans", "A"),
    ("bend_mae", "bend-scan energies (relative)", "eV"),
    ("angle_mae", "equilibrium bond angle from bend scans", "degrees"),
    ("dimer_mae", "dimer binding energies", "eV"),
    ("charge_mae", "charges vs Hirshfeld-I", "e"),
    ("dipole_mae", "dipoles (neutral molecules)", "D"),
    ("force_mae", "RMS force at the DFT-relaxed molecules (mean over molecules)", "eV/A"),
    ("wrong_sign_fraction", "polar atoms (abs(q_HI) >= 0.1 e) with the wrong sign", "fraction"),
    ("unbound", "molecules not bound against their atoms", "count"),
    ("failures", "non-converged structures", "count"),
)


def _cell(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def markdown_report(report: dict, per_entry: bool = True) -> str:
    """The summary table (MAE, first-principles vs calibrated, train vs test) and, optionally, every test entry."""
    fp, cal = report["first_principles"], report["calibrated"]
    lines = [f"# Calibration `{report['name']}` ({report['level']})", "",
             f"Fitted on {len(report['train_entries'])} training entries, tested on {len(report['test_entries'])} "
             f"held-out entries (split `{report['split_file']}`); {report['evaluations']} evaluations, "
             f"{report['seconds']:.0f} s; fitted at git {report.get('fitted_git', report['git'])[:10]}, assessed at "
             f"{report['git'][:10]}; optimizer: {report['optimizer']} "
             f"({report['status']}); start: {report.get('start', 'defaults')}.", "",
             "| quantity (MAE) | unit | first-principles train | calibrated train | first-principles test | "
             "calibrated test |", "|---|---|---:|---:|---:|---:|"]
    for key, label, unit in ROWS:
        lines.append(f"| {label} | {unit} | {_cell(fp['train'].get(key))} | {_cell(cal['train'].get(key))} | "
                     f"{_cell(fp['test'].get(key))} | {_cell(cal['test'].get(key))} |")
    if not per_entry:
        return "\n".join(lines)
    lines += ["", "## Test entries (calibrated set)", "", "| entry | kind | model | DFT |", "|---|---|---:|---:|"]
    for rec in report["test_per_entry"]:
        if rec["kind"] == "molecule":
            lines.append(f"| {rec['name']} | atomization, eV | {rec['model_eV']:.2f} | {rec['dft_eV']:.2f} |")
        elif rec["kind"] == "scan":
            lines.append(f"| {rec['name']} | bond length at the minimum, A | {rec['model_min_A']:.3f} | "
                         f"{rec['dft_min_A']:.3f} |")
        elif rec["kind"] == "bend":
            lines.append(f"| {rec['name']} | angle at the minimum, degrees | {rec['model_min_deg']:.1f} | "
                         f"{rec['dft_min_deg']:.1f} |")
        else:
            k = rec["dft_eV"].index(min(rec["dft_eV"]))
            lines.append(f"| {rec['name']} | binding at the DFT minimum, eV | {rec['model_eV'][k]:.3f} | "
                         f"{rec['dft_eV'][k]:.3f} |")
    return "\n".join(lines)
