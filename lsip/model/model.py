"""LSIPModel: the thin object that holds the library, parameters and device, and runs encoder + decoder.

>>> from lsip.model.model import LSIPModel                      # doctest: +SKIP
>>> from lsip.gallery import gallery_structure                   # doctest: +SKIP
>>> pred = LSIPModel().predict(gallery_structure("nacl"))        # doctest: +SKIP
>>> round(float(pred.charges[0]), 2)                             # doctest: +SKIP
"""

from __future__ import annotations

import time

import torch

from lsip.errors import ConvergenceError, LSIPError
from lsip.model.decoder import Prediction, decode
from lsip.model.encoder import encode
from lsip.model.latent import Latent, initial_latent, warm_latent
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
        self.last_latent: Latent | None = None
        self.last_timings: dict[str, float] = {}

    def with_params(self, params: ModelParameters) -> LSIPModel:
        """A model sharing the library and device with other parameters."""
        return LSIPModel(self.library, params, self.device)

    def predict(self, structures: Structure | list[Structure], warm_start: Latent | None = None,
                forces: bool = True, raise_on_failure: bool = True) -> Prediction | list[Prediction]:
        """Encode and decode one structure or a batch.

        Parameters
        ----------
        structures : one :class:`Structure` (returns one Prediction) or a list (returns a list).
        warm_start : latent coordinates of a previous geometry of the same atoms (scans, MD).
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
        start = warm_latent(warm_start, topo) if warm_start is not None else initial_latent(topo)
        t2 = time.perf_counter()
        latent, report = encode(topo, self.tables, geometry, start)
        t3 = time.perf_counter()
        preds = decode(latent, topo, self.tables, report, [s.symbols for s in batch], geometry_graph, positions,
                       params_name=self.params.name)
        elapsed = time.perf_counter() - t0
        self.last_timings = {"topology_s": t1 - t0, "geometry_s": t2 - t1, "encode_s": t3 - t2,
                             "decode_s": elapsed - (t3 - t0), "total_s": elapsed}
        for p in preds:
            p.time_s = elapsed / len(preds)
        self.last_latent = latent
        failed = [f"{s.name or s.formula} (residual {p.residual:.2e} Ha after {p.iterations} iterations)"
                  for s, p in zip(batch, preds) if not p.converged]
        if failed and raise_on_failure:
            raise ConvergenceError(
                "charge equalization did not converge for " + "; ".join(failed)
                + f" (tolerance {self.params.tol:.1e} Ha); try another geometry or a larger max_iter",
                result=preds[0] if single else preds,
            )
        return preds[0] if single else preds
