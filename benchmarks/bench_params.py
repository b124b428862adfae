"""Cost of the physics-v2 terms: first-principles against the calibrated set on the same water clusters, one run.

Usage: python benchmarks/bench_params.py [--sizes 300,3000] [--params calibrated] [--out results/params.json]

Prints a table and writes JSON: per size, the best-of-``--repeat`` wall time of ``LSIPModel.predict`` (encoder +
decoder + forces) for each parameter set, solver iterations, the ratio calibrated / first-principles, and EEQ
(tad-multicharge) on the same structure for scale. Issue 13 budget: the 3,000-atom cluster at most 1.5x slower.
Peak memory: resident-set growth of a fresh subprocess per (size, set).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_one(n_atoms: int, params: str, repeat: int) -> dict:
    from water_clusters import water_cluster

    from lsip.model.baselines import eeq_charges
    from lsip.model.model import LSIPModel

    st = water_cluster(max(1, n_atoms // 3))
    model = LSIPModel(params=params, device="cpu")
    model.predict(water_cluster(4))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best, pred = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        pred = model.predict(st, raise_on_failure=False)
        best = min(best, time.perf_counter() - t0)
    eeq = min(eeq_charges(st, "cpu").time_s for _ in range(repeat))
    return {"n_atoms": st.n_atoms, "params": params, "seconds": best, "iterations": pred.iterations,
            "converged": pred.converged, "eeq_s": eeq,
            "peak_mem_MB": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="300,3000")
    ap.add_argument("--params", default="calibrated")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "params.json"))
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        n, params = args.one.split(":")
        print(json.dumps(run_one(int(n), params, args.repeat)))
        return
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        pair = {}
        for params in ("first-principles", args.params):
            out = subprocess.run([sys.executable, __file__, "--one", f"{n}:{params}", "--repeat", str(args.repeat)],
                                 capture_output=True, text=True, check=True)
            pair[params] = json.loads(out.stdout.strip().splitlines()[-1])
        fp, cal = pair["first-principles"], pair[args.params]
        rows.append({"n_atoms": fp["n_atoms"], "first_principles": fp, "calibrated": cal,
                     "ratio_calibrated_over_first_principles": cal["seconds"] / fp["seconds"],
                     "ratio_calibrated_over_eeq": cal["seconds"] / cal["eeq_s"]})
    print(f"{'atoms':>6} {'first-principles s':>18} {'iters':>5} {args.params + ' s':>14} {'iters':>5} "
          f"{'ratio':>6} {'vs EEQ':>7} {'peak MB fp/cal':>15}")
    for r in rows:
        fp, cal = r["first_principles"], r["calibrated"]
        print(f"{r['n_atoms']:>6} {fp['seconds']:>18.3f} {fp['iterations']:>5} {cal['seconds']:>14.3f} "
              f"{cal['iterations']:>5} {r['ratio_calibrated_over_first_principles']:>6.2f} "
              f"{r['ratio_calibrated_over_eeq']:>7.1f} {fp['peak_mem_MB']:>7.0f}/{cal['peak_mem_MB']:.0f}")
    Path(args.out).write_text(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(),
                                          "time": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
