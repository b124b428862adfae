"""Directed channels merged into net flows per atom pair: the one place the app, exports and comparisons do it.

Channels A->B and B->A of a pair carry occupations c_AB and c_BA; the pair's net flow is |c_AB - c_BA| from
the side that gives more (docs/conventions.md, channel direction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PairFlow:
    """One atom pair's channels: ``donor`` gives more than it receives; ``net = forward - backward >= 0`` (e)."""

    donor: int
    acceptor: int
    net: float
    forward: float
    backward: float


def net_pair_flows(donor: Iterable[int], acceptor: Iterable[int], occupation: Iterable[float]) -> list[PairFlow]:
    """Merge directed channel occupations into one :class:`PairFlow` per pair, strongest net flow first (ties keep
    the channel order).

    >>> [(f.donor, f.acceptor, round(f.net, 2)) for f in net_pair_flows([0, 1, 0], [1, 0, 2], [0.1, 0.4, 0.05])]
    [(1, 0, 0.3), (0, 2, 0.05)]
    """
    occ: dict[tuple[int, int], float] = {}
    for d, a, c in zip(donor, acceptor, occupation, strict=True):
        occ[(int(d), int(a))] = float(c)
    out, seen = [], set()
    for (d, a), c in occ.items():
        key = (min(d, a), max(d, a))
        if key in seen:
            continue
        seen.add(key)
        back = occ.get((a, d), 0.0)
        out.append(PairFlow(d, a, c - back, c, back) if c >= back else PairFlow(a, d, back - c, back, c))
    return sorted(out, key=lambda f: -f.net)
