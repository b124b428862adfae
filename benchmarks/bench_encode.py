"""Encode + decode time and peak memory against system size, with the EEQ baseline in the same run.

Usage: python benchmarks/bench_encode.py [--sizes 10,30,...] [--device cpu|cuda] [--out results/encode.json]

Prints a table and writes JSON. Times are wall-clock seconds of LSIPModel.predict (encoder + decoder +
forces), best of ``--repeat`` runs after one warm-up; EEQ (tad-multicharge, dense solve) is timed on the same
structures up to ``--eeq-max`` atoms. Peak memory: resident-set high-water mark growth (CPU, via a fresh
subprocess per size) or torch.cuda.max_memory_allocated (GPU). Compare ratios within one run: the machines
are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

# as the project's scripts run it: 2 threads that sleep (not spin) between parallel regions; spinning OpenMP
# threads starve the other BLAS/sparse calls of this 2-core machine (2-3x slower solves measured)
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
HERE = Path(__file__).resolve().parent


XTB_MAX = 1000  # GFN2-xTB (tblite) single points up to this size
DFT_MAX = 30  # PySCF PBE0/def2-SVP single points up to this size (10 waters)


def _time_xtb(st: object) -> float:
    import numpy as np
    from tblite.interface import Calculator

    from lsip.units import ANGSTROM_TO_BOHR

    t0 = time.perf_counter()
    calc = Calculator("GFN2-xTB", st.numbers, np.asarray(st.positions) * ANGSTROM_TO_BOHR)
    calc.set("verbosity", 0)
    calc.singlepoint()
    return time.perf_counter() - t0


def _time_dft(st: object) -> float:
    from lsip.reference.driver import ReferenceDFT

    t0 = time.perf_counter()
    ReferenceDFT(st, cache=False).kernel()
    return time.perf_counter() - t0


def run_one(n_atoms: int, device: str, repeat: int, eeq_max: int, xtb_max: int = XTB_MAX,
            dft_max: int = DFT_MAX) -> dict:
    from water_clusters import water_cluster

    from lsip.model.baselines import eeq_charges
    from lsip.model.model import LSIPModel

    st = water_cluster(max(1, n_atoms // 3))
    model = LSIPModel(device=device)
    model.predict(water_cluster(4))  # warm-up (tables, allocator)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    best, pred = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        pred = model.predict(st, raise_on_failure=False)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    out = {"n_atoms": st.n_atoms, "lsip_s": best, "per_atom_us": best / st.n_atoms * 1e6,
           "iterations": pred.iterations, "converged": pred.converged, "channels": len(pred.donor),
           "timings": pred.timings, "coulomb": "dense" if st.n_atoms <= model.params.dense_max_atoms else "dsf"}
    if device == "cuda":
        out["peak_mem_MB"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        out["peak_mem_MB"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    if st.n_atoms <= xtb_max:
        out["xtb_s"] = _time_xtb(st)
        out["ratio_lsip_over_xtb"] = best / out["xtb_s"]
    if st.n_atoms <= dft_max:
        out["dft_s"] = _time_dft(st)
        out["ratio_lsip_over_dft"] = best / out["dft_s"]
    if st.n_atoms <= eeq_max:
        eeq_best = math.inf
        for _ in range(repeat):
            eeq_best = min(eeq_best, eeq_charges(st, device).time_s)
        out["eeq_s"] = eeq_best
        out["ratio_lsip_over_eeq"] = best / eeq_best
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3,6,12,30,99,300,999,3000,9000,20001")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--eeq-max", type=int, default=9000)
    ap.add_argument("--xtb-max", type=int, default=XTB_MAX, help="GFN2-xTB up to this size (0: none)")
    ap.add_argument("--dft-max", type=int, default=DFT_MAX, help="PySCF DFT up to this size (0: none)")
    ap.add_argument("--out", default=str(HERE / "results" / "encode.json"))
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:  # child process: one size, fresh memory high-water mark
        print(json.dumps(run_one(args.one, args.device, args.repeat, args.eeq_max, args.xtb_max, args.dft_max)))
        return
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        cmd = [sys.executable, __file__, "--one", str(n), "--device", args.device, "--repeat", str(args.repeat),
               "--eeq-max", str(args.eeq_max), "--xtb-max", str(args.xtb_max), "--dft-max", str(args.dft_max)]
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if res.returncode != 0:
            print(res.stderr[-2000:], file=sys.stderr)
            continue
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        def fmt(key: str, spec: str = ".3f", row: dict = row) -> str:
            return format(row[key], spec) if key in row else "-"

        print(f"{row['n_atoms']:>7} atoms  lsip {row['lsip_s']:8.3f} s  ({row['per_atom_us']:7.1f} us/atom, "
              f"{row['iterations']:3d} it, {row['coulomb']})  eeq {fmt('eeq_s'):>8} s  lsip/eeq "
              f"{fmt('ratio_lsip_over_eeq', '.1f'):>6}  xtb {fmt('xtb_s'):>8} s  dft {fmt('dft_s'):>8} s  "
              f"peak {row['peak_mem_MB']:8.1f} MB", flush=True)
    slopes = {}
    for key in ("lsip_s", "eeq_s", "xtb_s", "dft_s"):
        # least-squares slope of log t against log N over the sizes past the start-up regime
        pts = [(math.log(r["n_atoms"]), math.log(r[key])) for r in rows if key in r and r["n_atoms"] >= 30]
        if len(pts) >= 2:
            mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
            slopes[key] = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
            print(f"log-log slope of {key[:-2]} time (least squares, N >= 30, {len(pts)} sizes): {slopes[key]:.2f}")
    slope = slopes.get("lsip_s")
    meta = {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "machine": platform.platform(), "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    result = {"meta": meta, "loglog_slope": slope, "slopes": slopes, "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
