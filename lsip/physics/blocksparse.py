"""Block-sparse linear operators on per-atom vectors: y_A = sum_B M_AB x_B over a pair list.

Pair interactions that are fixed for a geometry but applied many times (the penetration field and the host
density inside the equalization solver) are bilinear forms over a neighbour list. Applied pair by pair (gather
x_B, batched product, scatter-add to A) they cost several passes over memory and a slow scatter on the CPU;
assembled once into block compressed rows (BSR) they are one sparse product. On the CPU the product is
:class:`scipy.sparse.bsr_matrix` (assembly is a sort of the pair list, ~1 ms per 10^5 pairs); on other devices
the pair-wise torch path is used (scatter-adds are cheap on GPUs). Both give the same numbers
(``tests/model/test_physics.py``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

#: one worker thread per process for the scipy products: scipy's sparse kernels release the GIL, so a product can
#: overlap the torch work of the caller (the solver runs the pair field next to the dense Coulomb product this
#: way). Created lazily and re-created in a forked child, whose copy of the parent's pool has no live thread.
#: Created under a lock: several app sessions (threads) may make their first product at the same time.
_WORKER: tuple[int, ThreadPoolExecutor] | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    global _WORKER
    worker = _WORKER
    if worker is not None and worker[0] == os.getpid():
        return worker[1]
    with _WORKER_LOCK:
        if _WORKER is None or _WORKER[0] != os.getpid():
            _WORKER = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="lsip-blocksparse"))
        return _WORKER[1]


class BlockSparseOperator:
    """y (n_rows, r) = M x for x (n_cols, c), M made of (r, c) blocks M_AB on a list of directed pairs.

    Parameters
    ----------
    row, col : (P,) block row (target atom A) and column (source atom B) of each pair; repeated pairs add.
    blocks : (P, r, c) the blocks, any unit.
    n_rows, n_cols : number of block rows and columns (atoms).
    backend : "auto" (scipy BSR on the CPU, torch elsewhere), "scipy" or "torch".

    Examples
    --------
    >>> import torch
    >>> op = BlockSparseOperator(torch.tensor([0, 1]), torch.tensor([1, 0]),
    ...                          torch.ones(2, 1, 1, dtype=torch.float64), 2, 2)
    >>> op.apply(torch.tensor([[1.0], [2.0]], dtype=torch.float64)).flatten().tolist()
    [2.0, 1.0]
    """

    def __init__(self, row: Tensor, col: Tensor, blocks: Tensor, n_rows: int, n_cols: int,
                 backend: str = "auto") -> None:
        if backend not in ("auto", "scipy", "torch"):
            raise ValueError(f"backend must be 'auto', 'scipy' or 'torch', not {backend!r}")
        self.shape_blocks = tuple(blocks.shape[1:])
        self.n_rows, self.n_cols = n_rows, n_cols
        self.device, self.dtype = blocks.device, blocks.dtype
        use_scipy = backend == "scipy" or (backend == "auto" and blocks.device.type == "cpu")
        self._matrix = None
        if use_scipy:
            order = torch.argsort(row, stable=True)
            counts = torch.bincount(row, minlength=n_rows)
            indptr = np.zeros(n_rows + 1, dtype=np.int64)
            np.cumsum(counts.cpu().numpy(), out=indptr[1:])
            r, c = self.shape_blocks
            data = blocks[order].detach().cpu().numpy()
            self._matrix = sp.bsr_matrix((data, col[order].cpu().numpy(), indptr), shape=(n_rows * r, n_cols * c))
            if c == 1:  # column vectors as blocks: plain CSR is 2x faster than BSR
                self._matrix = self._matrix.tocsr()
        else:
            self.row, self.col, self.blocks = row, col, blocks

    def apply(self, x: Tensor) -> Tensor:
        """(n_rows, r) = M x for x (n_cols, c) (no autograd graph on the scipy path)."""
        return self.apply_async(x).result()

    def apply_async(self, x: Tensor) -> Pending:
        """Start M x; ``.result()`` returns it. On the scipy path the product runs in a worker thread while the
        caller goes on with other (torch) work; elsewhere it is computed at once."""
        r, _ = self.shape_blocks
        if self._matrix is not None:
            arr = np.ascontiguousarray(x.detach().cpu().numpy()).reshape(-1)
            return Pending(_worker().submit(self._matrix.__matmul__, arr), (self.n_rows, r), x)
        out = torch.zeros(self.n_rows, r, dtype=x.dtype, device=x.device)
        if len(self.row):
            out.index_add_(0, self.row, torch.bmm(self.blocks, x[self.col].unsqueeze(-1)).squeeze(-1))
        return Pending(None, out.shape, out)


class Pending:
    """A block-sparse product in flight (or done): :meth:`result` waits for it and returns the tensor."""

    def __init__(self, future: Future | None, shape: tuple[int, int], like: Tensor) -> None:
        self.future, self.shape, self.like = future, shape, like

    def result(self) -> Tensor:
        """(n_rows, r) tensor on the input's device and dtype."""
        if self.future is None:
            return self.like
        y = torch.from_numpy(self.future.result()).reshape(self.shape)
        return y.to(device=self.like.device, dtype=self.like.dtype)
