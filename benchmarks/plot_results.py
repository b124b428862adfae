"""Plots and markdown tables for docs/benchmarks.md, made from the benchmark JSON files.

Usage: python benchmarks/plot_results.py [--encode benchmarks/results/encode.json]
                                         [--app benchmarks/results/app.json] [--out docs/img]

Writes ``bench_time.png`` (wall time against N, log-log, every method of the run) and ``bench_memory.png``
(peak memory against N) and prints the markdown tables pasted into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
METHODS = (("lsip_s", "LSIP encode+decode+forces", "C0"), ("eeq_s", "EEQ (tad-multicharge)", "C1"),
           ("xtb_s", "GFN2-xTB (tblite)", "C2"), ("dft_s", "PBE0/def2-SVP (PySCF)", "C3"))


def _fmt(row: dict, key: str, spec: str) -> str:
    return format(row[key], spec) if key in row else "-"


def encode_table(data: dict) -> str:
    """Markdown table of the encode benchmark rows."""
    lines = ["| atoms | LSIP s | us/atom | iterations | Coulomb | EEQ s | LSIP/EEQ | xTB s | DFT s | peak MB |",
             "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        lines.append(f"| {r['n_atoms']} | {r['lsip_s']:.3f} | {r['per_atom_us']:.0f} | {r['iterations']} | "
                     f"{r['coulomb']} | {_fmt(r, 'eeq_s', '.3f')} | {_fmt(r, 'ratio_lsip_over_eeq', '.1f')} | "
                     f"{_fmt(r, 'xtb_s', '.3f')} | {_fmt(r, 'dft_s', '.2f')} | {r['peak_mem_MB']:.0f} |")
    slopes = data.get("slopes", {})
    lines.append("")
    lines.append("log-log slopes (least squares, N >= 30): " + ", ".join(
        f"{label.split(' ')[0]} {slopes[key]:.2f}" for key, label, _ in METHODS if key in slopes))
    return "\n".join(lines)


def plot_encode(data: dict, out: Path) -> list[Path]:
    """Time and memory against N (log-log)."""
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label, colour in METHODS:
        pts = [(r["n_atoms"], r[key]) for r in data["rows"] if key in r]
        if pts:
            xs, ys = zip(*pts)
            ax.loglog(xs, ys, "o-", color=colour, label=label)
    ax.set_title(f"Single-point cost, {data['meta']['device']}, {data['meta']['threads']} threads")
    p1 = _finish(fig, ax, "wall time / s", out / "bench_time.png")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [r["n_atoms"] for r in data["rows"]]
    ax.loglog(xs, [max(r["peak_mem_MB"], 0.1) for r in data["rows"]], "o-", color="C0", label="LSIP peak memory")
    return [p1, _finish(fig, ax, "peak memory growth / MB", out / "bench_memory.png")]


def _finish(fig: object, ax: object, ylabel: str, path: Path) -> Path:
    """Axis labels, grid and legend of a size plot; save it as ``path`` and close it."""
    ax.set_xlabel("atoms (water clusters)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def app_table(data: dict) -> str:
    """Markdown table of the app latency benchmark."""
    r = data["rows"]
    lines = ["| step | seconds |", "|---|---:|", f"| server healthy (from launch) | {r['server_healthy_s']:.2f} |",
             f"| first page drawn with its 3D view (from launch) | {r['first_page_drawn_s']:.2f} |"]
    numbers = r.get("explore_numbers", {})
    lines += [f"| Explore `?mol={k}`: numbers shown / 3D drawn + 0.5 s quiet | "
              f"{numbers[k]:.2f} / {t:.2f} |" if k in numbers else f"| Explore `?mol={k}`: 3D drawn | {t:.2f} |"
              for k, t in r["explore"].items()]
    lines += [f"| sidebar pick of `{k}` on the loaded page: its numbers shown | {t:.2f} |"
              for k, t in r.get("pick_numbers", {}).items()]
    if "charge_rerun_numbers_s" in r:
        lines.append(f"| sidebar total-charge change: new numbers / redrawn | {r['charge_rerun_numbers_s']:.2f} / "
                     f"{r['charge_rerun_s']:.2f} |")
    else:
        lines.append(f"| sidebar total-charge change re-run, redrawn | {r['charge_rerun_s']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encode", default=str(HERE / "results" / "encode.json"))
    ap.add_argument("--app", default=str(HERE / "results" / "app.json"))
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "img"))
    args = ap.parse_args()
    if Path(args.encode).is_file():
        data = json.loads(Path(args.encode).read_text())
        print(encode_table(data))
        for p in plot_encode(data, Path(args.out)):
            print(f"wrote {p}")
    if Path(args.app).is_file():
        print(app_table(json.loads(Path(args.app).read_text())))


if __name__ == "__main__":
    main()
