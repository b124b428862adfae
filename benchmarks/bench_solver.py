"""What each solver decision buys: the same structures solved with the solver's options switched off one by one.

Usage: python benchmarks/bench_solver.py [--sizes 30,300,3000] [--repeat 3] [--out results/solver.json]

Variants (all in one process, alternated per repeat so that machine noise hits them alike; compare ratios):

* ``default``: analytic objective (block-sparse pair operators), diagonal preconditioner;
* ``no_precondition``: the same without the preconditioner (``ModelParameters(precondition=False)``);
* ``autograd``: energy and gradient by autograd through the decoder's terms (the reference implementation the
  analytic objective is tested against), with the preconditioner.

Prints a table and writes JSON: best-of-``repeat`` wall time of ``LSIPModel.predict`` (encode + decode + forces),
the encoder's share, iterations, and the energy difference to ``default`` (all variants
solve the same problem to the same tolerance).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
HERE = Path(__file__).resolve().parent

VARIANTS = ("default", "no_precondition", "autograd")


def _model(variant: str) -> object:
    from lsip.model.model import LSIPModel
    from lsip.model.params import ModelParameters

    return LSIPModel(params=ModelParameters(precondition=variant != "no_precondition"), device="cpu")


def _predict(model: object, st: object, variant: str) -> tuple[float, object]:
    import lsip.model.encoder as enc

    original = enc._Problem.__call__
    if variant == "autograd":
        def autograd_call(self: enc._Problem, x: torch.Tensor) -> tuple:
            e, g = self.autograd_value_and_grad(x)
            if not self.precondition:
                return e, g
            with torch.no_grad():  # the same preconditioner, from the analytic pieces
                return e, g, original(self, x)[2]

        enc._Problem.__call__ = autograd_call
    try:
        t0 = time.perf_counter()
        pred = model.predict(st, raise_on_failure=False)
        return time.perf_counter() - t0, pred
    finally:
        enc._Problem.__call__ = original


def main() -> None:
    from water_clusters import water_cluster

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30,300,3000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "solver.json"))
    args = ap.parse_args()
    models = {v: _model(v) for v in VARIANTS}
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        st = water_cluster(max(1, n // 3))
        best = {v: (math.inf, None, None) for v in VARIANTS}
        for v in VARIANTS:
            _predict(models[v], water_cluster(4), v)  # warm-up
        for _ in range(args.repeat):
            for v in VARIANTS:
                t, pred = _predict(models[v], st, v)
                if t < best[v][0]:
                    best[v] = (t, pred, dict(pred.timings))
        ref = best["default"][1]
        for v in VARIANTS:
            t, pred, timings = best[v]
            row = {"n_atoms": st.n_atoms, "variant": v, "wall_s": t, "encode_s": timings["encode_s"],
                   "iterations": pred.iterations, "converged": pred.converged,
                   "ratio_to_default": t / best["default"][0],
                   "energy_diff_eV": abs(pred.energy - ref.energy) * 27.211386245988}
            rows.append(row)
            print(f"{st.n_atoms:>6} atoms  {v:>16}  {t:7.3f} s  (encode {timings['encode_s']:6.3f} s, "
                  f"{pred.iterations:3d} it)  x{row['ratio_to_default']:.2f}  |dE| {row['energy_diff_eV']:.1e} eV",
                  flush=True)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
