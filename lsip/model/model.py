"""LSIPModel: the thin object that holds the library, parameters and device, and runs encoder + decoder.

>>> from lsip.model.model import LSIPModel                      # doctest: +SKIP
>>> from lsip.gallery import gallery_structure                   # doctest: +SKIP
>>> pred = LSIPModel().predict(gallery_structure("nacl"))        # doctest: +SKIP
>>> round(float(pred.charges[0]), 2)                             # doctest: +SKIP
"""

from __future__ import annotations

import math
import time

import torch

from lsip.errors import ConvergenceError, LSIPError
from lsip.model.decoder import Prediction, decode
from lsip.model.encoder import encode
from lsip.model.latent import Latent, concat_latents, initial_latent, warm_latent
from lsip.model.library import LatentLibrary, default_library
from lsip.model.params import ModelParameters, get_parameters
from lsip.model.system import build_topology
from lsip.model.tables import ModelTables
from lsip.model.terms import pair_geometry
from lsip.structure import Structure


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """'auto'/None -> CUDA when available, else CPU; an explicit 'cuda' without a GPU is a clear error."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LSIPError("device 'cuda' requested but no CUDA GPU is available to this torch build")
    return dev


def _flag_non_finite(pred: Prediction) -> None:
    """A prediction with a NaN or infinite number is never 'converged' (docs/limits.md)."""
    arrays = (pred.charges, pred.forces, pred.weights, pred.dipole, pred.mu_atoms)
    finite = math.isfinite(pred.energy) and math.isfinite(pred.mu) and all(bool(torch.isfinite(a).all())
                                                                             for a in arrays)
    if not finite:
        pred.converged = False
        pred.failure = "the result contains NaN or infinite values"


def _failure(pred: Prediction) -> str:
    return pred.failure or f"residual {pred.residual:.2e} Ha after {pred.iterations} iterations"


class LSIPModel:
    """The latent-space potential: ``predict(structures)`` -> :class:`Prediction` (or a list).

    Parameters
    ----------
    library : latent library (default: the shipped one).
    params : a :class:`ModelParameters` or the name of a shipped set.
    device : "auto" (CUDA when present), "cpu" or "cuda".
    """

    def __init__(self, library: LatentLibrary | None = None, params: ModelParameters | str = "first-principles",
                 device: str | torch.device | None = "auto") -> None:
        self.library = library or default_library()
        self.params = get_parameters(params) if isinstance(params, str) else params
        self.device = resolve_device(device)
        self.tables = ModelTables(self.library, self.params, self.device)

    def with_params(self, params: ModelParameters) -> LSIPModel:
        """A model sharing the library and device with other parameters."""
        return LSIPModel(self.library, params, self.device)

    def predict(self, structures: Structure | list[Structure], guess: Latent | list[Latent | None] | None = None,
                forces: bool = True, raise_on_failure: bool = True) -> Prediction | list[Prediction]:
        """Encode and decode one structure or a batch.

        The model holds no per-call state (one instance serves every session of the app, from several
        threads): the latent coordinates and timings of a call come back in the :class:`Prediction`.

        Parameters
        ----------
        structures : one :class:`Structure` (returns one Prediction) or a list (returns a list).
        guess : starting latent coordinates, e.g. ``previous_prediction.latent`` of another geometry of the same
            atoms (scans, MD); a list (one per structure, None for a cold start) for a batch.
        forces : compute forces by autograd.
        raise_on_failure : raise :class:`ConvergenceError` (carrying the predictions) if any structure's
            equalization did not converge; otherwise the predictions are returned with ``converged=False``.
        """
        single = isinstance(structures, Structure)
        batch = [structures] if single else list(structures)
        t0 = time.perf_counter()
        topo = build_topology(batch, self.tables)
        t1 = time.perf_counter()
        positions = topo.positions.detach().clone().requires_grad_(forces)
        with torch.set_grad_enabled(forces):
            geometry_graph = pair_geometry(topo, self.tables, positions)
        geometry = geometry_graph.detach()
        start = self._start(guess, batch, topo)
        t2 = time.perf_counter()
        latent, report = encode(topo, self.tables, geometry, start)
        t3 = time.perf_counter()
        preds = decode(latent, topo, self.tables, report, [s.symbols for s in batch], geometry_graph, positions,
                       params_name=self.params.name)
        elapsed = time.perf_counter() - t0
        timings = {"topology_s": t1 - t0, "geometry_s": t2 - t1, "encode_s": t3 - t2,
                   "decode_s": elapsed - (t3 - t0), "total_s": elapsed}
        for p in preds:
            p.time_s = elapsed / len(preds)
            p.timings = dict(timings)
        for p in preds:
            if not p.converged and report.message.startswith("time limit"):
                p.failure = f"the solver's time limit of {self.params.time_limit_s:g} s was reached"
            _flag_non_finite(p)
        failed = [f"{s.name or s.formula} ({_failure(p)})" for s, p in zip(batch, preds) if not p.converged]
        if failed and raise_on_failure:
            raise ConvergenceError(
                "charge equalization did not converge for " + "; ".join(failed)
                + f" (tolerance {self.params.tol:.1e} Ha); try another geometry or a larger max_iter",
                result=preds[0] if single else preds,
            )
        return preds[0] if single else preds

    @staticmethod
    def _start(guess: Latent | list[Latent | None] | None, batch: list[Structure], topo: object) -> Latent:
        """The solver's starting point: the guess (per structure) where given, else neutral atoms."""
        if guess is None:
            return initial_latent(topo)
        guesses = [guess] if isinstance(guess, Latent) else list(guess)
        if len(guesses) != len(batch):
            raise LSIPError(f"guess has {len(guesses)} latent(s) for a batch of {len(batch)} structures")
        if all(g is None for g in guesses):
            return initial_latent(topo)
        cold = initial_latent(topo)
        parts = []
        for m, (g, st) in enumerate(zip(guesses, batch)):
            if g is None or len(g.excited) != st.n_atoms:  # cold start for this structure: no channels open
                atoms = torch.nonzero(topo.mol == m).flatten()
                empty = torch.zeros(0, dtype=torch.long)
                g = Latent(torch.zeros(0, dtype=cold.amplitude.dtype), cold.excited[atoms].cpu(),
                           cold.reservoir[atoms].cpu(), empty, empty)
            parts.append(g.detach().to_cpu())
        return warm_latent(concat_latents(parts), topo)
