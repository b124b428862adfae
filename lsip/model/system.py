"""A batch of structures as flat tensors: atoms, short-range pairs, charge-transfer channels, Coulomb pairs.

Structures are concatenated (atom offsets, a ``mol`` index per atom); no pair ever joins two structures, so
minimising the summed energy minimises each structure's energy independently (the batching of
docs/model.md section 5). The topology (who is paired with whom) is fixed per geometry; the geometric quantities
are recomputed from the positions in :func:`pair_geometry` so that autograd yields forces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lsip.errors import StructureError
from lsip.model.tables import ModelTables
from lsip.physics.neighbors import half_neighbor_list
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR


@dataclass
class BatchTopology:
    """Index arrays of a batch (all torch tensors on the model device).

    Attributes
    ----------
    n_atoms, n_mols : sizes.
    elem : (n,) element index; mol : (n,) structure index; total_charge : (n_mols,) Q.
    positions : (n, 3) bohr (leaf tensor; set requires_grad for forces).
    cell_shift : (n_sr, 3) cartesian periodic shift of each short-range pair, bohr.
    sr_i, sr_j, sr_slot : (n_sr,) short-range pairs i < j (or periodic images) and their element-pair slot.
    ch_donor, ch_acceptor, ch_pair, ch_slot : (n_ch,) channel donor/acceptor atoms, index into sr pairs, slot.
    cl_i, cl_j : (n_cl,) DSF point-charge pairs; cl_shift : (n_cl, 3) bohr; cl_dsf : (n_cl,) bool.
    dense_blocks : (start, size) of structures whose point-charge Coulomb is summed exactly over all pairs.
    """

    n_atoms: int
    n_mols: int
    elem: Tensor
    mol: Tensor
    total_charge: Tensor
    positions: Tensor
    sr_i: Tensor
    sr_j: Tensor
    sr_slot: Tensor
    cell_shift: Tensor
    ch_donor: Tensor
    ch_acceptor: Tensor
    ch_pair: Tensor
    ch_slot: Tensor
    cl_i: Tensor
    cl_j: Tensor
    cl_shift: Tensor
    cl_dsf: Tensor
    offsets: list[int]
    dense_blocks: list[tuple[int, int]]
    dsf_atoms: Tensor


def _coulomb_pairs(pos: np.ndarray, st: Structure, tables: ModelTables) -> tuple[np.ndarray, ...]:
    p = tables.params
    n = len(pos)
    finite = st.cell is None or not any(st.pbc)
    dense = finite and (p.coulomb == "dense" or (p.coulomb == "auto" and n <= p.dense_max_atoms))
    if dense:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), False
    cell = st.cell * ANGSTROM_TO_BOHR if st.cell is not None else None
    i, j, s = half_neighbor_list(pos, p.dsf_cutoff, cell, st.pbc if not finite else None)
    shift = s @ cell if cell is not None and not finite else np.zeros((len(i), 3))
    return i, j, shift, True


def build_topology(structures: list[Structure], tables: ModelTables) -> BatchTopology:
    """Neighbour lists, channels and Coulomb pairs of a batch of structures."""
    if not structures:
        raise StructureError("no structures given")
    p = tables.params
    dev = tables.device
    elems, mols, pos_all, charges, offsets = [], [], [], [], []
    sr, cl = [], []
    dense_blocks: list[tuple[int, int]] = []
    dsf_atoms: list[np.ndarray] = [np.zeros(0, np.int64)]
    # the ordered element pairs that can meet within one structure, registered at once: one table snapshot per
    # batch, where registering them structure by structure rebuilt the snapshot for every structure that brought
    # a new pair (34 times for the calibration's training batch)
    met: set[tuple[int, int]] = set()
    for st in structures:
        u = np.unique(tables.element_indices(st.symbols).cpu().numpy()).tolist()
        met.update((a, b) for a in u for b in u)
    if met:
        ea, eb = (np.array(x, dtype=np.int64) for x in zip(*sorted(met)))
        tables.pair_slots(ea, eb)
    off = 0
    for m, st in enumerate(structures):
        e = tables.element_indices(st.symbols).cpu().numpy()
        pos = st.positions * ANGSTROM_TO_BOHR
        if abs(st.charge) > len(st.symbols):
            raise StructureError(
                f"total charge {st.charge} cannot be carried by {len(st.symbols)} atoms: the latent states allow at "
                "most one electron more or less per atom"
            )
        finite = st.cell is None or not any(st.pbc)
        cell = st.cell * ANGSTROM_TO_BOHR if st.cell is not None else None
        # channels may reach past the short-range cut-off (ionic pairs up to their crossing, docs/model.md
        # "Channel range"): search to the longer range, keep the extra pairs only where they carry a channel
        reach = max(p.short_range_cutoff, tables.max_channel_cutoff(e))
        i, j, s = half_neighbor_list(pos, reach, None if finite else cell, None if finite else st.pbc)
        shift = s @ cell if not finite else np.zeros((len(i), 3))
        slots = tables.pair_slots(e[i], e[j])
        if reach > p.short_range_cutoff:
            r_ij = np.linalg.norm(pos[j] - pos[i] + shift, axis=1)
            near = (r_ij < p.short_range_cutoff) | (r_ij < tables.channel_cut.cpu().numpy()[slots])
            i, j, s, shift, slots = i[near], j[near], s[near], shift[near], slots[near]
        sr.append((i + off, j + off, slots, shift))
        ci, cj, cs, dsf = _coulomb_pairs(pos, st, tables)
        cl.append((ci + off, cj + off, cs, np.full(len(ci), dsf)))
        if not dsf:
            dense_blocks.append((off, len(e)))
        else:
            dsf_atoms.append(np.arange(off, off + len(e)))
        elems.append(e)
        mols.append(np.full(len(e), m))
        pos_all.append(pos)
        charges.append(st.charge)
        offsets.append(off)
        off += len(e)
    sr_i, sr_j, sr_slot, sr_shift = (np.concatenate(x) for x in zip(*sr))
    cut = tables.channel_cut.cpu().numpy()
    dist = np.linalg.norm(np.concatenate(pos_all)[sr_j] - np.concatenate(pos_all)[sr_i] + sr_shift, axis=1)
    keep = np.nonzero((dist < cut[sr_slot]) & (sr_i != sr_j))[0]
    rev_slots = tables.pair_slots(np.concatenate(elems)[sr_j[keep]], np.concatenate(elems)[sr_i[keep]])
    ch_donor = np.concatenate([sr_i[keep], sr_j[keep]])
    ch_acceptor = np.concatenate([sr_j[keep], sr_i[keep]])
    ch_pair = np.concatenate([keep, keep])
    ch_slot = np.concatenate([sr_slot[keep], rev_slots])
    cl_i, cl_j, cl_shift, cl_dsf = (np.concatenate(x) for x in zip(*cl))

    def t(x: np.ndarray, dtype: torch.dtype = torch.long) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(x), device=dev, dtype=dtype)

    return BatchTopology(
        n_atoms=off, n_mols=len(structures), elem=t(np.concatenate(elems)), mol=t(np.concatenate(mols)),
        total_charge=torch.tensor([float(c) for c in charges], device=dev, dtype=tables.dtype),
        positions=t(np.concatenate(pos_all), tables.dtype),
        sr_i=t(sr_i), sr_j=t(sr_j), sr_slot=t(sr_slot), cell_shift=t(sr_shift, tables.dtype),
        ch_donor=t(ch_donor), ch_acceptor=t(ch_acceptor), ch_pair=t(ch_pair), ch_slot=t(ch_slot),
        cl_i=t(cl_i), cl_j=t(cl_j), cl_shift=t(cl_shift, tables.dtype), cl_dsf=t(cl_dsf, torch.bool),
        offsets=offsets, dense_blocks=dense_blocks, dsf_atoms=t(np.concatenate(dsf_atoms)),
    )
